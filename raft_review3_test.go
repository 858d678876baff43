package raft

import (
	"testing"
)

// Thesis §3.10: while a leadership transfer is under way the leader refuses
// client requests, and it resumes them when the transfer completes or is
// aborted. A transfer to a voter the configuration then removes cannot
// complete: the leader stops tracking the target, so it never sends it
// MsgTimeoutNow (and the target could only lead a configuration without
// it, thesis §4.2.2, then step down). Here the leader's own auto-leave entry
// (thesis §4.3) removes an outgoing voter that was the transfer's target;
// the transfer must end there (etcd-io/raft aborts it on the same
// configuration switch), not refuse every proposal for an election timeout.
func TestTransferAbortedWhenTargetLeavesConfiguration(t *testing.T) {
	tn := elect3(t)
	tn.cut[1][3] = true // 3 lags, so the transfer waits for it to catch up
	n := tn.nodes[1]
	if _, _, err := n.ProposeJointMembershipChange(true, change(RemoveMember, 3)); err != nil {
		t.Fatal(err)
	}
	// 3 is still an outgoing voter of the (uncommitted) joint configuration.
	if err := n.TransferLeadership(3); err != nil {
		t.Fatalf("TransferLeadership(3) in the joint configuration: %v", err)
	}
	tn.deliverAll() // the joint configuration commits, and so does its auto-leave
	if n.Membership().IsVoter(3) {
		t.Fatalf("3 still a voter: %+v", n.Membership())
	}
	if got := n.Status().Transferee; got != None {
		t.Errorf("Status().Transferee = %d after the configuration removed it, want None", got)
	}
	if _, _, err := n.Propose([]byte("x")); err != nil {
		t.Errorf("Propose after the transfer target was removed: %v", err)
	}
}

// Thesis §3.10 hands leadership to a server that will go on leading, the
// step before shutting the leader down gracefully; thesis §4.2.2 has a
// server the configuration removes step down once that removal commits.
// In a joint configuration that auto-leaves (thesis §4.3), an outgoing-only
// voter is removed as soon as the joint configuration commits, so
// TransferToBestVoter must pick a voter of the incoming configuration even
// when the outgoing one's log is further ahead: otherwise the transfer ends
// when the leader's own leave entry removes the target, or the target wins,
// leads briefly and steps down, and the cluster is left without a leader.
func TestTransferToBestVoterSkipsVoterBeingRemoved(t *testing.T) {
	tn := elect3(t)
	n := tn.nodes[1]
	tn.cut[1][2] = true // 2 lags behind 3
	tn.propose(1, "a")
	tn.deliverAll()
	if _, _, err := n.ProposeJointMembershipChange(true, change(RemoveMember, 3)); err != nil {
		t.Fatal(err)
	}
	got, err := n.TransferToBestVoter()
	if err != nil {
		t.Fatalf("TransferToBestVoter: %v", err)
	}
	if got != 2 {
		t.Errorf("TransferToBestVoter() = %d, a voter the joint configuration removes; want 2", got)
	}
}

// Thesis §4.2.2: a leader that a not-yet-committed configuration removes
// keeps managing the cluster but does not count itself in that
// configuration's majorities — reads included (§6.4: the read index is
// confirmed by a heartbeat round acknowledged by a majority). With only
// node 2 answering, {2,3} has no majority, though 1 and 2 would be one of
// the old configuration; once 3 answers too the read is served.
func TestReadIndexOnLeaderBeingRemovedDoesNotCountItself(t *testing.T) {
	tn := elect3(t)
	tn.propose(1, "a")
	tn.deliverAll()
	tn.cut[3][1] = true // only node 2 acknowledges
	mustChange(tn, 1, change(RemoveMember, 1))
	tn.deliverAll()
	n := tn.nodes[1]
	if n.Status().Role != RoleLeader || n.Membership().IsVoter(1) {
		t.Fatalf("want 1 leading a configuration without it: %+v %+v", n.Status(), n.Membership())
	}
	if err := n.ReadIndex(9); err != nil {
		t.Fatal(err)
	}
	tn.deliverAll()
	tn.tickAll(1)
	wantReads(t, tn, 1)
	tn.heal()
	tn.tickAll(1)
	if rs := tn.reads[1]; len(rs) != 1 || rs[0].ID != 9 {
		t.Fatalf("reads on 1 after healing: %+v, want read 9 answered", rs)
	}
}

// Thesis §6.2 with §4.3: in a joint configuration a leader must hear from
// a majority of each half within an election timeout, or step down. Here
// the old half {1,2,3} answers but the new half {1,4,5} does not.
func TestCheckQuorumJointNeedsBothHalves(t *testing.T) {
	tn := newTestNet(t, 5, nil)
	tn.campaign(1)
	n := tn.nodes[1]
	if _, _, err := n.ProposeMembershipChange(change(RemoveMember, 4)); err != nil {
		t.Fatal(err)
	}
	tn.deliverAll()
	if _, _, err := n.ProposeMembershipChange(change(RemoveMember, 5)); err != nil {
		t.Fatal(err)
	}
	tn.deliverAll()
	// Voters {1,2,3}; replace 2 and 3 by 4 and 5 through a joint
	// configuration that is never left (4 and 5 are cut off at once).
	tn.cut[4][1], tn.cut[5][1] = true, true
	if _, _, err := n.ProposeJointMembershipChange(false, change(AddVoter, 4), change(AddVoter, 5), change(RemoveMember, 2), change(RemoveMember, 3)); err != nil {
		t.Fatal(err)
	}
	tn.deliverAll()
	if !n.Membership().IsJoint() {
		t.Fatalf("want a joint configuration: %+v", n.Membership())
	}
	tn.tickAll(3 * 10)
	if st := n.Status(); st.Role == RoleLeader {
		t.Errorf("leader kept leading with no majority of the new half {1,4,5} for three election timeouts: %+v", st)
	}
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
