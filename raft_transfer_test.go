package raft

import (
	"errors"
	"fmt"
	"slices"
	"testing"
)

// Behaviour tests for leadership transfer (thesis §3.10): the leader stops
// accepting proposals, brings the target up to date, and sends it
// MsgTimeoutNow; the target campaigns at once, past pre-vote and the voters'
// check-quorum stickiness.

// Thesis §3.10, step 1: "the prior leader stops accepting new client
// requests" while the transfer is under way — its own proposals, forwarded
// ones, and membership changes are refused with ErrTransferInProgress (a
// kind of ErrProposalDropped), and nothing is appended.
func TestTransferRefusesProposals(t *testing.T) {
	tn := elect3(t)
	tn.cut[1][3] = true
	tn.propose(1, "a")
	tn.deliverAll()
	n := tn.nodes[1]
	if err := n.TransferLeadership(3); err != nil {
		t.Fatal(err)
	}
	if st := n.Status(); st.Transferee != 3 {
		t.Fatalf("Status().Transferee = %d, want 3", st.Transferee)
	}
	last := n.Status().LastIndex
	if _, _, err := n.Propose([]byte("b")); !errors.Is(err, ErrTransferInProgress) || !errors.Is(err, ErrProposalDropped) {
		t.Errorf("Propose during transfer: %v, want ErrTransferInProgress", err)
	}
	if _, _, err := n.ProposeMembershipChange(change(AddLearner, 4)); !errors.Is(err, ErrTransferInProgress) {
		t.Errorf("ProposeMembershipChange during transfer: %v, want ErrTransferInProgress", err)
	}
	err := n.Step(Message{Type: MsgProp, From: 2, To: 1, Entries: []Entry{{Data: []byte("c")}}})
	if !errors.Is(err, ErrTransferInProgress) {
		t.Errorf("forwarded proposal during transfer: %v, want ErrTransferInProgress", err)
	}
	if got := n.Status().LastIndex; got != last {
		t.Errorf("last index %d, want %d: something was appended during the transfer", got, last)
	}
}

// Thesis §3.10, steps 2-3: the leader first brings the target's log up to
// date, and only then sends MsgTimeoutNow; the target campaigns at once in
// the next term and wins, although pre-vote and check-quorum would make
// the other voters (who hear a live leader) ignore an ordinary candidate:
// its vote requests carry the transfer flag.
func TestTransferCatchesUpThenWins(t *testing.T) {
	tn := elect3(t)
	tn.cut[1][3] = true
	for i := range 3 {
		tn.propose(1, fmt.Sprint(i))
	}
	tn.deliverAll()
	last := tn.nodes[1].Status().LastIndex
	term := tn.nodes[1].Status().Term
	tn.heal()

	var toThree []string
	var votes []Message
	tn.observe = func(m Message) {
		if m.From == 1 && m.To == 3 && (m.Type == MsgApp || m.Type == MsgTimeoutNow) {
			toThree = append(toThree, fmt.Sprintf("%v(%d entries)", m.Type, len(m.Entries)))
		}
		if m.From == 3 && (m.Type == MsgVote || m.Type == MsgPreVote) {
			votes = append(votes, m)
		}
	}
	var matchAtTimeoutNow Index = 0
	tn.onAction = func(id NodeID, a Action) {
		if id == 1 && a.Kind == ActionSend && a.Message.Type == MsgTimeoutNow {
			pr, _ := tn.nodes[1].Progress(3)
			matchAtTimeoutNow = pr.Match
		}
	}
	if err := tn.nodes[1].TransferLeadership(3); err != nil {
		t.Fatal(err)
	}
	tickUntil(tn, 10, "node 3 leads", leaderAmong(tn, term, 3))

	if len(toThree) == 0 || toThree[len(toThree)-1] != "MsgTimeoutNow(0 entries)" || !slices.ContainsFunc(toThree, func(s string) bool { return s != "MsgApp(0 entries)" && s != "MsgTimeoutNow(0 entries)" }) {
		t.Errorf("messages from 1 to 3: %v; want entries first, MsgTimeoutNow last", toThree)
	}
	if matchAtTimeoutNow != last {
		t.Errorf("MsgTimeoutNow sent with node 3 at %d, want %d (caught up)", matchAtTimeoutNow, last)
	}
	if len(votes) != 2 {
		t.Fatalf("node 3 sent %v; want one MsgVote to each voter, no pre-vote", votes)
	}
	for _, m := range votes {
		if m.Type != MsgVote || !m.Transfer || m.Term != term+1 {
			t.Errorf("node 3 sent %v, want a MsgVote of term %d with the transfer flag", m, term+1)
		}
	}
	st := tn.nodes[3].Status()
	if st.Term != term+1 {
		t.Errorf("node 3 leads term %d, want %d", st.Term, term+1)
	}
	if got := tn.nodes[1].Status(); got.Role != RoleFollower || got.Leader != 3 || got.Transferee != None {
		t.Errorf("old leader: %+v, want a follower of 3 with no transfer", got)
	}
	if _, _, err := tn.nodes[3].Propose([]byte("after")); err != nil {
		t.Errorf("new leader refuses proposals: %v", err)
	}
}

