package fuzz

import (
	"encoding/binary"
	"errors"
	"testing"

	"github.com/pureraft/raft"
	"github.com/pureraft/raft/raftsim"
)

// FuzzCluster runs a whole cluster in the raftsim simulator under a
// schedule decoded from the input, and requires every safety property
// raftsim checks (election safety, leader append-only, log matching, leader
// completeness, state machine safety, commit monotonicity, durability, the
// protocol contract, linearizability of the client history) to hold.
//
// The input is split as follows (see decodeCluster):
//
//   - a header: the run's seed, cluster size, protocol options (pre-vote,
//     check-quorum, proposal forwarding), disk model (synchronous or not,
//     partial loss of unacknowledged writes on a crash), rates of message
//     drops, duplicates and reordering, rates of random crashes and network
//     faults, the number of clients (which issue the proposals) and the
//     length of the run;
//   - a list of scripted faults: crash, restart, isolate, partition the
//     leader into a minority, random partition, one-way cut, heal — each
//     with its tick, duration and target;
//   - a stream of per-delivery decisions: each time the simulator hands a
//     message to a node, the next byte says whether to deliver it, drop it,
//     deliver it twice, or hold it back and deliver it after the next one
//     (reordering). When the stream ends every message is delivered.
//
// Liveness is not required: an input may drop every message for ever.
func FuzzCluster(f *testing.F) {
	f.Fuzz(func(t *testing.T, data []byte) {
		countExec("FuzzCluster")
		runCluster(t, data)
	})
}

// runCluster runs one FuzzCluster input.
func runCluster(t *testing.T, data []byte) {
	sc, seed, decisions := decodeCluster(data)
	d := &deliveryDecider{in: input{b: decisions}}
	res, err := raftsim.Run(sc, seed, raftsim.Options{
		WrapNode: func(id raft.NodeID, n *raft.Node) raftsim.Core {
			return &fuzzedNode{Node: n, d: d}
		},
	})
	if err != nil {
		t.Fatalf("scenario rejected: %v\n%+v", err, sc)
	}
	if *traceStep {
		t.Logf("scenario %+v seed %d: %+v violation %v", sc, seed, res.Stats, res.Violation)
	}
	if v := res.Violation; v != nil && v.Invariant != raftsim.Liveness {
		t.Fatalf("%v\nscenario %+v seed %d\n%s", v, sc, seed, res.Report())
	}
}

// clusterHeaderLen is the fixed part of a FuzzCluster input.
const clusterHeaderLen = 17

// decodeCluster turns fuzz bytes into a scenario, a seed and the stream of
// delivery decisions. Every input gives a valid scenario.
func decodeCluster(data []byte) (raftsim.Scenario, uint64, []byte) {
	in := input{b: data}
	var seedBytes [8]byte
	copy(seedBytes[:], in.bytes(8))
	seed := binary.LittleEndian.Uint64(seedBytes[:])

	sc, _ := raftsim.ScenarioNamed("calm")
	sc.Name = "fuzz"
	sc.Nodes = []int{3, 3, 5, 5, 1, 2, 4, 3}[in.byte()%8]
	flags := in.byte()
	sc.Raft.DisablePreVote = flags&1 != 0
	sc.Raft.DisableCheckQuorum = flags&2 != 0
	sc.Raft.DisableProposalForwarding = flags&4 != 0
	sc.Disk.Sync = flags&8 != 0
	sc.Disk.PartialLoss = flags&16 != 0
	sc.TickSkew = float64(flags>>5) / 40 // up to 0.175
	sc.Network.Drop = float64(in.byte()%16) / 64
	sc.Network.Duplicate = float64(in.byte()%16) / 64
	sc.Network.Reorder = float64(in.byte()%16) / 32
	sc.Network.ReorderDelay = raftsim.Ticks(2)
	rates := in.byte()
	sc.Faults = raftsim.FaultOptions{
		Crash: float64(rates&3) / 100, DownMin: 1, DownMax: 30, LeaderBias: 0.5,
		Partition: float64(rates>>2&1) / 50, OneWay: float64(rates>>3&1) / 50, Isolate: float64(rates>>4&1) / 50,
		FaultMin: 5, FaultMax: 40,
		Flap: float64(rates>>5&3) / 20, FlapMin: 1, FlapMax: 8,
	}
	sc.Workload.Clients = 1 + int(in.byte()%4)
	sc.Ticks = 40 + 20*int(in.byte()%8) // 40..180 ticks of faults
	sc.LivenessTicks = 150
	sc.Schedule = nil
	n := int(in.byte() % 9)
	kinds := []raftsim.FaultKind{raftsim.FaultCrash, raftsim.FaultRestart, raftsim.FaultIsolate,
		raftsim.FaultLeaderMinority, raftsim.FaultPartition, raftsim.FaultOneWay, raftsim.FaultHeal}
	for range n {
		k, at, dur, target := in.byte(), in.byte(), in.byte(), in.byte()
		f := raftsim.ScheduledFault{
			Kind:     kinds[int(k)%len(kinds)],
			At:       int(at) % sc.Ticks,
			Duration: int(dur % 64),
		}
		if k&0x80 != 0 {
			f.Every = 5 + int(k>>3&15)*5
		}
		switch t := int(target) % (sc.Nodes + 2); {
		case t == sc.Nodes:
			f.Leader = true
		case t < sc.Nodes:
			f.Node = raft.NodeID(t + 1)
		} // otherwise a random node
		sc.Schedule = append(sc.Schedule, f)
	}
	return sc, seed, in.b[in.i:]
}

// deliveryDecider hands out the per-delivery decisions, shared by every
// node of a run (and by a node's later incarnations).
type deliveryDecider struct{ in input }

// Delivery decisions: the low three bits of a decision byte.
const (
	decideDrop      = 5
	decideDuplicate = 6
	decideHold      = 7
)

// fuzzedNode is a node whose deliveries the fuzz input controls. A
// dropped, duplicated or reordered delivery is something the network may do
// anyway, so no safety property may break because of it.
type fuzzedNode struct {
	*raft.Node
	d    *deliveryDecider
	held []raft.Message
}

// Step delivers, drops, duplicates or holds m, then delivers the messages
// held before it (so they arrive after m).
func (n *fuzzedNode) Step(m raft.Message) error {
	var err error
	if n.d.in.done() {
		err = n.Node.Step(m)
	} else {
		switch n.d.in.byte() & 7 {
		case decideDrop:
		case decideDuplicate:
			err = n.Node.Step(m)
			if err == nil {
				err = n.Node.Step(m)
			}
		case decideHold:
			n.held = append(n.held, m)
			return nil
		default:
			err = n.Node.Step(m)
		}
	}
	held := n.held
	n.held = nil
	for _, h := range held {
		if herr := n.Node.Step(h); err == nil && !refusedForward(h, herr) {
			err = herr
		}
	}
	return err
}

// refusedForward reports whether err is a node refusing a forwarded
// proposal, which raftsim accepts (the client retries). Errors of held
// messages are returned with the message being delivered, so this one must
// not be passed on as a protocol violation of another message.
func refusedForward(m raft.Message, err error) bool {
	return m.Type == raft.MsgProp && (errors.Is(err, raft.ErrNotLeader) || errors.Is(err, raft.ErrProposalDropped))
}
