package raftsim

import (
	"fmt"
	"math/bits"

	"github.com/pureraft/raft"
)

// Invariant names a property the simulator checks.
type Invariant uint8

const (
	// ElectionSafety: at most one leader per term, over the whole run
	// (paper §5.2, Figure 3). Leadership is observed from node status and
	// from every append or heartbeat sent.
	ElectionSafety Invariant = iota + 1
	// LeaderAppendOnly: a leader never overwrites or deletes entries in its
	// log during its term (Figure 3).
	LeaderAppendOnly
	// LogMatching: if two logs hold an entry with the same index and term,
	// the entries are identical and so are the logs up to it (§5.3).
	LogMatching
	// LeaderCompleteness: an entry committed in a term is in the log of
	// every leader of a later term (§5.4).
	LeaderCompleteness
	// StateMachineSafety: no two nodes commit or apply different entries
	// at the same index (§5.4.3).
	StateMachineSafety
	// CommitMonotonic: a node's commit index never decreases, in memory
	// during one incarnation, and on its disk ever.
	CommitMonotonic
	// Durability: the persistence contract. A vote is granted, an append
	// acknowledged and an entry applied only once the state it rests on is
	// durable; a durable vote never changes within a term; the durable
	// commit index stays within the durable log.
	Durability
	// Protocol: everything else the core must never do with correct peers
	// and a correct caller: reject a correct peer's message as invalid,
	// emit a persist that leaves a gap, fail to restart from its own
	// durable state, report a log its persist actions do not describe.
	Protocol
	// Linearizability: the client history is linearizable (checked at the
	// end with porcupine).
	Linearizability
	// Liveness: once every fault is healed, a leader is elected and a new
	// proposal commits within Scenario.LivenessTicks.
	Liveness
	// WitnessNeverLeads: a witness (thesis §11.7.2), or any node whose log
	// holds entries without their payloads, never becomes leader.
	WitnessNeverLeads
	// ReadFreshness: a read is made ready at an index at or above every
	// index known committed when the read was issued (thesis §6.4);
	// otherwise it can miss a write that completed before it began. It
	// catches a stale read even where no client happens to observe it.
	ReadFreshness

	numInvariants
)

var invariantNames = [...]string{
	ElectionSafety: "election-safety", LeaderAppendOnly: "leader-append-only",
	LogMatching: "log-matching", LeaderCompleteness: "leader-completeness",
	StateMachineSafety: "state-machine-safety", CommitMonotonic: "commit-monotonic",
	Durability: "durability", Protocol: "protocol",
	Linearizability: "linearizability", Liveness: "liveness",
	WitnessNeverLeads: "witness-never-leads", ReadFreshness: "read-freshness",
}

// String returns the invariant's name, as used in reports and on the
// command line.
func (i Invariant) String() string {
	if int(i) < len(invariantNames) && invariantNames[i] != "" {
		return invariantNames[i]
	}
	return fmt.Sprintf("Invariant(%d)", uint8(i))
}

// Invariants lists every invariant in report order.
func Invariants() []Invariant {
	out := make([]Invariant, 0, numInvariants-1)
	for i := ElectionSafety; i < numInvariants; i++ {
		out = append(out, i)
	}
	return out
}

// Violation is a broken invariant: which, where, when, and what was seen.
type Violation struct {
	Invariant Invariant   // the invariant broken
	Node      raft.NodeID // the node whose action or state broke it, if any
	Step      uint64      // the simulator step that broke it
	Time      Time        // the simulated time of that step
	Detail    string      // what was observed, with the values involved
}

// Error describes the violation in one line: invariant, node, step, time
// and detail.
func (v *Violation) Error() string {
	where := ""
	if v.Node != 0 {
		where = fmt.Sprintf(" at node %d", v.Node)
	}
	return fmt.Sprintf("%s violated%s (step %d, time %s): %s", v.Invariant, where, v.Step, v.Time, v.Detail)
}

