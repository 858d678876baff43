package fuzz

import (
	"bytes"
	"slices"

	"github.com/pureraft/raft"
)

// model follows one node through its actions and checks the node-local
// invariants of the Raft contract:
//
//   - the term never decreases, and the vote never changes within a term
//     (in Status and in persisted hard states);
//   - the commit index never decreases, and no persist ever overwrites an
//     entry at or below an index the node knew to be committed (when the
//     previous persist was emitted);
//   - persist actions are numbered in order, and their entries continue the
//     stored log without gaps, with terms that never decrease;
//   - a vote is granted to one candidate per term, and only once the vote
//     is durable; an append is acknowledged only up to what was durable;
//   - applied entries follow each other, are durable, and match the
//     durable log; Status().Applied agrees;
//   - every message sent is addressed to someone else, carries no term
//     above the node's (pre-votes aside) and survives an encoding round trip.
type model struct {
	// emitted is storage with every persist action applied as emitted;
	// durable only those acknowledged.
	emitted, durable store
	// pending are emitted persists not yet acknowledged, in order.
	pending []raft.Persist
	acked   uint64

	prev      raft.Status
	maxCommit raft.Index
	// commitAtActions is the commit index when Actions was last called.
	// Entries emitted since may have been truncated and rewritten (a new
	// leader's append that also commits them), but nothing at or below
	// this index may be overwritten.
	commitAtActions raft.Index
	lastApplied     raft.Index
	// maxDurableLast is the highest last index durable storage ever had.
	maxDurableLast raft.Index
	// grants maps a term to the candidate the node granted its vote.
	grants map[raft.Term]raft.NodeID
}

func newModel(st *store, status raft.Status) model {
	s := *st
	s.entries = slices.Clone(st.entries)
	m := model{
		emitted: s, durable: s, acked: st.lastID,
		prev: status, maxCommit: status.Commit, commitAtActions: status.Commit, lastApplied: status.Applied,
		maxDurableLast: s.lastIndex(),
		grants:         map[raft.Term]raft.NodeID{},
	}
	m.durable.entries = slices.Clone(st.entries)
	if st.hs.Vote != raft.None {
		m.grants[st.hs.Term] = st.hs.Vote
	}
	return m
}

func (m *model) termAt(i raft.Index) (raft.Term, bool) { return m.emitted.term(i) }

// pickAck chooses a persist ID to acknowledge: the latest, the oldest or a
// middle pending one, an old one, or one never emitted.
func (m *model) pickAck(c byte) uint64 {
	last := m.emitted.lastID
	switch c % 8 {
	case 0, 1, 2:
		return last
	case 3:
		if len(m.pending) > 0 {
			return m.pending[0].ID
		}
	case 4:
		if len(m.pending) > 0 {
			return m.pending[len(m.pending)/2].ID
		}
	case 5:
		return last - min(last, uint64(c>>3))
	case 6:
		return last + 1 + uint64(c>>3)
	}
	return last
}

// ack makes durable every pending persist up to id.
func (m *model) ack(r *stepRun, id uint64) {
	for len(m.pending) > 0 && m.pending[0].ID <= id {
		if err := m.durable.apply(m.pending[0]); err != nil {
			r.fatalf("durable storage: %v", err)
		}
		m.pending = m.pending[1:]
	}
	m.acked = max(m.acked, id)
	m.maxDurableLast = max(m.maxDurableLast, m.durable.lastIndex())
}

// compacted notes a compaction. Storage keeps its entries; the node only
// forgets them.
func (m *model) compacted(r *stepRun, meta raft.SnapshotMeta) {
	if t, ok := m.emitted.term(meta.Index); ok && t != meta.Term {
		r.fatalf("compaction at %d reports term %d, the log has %d", meta.Index, meta.Term, t)
	}
	if meta.Index > m.lastApplied {
		r.fatalf("compaction to %d beyond applied %d", meta.Index, m.lastApplied)
	}
}

// checkStatus checks Status against the previous one.
func (m *model) checkStatus(r *stepRun, st raft.Status) {
	p := m.prev
	switch {
	case st.Term < p.Term:
		r.fatalf("term went back from %d to %d", p.Term, st.Term)
	case st.Term == p.Term && p.Vote != raft.None && st.Vote != p.Vote:
		r.fatalf("vote changed within term %d from %d to %d", st.Term, p.Vote, st.Vote)
	case st.Commit < p.Commit:
		r.fatalf("commit went back from %d to %d", p.Commit, st.Commit)
	case st.Applied < p.Applied:
		r.fatalf("applied went back from %d to %d", p.Applied, st.Applied)
	case !(st.Applied <= st.Commit && st.Commit <= st.LastIndex):
		r.fatalf("want applied <= commit <= last: %+v", st)
	case !(st.Applied <= st.Stable && st.Stable <= st.LastIndex):
		r.fatalf("want applied <= stable <= last: %+v", st)
	case st.FirstIndex > st.LastIndex+1:
		r.fatalf("first index beyond last+1: %+v", st)
	case st.Role == raft.RoleLeader && st.Leader != subject:
		r.fatalf("leader names %d as leader", st.Leader)
	}
	m.maxCommit = max(m.maxCommit, st.Commit)
	m.prev = st
}

// action checks one action of node a and records its effect.
func (m *model) action(r *stepRun, act raft.Action) {
	switch act.Kind {
	case raft.ActionPersist:
		m.persist(r, act.Persist)
	case raft.ActionSend, raft.ActionSendSnapshot:
		m.send(r, act.Kind, act.Message)
	case raft.ActionApply:
		m.apply(r, act.Apply)
	case raft.ActionReadReady:
		if act.Read.Err != nil {
			r.fatalf("read %d ready with error %v", act.Read.ID, act.Read.Err)
		}
	case raft.ActionReadFailed:
		if act.Read.Err == nil {
			r.fatalf("read %d failed without an error", act.Read.ID)
		}
	default:
		r.fatalf("unknown action kind %v", act.Kind)
	}
}