// Thesis §3.10: "if the transfer does not complete within an election
// timeout, the prior leader aborts the transfer and resumes accepting client
// requests." Here the target is down.
func TestTransferAbandonedWhenTargetDown(t *testing.T) {
	tn := elect3(t)
	tn.crash(3)
	n := tn.nodes[1]
	if err := n.TransferLeadership(3); err != nil {
		t.Fatal(err)
	}
	timeout := tn.cfg(1).ElectionTicks
	tn.tickAll(timeout - 1)
	if _, _, err := n.Propose([]byte("x")); !errors.Is(err, ErrTransferInProgress) {
		t.Fatalf("Propose %d ticks into the transfer: %v, want ErrTransferInProgress", timeout-1, err)
	}
	tn.tickAll(1)
	if st := n.Status(); st.Transferee != None || st.Role != RoleLeader {
		t.Fatalf("after an election timeout: %+v, want leader with no transfer", st)
	}
	idx, _ := tn.propose(1, "x")
	tickUntil(tn, 3, "x committed", committedOn(tn, idx, 1, 2))
}

// Thesis §3.10: transfers that cannot work are refused at once: to itself,
// to a learner or a witness (neither may lead), while another transfer is
// under way, and on a node that is not leader.
func TestTransferRefusals(t *testing.T) {
	tn := elect3(t)
	tn.join(4, nil)
	tn.startEmpty(4)
	tn.join(5, nil)
	tn.startEmpty(5)
	mustChange(tn, 1, change(AddLearner, 4))
	tn.deliverAll()
	mustChange(tn, 1, change(AddWitness, 5))
	tn.deliverAll()
	n := tn.nodes[1]
	for _, tc := range []struct {
		to   NodeID
		want error
	}{
		{1, ErrTransferRefused}, {4, ErrTransferRefused}, {5, ErrTransferRefused}, {9, ErrTransferRefused},
	} {
		if err := n.TransferLeadership(tc.to); !errors.Is(err, tc.want) {
			t.Errorf("TransferLeadership(%d): %v, want %v", tc.to, err, tc.want)
		}
		if n.Status().Transferee != None {
			t.Fatalf("refused transfer to %d left a transfer under way", tc.to)
		}
	}
	var nle *NotLeaderError
	if err := tn.nodes[2].TransferLeadership(3); !errors.As(err, &nle) || nle.Leader != 1 {
		t.Errorf("TransferLeadership on a follower: %v, want *NotLeaderError naming 1", err)
	}
	if _, err := tn.nodes[2].TransferToBestVoter(); !errors.As(err, &nle) {
		t.Errorf("TransferToBestVoter on a follower: %v, want *NotLeaderError", err)
	}
	tn.cut[1][2] = true // keep the first transfer under way
	tn.propose(1, "x")
	tn.deliverAll()
	if err := n.TransferLeadership(2); err != nil {
		t.Fatal(err)
	}
	if err := n.TransferLeadership(3); !errors.Is(err, ErrTransferRefused) {
		t.Errorf("second transfer: %v, want ErrTransferRefused", err)
	}
	if st := n.Status(); st.Transferee != 2 {
		t.Errorf("transferee %d after a refused second transfer, want 2", st.Transferee)
	}

	single := newTestNet(t, 1, nil)
	single.campaign(1)
	if _, err := single.nodes[1].TransferToBestVoter(); !errors.Is(err, ErrTransferRefused) {
		t.Errorf("TransferToBestVoter with no other voter: %v, want ErrTransferRefused", err)
	}
}