// checker verifies the Raft safety properties incrementally, from what the
// simulator observes after every step: the persist actions each node emits
// (which describe its in-memory log exactly: a shadow log per node), the
// messages it sends, the entries it applies, the writes that reach its
// disk, and its status. Each observation costs O(1) per entry or message,
// except the leader completeness check at the start of a leadership, which
// walks the committed entries once.
//
// It keeps cluster-wide:
//   - the leader of every term (election safety);
//   - for every (index, term) ever in any log, a hash of the entry and the
//     term of the entry before it. Entries with the same index and term must
//     agree on both, which by induction on the index is the full Log
//     Matching property (same index and term ⇒ identical prefixes);
//   - every committed entry with the earliest term it was known committed
//     in (leader completeness, state machine safety);
//   - every applied entry (state machine safety).
//
// The first violation is kept; later observations are still accepted.
type checker struct {
	views     []nodeView
	leaders   map[raft.Term]raft.NodeID
	entries   map[entryKey]entryInfo
	committed []commitRec // index i at [i-1]; term 0: not known committed
	applied   []logEntry  // index i at [i-1]; term 0: not applied yet
	// snapHashes holds the hash of the state-machine snapshot any node
	// took or installed at an index: all must agree.
	snapHashes map[raft.Index]uint64

	// step and now stamp violations; the simulator sets them.
	step uint64
	now  Time

	// witnessInLog, when set, reports whether node id's own latest
	// configuration makes it a witness (the simulator reads the node).
	witnessInLog func(id raft.NodeID) bool

	checks    [numInvariants]uint64
	violation *Violation
	ignore    [numInvariants]bool

	// overwritten counts entries deleted from a log by a later leader's;
	// figure8 counts those among them that had been durable on a majority
	// (never committed: the situation of the paper's Figure 8).
	overwritten, figure8 int
}

type entryKey struct {
	index raft.Index
	term  raft.Term
}

type entryInfo struct {
	hash     uint64
	typ      raft.EntryType
	prevTerm raft.Term
	// stripped: only a witness's payload-less copy was seen so far.
	stripped bool
	// durableOn has bit id-1 set for every node whose disk holds the
	// entry now; majority records that a majority held it at once.
	durableOn uint16
	majority  bool
	// counted: its overwriting was counted as a Figure 8 event.
	counted bool
}

type logEntry struct {
	term raft.Term
	hash uint64
	// stripped: a witness's copy of a normal entry, without its payload
	// (thesis §11.7.2); it matches any entry of its term and type.
	stripped bool
}

// sameEntry compares two entries at one index: by term and hash, or by
// term alone where one is a witness's payload-less copy (its type was
// checked against the full entry when it was first seen).
func sameEntry(a, b logEntry) bool {
	return a.term == b.term && (a.hash == b.hash || a.stripped || b.stripped)
}

// fuller returns whichever of a and b (the same entry) carries a payload.
func fuller(a, b logEntry) logEntry {
	if a.stripped {
		return b
	}
	return a
}

type commitRec struct {
	logEntry
	// commitTerm bounds from above the term in which the entry was
	// committed: the term of the first node seen to know it committed.
	commitTerm raft.Term
	by         raft.NodeID
}

