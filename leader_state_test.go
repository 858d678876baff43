package raft

import (
	"errors"
	"testing"
)

// checkRoleState fails unless every node's leader state exists exactly
// while it leads, its campaign state exactly while it is a (pre-)candidate,
// and a node that does not lead reports no leader-only state through the
// API.
func checkRoleState(t *testing.T, tn *testNet, when string) {
	t.Helper()
	for _, id := range tn.ids {
		n := tn.nodes[id]
		if (n.role == RoleLeader) != (n.ldr != nil) {
			t.Fatalf("%s: node %d is %v with leader state %v", when, id, n.role, n.ldr != nil)
		}
		if (n.role == RoleCandidate || n.role == RolePreCandidate) != (n.camp != nil) {
			t.Fatalf("%s: node %d is %v with campaign state %v", when, id, n.role, n.camp != nil)
		}
		if n.role == RoleLeader {
			continue
		}
		for _, other := range tn.ids {
			if _, ok := n.Progress(other); ok {
				t.Errorf("%s: %v node %d reports progress for %d", when, n.role, id, other)
			}
		}
		n.ForEachProgress(func(other NodeID, _ Progress) {
			t.Errorf("%s: %v node %d iterates progress of %d", when, n.role, id, other)
		})
		if st := n.Status(); st.Transferee != None || st.LeaseHeld {
			t.Errorf("%s: %v node %d status %+v", when, n.role, id, st)
		}
		if n.CaughtUp(other(id), 0) {
			t.Errorf("%s: %v node %d says a member is caught up", when, n.role, id)
		}
		var nl *NotLeaderError
		if err := n.TransferLeadership(other(id)); !errors.As(err, &nl) {
			t.Errorf("%s: %v node %d TransferLeadership: %v, want a NotLeaderError", when, n.role, id, err)
		}
	}
}

func other(id NodeID) NodeID { return id%3 + 1 }

// TestLeaderStateFollowsRole: the leader-only state (progress, uncommitted
// budget, transfer, the leader's reads) is allocated when a node takes
// office, dropped when it steps down — mid-transfer, with reads pending —
// and made afresh when it leads again; nothing of an old term leaks into
// the next one. The candidate's votes likewise exist only while it
// campaigns.
func TestLeaderStateFollowsRole(t *testing.T) {
	tn := newTestNet(t, 3, testCfg(classic, func(c *Config) { c.EnableLeaseReads = false }))
	checkRoleState(t, tn, "bootstrapped")

	tn.campaign(1)
	checkRoleState(t, tn, "1 elected")
	n1 := tn.nodes[1]
	first := n1.ldr
	if len(first.progress) != 2 {
		t.Fatalf("leader tracks %d members, want 2", len(first.progress))
	}
	tn.propose(1, "a")
	tn.deliverAll()

	// Leave node 1 mid-transfer, with a read pending and uncommitted
	// entries, then depose it.
	tn.isolate(3)
	tn.propose(1, "b")
	tn.deliverAll()
	if err := n1.TransferLeadership(3); err != nil {
		t.Fatal(err)
	}
	tn.isolate(2)
	if _, _, err := n1.Propose([]byte("lost")); err == nil || !errors.Is(err, ErrTransferInProgress) {
		t.Fatalf("propose during transfer: %v", err)
	}
	if err := n1.ReadIndex(7); err != nil {
		t.Fatal(err)
	}
	if n1.ldr.transferee != 3 || len(n1.ldr.reads.pending) != 1 {
		t.Fatalf("leader state before stepping down: transferee %d, %d reads pending", n1.ldr.transferee, len(n1.ldr.reads.pending))
	}
	round := n1.readRound
	tn.heal()
	tn.isolate(1)
	tn.campaign(2)
	tn.heal()
	tn.tickAll(1) // node 2's heartbeat tells node 1 of term 2
	if tn.leader() != 2 {
		t.Fatalf("leader is %d, want 2", tn.leader())
	}
	checkRoleState(t, tn, "1 deposed by 2")
	if got := tn.reads[1]; len(got) != 1 || got[0].ID != 7 || !errors.Is(got[0].Err, ErrReadLeadershipLost) {
		t.Fatalf("node 1's pending read: %+v, want read 7 failed with leadership lost", got)
	}
	// A follower forwards proposals: no transfer is left over.
	if _, _, err := n1.Propose([]byte("c")); err != nil {
		t.Fatalf("follower propose: %v", err)
	}
	tn.deliverAll()

	// A candidate has no leader state either.
	tn.isolate(1)
	if err := n1.Campaign(); err != nil {
		t.Fatal(err)
	}
	tn.drainAll()
	if n1.role != RoleCandidate {
		t.Fatalf("node 1 is %v, want candidate", n1.role)
	}
	checkRoleState(t, tn, "1 candidate")
	tn.heal()
	tn.tickAll(30)
	checkRoleState(t, tn, "after the candidate rejoined")
	if tn.leader() != 1 {
		tn.campaign(1)
	}
	if tn.leader() != 1 {
		t.Fatalf("leader is %d, want 1", tn.leader())
	}
	checkRoleState(t, tn, "1 elected again")
	again := n1.ldr
	if again == first {
		t.Fatal("the leader state of the old term was reused")
	}
	if again.transferee != None || len(again.reads.pending) != 0 || len(again.progress) != 2 {
		t.Fatalf("fresh leader state: transferee %d, %d reads pending, %d members", again.transferee, len(again.reads.pending), len(again.progress))
	}
	if n1.readRound < round || again.reads.confirmed != n1.readRound {
		t.Fatalf("heartbeat rounds went back: %d before, %d now (confirmed %d)", round, n1.readRound, again.reads.confirmed)
	}
	idx, _ := tn.propose(1, "d")
	tn.deliverAll()
	for _, id := range tn.ids {
		if got := tn.appliedData(id); len(got) == 0 || got[len(got)-1] != "d" {
			t.Fatalf("node %d applied %q, want ... d (index %d)", id, got, idx)
		}
	}
	checkRoleState(t, tn, "after replication")
}

