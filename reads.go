package raft

import (
	"errors"
	"fmt"
)

// This file holds linearizable reads (thesis §6.4): ReadIndex, its
// lease-based shortcut (§6.4.1), and reads served by followers.
//
// ReadIndex on a leader: once the leader has committed an entry of its own
// term, it records its commit index as the read index, then confirms that it
// is still leader by a round of heartbeats acknowledged by a quorum. Each
// heartbeat round has a number (Message.Context) that only grows, so an old
// or duplicated heartbeat response can confirm only the rounds it answered,
// never a later one. Many reads share one round.

// Errors for reads that cannot be served. Each read that fails is reported
// with one of them, synchronously or in an ActionReadFailed.
var (
	// ErrReadLeadershipLost: the leader lost its leadership (stepped down,
	// saw a newer term) before confirming the read.
	ErrReadLeadershipLost = errors.New("raft: read failed: leadership lost before confirmation")
	// ErrReadRefused: the leader a follower asked refused the read (it is
	// no longer leader).
	ErrReadRefused = errors.New("raft: read refused by the leader")
	// ErrReadTimeout: a follower's forwarded read got no answer within two
	// election timeouts (the request or the answer was lost).
	ErrReadTimeout = errors.New("raft: read timed out waiting for the leader")
)

// ReadResult is the outcome of a read: on ActionReadReady, serve read ID
// once the state machine has applied Index; on ActionReadFailed, Err says
// why it cannot be served.
type ReadResult struct {
	// ID is the id the caller passed to ReadIndex or LeaseRead.
	ID uint64
	// Index is the read index, on ActionReadReady: the state machine must
	// have applied at least this index before the read is served.
	Index Index
	// Err says why the read failed, on ActionReadFailed.
	Err error
}

// readRequest is a read waiting at the leader.
type readRequest struct {
	id   uint64
	from NodeID // None: asked on this node
	// index is the read index, 0 until the leader committed in its term.
	index Index
	// round is the heartbeat round that must be confirmed.
	round uint64
}

// forwardedRead is a follower's read waiting for the leader's answer.
type forwardedRead struct {
	id uint64
	// token identifies the request and its answer (readtoken.go).
	token    uint64
	deadline uint64 // in ticks of n.ticks
}

// readQueue holds a node's reads in progress outside the leader's
// bookkeeping and the outcomes not yet reported. Most nodes have none most
// of the time, so it is allocated on demand (Node.readq) and released by
// trimBuffers once empty.
type readQueue struct {
	// forwarded reads on a follower, waiting for the leader's answer.
	forwarded []forwardedRead
	// results to report in the next Actions call.
	ready, failed []ReadResult
	// tokens numbers the forwarded reads (readtoken.go). Once a node
	// forwarded a read, its queue is kept for the counter's sake.
	tokens readTokens
}

// empty reports whether q holds nothing, not even a token counter; q may be
// nil.
func (q *readQueue) empty() bool {
	return q == nil || len(q.forwarded)+len(q.ready)+len(q.failed) == 0 && q.tokens.limit == 0
}

// trim releases the queue's empty buffers; the token counter stays.
func (q *readQueue) trim() {
	if len(q.forwarded) == 0 {
		q.forwarded = nil
	}
	if len(q.ready) == 0 {
		q.ready = nil
	}
	if len(q.failed) == 0 {
		q.failed = nil
	}
}

// readq returns the node's read queue, allocating it if need be.
func (n *Node) readq() *readQueue {
	if n.reads == nil {
		n.reads = new(readQueue)
	}
	return n.reads
}

// leaderReads is the leader's read bookkeeping.
type leaderReads struct {
	// newRound: a read is waiting for a round not yet started.
	newRound bool
	// pending reads, in order of round.
	pending []readRequest
	// confirmed is the last round a quorum acknowledged.
	confirmed uint64
	// roundTicks remembers when recent rounds were sent, for leases.
	roundTicks []roundTick
	// leaseStart is the tick the latest quorum-confirmed round was sent:
	// no other leader can exist before leaseStart + the lease length.
	leaseStart uint64
	leaseValid bool
	// noLease is set once this leader sent MsgTimeoutNow in its term: a
	// delayed one could start an election at any time, so no lease holds.
	noLease bool
}

type roundTick struct {
	round uint64
	tick  uint64
}

