package raft

import "fmt"

// This file implements the one persistence model of the design: every
// persist action is acknowledged explicitly, in order, and nothing whose
// safety depends on a write happens before that write is acknowledged.
//
//   - A response (vote grant, append acknowledgement, ...) created while a
//     persist is pending is held until that persist is acknowledged, so a
//     peer never learns of a vote or an entry this node could still forget
//     in a crash (Figure 2: "persist before responding to RPCs").
//   - A candidate's vote for itself is such a response, addressed to itself:
//     it counts only once durable, and the candidate leads only once it
//     has counted it. Its vote requests wait for the same write: a request
//     speaking for a term a crash could erase would leave grants in flight
//     for the restarted server's next candidacy in that same term.
//   - A leader counts its own log toward the commit quorum only up to the
//     acknowledged (stable) index, while its appends to followers go out at
//     once, in parallel with its own write (thesis §10.2.1).
//   - An acknowledgement of a persist whose entries have since been
//     overwritten in memory is recognised (the term at its last index no
//     longer matches) and does not advance the stable index.

// persistence tracks persist actions emitted and acknowledged.
type persistence struct {
	// seq is the ID of the last persist action emitted; acked the last one
	// acknowledged.
	seq, acked uint64
	// lastHardState is the hard state as of the last emitted persist (or as
	// restored).
	lastHardState HardState
	// snapshot is a snapshot to persist: the initial configuration of a
	// bootstrapped node, or one received from the leader.
	snapshot *SnapshotMeta
	// records describe the emitted, unacknowledged persists, oldest first.
	records []persistRecord
	// gated holds messages waiting for a persist, in creation order (and so
	// in order of after).
	gated []gatedMessage
}

// persistRecord remembers where the log ended when a persist was emitted:
// once it is durable, storage holds exactly the log as it was then.
type persistRecord struct {
	id       uint64
	last     Index
	lastTerm Term
}

type gatedMessage struct {
	after uint64 // send once this persist ID is acknowledged
	msg   Message
}

// dirty reports whether the node holds state not yet in any persist action.
func (p *persistence) dirty(n *Node) bool {
	return p.snapshot != nil || n.log.persisted < n.log.lastIndex() || n.hardState() != p.lastHardState
}

// gate holds m until every persist covering the node's current state is
// acknowledged, reporting whether it did.
func (p *persistence) gate(n *Node, m Message) bool {
	after := p.seq
	if p.dirty(n) {
		after++ // the persist the next Actions call will emit
	}
	if after <= p.acked {
		return false
	}
	p.gated = append(p.gated, gatedMessage{after: after, msg: m})
	return true
}

// emitPersist appends a persist action for everything not yet persisted.
func (n *Node) emitPersist() {
	p := &n.persist
	if !p.dirty(n) {
		return
	}
	act := Persist{ID: p.seq + 1}
	hs := n.hardState()
	if hs != p.lastHardState {
		act.HasHardState, act.HardState = true, hs
		act.Sync = hs.Term != p.lastHardState.Term || hs.Vote != p.lastHardState.Vote ||
			hs.ReadTokenLimit != p.lastHardState.ReadTokenLimit
	}
	last := n.log.lastIndex()
	if n.log.persisted < last {
		act.Entries = n.log.span(n.log.persisted+1, last)
		act.Sync = true
	}
	if p.snapshot != nil {
		act.Snapshot, p.snapshot = p.snapshot, nil
		act.Sync = true
	}
	p.seq = act.ID
	p.lastHardState = hs
	n.log.persisted = last
	p.records = append(p.records, persistRecord{id: act.ID, last: last, lastTerm: n.log.lastTerm()})
	n.addAction(ActionPersist).Persist = act
}

// AckPersist tells the node that the persist action with this ID, and every
// one before it, is durable (or, for a persist with Sync false, written).
// Acknowledging an ID twice, or an ID older than one already acknowledged,
// is harmless. An ID never emitted is an error and changes nothing.
func (n *Node) AckPersist(id uint64) error {
	if t := n.cfg.Ticker; t != nil {
		t.catchUp(n)
		defer t.reschedule(n)
	}
	p := &n.persist
	if id > p.seq {
		return fmt.Errorf("%w: ID %d, last emitted %d", ErrBadAck, id, p.seq)
	}
	if id <= p.acked {
		return nil
	}
	p.acked = id
	n.advanceStable(p.popRecordsTo(id))
	n.releaseGated()
	return nil
}

// popRecordsTo removes the records up to id and returns the one for id.
func (p *persistence) popRecordsTo(id uint64) persistRecord {
	var rec persistRecord
	i := 0
	for i < len(p.records) && p.records[i].id <= id {
		rec = p.records[i]
		i++
	}
	p.records = p.records[:copy(p.records, p.records[i:])]
	return rec
}

// advanceStable marks the log durable up to rec.last if the entry there is
// still the one that was written; otherwise the acknowledgement is stale.
func (n *Node) advanceStable(rec persistRecord) {
	if rec.last <= n.log.stable || !n.log.matchTerm(rec.last, rec.lastTerm) {
		return
	}
	n.log.stable = rec.last
	if n.role == RoleLeader {
		n.maybeCommit()
	}
	// (maybeCommit may have stepped the leader down.)
	if n.role == RoleLeader && n.hasWitness() {
		n.needFlush = true // witnesses wait for the leader's own copy
	}
}

// releaseGated sends (or, for messages to itself, handles) every gated
// message whose persist is now acknowledged.
func (n *Node) releaseGated() {
	p := &n.persist
	i := 0
	for ; i < len(p.gated) && p.gated[i].after <= p.acked; i++ {
		m := p.gated[i].msg
		p.gated[i] = gatedMessage{}
		if m.To == n.id {
			n.stepSelf(m)
		} else {
			n.outbox = append(n.outbox, m)
		}
	}
	p.gated = p.gated[:copy(p.gated, p.gated[i:])]
}