// TestCampaignStateFollowsRole: a pre-candidate that loses, one that wins
// the pre-vote and becomes candidate, and a candidate that wins each hold
// their votes only while campaigning, and a new campaign starts with none.
func TestCampaignStateFollowsRole(t *testing.T) {
	tn := newTestNet(t, 3, nil) // pre-vote on
	checkRoleState(t, tn, "bootstrapped")
	tn.isolate(1)
	if err := tn.nodes[1].Campaign(); err != nil {
		t.Fatal(err)
	}
	tn.drainAll()
	n1 := tn.nodes[1]
	if n1.role != RolePreCandidate || len(n1.camp.votes) != 1 {
		t.Fatalf("isolated node 1 is %v with %+v, want a pre-candidate with its own vote", n1.role, n1.camp)
	}
	checkRoleState(t, tn, "isolated pre-candidate")
	first := n1.camp
	tn.tick(1, 2*n1.cfg.ElectionTicks) // times out and campaigns again
	tn.drainAll()
	if n1.role != RolePreCandidate || n1.camp == first || len(n1.camp.votes) != 1 {
		t.Fatalf("after a timeout node 1 is %v with %+v, want a fresh pre-vote", n1.role, n1.camp)
	}
	tn.heal()
	tn.tickAll(3 * n1.cfg.ElectionTicks)
	if tn.leader() == None {
		t.Fatal("no leader")
	}
	checkRoleState(t, tn, "after the election")
}

// Non-leader entry points that read leader-only state: none may panic on
// a follower, a pre-candidate or a candidate, whose leaderState is nil.
func TestLeaderOnlyCallsOnNonLeaders(t *testing.T) {
	tn := elect3(t)
	tn.isolate(2)
	f := tn.nodes[2]
	pre := restored(t, defaultTestConfig(3), ids(3), HardState{Term: 1}, 1)
	_ = pre.Campaign()
	cand := restored(t, testCfg(noPreVote)(3), ids(3), HardState{Term: 1}, 1)
	_ = cand.Campaign()
	for _, n := range []*Node{f, pre, cand} {
		_ = n.Status()
		n.Progress(1)
		n.ForEachProgress(func(NodeID, Progress) { t.Errorf("ForEachProgress on a %v called f", n.Status().Role) })
		_ = n.TransferLeadership(1)
		_, _ = n.TransferToBestVoter()
		n.ReportSnapshot(1, nil)
		n.CaughtUp(1, 0)
		_, _, _ = n.LeaveJoint()
		_, _, _ = n.ProposeMembershipChange(change(AddLearner, 9))
		_ = n.LeaseRead(1)
		_ = n.ReadIndex(2)
		n.Wake()
		n.Tick()
		n.HasActions()
		n.Actions()
	}
}
