package raft

import (
	"log/slog"
	"math"
)

// This file holds leader election (§5.2), pre-vote (thesis §9.6) and
// check-quorum (thesis §6.2), and the role transitions.

// resetElectionTimer restarts the election clock with a fresh random
// timeout in [ElectionTicks, 2*ElectionTicks) (§5.2: randomised timeouts
// make split votes rare).
func (n *Node) resetElectionTimer() {
	n.electionElapsed = 0
	n.randomizedTimeout = int32(n.cfg.ElectionTicks + n.rng.intn(n.cfg.ElectionTicks))
}

// tickElection: a follower or candidate that hears from no leader for its
// randomised timeout starts an election (§5.2).
func (n *Node) tickElection() {
	if n.electionElapsed < math.MaxInt32 {
		// A node that never campaigns counts on without bound: saturate,
		// or the 32-bit counter would wrap to "a leader heard just now".
		n.electionElapsed++
	}
	if n.electionElapsed >= n.randomizedTimeout && n.promotable() {
		n.startElection()
	}
}

// tickLeader sends heartbeats every HeartbeatTicks (§5.2) and, every
// election timeout, checks that a quorum is still answering; a leader that
// cannot reach a quorum steps down (check-quorum, thesis §6.2), so clients
// stuck with a deposed leader learn to look elsewhere.
func (n *Node) tickLeader() {
	n.ldr.heartbeatElapsed++
	n.electionElapsed++
	if int(n.electionElapsed) >= n.cfg.ElectionTicks {
		n.electionElapsed = 0
		if !n.cfg.DisableCheckQuorum {
			if !n.quorumActive() {
				if n.cfg.Logger != nil {
					n.logEvent(slog.LevelWarn, "raft: leader stepping down: no quorum heard from in an election timeout")
				}
				n.becomeFollower(n.term, None)
				return
			}
			for i := range n.ldr.progress {
				pr := &n.ldr.progress[i]
				pr.activeLastRound, pr.RecentActive = pr.RecentActive, false
			}
		}
	}
	if n.ldr.heartbeatElapsed >= n.cfg.HeartbeatTicks {
		n.ldr.heartbeatElapsed = 0
		n.broadcastHeartbeat()
	}
	n.tickSnapshots()
	n.tickTransfer()
	n.maybeQuiesce()
}

// quorumActive reports whether a quorum (of each half, if joint) answered
// since the last check, counting the leader itself.
func (n *Node) quorumActive() bool {
	return jointVote(n.members(), func(id NodeID) (bool, bool) {
		if id == n.id {
			return true, true
		}
		pr := n.progressOf(id)
		return pr != nil && pr.RecentActive, true
	}) == voteWon
}

// inLease reports whether this node heard from a live leader within the
// election timeout. With check-quorum on, such a node ignores vote requests
// (thesis §4.2.3 and §6.2): a server that lost contact with the leader —
// say, one that was removed or partitioned — must not depose it.
func (n *Node) inLease() bool {
	if n.cfg.DisableCheckQuorum {
		return false
	}
	heardLeader := n.lead != None && int(n.electionElapsed) < n.cfg.ElectionTicks
	// A newer term learnt from a message that names no leader clears lead
	// but not the promise made to the leader heard last: it may still be
	// serving lease reads on it.
	promised := n.ticks < n.leaseUntil
	// With leases, a restarted server may have acknowledged a lease it no
	// longer remembers: it waits out one election timeout before voting.
	justStarted := n.cfg.EnableLeaseReads && n.ticks < uint64(n.cfg.ElectionTicks)
	return heardLeader || promised || justStarted
}

// startElection begins a pre-vote round, or a real election if pre-vote is
// off.
func (n *Node) startElection() {
	if n.cfg.DisablePreVote {
		n.becomeCandidate(false)
	} else {
		n.becomePreCandidate()
	}
}