// ReadIndex requests a linearizable read with the caller's id. On the
// leader it is confirmed by a heartbeat round; on a follower it is forwarded
// to the leader. Either way an ActionReadReady later carries the index the
// state machine must have applied before serving the read — or an
// ActionReadFailed says why it cannot be served. It fails at once with a
// *NotLeaderError when no leader is known, and with ErrWitnessRead on a
// witness.
func (n *Node) ReadIndex(id uint64) error {
	if t := n.cfg.Ticker; t != nil {
		t.catchUp(n)
		defer t.reschedule(n)
	}
	if n.members().IsWitness(n.id) {
		return ErrWitnessRead
	}
	n.wake()
	if n.role == RoleLeader {
		n.addRead(readRequest{id: id})
		return nil
	}
	if n.lead == None {
		return &NotLeaderError{Leader: None}
	}
	tok := n.nextReadToken()
	n.send(Message{Type: MsgReadIndex, To: n.lead, Context: tok})
	q := n.readq()
	q.forwarded = append(q.forwarded, forwardedRead{id: id, token: tok, deadline: n.ticks + 2*uint64(n.cfg.ElectionTicks)})
	return nil
}

// LeaseRead requests a read served under the leader's lease (thesis
// §6.4.1): if a quorum acknowledged a heartbeat sent less than the lease
// length ago, no other leader can exist yet, and the read is ready at once
// with no message. Otherwise it proceeds exactly as ReadIndex. Leases need
// check-quorum and are only as safe as Config.MaxClockDriftTicks is honest;
// see docs/reads.md.
func (n *Node) LeaseRead(id uint64) error {
	if t := n.cfg.Ticker; t != nil {
		t.catchUp(n)
		defer t.reschedule(n)
	}
	if n.role == RoleLeader && n.leaseHeld() && n.committedInTerm() {
		q := n.readq()
		q.ready = append(q.ready, ReadResult{ID: id, Index: n.log.committed})
		return nil
	}
	return n.ReadIndex(id)
}

// leaseHeld reports whether the leader's lease is in force now.
func (n *Node) leaseHeld() bool {
	if n.ldr == nil {
		return false
	}
	r := &n.ldr.reads
	return n.cfg.EnableLeaseReads && r.leaseValid && !r.noLease && !n.quiescent &&
		n.ticks < r.leaseStart+uint64(n.leaseTicks())
}

// leaseTicks is the lease length: a follower that acknowledged a heartbeat
// ignores votes for ElectionTicks of its own ticks (check-quorum), minus
// the drift bound between its clock and the leader's.
func (n *Node) leaseTicks() int { return n.cfg.ElectionTicks - n.cfg.MaxClockDriftTicks }

// committedInTerm reports whether the leader committed an entry of its own
// term: before that its commit index may be stale (thesis §6.4 step 1).
func (n *Node) committedInTerm() bool {
	t, _ := n.log.term(n.log.committed)
	return t == n.term
}

// addRead queues a read at the leader.
func (n *Node) addRead(r readRequest) {
	if n.committedInTerm() {
		r.index = n.log.committed
		r.round = n.readRound + 1
		n.ldr.reads.newRound = true
	}
	n.ldr.reads.pending = append(n.ldr.reads.pending, r)
	n.needFlush = true
}

// onCommitInTerm gives reads that waited for the leader's first commit of
// its term their read index.
func (n *Node) onCommitInTerm() {
	for i := range n.ldr.reads.pending {
		if r := &n.ldr.reads.pending[i]; r.index == 0 {
			r.index = n.log.committed
			r.round = n.readRound + 1
			n.ldr.reads.newRound = true
			n.needFlush = true
		}
	}
}

// startReadRound begins heartbeat round number round+1. Every heartbeat
// starts a round, so leases renew with heartbeats; a read starts one at
// once instead of waiting for the next tick.
func (n *Node) startReadRound() uint64 {
	r := &n.ldr.reads
	n.readRound++
	r.newRound = false
	if n.cfg.EnableLeaseReads {
		if len(r.roundTicks) >= 2*n.cfg.ElectionTicks {
			r.roundTicks = r.roundTicks[:copy(r.roundTicks, r.roundTicks[1:])]
		}
		r.roundTicks = append(r.roundTicks, roundTick{round: n.readRound, tick: n.ticks})
	}
	if len(n.ldr.progress) == 0 || n.quorumOfOne() {
		n.confirmRound(n.readRound)
	}
	return n.readRound
}

// quorumOfOne reports whether this leader alone is a quorum.
func (n *Node) quorumOfOne() bool {
	return jointVote(n.members(), func(id NodeID) (bool, bool) { return id == n.id, true }) == voteWon
}

// noteReadAck records that member pr answered heartbeat round ctx and
// confirms every round a quorum has now answered.
func (n *Node) noteReadAck(pr *progress, ctx uint64) {
	if ctx <= pr.readAck || ctx > n.readRound {
		return
	}
	pr.readAck = ctx
	confirmed := jointQuorumIndex(n.members(), func(id NodeID) Index {
		if id == n.id {
			return Index(n.readRound)
		}
		if p := n.progressOf(id); p != nil {
			return Index(p.readAck)
		}
		return 0
	})
	n.confirmRound(uint64(confirmed))
}

