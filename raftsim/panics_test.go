package raftsim

import (
	"strings"
	"testing"

	"github.com/pureraft/raft"
)

// panicky is a node that panics on its 200th Step, as a core with a broken
// internal invariant would.
type panicky struct {
	*raft.Node
	steps int
}

func (p *panicky) Step(m raft.Message) error {
	if p.steps++; p.steps == 200 {
		panic("raft: planted internal invariant broken")
	}
	return p.Node.Step(m)
}

// TestPanicIsReported: a panic inside a node ends the run with a Protocol
// violation naming the node, the panic and where it happened, and the
// report carries the seed and the replay command, rather than the process
// dying with a goroutine dump.
func TestPanicIsReported(t *testing.T) {
	opts := Options{WrapNode: func(id raft.NodeID, n *raft.Node) Core {
		if id == 2 {
			return &panicky{Node: n}
		}
		return n
	}}
	sc := DefaultScenario()
	sc.Nodes = 3
	res, err := Run(sc, 1, opts)
	if err != nil {
		t.Fatal(err)
	}
	if !res.Failed() || res.Violation.Invariant != Protocol {
		t.Fatalf("want a protocol violation, got %v", res.Violation)
	}
	for _, want := range []string{"node 2 panicked: raft: planted internal invariant broken", "panics_test.go"} {
		if !strings.Contains(res.Violation.Error(), want) {
			t.Errorf("violation %q lacks %q", res.Violation, want)
		}
	}
	for _, want := range []string{"seed 1", "replay:", "last 30 trace events"} {
		if !strings.Contains(res.Report(), want) {
			t.Errorf("report lacks %q:\n%s", want, res.Report())
		}
	}
}
