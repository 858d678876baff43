package raft

import "fmt"

// This file holds log replication (§5.3) and commitment (§5.4.2) from both
// sides: the leader's sending, flow control and commit rule, and the
// follower's consistency check.

// appendProposal appends a leader's own entry, subject to the uncommitted
// bytes limit.
func (n *Node) appendProposal(data []byte) (Index, Term, error) {
	e := Entry{Index: n.log.lastIndex() + 1, Term: n.term, Type: EntryNormal, Data: data}
	size := e.size()
	// An empty uncommitted tail takes any one entry: sizes include
	// entryOverhead, so otherwise an entry of MaxEntryBytes could never be
	// proposed when MaxUncommittedBytes equals MaxEntryBytes, which
	// Config.Validate allows.
	l := n.ldr
	if l.uncommittedBytes > 0 && l.uncommittedBytes+size > n.cfg.MaxUncommittedBytes {
		return 0, 0, fmt.Errorf("%w (%d + %d > %d)", ErrUncommittedLimit, l.uncommittedBytes, size, n.cfg.MaxUncommittedBytes)
	}
	n.log.appendOne(e)
	l.uncommittedBytes += size
	n.needFlush = true
	return e.Index, e.Term, nil
}

// flushReplication sends every member what it is missing, as far as flow
// control allows. Proposals accumulate between calls to Actions, so one
// message carries all of them (batching).
func (n *Node) flushReplication() {
	n.needFlush = false
	for i := range n.ldr.progress {
		n.sendAppends(&n.ldr.progress[i])
	}
}

// sendAppends sends pr as many appends as flow control allows: one while
// probing, a pipeline of them while replicating. If nothing new is due but
// the member has not heard the current commit index, it sends an empty
// append to carry it. A probing member that has not confirmed the end of
// the log is probed again even when nothing new is due: its last probe may
// have been lost (a member added while down gets Next past the end of the
// log, and would otherwise wait for the next proposal).
//
// A witness is sent only entries already durable on a data voter (see
// witnessCap).
func (n *Node) sendAppends(pr *progress) {
	last := n.log.lastIndex()
	if pr.witness {
		last = min(last, n.witnessCap())
	}
	for !pr.paused(n.cfg.MaxInflightMsgs, n.cfg.MaxInflightBytes) {
		if pr.Next > last && pr.sentCommit >= n.log.committed && (pr.State != ProgressProbe || pr.Match >= last) {
			return
		}
		n.sendAppend(pr, last)
		if pr.State != ProgressReplicate || pr.Next > last {
			return
		}
	}
}

// sendAppend sends one append to pr starting at pr.Next.
func (n *Node) sendAppend(pr *progress, last Index) {
	prev := pr.Next - 1
	prevTerm, ok := n.log.term(prev)
	if !ok {
		// The entries this member needs are compacted away (thesis §5.3).
		n.sendSnapshot(pr)
		return
	}
	m := Message{Type: MsgApp, To: pr.id, Index: prev, LogTerm: prevTerm, Commit: n.log.committed}
	if pr.Next <= last {
		m.Entries = n.log.slice(pr.Next, last, n.cfg.MaxMsgBytes)
		if n.stripsPayloads(pr) {
			m.Entries = withoutPayloads(m.Entries)
		}
	}
	var bytes uint64
	for i := range m.Entries {
		bytes += m.Entries[i].size()
	}
	pr.sentEntries(prev+Index(len(m.Entries)), bytes)
	pr.sentCommit = n.log.committed
	n.send(m)
}

// witnessCap is the last entry a witness may be sent: the highest index
// durable on a data voter (not a witness) of the latest configuration —
// the leader itself if it is one. A witness holds no payloads and never
// leads (thesis §11.7.2), so it refuses its vote to every data voter whose
// log is behind its own: an entry that a witness held beyond every data
// voter's log would block every election for good. That happens when the
// leader crashes before its own write of the entry completes (it is then
// lost there), or when a leader that removed itself leaves it to the
// witness alone. Where witnesses form a majority, it would also let an
// entry commit with no server holding its payload.
func (n *Node) witnessCap() Index {
	var c Index
	for _, id := range n.members().Voters {
		switch {
		case n.members().IsWitness(id):
		case id == n.id:
			c = max(c, n.log.stable)
		default:
			if pr := n.progressOf(id); pr != nil {
				c = max(c, pr.Match)
			}
		}
	}
	return c
}

// hasWitness reports whether a member is a witness.
func (n *Node) hasWitness() bool {
	for i := range n.ldr.progress {
		if n.ldr.progress[i].witness {
			return true
		}
	}
	return false
}

// stripsPayloads reports whether pr is sent entries without payloads and
// snapshots without data: only once its witness role is committed. Until
// then the entry that made it a witness may be truncated, which rolls the
// role back (thesis §4.1); the server may later be added as a data member,
// and the leader would then keep every payload-less entry its log matches
// by term.
func (n *Node) stripsPayloads(pr *progress) bool {
	return pr.witness && n.configs.at(n.log.committed).IsWitness(pr.id)
}

// withoutPayloads copies ents with the payloads of normal entries removed,
// for a witness: it needs each entry's index, term and type to vote and to
// count toward commitment, and configuration entries to know the cluster.
func withoutPayloads(ents []Entry) []Entry {
	out := make([]Entry, len(ents))
	copy(out, ents)
	for i := range out {
		if out[i].Type == EntryNormal {
			out[i].Data = nil
		}
	}
	return out
}

