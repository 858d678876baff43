package raft

import "testing"

// Regressions found by the cluster simulator (raftsim).

// TestRegressRemovedLeaderMustFinishJointLeave: leader 1 replaces itself
// through a joint configuration (old {1,3}, new {2,3}) and, once the joint
// configuration commits, appends the leave entry {2,3} — which reaches no
// one before node 1 loses leadership (it restarts). Nodes 2 and 3, still
// joint, need node 1's vote for the old half, and node 1 rightly refuses
// it: its log is longer. Node 1 must therefore be able to campaign while
// the configuration that removes it is uncommitted (thesis §4.2.2: it
// manages the cluster until then); otherwise no leader is ever elected.
// Found by raftsim: seed 265, 3 nodes, lease reads.
func TestRegressRemovedLeaderMustFinishJointLeave(t *testing.T) {
	tn := elect3(t)
	mustChange(tn, 1, change(RemoveMember, 2))
	tn.deliverAll()
	jIdx, _, err := tn.nodes[1].ProposeJointMembershipChange(true, change(RemoveMember, 1), change(AddVoter, 2))
	if err != nil {
		t.Fatal(err)
	}
	// The leave entry (jIdx+1) never leaves node 1.
	tn.drop = func(m Message) bool {
		return m.From == 1 && m.Type == MsgApp && len(m.Entries) > 0 && m.Entries[len(m.Entries)-1].Index > jIdx
	}
	tn.deliverAll()
	if m := tn.nodes[1].Membership(); m.IsJoint() || tn.nodes[1].log.lastIndex() != jIdx+1 {
		t.Fatalf("node 1: membership %+v, last index %d; want the leave entry at %d appended", m, tn.nodes[1].log.lastIndex(), jIdx+1)
	}
	for _, id := range []NodeID{2, 3} {
		if m := tn.nodes[id].Membership(); !m.IsJoint() {
			t.Fatalf("node %d: membership %+v, want still joint", id, m)
		}
	}
	tn.crash(1)
	tn.restart(1)
	tn.drop = nil
	tickUntil(tn, 300, "a leader elected", func() bool { return tn.leader() != None })
	tickUntil(tn, 300, "the leave entry committed everywhere", func() bool {
		for _, id := range []NodeID{2, 3} {
			if n := tn.nodes[id]; n.Membership().IsJoint() || n.log.committed < jIdx+1 {
				return false
			}
		}
		return true
	})
}
