package raft

import (
	"fmt"
	"testing"
)

// TestIdleBuffersReleased: after a burst of replication, a group that goes
// idle lets go of its scratch buffers within trimPeriodTicks ticks, and
// replication works as before afterwards (buffers regrow on demand). This
// is a memory property, not a Raft rule: a host may run thousands of idle
// groups.
func TestIdleBuffersReleased(t *testing.T) {
	tn := newTestNet(t, 3, nil)
	tn.campaign(1)
	for i := range 100 {
		tn.propose(1, fmt.Sprintf("burst %d", i))
	}
	tn.deliverAll()
	for _, id := range tn.ids { // a read on the leader and forwarded ones
		if err := tn.nodes[id].ReadIndex(uint64(id)); err != nil {
			t.Fatal(err)
		}
	}
	tn.deliverAll()
	if len(tn.reads[2]) != 1 || tn.reads[2][0].Err != nil {
		t.Fatalf("node 2's read: %+v", tn.reads[2])
	}
	tn.tickAll(trimPeriodTicks)
	for _, id := range tn.ids {
		n := tn.nodes[id]
		switch q := n.reads; {
		case q != nil && q.tokens.limit == 0:
			t.Errorf("node %d keeps an empty read queue", id)
		case q != nil && cap(q.forwarded)+cap(q.ready)+cap(q.failed) != 0:
			// A follower that forwarded a read keeps its token counter
			// (readtoken.go), not its buffers.
			t.Errorf("node %d keeps read buffers: %d, %d, %d", id, cap(q.forwarded), cap(q.ready), cap(q.failed))
		}
		if cap(n.persist.gated) != 0 || cap(n.persist.records) != 0 {
			t.Errorf("node %d keeps buffers: gated %d, records %d", id, cap(n.persist.gated), cap(n.persist.records))
		}
		if n.ldr == nil {
			continue
		}
		for i := range n.ldr.progress {
			if pr := &n.ldr.progress[i]; pr.inflights.count == 0 && cap(pr.inflights.buf) != 0 {
				t.Errorf("node %d keeps an empty in-flight window of %d for %d", id, cap(pr.inflights.buf), pr.id)
			}
		}
	}
	idx, _ := tn.propose(1, "after")
	tn.deliverAll()
	for _, id := range tn.ids {
		got := tn.applied[id]
		if len(got) == 0 || got[len(got)-1].Index != idx || string(got[len(got)-1].Data) != "after" {
			t.Fatalf("node %d did not apply the proposal at %d after trimming", id, idx)
		}
	}
}