// broadcastHeartbeat asserts leadership to every member (§5.2). The commit
// index sent is capped at what the member is known to hold, so a member
// never commits an entry it may not have.
//
// Every heartbeat broadcast is a read round (reads.go): Context numbers it.
func (n *Node) broadcastHeartbeat() {
	round := n.startReadRound()
	for i := range n.ldr.progress {
		pr := &n.ldr.progress[i]
		n.send(Message{Type: MsgHeartbeat, To: pr.id, Commit: min(pr.Match, n.log.committed), Context: round})
	}
}

// maybeCommit advances the commit index to the highest index stored by a
// quorum — the leader counting itself only up to its durable index — if
// that entry is of the current term (§5.4.2: a leader never commits an entry
// of an earlier term by counting replicas; Figure 8 shows why).
func (n *Node) maybeCommit() {
	idx := jointQuorumIndex(n.members(), func(id NodeID) Index {
		if id == n.id {
			return n.log.stable
		}
		if pr := n.progressOf(id); pr != nil {
			return pr.Match
		}
		return 0
	})
	if idx <= n.log.committed {
		return
	}
	if t, _ := n.log.term(idx); t != n.term {
		return
	}
	old := n.log.committed
	n.log.commitTo(idx)
	n.releaseUncommitted(old, idx)
	n.needFlush = true // followers learn the new commit index
	n.onCommitInTerm()
	n.afterCommitMembership()
}

// releaseUncommitted subtracts from the uncommitted budget the entries this
// leader appended in (from, to].
func (n *Node) releaseUncommitted(from, to Index) {
	l := n.ldr
	for i := max(from+1, n.log.firstIndex()); i <= to; i++ {
		if e := n.log.entry(i); e.Term == n.term && e.Type == EntryNormal {
			l.uncommittedBytes -= min(l.uncommittedBytes, e.size())
		}
	}
}

// handleAppend is the follower's side of AppendEntries (§5.3): accept the
// entries if the log holds the entry before them, truncating any
// conflicting suffix; otherwise reject with a hint for fast backtracking.
func (n *Node) handleAppend(m Message) {
	if m.Index < n.log.committed {
		// Everything up to the commit index matches any leader's log
		// (Leader Completeness); tell the leader where to continue.
		n.send(Message{Type: MsgAppResp, To: m.From, Index: n.log.committed})
		return
	}
	if !n.log.matchTerm(m.Index, m.LogTerm) {
		hint, hintTerm := n.log.findConflictByTerm(min(m.Index, n.log.lastIndex()), m.LogTerm)
		n.send(Message{Type: MsgAppResp, To: m.From, Index: m.Index, Reject: true, RejectHint: hint, LogTerm: hintTerm})
		return
	}
	lastNew := n.appendFromLeader(m.Index, m.Entries)
	// §5.3: commit up to the leader's commit, but no further than the last
	// entry this message proved matches the leader's log.
	n.log.commitTo(min(m.Commit, lastNew))
	n.send(Message{Type: MsgAppResp, To: m.From, Index: lastNew})
}

// appendFromLeader stores a leader's entries after a matching entry and
// keeps the configuration in step with the log: configurations in a
// truncated suffix are rolled back, new ones take effect (thesis §4.1).
func (n *Node) appendFromLeader(prev Index, ents []Entry) Index {
	last, written := n.log.appendAfterMatch(prev, ents)
	if len(written) > 0 {
		if n.configs.lastIndex() >= written[0].Index {
			n.configs.truncateFrom(written[0].Index)
			n.membershipChanged()
		}
		n.noteConfigEntries(written)
	}
	return last
}

// handleHeartbeat is the follower's side of a heartbeat.
func (n *Node) handleHeartbeat(m Message) {
	n.log.commitTo(min(m.Commit, n.log.lastIndex()))
	n.send(Message{Type: MsgHeartbeatResp, To: m.From, Context: m.Context})
}

// handleAppendResponse is the leader's side of an append's answer.
func (n *Node) handleAppendResponse(m Message) {
	pr := n.progressOf(m.From)
	pr.RecentActive = true
	if m.Reject {
		n.handleAppendRejection(pr, m)
		return
	}
	if !pr.maybeUpdate(m.Index) {
		return // duplicate or reordered: old news
	}
	switch {
	case pr.State == ProgressProbe:
		pr.becomeReplicate()
	case pr.State == ProgressSnapshot && pr.Match >= pr.pendingSnapshot:
		pr.becomeReplicate() // the snapshot arrived and was installed
	}
	n.maybeCommit()
	// maybeCommit may have changed the membership (an automatic leave)
	// and with it the progress list pr points into: look it up again.
	n.maybeSendTimeoutNow(n.progressOf(m.From))
	n.needFlush = true
}

// handleAppendRejection backs up pr.Next using the follower's conflict
// hint, skipping a whole term of entries per round trip instead of one
// entry (§5.3's suggested optimisation).
func (n *Node) handleAppendRejection(pr *progress, m Message) {
	if m.Index <= pr.Match || pr.State == ProgressSnapshot {
		return // stale: the member already matched beyond this, or a snapshot is on its way
	}
	if pr.State == ProgressProbe && m.Index != pr.Next-1 {
		return // stale: not the probe we are waiting for
	}
	next := m.RejectHint
	if m.LogTerm > 0 {
		// The follower's entries after hint have terms above m.LogTerm's
		// bound; find where our log could still match its entry at hint.
		next, _ = n.log.findConflictByTerm(m.RejectHint, m.LogTerm)
	}
	pr.becomeProbe(min(m.Index, next+1))
	n.needFlush = true
}

// handleHeartbeatResponse notes the member is alive and resumes sending to
// it if it is behind.
func (n *Node) handleHeartbeatResponse(m Message) {
	pr := n.progressOf(m.From)
	pr.noteHeartbeat()
	n.noteReadAck(pr, m.Context)
	if pr.Match < n.log.lastIndex() || pr.sentCommit < n.log.committed {
		n.needFlush = true
	}
}