// nodeView is what the checker knows of one node.
type nodeView struct {
	up        bool
	snapIndex raft.Index
	snapTerm  raft.Term
	log       []logEntry // shadow of the in-memory log after snapIndex

	observed    bool // status is from this incarnation
	status      raft.Status
	commitSeen  raft.Index // entries up to here were recorded as committed
	lastApplied raft.Index
	// leaderOf is the term in which the node was seen leading at the end
	// of the last step (0: not leading).
	leaderOf raft.Term
	// claimed caches the last term this node was recorded leader of.
	claimed raft.Term

	// witness: the host runs this node as a witness (thesis §11.7.2): no
	// state machine, no clients. witnessKeys are the configuration
	// entries that proposed it a witness ({0, 0}: it was bootstrapped
	// one). The role is committed once any of them is: another leader's
	// copy may commit after a later proposal gave the node a different
	// role, so "not committed yet" never means "rolled back". Only a
	// node whose witness role is committed may hold entries without
	// their payloads.
	witness     bool
	witnessKeys []entryKey
	// dataKeys are the configuration entries that proposed the node a
	// data member (voter or learner); until each is committed or
	// overwritten, the node may still become a data member.
	dataKeys []entryKey
	// strippedOK: a witness role of this node committed at some point; its
	// storage may hold entries without payloads for good (it may be
	// removed and added again as a witness, never as a data member), and
	// it must never lead.
	strippedOK bool
}

func newChecker(n int) *checker {
	c := &checker{
		views:   make([]nodeView, n),
		leaders: map[raft.Term]raft.NodeID{},
		entries: map[entryKey]entryInfo{},

		snapHashes: map[raft.Index]uint64{},
	}
	for i := range c.views {
		c.views[i].up = true
	}
	return c
}

func (c *checker) view(id raft.NodeID) *nodeView { return &c.views[id-1] }

func (v *nodeView) lastIndex() raft.Index { return v.snapIndex + raft.Index(len(v.log)) }

func (v *nodeView) lastTerm() raft.Term {
	if n := len(v.log); n > 0 {
		return v.log[n-1].term
	}
	return v.snapTerm
}

// entry returns the shadow entry at i; ok is false outside the log. Index
// snapIndex reports the snapshot's term with hash 0.
func (v *nodeView) entry(i raft.Index) (logEntry, bool) {
	switch {
	case i == v.snapIndex:
		return logEntry{term: v.snapTerm}, true
	case i < v.snapIndex || i > v.lastIndex():
		return logEntry{}, false
	}
	return v.log[i-v.snapIndex-1], true
}

func (c *checker) fail(inv Invariant, node raft.NodeID, format string, args ...any) {
	if c.violation != nil || c.ignore[inv] {
		return
	}
	c.violation = &Violation{Invariant: inv, Node: node, Step: c.step, Time: c.now, Detail: fmt.Sprintf(format, args...)}
}

// hashEntry hashes an entry's type and payload (FNV-1a).
func hashEntry(e *raft.Entry) uint64 {
	h := uint64(14695981039346656037)
	h ^= uint64(e.Type)
	h *= 1099511628211
	for _, b := range e.Data {
		h ^= uint64(b)
		h *= 1099511628211
	}
	return h
}

// setWitness records that node id is (or is no longer) run as a witness,
// its role proposed in entry key. The entries that proposed it a witness
// are kept either way: whether the role committed is for the log to say.
func (c *checker) setWitness(id raft.NodeID, on bool, key entryKey) {
	v := c.view(id)
	v.witness = on
	if on {
		v.witnessKeys = append(v.witnessKeys, key)
	}
}

// setData records that node id was proposed a data member in entry key.
func (c *checker) setData(id raft.NodeID, key entryKey) {
	v := c.view(id)
	v.dataKeys = append(v.dataKeys, key)
}

// fate tells what became of the configuration entry k: committed, or
// overwritten (another entry is committed at its index); neither while it
// may still go either way.
func (c *checker) fate(k entryKey) (committed, overwritten bool) {
	if k.index == 0 {
		return true, false // bootstrapped
	}
	i := int(k.index) - 1
	if i >= len(c.committed) || c.committed[i].term == 0 {
		return false, false
	}
	return c.committed[i].term == k.term, c.committed[i].term != k.term
}

// witnessCommitted: node id is a witness whose role is committed, so it
// may be sent entries without payloads, and must never lead.
func (c *checker) witnessCommitted(id raft.NodeID) bool {
	v := c.view(id)
	for _, k := range v.witnessKeys {
		if done, _ := c.fate(k); done {
			v.strippedOK = true
		}
	}
	return v.strippedOK
}