func (m *model) persist(r *stepRun, p raft.Persist) {
	if p.ID != m.emitted.lastID+1 {
		r.fatalf("persist ID %d after %d", p.ID, m.emitted.lastID)
	}
	if p.HasHardState {
		old, hs := m.emitted.hs, p.HardState
		switch {
		case hs.Term < old.Term:
			r.fatalf("persisted term went back from %d to %d", old.Term, hs.Term)
		case hs.Term == old.Term && old.Vote != raft.None && hs.Vote != old.Vote:
			r.fatalf("persisted vote changed within term %d from %d to %d", hs.Term, old.Vote, hs.Vote)
		case hs.Commit < old.Commit:
			r.fatalf("persisted commit went back from %d to %d", old.Commit, hs.Commit)
		}
		m.maxCommit = max(m.maxCommit, hs.Commit)
	}
	if p.Snapshot != nil && p.Snapshot.Index < m.emitted.snap.Index {
		r.fatalf("persisted snapshot at %d older than the stored one at %d", p.Snapshot.Index, m.emitted.snap.Index)
	}
	if len(p.Entries) > 0 {
		first := p.Entries[0].Index
		base := m.emitted
		if p.Snapshot != nil {
			base = store{snap: *p.Snapshot}
		}
		if first <= base.lastIndex() && first <= m.commitAtActions {
			r.fatalf("persist overwrites entries from %d, at or below commit index %d", first, m.commitAtActions)
		}
		prevTerm, _ := base.term(first - 1)
		for i, e := range p.Entries {
			if e.Index != first+raft.Index(i) || e.Term < prevTerm {
				r.fatalf("persisted entries out of order at %d: index %d term %d after term %d", i, e.Index, e.Term, prevTerm)
			}
			prevTerm = e.Term
		}
	}
	if err := m.emitted.apply(p); err != nil {
		r.fatalf("%v", err)
	}
	m.pending = append(m.pending, p)
}

func (m *model) send(r *stepRun, kind raft.ActionKind, msg raft.Message) {
	st := r.a.Status()
	switch {
	case msg.From != subject:
		r.fatalf("sent %v from %d", msg, msg.From)
	case msg.To == raft.None || msg.To == subject:
		r.fatalf("sent %v to %d", msg, msg.To)
	case msg.Type != raft.MsgPreVote && msg.Type != raft.MsgPreVoteResp && msg.Term > st.Term:
		r.fatalf("sent %v with a term above the node's %d", msg, st.Term)
	case (kind == raft.ActionSendSnapshot) != (msg.Type == raft.MsgSnap):
		r.fatalf("%v action carries %v", kind, msg)
	}
	b, err := msg.MarshalBinary()
	if err != nil {
		r.fatalf("encode %v: %v", msg, err)
	}
	var back raft.Message
	if err := raft.Decode(b, &back, raft.DecodeLimits{}); err != nil {
		r.fatalf("sent %v that does not decode: %v", msg, err)
	}
	if again, _ := back.MarshalBinary(); !bytes.Equal(again, b) {
		r.fatalf("sent %v that does not survive an encoding round trip", msg)
	}
	switch {
	case msg.Type == raft.MsgVoteResp && !msg.Reject:
		if g, ok := m.grants[msg.Term]; ok && g != msg.To {
			r.fatalf("granted votes in term %d to both %d and %d", msg.Term, g, msg.To)
		}
		m.grants[msg.Term] = msg.To
		if hs := m.durable.hs; hs.Term < msg.Term || (hs.Term == msg.Term && hs.Vote != msg.To) {
			r.fatalf("granted a vote in term %d to %d before it was durable (durable %+v)", msg.Term, msg.To, hs)
		}
	case msg.Type == raft.MsgAppResp && !msg.Reject:
		if msg.Index > m.maxDurableLast {
			r.fatalf("acknowledged index %d, durable storage never went beyond %d", msg.Index, m.maxDurableLast)
		}
	}
	r.sent = append(r.sent, msg)
	if len(r.sent) > 16 {
		r.sent = r.sent[1:]
	}
}

func (m *model) apply(r *stepRun, ap raft.Apply) {
	if s := ap.Snapshot; s != nil {
		if len(ap.Entries) > 0 {
			r.fatalf("apply of a snapshot with entries")
		}
		if s.Index <= m.lastApplied {
			r.fatalf("applied snapshot at %d after applying %d", s.Index, m.lastApplied)
		}
		if m.durable.snap.Index < s.Index {
			r.fatalf("applied snapshot at %d before it was durable (durable snapshot at %d)", s.Index, m.durable.snap.Index)
		}
		m.lastApplied = s.Index
		return
	}
	if len(ap.Entries) == 0 {
		r.fatalf("empty apply action")
	}
	for _, e := range ap.Entries {
		if e.Index != m.lastApplied+1 {
			r.fatalf("applied entry %d after %d", e.Index, m.lastApplied)
		}
		if e.Index > m.maxCommit && e.Index > r.a.Status().Commit {
			r.fatalf("applied entry %d beyond the commit index", e.Index)
		}
		t, ok := m.durable.term(e.Index)
		if e.Index > m.durable.snap.Index && (!ok || t != e.Term) {
			r.fatalf("applied entry %d (term %d) that durable storage does not hold (term %d, %t)", e.Index, e.Term, t, ok)
		}
		m.lastApplied = e.Index
	}
}
