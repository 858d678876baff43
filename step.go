package raft

import "fmt"

// Step hands the node a message from a peer. A malformed message — unknown
// type, missing sender, entries out of sequence, a term order no correct
// peer produces, an append that would overwrite committed entries — returns
// an error wrapping ErrInvalidMessage (or ErrUnknownPeer) and leaves the node
// exactly as it was. Messages from older terms are answered or ignored as
// the protocol says, and return nil.
func (n *Node) Step(m Message) error {
	if t := n.cfg.Ticker; t != nil {
		t.catchUp(n)
		defer t.reschedule(n)
	}
	if err := m.validate(); err != nil {
		return err
	}
	if err := n.checkAgainstState(&m); err != nil {
		return err
	}
	if n.quiescent && n.wakesFromQuiescence(&m) {
		n.wake()
	}
	if m.Type == MsgProp {
		return n.handleForwardedProposal(m)
	}
	if !n.stepTerm(m) {
		return nil
	}
	switch m.Type {
	case MsgVote, MsgPreVote:
		n.handleVoteRequest(m)
	case MsgVoteResp, MsgPreVoteResp:
		n.handleVoteResponse(m)
	case MsgApp, MsgHeartbeat, MsgSnap:
		// Only a leader sends these, and there is one per term (Election
		// Safety): a (pre-)candidate that hears it lost (§5.2).
		if n.role != RoleFollower {
			n.becomeFollower(m.Term, m.From)
		} else if n.lead != m.From {
			n.lead = m.From
			n.logRole() // a follower learning its leader
		}
		n.electionElapsed = 0
		n.leaseUntil = n.ticks + uint64(n.cfg.ElectionTicks)
		switch m.Type {
		case MsgApp:
			n.handleAppend(m)
		case MsgHeartbeat:
			n.handleHeartbeat(m)
		case MsgSnap:
			n.handleSnapshot(m)
		}
	case MsgAppResp:
		if n.role == RoleLeader {
			n.handleAppendResponse(m)
		}
	case MsgHeartbeatResp:
		if n.role == RoleLeader {
			n.handleHeartbeatResponse(m)
		}
	case MsgReadIndex:
		n.handleReadIndex(m)
	case MsgReadIndexResp:
		n.handleReadIndexResponse(m)
	case MsgTimeoutNow:
		n.handleTimeoutNow(m)
	case MsgQuiesce:
		n.handleQuiesce(m)
	}
	return nil
}

// wakesFromQuiescence: every message wakes a quiescent node except the
// quiesce notice itself and late answers to heartbeats sent before it. A
// follower's wake-up ping is a heartbeat answer without a round number.
func (n *Node) wakesFromQuiescence(m *Message) bool {
	switch m.Type {
	case MsgQuiesce:
		return false
	case MsgHeartbeatResp:
		return m.Context == 0
	case MsgHeartbeat:
		return m.From != n.lead || m.Context > n.quiesceRound
	}
	return true
}

// checkAgainstState rejects messages that no correct peer could send to
// this node in its current state. It changes nothing.
func (n *Node) checkAgainstState(m *Message) error {
	if m.To != n.id {
		return fmt.Errorf("%w: %s addressed to %d, this is node %d", ErrInvalidMessage, m.Type, m.To, n.id)
	}
	if m.Term < n.term {
		return nil // stale: handled by the term rules, never applied
	}
	switch m.Type {
	case MsgApp, MsgHeartbeat, MsgSnap:
		if m.Term == n.term && n.role == RoleLeader {
			return fmt.Errorf("%w: %s from %d for term %d, which this node leads", ErrInvalidMessage, m.Type, m.From, m.Term)
		}
		switch m.Type {
		case MsgApp:
			return n.log.checkAppend(m.Index, m.LogTerm, m.Entries)
		case MsgSnap:
			return n.log.checkSnapshot(m.Snapshot)
		}
	case MsgAppResp, MsgHeartbeatResp:
		if m.Term != n.term || n.role != RoleLeader {
			return nil
		}
		if n.progressOf(m.From) == nil {
			return fmt.Errorf("%w: %s from %d", ErrUnknownPeer, m.Type, m.From)
		}
		// A success acknowledges at most what was sent, and a rejection
		// names the index of an append that was sent: neither lies beyond
		// the leader's log.
		if m.Type == MsgAppResp && m.Index > n.log.lastIndex() {
			return fmt.Errorf("%w: %d answers index %d beyond the leader's last index %d", ErrInvalidMessage, m.From, m.Index, n.log.lastIndex())
		}
	case MsgVoteResp, MsgPreVoteResp:
		if !n.members().IsVoter(m.From) {
			return fmt.Errorf("%w: %s from non-voter %d", ErrUnknownPeer, m.Type, m.From)
		}
	}
	return nil
}

