package raftsim

import (
	"slices"

	"github.com/pureraft/raft"
)

// This file checks protocol rules whose violation no safety property sees
// at once. A bug that breaks one of them leads to a safety violation only
// in a rare run (a learner that campaigns must also win, and then lose an
// entry; a read that joins the round in flight must also race a new
// leader's write), so the simulator checks the rule itself, on every step:
//
//   - a server that was never a voter never campaigns (thesis §4.2.1);
//   - an election is won with a majority of each half of a joint
//     configuration (thesis §4.3);
//   - a leader appends a configuration entry only once every earlier one
//     is committed (thesis §4.1, §4.3), and steps down for its own removal
//     only once that removal is committed (thesis §4.2.2);
//   - MsgTimeoutNow goes to a target that holds the leader's whole log
//     (thesis §3.10);
//   - a quiescent follower wakes for a new heartbeat round of its leader;
//   - a read index is confirmed by heartbeats of a round that started
//     after the read was asked (thesis §6.4);
//   - a restarted server uses the latest configuration in its durable log
//     (thesis §4.1).

// ruleState is what the rule checks remember.
type ruleState struct {
	// everVoter: the server was a voter of some configuration proposed.
	everVoter map[raft.NodeID]bool
	// grants: the vote grants delivered to each candidate in term.
	grants map[raft.NodeID]*termSet
	// sentRound: the last heartbeat round each leader sent, in term.
	sentRound map[raft.NodeID]termRound
	// acked: per leader, the highest round each peer's answer delivered
	// to it acknowledged, in term.
	acked map[raft.NodeID]*termAcks
	// readFloor: for a read asked of a leader, the last round it had sent
	// before; the confirming round must be later.
	readFloor map[readKey]termRound
	// quiesceRound: the round a quiescent node's leader went quiet on.
	quiesceRound map[raft.NodeID]uint64
	// configOf: the membership each proposed configuration entry holds.
	configOf map[entryKey]raft.Membership
	// ticking: the step under way is a tick.
	ticking bool
}

type termSet struct {
	term raft.Term
	ids  []raft.NodeID
}

type termRound struct {
	term  raft.Term
	round uint64
}

type termAcks struct {
	term  raft.Term
	round map[raft.NodeID]uint64
}

type readKey struct {
	node raft.NodeID
	id   uint64
}

func (s *Sim) rules() *ruleState {
	r := &s.rulesState
	if r.everVoter == nil {
		r.everVoter = map[raft.NodeID]bool{}
		for _, id := range s.initialVoters() {
			r.everVoter[id] = true
		}
		r.grants = map[raft.NodeID]*termSet{}
		r.sentRound = map[raft.NodeID]termRound{}
		r.acked = map[raft.NodeID]*termAcks{}
		r.readFloor = map[readKey]termRound{}
		r.quiesceRound = map[raft.NodeID]uint64{}
		r.configOf = map[entryKey]raft.Membership{}
	}
	return r
}

// ruleProposed notes a configuration entry the leader just appended.
func (s *Sim) ruleProposed(key entryKey, m raft.Membership) {
	r := s.rules()
	r.configOf[key] = m
	for _, id := range append(slices.Clone(m.Voters), m.OutgoingVoters...) {
		r.everVoter[id] = true
	}
}

// ruleBeforeStep runs before node n steps m: it records what m tells the
// checks (grants, heartbeat answers), for the step may act on it at once.
func (s *Sim) ruleBeforeStep(n *simNode, m *raft.Message) {
	r := s.rules()
	switch m.Type {
	case raft.MsgVoteResp:
		if !m.Reject {
			g := r.grants[n.id]
			if g != nil && g.term > m.Term {
				return // an answer of an earlier election
			}
			if g == nil || g.term < m.Term {
				g = &termSet{term: m.Term}
				r.grants[n.id] = g
			}
			if !slices.Contains(g.ids, m.From) {
				g.ids = append(g.ids, m.From)
			}
		}
	case raft.MsgHeartbeatResp:
		if m.Context == 0 {
			return // a follower's wake-up ping answers no round
		}
		a := r.acked[n.id]
		if a != nil && a.term > m.Term {
			return // an answer to an earlier leader
		}
		if a == nil || a.term < m.Term {
			a = &termAcks{term: m.Term, round: map[raft.NodeID]uint64{}}
			r.acked[n.id] = a
		}
		a.round[m.From] = max(a.round[m.From], m.Context)
	}
}