// witnessRolledBack: every entry that proposed node id a witness was
// overwritten, so that role can never commit; only then may its host run
// it as a data member.
func (c *checker) witnessRolledBack(id raft.NodeID) bool {
	v := c.view(id)
	for _, k := range v.witnessKeys {
		if _, gone := c.fate(k); !gone {
			return false
		}
	}
	return !v.strippedOK
}

// dataPending: an entry that proposed node id a data member may still
// commit; until it is decided, its host must not run it as a witness.
func (c *checker) dataPending(id raft.NodeID) bool {
	v := c.view(id)
	k := 0
	for _, key := range v.dataKeys {
		if done, gone := c.fate(key); !done && !gone {
			v.dataKeys[k] = key
			k++
		}
	}
	v.dataKeys = v.dataKeys[:k]
	return k > 0
}

// classify turns entry e, held by node id, into a shadow entry. A normal
// entry without payload where the entry of that index and term has one
// is a witness's stripped copy: ok is false unless id is a witness whose
// role is committed.
func (c *checker) classify(id raft.NodeID, e *raft.Entry) (le logEntry, ok bool) {
	le = logEntry{term: e.Term, hash: hashEntry(e)}
	if e.Type != raft.EntryNormal || len(e.Data) > 0 {
		return le, true
	}
	info, known := c.entries[entryKey{e.Index, e.Term}]
	if !known || info.stripped || info.hash == le.hash {
		le.stripped = known && info.stripped
		return le, true
	}
	if info.typ != raft.EntryNormal {
		return le, false
	}
	le.stripped = true
	return le, c.witnessCommitted(id)
}

// claimLeader records that id led term (election safety), and checks it
// is no witness.
func (c *checker) claimLeader(id raft.NodeID, term raft.Term, how string) {
	c.checks[ElectionSafety]++
	v := c.view(id)
	if v.claimed == term {
		return
	}
	c.checks[WitnessNeverLeads]++
	// A witness is judged by the configurations, not by the role its
	// host last asked for: a node whose witness role is committed, or
	// whose own log makes it a witness, must not lead.
	switch {
	case c.witnessCommitted(id):
		c.fail(WitnessNeverLeads, id, "node %d, a witness whose role is committed, acts as leader of term %d (%s)", id, term, how)
		return
	case c.witnessInLog != nil && c.witnessInLog(id):
		c.fail(WitnessNeverLeads, id, "node %d, a witness in its own log's configuration, acts as leader of term %d (%s)", id, term, how)
		return
	}
	if other, ok := c.leaders[term]; ok && other != id {
		c.fail(ElectionSafety, id, "node %d acts as leader of term %d (%s), but node %d was leader of that term", id, term, how, other)
		return
	}
	c.leaders[term] = id
	v.claimed = term
}