// stepTerm applies the term rules every server follows (§5.1, Figure 2
// "Rules for Servers", with the pre-vote and check-quorum refinements of
// thesis §9.6 and §6.2). It reports whether the message should be handled
// further.
func (n *Node) stepTerm(m Message) bool {
	switch {
	case m.Term > n.term:
		if (m.Type == MsgVote || m.Type == MsgPreVote) && !m.Transfer && n.inLease() {
			// A live leader exists: do not let this candidate disrupt it.
			return false
		}
		switch {
		case m.Type == MsgPreVote:
			// A pre-vote never changes the receiver's term.
		case m.Type == MsgPreVoteResp && !m.Reject:
			// A grant carries the term we asked about, not a newer one.
		case m.Type == MsgApp || m.Type == MsgHeartbeat || m.Type == MsgSnap:
			n.becomeFollower(m.Term, m.From)
		default:
			n.becomeFollower(m.Term, None)
		}
		return true
	case m.Term < n.term:
		switch m.Type {
		case MsgApp, MsgHeartbeat, MsgSnap:
			// A deposed leader: tell it the newer term (Figure 2,
			// AppendEntries rule 1). It might otherwise never learn of
			// it: with pre-vote or check-quorum, nodes in its partition
			// ignore it and it ignores them; in any mode, a node that
			// cannot campaign (a learner, a removed voter being re-added)
			// never carries its newer term to the leader.
			n.send(Message{Type: MsgAppResp, To: m.From})
		case MsgPreVote:
			n.send(Message{Type: MsgPreVoteResp, To: m.From, Reject: true})
		case MsgVote:
			// Figure 2: the refusal carries the current term. Without
			// pre-vote the candidate may otherwise never learn it: the
			// servers raising the term may have stale configurations
			// that do not count it, while it alone holds the latest
			// one and could win (issue 18).
			n.send(Message{Type: MsgVoteResp, To: m.From, Reject: true})
		case MsgReadIndex:
			n.send(Message{Type: MsgReadIndexResp, To: m.From, Context: m.Context, Reject: true})
		}
		return false
	}
	return true
}

// handleForwardedProposal appends a proposal a follower forwarded (or
// returns why it cannot).
func (n *Node) handleForwardedProposal(m Message) error {
	if n.role != RoleLeader {
		return &NotLeaderError{Leader: n.lead}
	}
	if n.ldr.transferee != None {
		return ErrTransferInProgress // thesis §3.10: as for Propose
	}
	var total uint64
	for i := range m.Entries {
		if size := uint64(len(m.Entries[i].Data)); size > n.cfg.MaxEntryBytes {
			return fmt.Errorf("%w (%d > %d)", ErrEntryTooLarge, size, n.cfg.MaxEntryBytes)
		}
		total += m.Entries[i].size()
	}
	// All or nothing: an error must leave the log unchanged, so check the
	// whole batch against the budget before appending any of it.
	// (appendProposal lets an empty uncommitted tail take any one entry.)
	if u := n.ldr.uncommittedBytes; u+total > n.cfg.MaxUncommittedBytes && !(u == 0 && len(m.Entries) == 1) {
		return fmt.Errorf("%w (%d + %d > %d)", ErrUncommittedLimit, u, total, n.cfg.MaxUncommittedBytes)
	}
	for i := range m.Entries {
		if _, _, err := n.appendProposal(m.Entries[i].Data); err != nil {
			return err
		}
	}
	return nil
}
