package raft

import (
	"errors"
	"fmt"
	"log/slog"
	"slices"
)

// This file holds leadership transfer (thesis §3.10): the leader stops
// taking proposals, brings the target's log up to date, and tells it to
// campaign at once; the target's vote requests carry a flag that lets them
// through pre-vote and check-quorum stickiness.

// ErrTransferInProgress: a leadership transfer is under way; proposals and
// membership changes are refused until it ends (it succeeds, or is
// abandoned after an election timeout).
var ErrTransferInProgress = fmt.Errorf("%w: leadership transfer in progress", ErrProposalDropped)

// ErrTransferRefused wraps every refused TransferLeadership call.
var ErrTransferRefused = errors.New("raft: leadership transfer refused")

// TransferLeadership hands leadership to voter to. The transfer is
// abandoned if to has not taken over within an election timeout; Status
// shows it while under way.
func (n *Node) TransferLeadership(to NodeID) error {
	if t := n.cfg.Ticker; t != nil {
		t.catchUp(n)
		defer t.reschedule(n)
	}
	switch {
	case n.role != RoleLeader:
		return &NotLeaderError{Leader: n.lead}
	case to == n.id:
		return fmt.Errorf("%w: node %d is already leader", ErrTransferRefused, to)
	case !n.members().IsVoter(to) || n.members().IsWitness(to):
		return fmt.Errorf("%w: node %d is not a voter that can lead", ErrTransferRefused, to)
	case n.ldr.transferee != None:
		return fmt.Errorf("%w: a transfer to %d is under way", ErrTransferRefused, n.ldr.transferee)
	}
	n.wake()
	n.ldr.transferee = to
	n.ldr.transferElapsed = 0
	if n.cfg.Logger != nil {
		n.logEvent(slog.LevelInfo, "raft: leadership transfer started", slog.Uint64("to", uint64(to)))
	}
	n.maybeSendTimeoutNow(n.progressOf(to))
	return nil
}

// TransferToBestVoter transfers leadership to the voter whose log is most
// up to date (ties to the lowest ID), the usual step before shutting a
// leader down gracefully. It returns the chosen voter. In a joint
// configuration it chooses among the incoming voters only: an outgoing-only
// voter is removed once the configuration is left, and would step down
// (thesis §4.2.2).
func (n *Node) TransferToBestVoter() (NodeID, error) {
	if t := n.cfg.Ticker; t != nil {
		t.catchUp(n)
		defer t.reschedule(n)
	}
	if n.role != RoleLeader {
		return None, &NotLeaderError{Leader: n.lead}
	}
	var best *progress
	for i := range n.ldr.progress {
		pr := &n.ldr.progress[i]
		if !slices.Contains(n.members().Voters, pr.id) || pr.witness {
			continue
		}
		if best == nil || pr.Match > best.Match || (pr.Match == best.Match && pr.id < best.id) {
			best = pr
		}
	}
	if best == nil {
		return None, fmt.Errorf("%w: no other voter can lead", ErrTransferRefused)
	}
	return best.id, n.TransferLeadership(best.id)
}

// maybeSendTimeoutNow tells the target to campaign once its log matches
// the leader's; until then replication catches it up.
func (n *Node) maybeSendTimeoutNow(pr *progress) {
	// Not leader: maybeCommit, just before, may have stepped down.
	if n.ldr == nil || pr == nil || pr.id != n.ldr.transferee {
		return
	}
	if pr.Match == n.log.lastIndex() {
		n.ldr.reads.noLease = true // a delayed MsgTimeoutNow may start an election at any time
		n.send(Message{Type: MsgTimeoutNow, To: pr.id})
		return
	}
	n.needFlush = true
}

// tickTransfer abandons a transfer that took longer than an election
// timeout: the target is down or too slow, and the cluster needs a leader
// that accepts proposals.
func (n *Node) tickTransfer() {
	l := n.ldr
	if l.transferee == None {
		return
	}
	l.transferElapsed++
	if l.transferElapsed >= n.cfg.ElectionTicks {
		if n.cfg.Logger != nil {
			n.logEvent(slog.LevelWarn, "raft: leadership transfer abandoned after an election timeout", slog.Uint64("to", uint64(l.transferee)))
		}
		l.transferee = None
	}
}

// handleTimeoutNow: the leader asks this node to campaign now, skipping
// pre-vote (it has the leader's blessing) with vote requests that override
// other voters' leader leases.
func (n *Node) handleTimeoutNow(m Message) {
	if n.role != RoleFollower || m.From != n.lead || !n.promotable() {
		return
	}
	n.becomeCandidate(true)
}
