package raft

import (
	"fmt"
	"testing"
)

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

// singleDataNet is a cluster of one data voter, node 1 (the leader), and
// one witness, node 2, with an entry committed.
func singleDataNet(t *testing.T) *testNet { return dataAndWitnessNet(t, 1) }

// TestRegressWitnessAheadOfLeaderWrite: the leader sends an entry to the
// witness before its own write of it completes (thesis §10.2.1 allows
// that), the witness stores it, and the leader crashes: its copy is lost.
// The witness, whose log is now longer than the only data voter's, refuses
// it its vote (§5.4.1), and a witness never leads (§11.7.2): no leader,
// ever, with every server up. A witness must hold only entries durable on
// a data voter. Found by raftsim: seed 1, 1 node (+ a witness added).
func TestRegressWitnessAheadOfLeaderWrite(t *testing.T) {
	tn := singleDataNet(t)
	tn.async = true
	idx, _ := tn.propose(1, "b")
	tn.deliverAll()
	tn.ackAll(2) // whatever the witness was sent is durable there
	tn.deliverAll()
	tn.crash(1) // the leader's own write of idx never completed
	tn.async = false
	tn.restart(1)
	if last := tn.nodes[1].log.lastIndex(); last >= idx {
		t.Fatalf("setup: node 1 kept entry %d (last %d)", idx, last)
	}
	tickUntil(tn, 300, "node 1 elected", leaderAmong(tn, 0, 1))
}

// TestRegressWitnessAheadOfRemainingDataVoters: leader 1 removes itself
// from {1, 2, 3 (witness)} and, before the removal commits, appends an
// entry that reaches the witness but not node 2. Once the removal commits,
// node 1 steps down for good (thesis §4.2.2); node 2, the only data voter
// left, lacks the entry the witness holds, so the witness refuses it its
// vote (§5.4.1) and nobody can ever lead (§11.7.2). The leader's own
// durable copy does not help when it is not a voter: a witness must hold
// only entries durable on a data voter of the configuration.
// Found by raftsim: seed 65, 3 nodes, lease reads.
func TestRegressWitnessAheadOfRemainingDataVoters(t *testing.T) {
	tn := witnessNet(t)
	r := mustChange(tn, 1, change(RemoveMember, 1))
	tn.drain(1)
	x, _ := tn.propose(1, "x")
	tn.drop = func(m Message) bool {
		return m.From == 1 && m.To == 2 && m.Type == MsgApp && len(m.Entries) > 0 && m.Entries[len(m.Entries)-1].Index >= x
	}
	tn.deliverAll()
	if tn.nodes[1].Status().Role == RoleLeader || tn.nodes[2].log.lastIndex() != r {
		t.Fatalf("setup: node 1 role %v, node 2 last index %d; want node 1 stepped down, node 2 ending at the removal %d",
			tn.nodes[1].Status().Role, tn.nodes[2].log.lastIndex(), r)
	}
	tn.drop = nil
	tickUntil(tn, 300, "node 2 elected", leaderAmong(tn, 0, 2))
}

// TestRegressMembershipChangeWakesQuiescentLeader: a membership change
// proposed to a quiescent leader must wake it, as any proposal does
// (docs/reads.md, "Quiescent groups"). Asleep, the leader neither ticks
// nor heartbeats, so when the appends carrying the configuration entry
// are lost nothing ever retransmits them (paper §5.3: the leader retries
// AppendEntries indefinitely) and the change never commits; every later
// change is refused as pending. Both ProposeMembershipChange and
// LeaveJoint. Suspected on reading; raftsim catches it (the quiet
// scenario, seed 1, 3 nodes).
func TestRegressMembershipChangeWakesQuiescentLeader(t *testing.T) {
	for _, leave := range []bool{false, true} {
		t.Run(fmt.Sprintf("leave joint %v", leave), func(t *testing.T) {
			tn := quietNet(t, 3)
			tn.join(4, nil)
			tn.startEmpty(4)
			propose := func() Index { return mustChange(tn, 1, change(AddLearner, 4)) }
			if leave {
				if _, _, err := tn.nodes[1].ProposeJointMembershipChange(false, change(AddLearner, 4)); err != nil {
					t.Fatal(err)
				}
				tn.deliverAll()
				tickUntil(tn, 10*3+30, "all quiescent", allQuiescent(tn, 1, 2, 3))
				propose = func() Index {
					idx, _, err := tn.nodes[1].LeaveJoint()
					if err != nil {
						t.Fatal(err)
					}
					return idx
				}
			}
			tn.dropTypes = map[MessageType]bool{MsgApp: true}
			idx := propose()
			tn.deliverAll()
			tn.dropTypes = nil
			tickUntil(tn, 200, "the change committed", func() bool { return tn.nodes[1].Status().Commit >= idx })
		})
	}
}

// TestRegressNewServerCompactsBeforeKnowingConfiguration: the initial
// configuration lives in the bootstrap snapshot at index 0, which is never
// sent: a server added later receives the log from index 1 and learns no
// configuration before the entry that adds it. Applying committed entries
// below that entry and compacting there, it must not produce a snapshot
// claiming an empty configuration (thesis §5.1: a snapshot records the
// latest configuration as of its last index): as leader later, it would
// send that snapshot to a lagging follower, which rejects it as invalid
// and can never catch up. Found by raftsim: the quiet scenario, seed
// 110460, 3 nodes, lease reads.
func TestRegressNewServerCompactsBeforeKnowingConfiguration(t *testing.T) {
	tn := elect3(t)
	for _, d := range []string{"a", "b", "c"} {
		tn.propose(1, d)
	}
	tn.deliverAll()
	tn.join(4, nil)
	tn.startEmpty(4)
	tn.cut[1][2], tn.cut[1][3] = true, true // the change cannot commit
	j := mustChange(tn, 1, change(AddVoter, 4))
	tn.deliverAll()
	st := tn.nodes[4].Status()
	if st.LastIndex != j || st.Applied == 0 || st.Applied >= j {
		t.Fatalf("setup: node 4 last %d applied %d; want the change %d appended, entries before it applied", st.LastIndex, st.Applied, j)
	}
	meta, err := tn.nodes[4].Compact(st.Applied, 0)
	if err == nil {
		if verr := meta.Membership.Validate(); verr != nil {
			t.Fatalf("node 4 compacted to %d with a snapshot whose configuration is invalid (%v): %+v", st.Applied, verr, meta.Membership)
		}
	}
}