// onPersist observes a persist action of node id, emitted while the node's
// status was st. It updates the shadow log and checks log matching and
// leader append-only.
func (c *checker) onPersist(id raft.NodeID, st *raft.Status, p *raft.Persist) {
	v := c.view(id)
	if p.Snapshot != nil {
		v.snapIndex, v.snapTerm = p.Snapshot.Index, p.Snapshot.Term
		v.log = v.log[:0]
	}
	if len(p.Entries) == 0 {
		return
	}
	first := p.Entries[0].Index
	last := v.lastIndex()
	c.checks[Protocol]++
	if first <= v.snapIndex || first > last+1 {
		c.fail(Protocol, id, "persist %d writes entries from %d onto a log holding [%d, %d]", p.ID, first, v.snapIndex+1, last)
		return
	}
	leading := v.leaderOf != 0 && v.leaderOf == st.Term
	if leading {
		c.checks[LeaderAppendOnly]++
	}
	if first <= last {
		if leading {
			c.fail(LeaderAppendOnly, id, "node %d, leader of term %d, overwrote its log from index %d (it held entries up to %d)", id, v.leaderOf, first, last)
		}
		for k := first - v.snapIndex - 1; k < raft.Index(len(v.log)); k++ {
			c.noteOverwritten(entryKey{v.snapIndex + 1 + k, v.log[k].term})
		}
		v.log = v.log[:first-v.snapIndex-1]
	}
	for i := range p.Entries {
		e := &p.Entries[i]
		prevTerm := v.lastTerm()
		c.checks[LogMatching]++
		if e.Index != v.lastIndex()+1 || e.Term < prevTerm {
			c.fail(Protocol, id, "persist %d: entry %d (term %d) does not continue the log ending at %d (term %d)", p.ID, e.Index, e.Term, v.lastIndex(), prevTerm)
			return
		}
		le, allowed := c.classify(id, e)
		key := entryKey{e.Index, e.Term}
		if !allowed {
			c.fail(LogMatching, id, "node %d holds entry %d/%d without its payload, but it is not a witness whose role is committed (thesis §11.7.2)", id, e.Index, e.Term)
		}
		if info, ok := c.entries[key]; ok {
			switch {
			case info.stripped && !le.stripped:
				// The first full copy seen (a witness's came first).
				info.hash, info.stripped = le.hash, false
				info.typ = e.Type
				c.entries[key] = info
			case info.hash != le.hash && !le.stripped:
				c.fail(LogMatching, id, "node %d holds a different entry at index %d term %d than another node had (payload or type differ)", id, e.Index, e.Term)
			}
			if info.prevTerm != prevTerm {
				c.fail(LogMatching, id, "node %d holds entry %d/%d after an entry of term %d, another node had it after term %d: the logs differ before a matching entry", id, e.Index, e.Term, prevTerm, info.prevTerm)
			}
		} else {
			c.entries[key] = entryInfo{hash: le.hash, typ: e.Type, prevTerm: prevTerm, stripped: allowed && e.Type == raft.EntryNormal && len(e.Data) == 0 && c.witnessCommitted(id)}
		}
		v.log = append(v.log, le)
	}
}

// noteOverwritten: an entry was deleted from a node's log by a later
// leader's entries.
func (c *checker) noteOverwritten(k entryKey) {
	c.overwritten++
	if info, ok := c.entries[k]; ok && info.majority && !info.counted {
		info.counted = true
		c.figure8++
		c.entries[k] = info
	}
}

// onDurableLost: node id's disk deleted entry k (overwritten).
func (c *checker) onDurableLost(id raft.NodeID, k entryKey) {
	if info, ok := c.entries[k]; ok {
		info.durableOn &^= 1 << (id - 1)
		c.entries[k] = info
	}
}

// onDurable observes a write reaching node id's disk; before is the durable
// hard state it replaced.
func (c *checker) onDurable(id raft.NodeID, before raft.HardState, d *simDisk, p *raft.Persist) {
	for i := range p.Entries {
		k := entryKey{p.Entries[i].Index, p.Entries[i].Term}
		if info, ok := c.entries[k]; ok && info.durableOn&(1<<(id-1)) == 0 {
			info.durableOn |= 1 << (id - 1)
			info.majority = info.majority || bits.OnesCount16(info.durableOn) > len(c.views)/2
			c.entries[k] = info
		}
	}
	if p.HasHardState {
		hs := p.HardState
		c.checks[CommitMonotonic]++
		if hs.Commit < before.Commit {
			c.fail(CommitMonotonic, id, "node %d's durable commit index went back from %d to %d (persist %d)", id, before.Commit, hs.Commit, p.ID)
		}
		c.checks[Durability]++
		switch {
		case hs.Term < before.Term:
			c.fail(Durability, id, "node %d's durable term went back from %d to %d (persist %d)", id, before.Term, hs.Term, p.ID)
		case hs.Term == before.Term && before.Vote != raft.None && hs.Vote != before.Vote:
			c.fail(Durability, id, "node %d changed its durable vote in term %d from %d to %d (persist %d)", id, hs.Term, before.Vote, hs.Vote, p.ID)
		}
	}
	c.checks[Durability]++
	if hs := d.HardState(); hs.Commit > d.LastIndex() {
		c.fail(Durability, id, "node %d's durable commit index %d lies beyond its durable log, which ends at %d", id, hs.Commit, d.LastIndex())
	}
}