// ruleAfterStep runs once node n stepped m and drained; prev is its
// status before.
func (s *Sim) ruleAfterStep(n *simNode, m *raft.Message, prev *raft.Status) {
	if n.core == nil {
		return
	}
	r := s.rules()
	st := &n.last
	if !st.Quiescent {
		delete(r.quiesceRound, n.id)
	}
	switch m.Type {
	case raft.MsgQuiesce:
		// A late notice of an older round may leave the node's round
		// as it was: keep the highest of the episode (which can only
		// let a bug through, never flag a correct node).
		if st.Quiescent {
			r.quiesceRound[n.id] = max(r.quiesceRound[n.id], m.Context)
		}
	case raft.MsgHeartbeat:
		s.chk.checks[Protocol]++
		if prev.Quiescent && st.Quiescent && m.From == prev.Leader && m.Term == prev.Term && m.Context > r.quiesceRound[n.id] {
			s.chk.fail(Protocol, n.id, "node %d stays quiescent after heartbeat round %d of its leader %d, which went quiet on round %d", n.id, m.Context, m.From, r.quiesceRound[n.id])
		}
	}
}

// ruleOnSend checks and records a message node n sends.
func (s *Sim) ruleOnSend(n *simNode, m *raft.Message) {
	r := s.rules()
	switch m.Type {
	case raft.MsgHeartbeat:
		if cur := r.sentRound[n.id]; cur.term < m.Term || cur.term == m.Term && cur.round < m.Context {
			r.sentRound[n.id] = termRound{m.Term, m.Context}
		}
	case raft.MsgTimeoutNow:
		if m.To < 1 || int(m.To) > len(s.nodes) {
			return
		}
		lv, tv := s.chk.view(n.id), s.chk.view(m.To)
		last, lastTerm := lv.lastIndex(), lv.lastTerm()
		if !tv.up || tv.status.Term > m.Term {
			return // down, or moved on to a later term: the message is harmless
		}
		s.chk.checks[Protocol]++
		if e, ok := tv.entry(last); last > tv.snapIndex && (!ok || e.term != lastTerm) {
			s.chk.fail(Protocol, n.id, "leader %d sent MsgTimeoutNow to %d, whose log lacks its last entry %d (term %d): the target must hold the leader's whole log (thesis §3.10)", n.id, m.To, last, lastTerm)
		}
	}
}

// ruleOnPersist checks a persist of node n emitted with status st: a
// leader appends a configuration entry only when every earlier one in its
// log is committed (one change at a time, thesis §4.1; C_new only after
// C_old,new, thesis §4.3).
func (s *Sim) ruleOnPersist(n *simNode, st *raft.Status, p *raft.Persist) {
	if st.Role != raft.RoleLeader {
		return
	}
	for i := range p.Entries {
		e := &p.Entries[i]
		if e.Type != raft.EntryConfig || e.Term != st.Term {
			continue
		}
		s.chk.checks[Protocol]++
		if j := s.lastConfigIndex(n.id, st.Commit, e.Index); j != 0 {
			s.chk.fail(Protocol, n.id, "leader %d appended configuration entry %d while configuration entry %d was not committed (commit %d)", n.id, e.Index, j, st.Commit)
			return
		}
	}
}

// lastConfigIndex returns the index of the last configuration entry in
// node id's log strictly between from and to, or 0.
func (s *Sim) lastConfigIndex(id raft.NodeID, from, to raft.Index) raft.Index {
	v := s.chk.view(id)
	for j := to - 1; j > from && j > v.snapIndex; j-- {
		if le, ok := v.entry(j); ok && s.chk.entries[entryKey{j, le.term}].typ == raft.EntryConfig {
			return j
		}
	}
	return 0
}