// becomePreCandidate asks the voters whether they would vote for this node
// in the next term, without changing its term (thesis §9.6): a node that
// cannot win never bumps the cluster's term.
func (n *Node) becomePreCandidate() {
	n.failReads(ErrReadLeadershipLost) // reads forwarded to a leader now presumed gone
	n.role = RolePreCandidate
	n.lead = None
	n.resetElectionTimer()
	n.camp = &campaign{}
	n.recordVote(n.id, true) // a pre-vote writes nothing, so it counts at once
	n.logRole()
	n.requestVotes(MsgPreVote, n.term+1, false)
	n.tallyVotes()
}

// becomeCandidate starts a real election (§5.2): increment the term, vote
// for itself, ask every voter. The self-vote counts only once persisted. A
// transfer campaign's requests override the voters' leader leases.
func (n *Node) becomeCandidate(transfer bool) {
	n.failReads(ErrReadLeadershipLost)
	n.role = RoleCandidate
	n.term++
	n.vote = n.id
	n.lead = None
	n.resetElectionTimer()
	n.camp = &campaign{}
	n.logRole()
	n.requestVotes(MsgVote, n.term, transfer)
	n.send(Message{Type: MsgVoteResp, To: n.id})
}

func (n *Node) requestVotes(t MessageType, term Term, transfer bool) {
	last, lastTerm := n.log.lastIndex(), n.log.lastTerm()
	n.forEachVoter(func(id NodeID) {
		if id != n.id {
			n.send(Message{Type: t, To: id, Term: term, Index: last, LogTerm: lastTerm, Transfer: transfer})
		}
	})
}

// forEachVoter calls f for every distinct voter of the current membership.
func (n *Node) forEachVoter(f func(NodeID)) {
	m := Membership{Voters: n.members().Voters, OutgoingVoters: n.members().OutgoingVoters}
	m.forEachMember(f)
}

func (n *Node) recordVote(id NodeID, granted bool) {
	c := n.camp
	for i := range c.votes {
		if c.votes[i].id == id {
			// Duplicates change nothing, but a grant counts even after a
			// rejection: a grant binds its voter for the term (§5.2), and
			// the rejection may answer a stale request of this candidate's
			// earlier term, sent at this term (step.go, stepTerm).
			c.votes[i].granted = c.votes[i].granted || granted
			return
		}
	}
	c.votes = append(c.votes, vote{id: id, granted: granted})
}

// tallyVotes moves a (pre-)candidate on once the election is decided.
func (n *Node) tallyVotes() {
	outcome := jointVote(n.members(), func(id NodeID) (bool, bool) {
		for _, v := range n.camp.votes {
			if v.id == id {
				return v.granted, true
			}
		}
		return false, false
	})
	switch {
	case outcome == voteWon && n.role == RolePreCandidate:
		n.becomeCandidate(false)
	case outcome == voteWon && n.role == RoleCandidate:
		// Lead only once this node's own new term and vote are durable (its
		// vote for itself is recorded then, see stepSelf), even when the
		// others' votes already make a majority: a leader whose term a
		// crash could erase might, restarted, win the same term again and
		// append other entries at the same indexes (Log Matching, §5.3).
		if n.votedForSelf() {
			n.becomeLeader()
		}
	case outcome == voteLost:
		n.becomeFollower(n.term, None)
	}
}

// votedForSelf reports whether a candidate's vote for itself is recorded,
// which happens once it is durable.
func (n *Node) votedForSelf() bool {
	for _, v := range n.camp.votes {
		if v.id == n.id {
			return v.granted
		}
	}
	return false
}

// becomeFollower adopts term (if newer) and leader lead.
func (n *Node) becomeFollower(term Term, lead NodeID) {
	changed := n.role != RoleFollower || term > n.term || lead != n.lead
	if n.role == RoleLeader || lead != n.lead {
		n.failReads(ErrReadLeadershipLost)
	}
	n.ldr = nil
	n.quiescent = false
	if term > n.term {
		n.term = term
		n.vote = None
	}
	n.role = RoleFollower
	n.lead = lead
	n.camp = nil
	n.needFlush = false
	n.resetElectionTimer()
	if changed {
		n.logRole()
	}
}