// onSend observes a message node id sends, with its disk as it is when the
// message leaves.
func (c *checker) onSend(id raft.NodeID, m *raft.Message, d *simDisk) {
	switch m.Type {
	case raft.MsgApp, raft.MsgHeartbeat:
		c.claimLeader(id, m.Term, "sent "+m.Type.String())
	case raft.MsgVoteResp:
		if m.Reject {
			return
		}
		c.checks[Durability]++
		hs := d.HardState()
		if !(hs.Term > m.Term || (hs.Term == m.Term && hs.Vote == m.To)) {
			c.fail(Durability, id, "node %d granted its vote in term %d to %d, but its disk holds term %d vote %d", id, m.Term, m.To, hs.Term, hs.Vote)
		}
	case raft.MsgAppResp:
		if m.Reject || m.Index == 0 {
			return
		}
		c.checks[Durability]++
		if d.LastIndex() < m.Index {
			c.fail(Durability, id, "node %d acknowledged entries up to %d to %d, but its durable log ends at %d", id, m.Index, m.To, d.LastIndex())
		}
	}
}

// onApply observes node id applying e.
func (c *checker) onApply(id raft.NodeID, e *raft.Entry, d *simDisk) {
	v := c.view(id)
	c.checks[Durability]++
	if t, ok := d.Term(e.Index); !ok || t != e.Term {
		c.fail(Durability, id, "node %d applied entry %d (term %d), which is not on its disk", id, e.Index, e.Term)
	}
	c.checks[StateMachineSafety]++
	if e.Index != v.lastApplied+1 {
		c.fail(StateMachineSafety, id, "node %d applied entry %d after entry %d (entries must be applied once, in order)", id, e.Index, v.lastApplied)
	}
	v.lastApplied = e.Index
	le, ok := c.classify(id, e)
	if !ok {
		c.fail(StateMachineSafety, id, "node %d applied entry %d (term %d) without its payload, but it is not a witness whose role is committed", id, e.Index, e.Term)
	}
	i := int(e.Index) - 1
	for len(c.applied) <= i {
		c.applied = append(c.applied, logEntry{})
	}
	if a := c.applied[i]; a.term == 0 {
		c.applied[i] = le
	} else if !sameEntry(a, le) {
		c.fail(StateMachineSafety, id, "node %d applied entry %d of term %d, another node applied a different entry (term %d) there", id, e.Index, e.Term, a.term)
	} else {
		c.applied[i] = fuller(a, le)
	}
	if i < len(c.committed) {
		if r := c.committed[i]; r.term != 0 && !sameEntry(r.logEntry, le) {
			c.fail(StateMachineSafety, id, "node %d applied entry %d of term %d, but the entry committed there has term %d", id, e.Index, e.Term, r.term)
		}
	}
}

