package raft

// Status is a snapshot of a node's state for monitoring and tests.
// Building it does not allocate.
type Status struct {
	// ID is the node's own ID.
	ID NodeID
	// Role is the node's part in the protocol now.
	Role Role
	// Term is the node's current term.
	Term Term
	// Vote is the candidate the node voted for in Term, or None.
	Vote NodeID
	// Leader is the leader the node knows of in Term, or None.
	Leader NodeID
	// Commit is the highest index known committed.
	Commit Index
	// Applied is the last index handed to the caller in an apply action.
	Applied Index
	// Stable is the last index known durable locally.
	Stable Index
	// FirstIndex is the first entry held in memory: the caller may delete
	// stored entries before it (see Node.Compact).
	FirstIndex Index
	// LastIndex is the last entry in the log, durable or not.
	LastIndex Index
	// LastTerm is the term of the entry at LastIndex.
	LastTerm Term
	// ElectionElapsed counts ticks since the node last heard from a leader
	// (or, on a leader, since the last check-quorum round): the staleness
	// bound for reads a caller chooses to serve locally. It stops counting
	// while the group is Quiescent — no leader speaks then by design — so
	// it bounds nothing on a quiet follower: measure staleness there from
	// when the group went quiet, or Wake it first.
	ElectionElapsed int
	// Transferee is the target of a leadership transfer under way, or None.
	Transferee NodeID
	// Quiescent reports whether the group is quiet (see Wake).
	Quiescent bool
	// LeaseHeld reports whether a leader holds a read lease now.
	LeaseHeld bool
}

// Status returns the node's current status.
func (n *Node) Status() Status {
	n.tickerSync()
	return Status{
		ID:              n.id,
		Role:            n.role,
		Term:            n.term,
		Vote:            n.vote,
		Leader:          n.lead,
		Commit:          n.log.committed,
		Applied:         n.log.applied,
		Stable:          n.log.stable,
		FirstIndex:      n.log.firstIndex(),
		LastIndex:       n.log.lastIndex(),
		LastTerm:        n.log.lastTerm(),
		ElectionElapsed: int(n.electionElapsed),
		Transferee:      n.transferee(),
		Quiescent:       n.quiescent,
		LeaseHeld:       n.role == RoleLeader && n.cfg.EnableLeaseReads && n.leaseHeld(),
	}
}

// Progress returns the leader's replication progress for member id; ok is
// false on a non-leader or for an unknown id.
func (n *Node) Progress(id NodeID) (p Progress, ok bool) {
	n.tickerSync()
	if pr := n.progressOf(id); pr != nil {
		return pr.Progress, true
	}
	return Progress{}, false
}

// ForEachProgress calls f with the leader's progress for every other
// member, in membership order. It does nothing on a non-leader.
func (n *Node) ForEachProgress(f func(NodeID, Progress)) {
	n.tickerSync()
	if n.ldr == nil {
		return
	}
	for i := range n.ldr.progress {
		f(n.ldr.progress[i].id, n.ldr.progress[i].Progress)
	}
}

// Membership returns a copy of the membership the node currently uses.
func (n *Node) Membership() Membership { return n.members().Clone() }