// Thesis §3.10 (choosing the target): TransferToBestVoter hands leadership
// to the voter with the longest log — never a learner, however up to date —
// preferring the lowest ID among equals.
func TestTransferToBestVoter(t *testing.T) {
	t.Run("most up to date", func(t *testing.T) {
		tn := newTestNet(t, 4, nil)
		tn.campaign(1)
		tn.join(5, nil)
		tn.startEmpty(5)
		mustChange(tn, 1, change(AddLearner, 5))
		tn.deliverAll()
		for _, id := range []NodeID{2, 3, 4} {
			tn.cut[1][id] = true
		}
		tn.propose(1, "a") // reaches only learner 5
		tn.deliverAll()
		tn.cut[1][3] = false
		tn.tickAll(4) // node 3 catches up
		tn.cut[1][3] = true
		tn.propose(1, "b")
		tn.deliverAll()
		n := tn.nodes[1]
		for id, want := range map[NodeID]Index{2: 2, 3: 3, 4: 2, 5: 4} {
			if pr, _ := n.Progress(id); pr.Match != want {
				t.Fatalf("node %d match %d, want %d", id, pr.Match, want)
			}
		}
		got, err := n.TransferToBestVoter()
		if err != nil || got != 3 {
			t.Fatalf("TransferToBestVoter() = %d, %v; want 3", got, err)
		}
		if n.Status().Transferee != 3 {
			t.Errorf("transferee %d, want 3", n.Status().Transferee)
		}
	})
	t.Run("ties to the lowest ID", func(t *testing.T) {
		tn := elect3(t)
		got, err := tn.nodes[1].TransferToBestVoter()
		if err != nil || got != 2 {
			t.Fatalf("TransferToBestVoter() = %d, %v; want 2", got, err)
		}
		tn.deliverAll()
		if tn.leader() != 2 {
			t.Errorf("leader %d after the transfer, want 2", tn.leader())
		}
	})
}

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

// Thesis §3.10, step 2: the leader sends MsgTimeoutNow only once the
// target's log is fully up to date with its own — the whole log, not
// only the committed prefix. A target missing the leader's uncommitted
// entries would campaign with a shorter log and, elected by voters that
// lack them too, drop entries the old leader accepted while it led.
func TestTransferWaitsForTheWholeLog(t *testing.T) {
	tn := elect3(t)
	tn.cut[1][2], tn.cut[1][3] = true, true
	x, _ := tn.propose(1, "x") // appended, not committed
	tn.deliverAll()
	leader := tn.nodes[1]
	if st := leader.Status(); st.Commit >= x {
		t.Fatalf("setup: x (%d) committed: %+v", x, st)
	}
	var sent []Index // the target's match at each MsgTimeoutNow
	tn.onAction = func(id NodeID, a Action) {
		if id == 1 && a.Kind == ActionSend && a.Message.Type == MsgTimeoutNow {
			pr, _ := leader.Progress(2)
			sent = append(sent, pr.Match)
		}
	}
	if err := leader.TransferLeadership(2); err != nil {
		t.Fatal(err)
	}
	tn.deliverAll()
	if len(sent) > 0 {
		t.Fatalf("MsgTimeoutNow sent with the target's match at %d, the leader's log ending at %d", sent[0], x)
	}
	tn.heal()
	tickUntil(tn, 20, "node 2 leads", leaderAmong(tn, 0, 2))
	if len(sent) == 0 || sent[0] != x {
		t.Fatalf("MsgTimeoutNow sent at target matches %v, want once at %d", sent, x)
	}
	if e := tn.nodes[2].log.entry(x); e == nil || string(e.Data) != "x" {
		t.Errorf("new leader's entry %d is %+v, want x", x, e)
	}
}
