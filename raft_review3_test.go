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
