package raft

import "log/slog"

// This file holds quiescence, for hosts that run thousands of Raft groups:
// an idle group whose followers are fully caught up stops heartbeating, and
// its nodes do no per-tick work beyond a counter. Any proposal, read,
// message or explicit Wake brings it back.
//
// A quiescent follower does not start elections: nothing is wrong merely
// because it hears nothing. The caller learns that a peer is gone from its
// transport (a broken connection, a failed health check) and calls Wake on
// the groups that peer belongs to; a woken follower pings its leader and,
// hearing nothing back within an election timeout, elects a new one.

// Wake brings a quiescent node back to normal operation: a leader resumes
// heartbeats at once, a follower restarts its election timer and pings its
// leader so the whole group wakes. It does nothing on a node that is not
// quiescent.
func (n *Node) Wake() {
	if t := n.cfg.Ticker; t != nil {
		t.catchUp(n)
		defer t.reschedule(n)
	}
	n.wake()
}

// Quiescent reports whether the node is quiescent.
func (n *Node) Quiescent() bool { return n.quiescent }

func (n *Node) wake() {
	if n.ldr != nil {
		n.ldr.idleTicks = 0
	}
	if !n.quiescent {
		return
	}
	n.quiescent = false
	n.electionElapsed = 0
	if n.cfg.Logger != nil {
		n.logEvent(slog.LevelDebug, "raft: group woken")
	}
	switch {
	case n.role == RoleLeader:
		for i := range n.ldr.progress {
			n.ldr.progress[i].RecentActive = true // they were asked to be silent
		}
		n.ldr.heartbeatElapsed = 0
		n.broadcastHeartbeat()
	case n.lead != None:
		n.send(Message{Type: MsgHeartbeatResp, To: n.lead})
	}
}

// maybeQuiesce runs on a leader's tick: after Config.QuiesceAfterTicks idle
// ticks with every member caught up, it tells them to go quiet and goes
// quiet itself.
func (n *Node) maybeQuiesce() {
	l := n.ldr
	if n.cfg.QuiesceAfterTicks == 0 || !n.groupIdle() {
		l.idleTicks = 0
		return
	}
	l.idleTicks++
	if l.idleTicks < n.cfg.QuiesceAfterTicks || !n.allRecentActive() {
		return
	}
	for i := range l.progress {
		n.send(Message{Type: MsgQuiesce, To: l.progress[i].id, Index: n.log.lastIndex(), Commit: n.log.committed, Context: n.readRound})
	}
	n.quiescent = true
	if n.cfg.Logger != nil {
		n.logEvent(slog.LevelDebug, "raft: group quiescent")
	}
}

// groupIdle: everything is committed, durable and replicated, and nothing
// is pending.
func (n *Node) groupIdle() bool {
	last := n.log.lastIndex()
	if n.log.committed != last || n.log.stable != last || n.ldr.transferee != None ||
		len(n.ldr.reads.pending) > 0 || n.ldr.reads.newRound {
		return false
	}
	for i := range n.ldr.progress {
		pr := &n.ldr.progress[i]
		if pr.Match != last || pr.sentCommit != last {
			return false
		}
	}
	return true
}

// allRecentActive: every member answered since the last check-quorum round.
// It is checked only when the idle time is up, not as part of groupIdle:
// each check-quorum round clears the flags until the next heartbeat answers,
// and counting that as activity would keep a group with QuiesceAfterTicks
// of an election timeout or more from ever going quiet.
func (n *Node) allRecentActive() bool {
	for i := range n.ldr.progress {
		if !n.ldr.progress[i].RecentActive {
			return false
		}
	}
	return true
}

// handleQuiesce: the leader went quiet. Only a follower that holds the
// leader's whole log follows it; otherwise it stays awake and the next
// election timeout wakes everyone.
func (n *Node) handleQuiesce(m Message) {
	if n.role == RoleFollower && m.From == n.lead && n.log.lastIndex() == m.Index &&
		n.log.committed == m.Commit && (n.reads == nil || len(n.reads.forwarded) == 0) {
		n.quiescent = true
		n.quiesceRound = m.Context
	}
}
