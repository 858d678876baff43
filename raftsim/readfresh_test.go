package raftsim

import (
	"strings"
	"testing"

	"github.com/pureraft/raft"
)

// idMatchedReads plants, around a correct node, the bug the core had before
// read tokens (readtoken.go in the root package): a follower's forwarded
// read is matched to the leader's answer by the caller's read ID. It sends
// the caller's ID instead of the node's token, and hands an answer carrying
// an ID to whichever read now waits under that ID. The sweep's clients
// reuse IDs as docs/reads.md allows, and its network duplicates messages
// and delivers some very late, so an answer to an old read completes a new
// one with a stale index.
type idMatchedReads struct {
	*raft.Node
	forwarded []uint64          // caller IDs whose request is not yet sent, in order
	tokenOf   map[uint64]uint64 // caller ID -> token of its latest request
}

func (w *idMatchedReads) ReadIndex(id uint64) error { return w.read(id, w.Node.ReadIndex) }
func (w *idMatchedReads) LeaseRead(id uint64) error { return w.read(id, w.Node.LeaseRead) }

func (w *idMatchedReads) read(id uint64, read func(uint64) error) error {
	err := read(id)
	if err == nil && w.Node.Status().Role != raft.RoleLeader {
		w.forwarded = append(w.forwarded, id)
	}
	return err
}

func (w *idMatchedReads) Actions() []raft.Action {
	acts := w.Node.Actions()
	for i := range acts {
		m := &acts[i].Message
		if acts[i].Kind != raft.ActionSend || m.Type != raft.MsgReadIndex || len(w.forwarded) == 0 {
			continue
		}
		id := w.forwarded[0]
		w.forwarded = w.forwarded[1:]
		w.tokenOf[id] = m.Context
		m.Context = id
	}
	return acts
}

func (w *idMatchedReads) Step(m raft.Message) error {
	if tok, ok := w.tokenOf[m.Context]; ok && m.Type == raft.MsgReadIndexResp {
		m.Context = tok
	}
	return w.Node.Step(m)
}

// TestPlantedIDMatchedFollowerReads: with follower-read answers matched by
// the caller's read ID, the default sweep (TestSeeds' scenario, 3 nodes)
// fails on read freshness within a few hundred seeds. With the core as it
// is, the same seeds pass (TestSeeds).
func TestPlantedIDMatchedFollowerReads(t *testing.T) {
	opts := Options{WrapNode: func(_ raft.NodeID, n *raft.Node) Core {
		return &idMatchedReads{Node: n, tokenOf: map[uint64]uint64{}}
	}}
	sc := DefaultScenario()
	sc.Nodes = 3
	res := expectCaught(t, sc, opts, ReadFreshness, 300)
	// The command line cannot replay a wrapped node; the report says so.
	if !strings.Contains(res.Report(), "the same Options") {
		t.Errorf("the report of a run with WrapNode offers only the command line:\n%s", res.Report())
	}
	if res.Stats.ReadIDsReused == 0 || res.Stats.Late == 0 {
		t.Errorf("the run reused %d read IDs and delivered %d messages late; the bug needs both", res.Stats.ReadIDsReused, res.Stats.Late)
	}
}