// onStatus observes node id's status at the end of a step.
func (c *checker) onStatus(id raft.NodeID, st *raft.Status) {
	v := c.view(id)
	c.checks[Protocol]++
	if v.lastIndex() != st.LastIndex || v.lastTerm() != st.LastTerm {
		c.fail(Protocol, id, "node %d reports its log ends at %d (term %d), but its persist actions describe a log ending at %d (term %d)", id, st.LastIndex, st.LastTerm, v.lastIndex(), v.lastTerm())
	}
	if st.Quiescent && st.Role != raft.RoleLeader && (st.Role != raft.RoleFollower || st.Leader == raft.None) {
		// Quiescent, it ticks no election timer: unless it leads or
		// follows a leader, nothing would ever move it on.
		c.fail(Protocol, id, "node %d is quiescent as a %v (leader %d): it will never time out", id, st.Role, st.Leader)
	}
	if st.Quiescent && st.Role == raft.RoleLeader && st.Commit < st.LastIndex {
		// Quiescent, it neither ticks nor heartbeats: nothing would
		// retransmit entries lost on the way (any proposal must wake it).
		c.fail(Protocol, id, "node %d is a quiescent leader with uncommitted entries (commit %d, last %d)", id, st.Commit, st.LastIndex)
	}
	if st.Role == raft.RoleLeader {
		c.claimLeader(id, st.Term, "status")
		if v.leaderOf != st.Term {
			c.checkNewLeader(id, st.Term)
			v.leaderOf = st.Term
		}
	} else {
		v.leaderOf = 0
	}
	c.checks[CommitMonotonic]++
	if v.observed && st.Commit < v.status.Commit {
		c.fail(CommitMonotonic, id, "node %d's commit index went back from %d to %d", id, v.status.Commit, st.Commit)
	}
	if st.Commit > st.LastIndex {
		c.fail(Protocol, id, "node %d's commit index %d is beyond its last index %d", id, st.Commit, st.LastIndex)
	} else {
		for i := max(v.commitSeen, v.snapIndex) + 1; i <= st.Commit; i++ {
			le, _ := v.entry(i)
			c.recordCommit(id, i, le, st.Term)
		}
	}
	v.commitSeen = max(v.commitSeen, st.Commit)
	v.status = *st
	v.observed = true
}

// knownCommitted is the highest index any node has been seen to know
// committed.
func (c *checker) knownCommitted() raft.Index { return raft.Index(len(c.committed)) }

// checkReadFresh checks a read that node id made ready at index, issued
// when floor was known committed (ReadFreshness).
func (c *checker) checkReadFresh(id raft.NodeID, read uint64, index, floor raft.Index) {
	c.checks[ReadFreshness]++
	if index < floor {
		c.fail(ReadFreshness, id, "node %d made read %d ready at index %d, but entry %d was known committed when the read was issued (thesis §6.4)", id, read, index, floor)
	}
}

// recordCommit records that node id, in term, knows entry le at index i is
// committed.
func (c *checker) recordCommit(id raft.NodeID, i raft.Index, le logEntry, term raft.Term) {
	c.checks[StateMachineSafety]++
	k := int(i) - 1
	for len(c.committed) <= k {
		c.committed = append(c.committed, commitRec{})
	}
	r := &c.committed[k]
	if r.term != 0 {
		if !sameEntry(r.logEntry, le) {
			c.fail(StateMachineSafety, id, "node %d considers entry %d of term %d committed, but node %d committed a different entry (term %d) there", id, i, le.term, r.by, r.term)
		}
		r.logEntry = fuller(r.logEntry, le)
		r.commitTerm = min(r.commitTerm, term)
		return
	}
	*r = commitRec{logEntry: le, commitTerm: term, by: id}
	if k < len(c.applied) {
		if a := c.applied[k]; a.term != 0 && !sameEntry(a, le) {
			c.fail(StateMachineSafety, id, "node %d commits entry %d of term %d, but a different entry (term %d) was applied there", id, i, le.term, a.term)
		}
	}
	// Leaders already in office in a later term must hold it too.
	for j := range c.views {
		w := &c.views[j]
		if w.up && w.leaderOf > term {
			c.checks[LeaderCompleteness]++
			if got, ok := w.entry(i); i > w.snapIndex && (!ok || !sameEntry(got, le)) {
				c.fail(LeaderCompleteness, raft.NodeID(j+1), "entry %d (term %d) committed by term %d is missing from the log of node %d, leader of term %d", i, le.term, term, j+1, w.leaderOf)
			}
		}
	}
}

