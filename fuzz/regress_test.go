package fuzz

import (
	"errors"
	"testing"

	"github.com/pureraft/raft"
)

// Regression tests for bugs the fuzz targets found. Each names the corpus
// entry that found it (which go test also replays as part of the target's
// seed corpus) and checks the fixed behaviour directly.

// TestRegressionForwardedProposalAllOrNothing: FuzzStep
// (testdata/fuzz/FuzzStep/baf555a22b4ba903) found that a leader stepping a
// forwarded MsgProp whose entries together exceed MaxUncommittedBytes
// appended the entries that still fit, then returned ErrUncommittedLimit:
// an error from Step that changed the node. Fixed in
// handleForwardedProposal (step.go), which now checks the whole batch
// against the budget before appending any of it.
func TestRegressionForwardedProposalAllOrNothing(t *testing.T) {
	n, _, _ := buildSubject(startLeader, 0)
	n.Actions()
	before := n.Status()
	payload := make([]byte, 60) // within MaxEntryBytes (64) one by one
	m := raft.Message{Type: raft.MsgProp, From: 2, To: subject}
	for range 5 { // 5 * (60+16) bytes exceed MaxUncommittedBytes (320)
		m.Entries = append(m.Entries, raft.Entry{Data: payload})
	}
	if err := n.Step(m); !errors.Is(err, raft.ErrUncommittedLimit) {
		t.Fatalf("Step: %v, want ErrUncommittedLimit", err)
	}
	if after := n.Status(); after != before {
		t.Errorf("a refused proposal changed the node:\nbefore %+v\nafter  %+v", before, after)
	}
	if n.HasActions() {
		t.Errorf("a refused proposal left actions: %v", n.Actions())
	}
	// A batch that fits is still taken whole.
	m.Entries = m.Entries[:2]
	if err := n.Step(m); err != nil {
		t.Fatalf("Step of a batch within budget: %v", err)
	}
	if got, want := n.Status().LastIndex, before.LastIndex+2; got != want {
		t.Errorf("last index %d after a batch of two, want %d", got, want)
	}
}
