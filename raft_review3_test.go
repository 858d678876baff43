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