// checkNewLeader checks leader completeness for id, just seen leading term.
func (c *checker) checkNewLeader(id raft.NodeID, term raft.Term) {
	v := c.view(id)
	for k := range c.committed {
		r := &c.committed[k]
		i := raft.Index(k + 1)
		if r.term == 0 || r.commitTerm >= term || i <= v.snapIndex {
			continue
		}
		c.checks[LeaderCompleteness]++
		if got, ok := v.entry(i); !ok || !sameEntry(got, r.logEntry) {
			c.fail(LeaderCompleteness, id, "node %d became leader of term %d without entry %d (term %d), committed by term %d", id, term, i, r.term, r.commitTerm)
			return
		}
	}
	c.checks[WitnessNeverLeads]++
	for k := range v.log {
		if v.log[k].stripped {
			c.fail(WitnessNeverLeads, id, "node %d became leader of term %d with entry %d in its log without its payload (a witness's log)", id, term, v.snapIndex+raft.Index(k)+1)
			return
		}
	}
}

// onCrash forgets node id's volatile state.
func (c *checker) onCrash(id raft.NodeID) {
	v := c.view(id)
	v.up, v.observed, v.leaderOf = false, false, 0
}

// onRestart rebuilds node id's shadow log from the durable state it
// restarts with.
func (c *checker) onRestart(id raft.NodeID, st *raft.PersistentState) {
	v := c.view(id)
	v.up, v.observed, v.leaderOf = true, false, 0
	v.snapIndex, v.snapTerm = st.Snapshot.Index, st.Snapshot.Term
	v.log = v.log[:0]
	for i := range st.Entries {
		le, _ := c.classify(id, &st.Entries[i]) // checked when persisted
		v.log = append(v.log, le)
	}
	// Re-record the durable commit on the first status: the entries a
	// restarted node believes committed must be the committed ones.
	v.commitSeen = st.Snapshot.Index
	v.lastApplied = st.Snapshot.Index
}

// Checks returns how many times each invariant was evaluated.
func (c *checker) counts() map[Invariant]uint64 {
	out := map[Invariant]uint64{}
	for i := ElectionSafety; i < numInvariants; i++ {
		out[i] = c.checks[i]
	}
	return out
}

// onSnapshotTaken: node id snapshotted its state machine at d.index. Every
// node's state at one applied index must be the same (state machine
// safety, compared through the snapshots' hashes).
func (c *checker) onSnapshotTaken(id raft.NodeID, d *smSnap) {
	c.checks[StateMachineSafety]++
	if h, ok := c.snapHashes[d.index]; ok && h != d.hash {
		c.fail(StateMachineSafety, id, "node %d's state machine at index %d differs from another node's there (snapshot hashes differ)", id, d.index)
		return
	}
	c.snapHashes[d.index] = d.hash
	if i := int(d.index) - 1; i >= 0 && i < len(c.committed) {
		if r := c.committed[i]; r.term != 0 && r.term != d.term {
			c.fail(StateMachineSafety, id, "node %d snapshotted at index %d term %d, but the entry committed there has term %d", id, d.index, d.term, r.term)
		}
	}
}

// onApplySnapshot: node id restored its state machine from snapshot
// meta (data d), which counts as applying every entry up to meta.Index.
func (c *checker) onApplySnapshot(id raft.NodeID, meta *raft.SnapshotMeta, d *smSnap) {
	v := c.view(id)
	c.checks[StateMachineSafety]++
	if meta.Index <= v.lastApplied {
		c.fail(StateMachineSafety, id, "node %d applied snapshot %d after entry %d (it would apply entries twice)", id, meta.Index, v.lastApplied)
	}
	v.lastApplied = meta.Index
	if d != nil { // nil on a witness: metadata only
		c.onSnapshotTaken(id, d)
	}
}
