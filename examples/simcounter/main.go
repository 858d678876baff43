// Command simcounter tests a user-defined state machine (a counter) with
// raftsim; docs/raftsim.md walks through it.
package main

import (
	"fmt"
	"os"
	"strconv"

	"github.com/anishathalye/porcupine"
	"github.com/pureraft/raft/raftsim"
)

// counter is the replicated state machine: "inc" adds one, "get" reads.
// Apply returns the value after the command.
type counter struct{ n int }

func (c *counter) Apply(cmd []byte) []byte {
	if string(cmd) == "inc" {
		c.n++
	}
	return []byte(strconv.Itoa(c.n))
}

type workload struct{}

func (workload) NewStateMachine() raftsim.StateMachine { return &counter{} }

func (workload) Next(r *raftsim.Rand, client int, seq uint64) raftsim.Op {
	if r.Intn(3) == 0 {
		return raftsim.Op{Cmd: []byte("get"), Read: true, Input: "get"}
	}
	return raftsim.Op{Cmd: []byte("inc"), Input: "inc"}
}

func (workload) Output(input any, result []byte) any {
	n, _ := strconv.Atoi(string(result))
	return n
}

// Model is the sequential specification. An operation that never got an
// answer has a nil output.
func (workload) Model() porcupine.Model {
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

func main() {
	sc := raftsim.DefaultScenario()
	sc.Ticks = 1000
	for seed := uint64(1); seed <= 20; seed++ {
		res, err := raftsim.Run(sc, seed, raftsim.Options{Workload: workload{}})
		if err != nil {
			panic(err)
		}
		if res.Failed() {
			fmt.Print(res.Report())
			os.Exit(1)
		}
		if seed == 1 {
			res.WriteSummary(os.Stdout)
		}
	}
	fmt.Println("20 seeds passed")
}