// confirmRound releases the reads of every round up to round and renews the
// lease from when that round was sent.
func (n *Node) confirmRound(round uint64) {
	r := &n.ldr.reads
	if round <= r.confirmed {
		return
	}
	r.confirmed = round
	for len(r.roundTicks) > 0 && r.roundTicks[0].round <= round {
		if r.roundTicks[0].round == round || len(r.roundTicks) == 1 || r.roundTicks[1].round > round {
			r.leaseStart, r.leaseValid = r.roundTicks[0].tick, true
		}
		r.roundTicks = r.roundTicks[:copy(r.roundTicks, r.roundTicks[1:])]
	}
	k := 0
	for ; k < len(r.pending); k++ {
		req := r.pending[k]
		if req.index == 0 || req.round > round {
			break
		}
		n.readConfirmed(req)
	}
	r.pending = r.pending[:copy(r.pending, r.pending[k:])]
}

// readConfirmed answers a confirmed read: locally or to the follower that
// asked.
func (n *Node) readConfirmed(req readRequest) {
	if req.from == None {
		q := n.readq()
		q.ready = append(q.ready, ReadResult{ID: req.id, Index: req.index})
		return
	}
	n.send(Message{Type: MsgReadIndexResp, To: req.from, Context: req.id, Index: req.index})
}

// failReads reports every read this node holds as failed with err: a
// leader that stepped down, or a follower whose leader changed.
func (n *Node) failReads(err error) {
	if l := n.ldr; l != nil {
		lr := &l.reads
		for _, req := range lr.pending {
			if req.from == None {
				q := n.readq()
				q.failed = append(q.failed, ReadResult{ID: req.id, Err: err})
			} else {
				n.send(Message{Type: MsgReadIndexResp, To: req.from, Context: req.id, Reject: true})
			}
		}
		lr.pending = lr.pending[:0]
		lr.roundTicks = lr.roundTicks[:0]
		lr.leaseValid, lr.noLease, lr.newRound = false, false, false
	}
	if q := n.reads; q != nil {
		for _, f := range q.forwarded {
			q.failed = append(q.failed, ReadResult{ID: f.id, Err: err})
		}
		q.forwarded = q.forwarded[:0]
	}
}

// handleReadIndex serves a follower's read request at the leader.
func (n *Node) handleReadIndex(m Message) {
	if n.role != RoleLeader {
		n.send(Message{Type: MsgReadIndexResp, To: m.From, Context: m.Context, Reject: true})
		return
	}
	n.addRead(readRequest{id: m.Context, from: m.From})
}

// handleReadIndexResponse completes a forwarded read on a follower.
func (n *Node) handleReadIndexResponse(m Message) {
	if m.From != n.lead {
		// Only the leader the read was forwarded to can vouch for its
		// index. A node that lost its leader (lead None) already failed
		// its forwarded reads; no other correct server answers them.
		return
	}
	r := n.reads
	if r == nil {
		return // no read forwarded: a late or duplicated answer
	}
	for i, f := range r.forwarded {
		if f.token != m.Context {
			continue // not an answer to a read still waiting (readtoken.go)
		}
		r.forwarded = append(r.forwarded[:i], r.forwarded[i+1:]...)
		if m.Reject {
			r.failed = append(r.failed, ReadResult{ID: f.id, Err: ErrReadRefused})
		} else {
			r.ready = append(r.ready, ReadResult{ID: f.id, Index: m.Index})
		}
		return
	}
}

// expireForwardedReads fails forwarded reads past their deadline: the
// request or its answer was lost. Tick calls it only when there are some.
func (n *Node) expireForwardedReads() {
	r := n.reads
	k := 0
	for _, f := range r.forwarded {
		if n.ticks >= f.deadline {
			r.failed = append(r.failed, ReadResult{ID: f.id, Err: fmt.Errorf("%w (read %d)", ErrReadTimeout, f.id)})
			continue
		}
		r.forwarded[k] = f
		k++
	}
	r.forwarded = r.forwarded[:k]
}

// emitReadResults appends the read outcomes to the actions.
func (n *Node) emitReadResults() {
	r := n.reads
	if r == nil {
		return
	}
	for _, res := range r.ready {
		n.addAction(ActionReadReady).Read = res
	}
	for _, res := range r.failed {
		n.addAction(ActionReadFailed).Read = res
	}
	r.ready, r.failed = r.ready[:0], r.failed[:0]
}