// ruleOnObserve checks node n's role changes, st being its new status.
func (s *Sim) ruleOnObserve(n *simNode, st *raft.Status) {
	prev := &n.last
	if st.Role == prev.Role && st.Term == prev.Term {
		return
	}
	r := s.rules()
	f := n.feat()
	if st.Role != raft.RoleFollower && !r.everVoter[n.id] {
		s.chk.fail(Protocol, n.id, "node %d, never a voter, is %v in term %d: a learner never campaigns (thesis §4.2.1)", n.id, st.Role, st.Term)
	}
	if f == nil {
		return
	}
	switch {
	case st.Role == raft.RoleLeader:
		m := f.Membership()
		var ids []raft.NodeID
		if g := r.grants[n.id]; g != nil && g.term == st.Term {
			ids = g.ids
		}
		s.chk.checks[Protocol]++
		for _, half := range [][]raft.NodeID{m.Voters, m.OutgoingVoters} {
			if !majorityOf(half, func(id raft.NodeID) bool { return id == n.id || slices.Contains(ids, id) }) {
				s.chk.fail(Protocol, n.id, "node %d leads term %d with the votes of %v and its own: no majority of %v (thesis §4.3: a majority of each half)", n.id, st.Term, ids, half)
				return
			}
		}
	case prev.Role == raft.RoleLeader && st.Term == prev.Term && !r.ticking:
		// Not a check-quorum step-down (that happens on a tick): the
		// leader stepped down for its own removal, which must be
		// committed (thesis §4.2.2).
		s.chk.checks[Protocol]++
		m := f.Membership()
		if m.IsVoter(n.id) {
			s.chk.fail(Protocol, n.id, "leader %d stepped down in term %d outside a tick, still a voter of %+v", n.id, st.Term, m)
		} else if j := s.lastConfigIndex(n.id, st.Commit, st.LastIndex+1); j != 0 {
			s.chk.fail(Protocol, n.id, "leader %d stepped down in term %d before its removal (configuration entry %d) committed (commit %d)", n.id, st.Term, j, st.Commit)
		}
	}
}

// majorityOf reports whether in holds for a majority of ids (true for an
// empty set, which constrains nothing).
func majorityOf(ids []raft.NodeID, in func(raft.NodeID) bool) bool {
	k := 0
	for _, id := range ids {
		if in(id) {
			k++
		}
	}
	return len(ids) == 0 || 2*k > len(ids)
}

// ruleReadAsked notes read id asked of node n through ReadIndex.
func (s *Sim) ruleReadAsked(n *simNode, id uint64) {
	r := s.rules()
	if n.last.Role != raft.RoleLeader {
		return
	}
	cur := r.sentRound[n.id]
	if cur.term != n.last.Term {
		cur = termRound{term: n.last.Term}
	}
	r.readFloor[readKey{n.id, id}] = cur
}

// ruleReadDone checks read id that node n reports ready: a quorum of
// each half answered a heartbeat round sent after the read was asked
// (thesis §6.4), the leader counting itself.
func (s *Sim) ruleReadDone(n *simNode, id uint64, ready bool) {
	r := s.rules()
	k := readKey{n.id, id}
	floor, ok := r.readFloor[k]
	if !ok {
		return
	}
	delete(r.readFloor, k)
	f := n.feat()
	if !ready || f == nil || n.last.Role != raft.RoleLeader || n.last.Term != floor.term {
		return
	}
	a := r.acked[n.id]
	m := f.Membership()
	s.chk.checks[Protocol]++
	for _, half := range [][]raft.NodeID{m.Voters, m.OutgoingVoters} {
		if !majorityOf(half, func(p raft.NodeID) bool {
			return p == n.id || a != nil && a.term == floor.term && a.round[p] > floor.round
		}) {
			s.chk.fail(Protocol, n.id, "leader %d made read %d ready without a majority of %v answering a heartbeat round after round %d, the last sent before the read (thesis §6.4)", n.id, id, half, floor.round)
			return
		}
	}
}

// ruleRestarted checks that node n, just restarted, uses the latest
// configuration in its durable log (thesis §4.1), when the simulator knows
// which membership that entry holds.
func (s *Sim) ruleRestarted(n *simNode) {
	f := n.feat()
	if f == nil {
		return
	}
	d := n.disk
	want, known := d.snap.Membership, true
	for i := d.LastIndex(); i > d.snap.Index; i-- {
		if e := d.Entry(i); e != nil && e.Type == raft.EntryConfig {
			want, known = s.rules().configOf[entryKey{i, e.Term}]
			break
		}
	}
	if !known || len(want.Voters) == 0 {
		return
	}
	s.chk.checks[Protocol]++
	if got := f.Membership(); !sameMembership(got, want) {
		s.chk.fail(Protocol, n.id, "node %d restarted with membership %+v, but the latest configuration in its durable log is %+v", n.id, got, want)
	}
}

func sameMembership(a, b raft.Membership) bool {
	same := func(x, y []raft.NodeID) bool {
		x, y = slices.Clone(x), slices.Clone(y)
		slices.Sort(x)
		slices.Sort(y)
		return slices.Equal(x, y)
	}
	return same(a.Voters, b.Voters) && same(a.OutgoingVoters, b.OutgoingVoters) &&
		same(a.Learners, b.Learners) && same(a.Witnesses, b.Witnesses) && a.AutoLeave == b.AutoLeave
}