// becomeLeader takes office: it starts tracking every other member from the
// end of its log and appends a no-op entry of its term, whose commitment
// commits everything before it (§5.4.2, §8).
func (n *Node) becomeLeader() {
	n.role = RoleLeader
	n.lead = n.id
	n.camp = nil
	n.resetElectionTimer()
	n.quiescent = false
	n.failReads(ErrReadLeadershipLost)
	n.ldr = &leaderState{reads: leaderReads{confirmed: n.readRound}}
	next := n.log.lastIndex() + 1
	n.members().forEachMember(func(id NodeID) {
		if id != n.id {
			n.ldr.progress = append(n.ldr.progress, progress{id: id, witness: n.members().IsWitness(id), Progress: Progress{Next: next}})
		}
	})
	n.log.append(Entry{Index: next, Term: n.term, Type: EntryNoop})
	n.needFlush = true
	n.logRole()
	n.maybeCommit() // a single-voter cluster commits on its own acknowledgement
}

// progressOf returns the leader's progress for member id, or nil (always
// nil on a node that is not leader).
func (n *Node) progressOf(id NodeID) *progress {
	if n.ldr == nil {
		return nil
	}
	for i := range n.ldr.progress {
		if n.ldr.progress[i].id == id {
			return &n.ldr.progress[i]
		}
	}
	return nil
}

// transferee is the target of the leadership transfer under way, or None.
func (n *Node) transferee() NodeID {
	if n.ldr == nil {
		return None
	}
	return n.ldr.transferee
}

// handleVoteRequest decides a MsgVote or MsgPreVote whose term is at least
// the node's (§5.2, §5.4.1). A vote is granted to at most one candidate per
// term, and only to one whose log is at least as up-to-date. A pre-vote for
// a later term may be granted even after voting in this one, since it binds
// nothing.
func (n *Node) handleVoteRequest(m Message) {
	respType := MsgVoteResp
	if m.Type == MsgPreVote {
		respType = MsgPreVoteResp
	}
	canVote := n.vote == m.From ||
		(n.vote == None && n.lead == None) ||
		(m.Type == MsgPreVote && m.Term > n.term)
	if canVote && n.log.isUpToDate(m.Index, m.LogTerm) {
		// Record the vote before creating the grant: send holds a response
		// until the state it vouches for is durable, and it can only see
		// state already changed (Figure 2: persist votedFor before
		// responding).
		if m.Type == MsgVote {
			n.electionElapsed = 0
			n.vote = m.From
		}
		// The response carries the requested term so a pre-candidate can
		// tell it apart from a rejection in its current term.
		n.send(Message{Type: respType, To: m.From, Term: m.Term})
		return
	}
	n.send(Message{Type: respType, To: m.From, Reject: true})
}

// handleVoteResponse counts an answer in the current election.
func (n *Node) handleVoteResponse(m Message) {
	if m.Type == MsgPreVoteResp && !m.Reject && m.Term != n.term+1 {
		// A grant carries the term it was asked for: this one answers an
		// earlier pre-vote round, not the one under way (thesis §9.6).
		return
	}
	if (n.role == RoleCandidate && m.Type == MsgVoteResp) ||
		(n.role == RolePreCandidate && m.Type == MsgPreVoteResp) {
		n.recordVote(m.From, !m.Reject)
		n.tallyVotes()
	}
}

// stepSelf handles a message the node addressed to itself once the
// persist it waited for is durable: today, a candidate's own vote.
func (n *Node) stepSelf(m Message) {
	if m.Type == MsgVoteResp && m.Term == n.term && n.role == RoleCandidate {
		n.recordVote(n.id, true)
		n.tallyVotes()
	}
}
