package raftsim_test

import (
	"fmt"
	"strconv"

	"github.com/anishathalye/porcupine"
	"github.com/pureraft/raft/raftsim"
)

// counter is a user's replicated state machine: a counter with "inc" and
// "get". Apply returns the value after the command.
type counter struct{ n int }

func (c *counter) Apply(cmd []byte) []byte {
	if string(cmd) == "inc" {
		c.n++
	}
	return []byte(strconv.Itoa(c.n))
}

// counterWorkload tells the simulator how to drive and judge the counter.
type counterWorkload struct{}

func (counterWorkload) NewStateMachine() raftsim.StateMachine { return &counter{} }

func (counterWorkload) Next(r *raftsim.Rand, client int, seq uint64) raftsim.Op {
	if r.Intn(3) == 0 {
		return raftsim.Op{Cmd: []byte("get"), Read: true, Input: "get"}
	}
	return raftsim.Op{Cmd: []byte("inc"), Input: "inc"}
}

func (counterWorkload) Output(input any, result []byte) any {
	n, _ := strconv.Atoi(string(result))
	return n
}

// Model is the counter's sequential specification. An operation that
// never returned has a nil output.
func (counterWorkload) Model() porcupine.Model {
	return porcupine.Model{
		Init: func() any { return 0 },
		Step: func(state, input, output any) (bool, any) {
			n := state.(int)
			if input == "inc" {
				return output == nil || output.(int) == n+1, n + 1
			}
			return output.(int) == n, n
		},
	}
}

// Test your own state machine: plug it in through a Workload, and the
// simulator runs it on every node of a faulty cluster, checks Raft's
// safety properties on every step and the clients' history for
// linearizability against your model.
func Example_customStateMachine() {
	sc, _ := raftsim.ScenarioNamed("leader-crash")
	sc.Nodes, sc.Ticks = 3, 500
	res, err := raftsim.Run(sc, 42, raftsim.Options{Workload: counterWorkload{}})
	if err != nil {
		panic(err)
	}
	if res.Failed() {
		fmt.Print(res.Report())
		return
	}
	fmt.Println("crashes:", res.Stats.Crashes > 0)
	fmt.Println("operations:", res.Stats.OpsDone > 100)
	fmt.Println("linearizable:", res.Linearizable)
	// Output:
	// crashes: true
	// operations: true
	// linearizable: ok
}

// Run a named scenario and print its summary.
func ExampleRun() {
	sc, _ := raftsim.ScenarioNamed("default")
	sc.Ticks = 300
	res, err := raftsim.Run(sc, 1, raftsim.Options{})
	if err != nil {
		panic(err)
	}
	fmt.Println(res.Violation == nil, res.Linearizable)
	// Output: true ok
}
