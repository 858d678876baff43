package raft

import (
	"fmt"
	"slices"
)

// Role is a node's part in the protocol (§5.1, plus the pre-candidate of
// thesis §9.6).
type Role uint8

const (
	// RoleFollower is where every server starts: it answers the leader and
	// candidates, and campaigns only when it stops hearing from a leader.
	RoleFollower Role = iota
	// RolePreCandidate asks for pre-votes (thesis §9.6) without raising its
	// term, to learn whether it could win before disturbing anyone.
	RolePreCandidate
	// RoleCandidate has raised its term and voted for itself, and is
	// collecting votes (§5.2).
	RoleCandidate
	// RoleLeader takes proposals and reads and replicates the log (§5.3);
	// there is at most one per term.
	RoleLeader
)

// String returns the role's name, as used in logs and traces.
func (r Role) String() string {
	switch r {
	case RoleFollower:
		return "Follower"
	case RolePreCandidate:
		return "PreCandidate"
	case RoleCandidate:
		return "Candidate"
	case RoleLeader:
		return "Leader"
	}
	return fmt.Sprintf("Role(%d)", uint8(r))
}

// Node is one Raft server's protocol state. It does no I/O; see the package
// documentation for the contract. A Node is not safe for concurrent use.
type Node struct {
	// The fields a follower's Tick reads come first, together, so that
	// ticking thousands of idle groups touches one cache line of each
	// (the reads pointer, nil on an idle node, is the last).
	role Role
	// quiescent: the group is idle and silent.
	quiescent bool
	// needFlush (a leader's): followers must hear of new entries or a new
	// commit index at the next flush. Here because it fits in padding.
	needFlush bool
	// tickerSlot is this node's place in its Ticker (Config.Ticker), or
	// noSlot once removed from it. Here because it fits in padding.
	tickerSlot uint32
	// ticks counts every Tick since the node was built: the clock of
	// leases and read deadlines.
	ticks uint64
	// electionElapsed and randomizedTimeout are int32 (ElectionTicks is
	// at most maxElectionTicks) to keep the Node in its size class
	// (layout_test.go).
	electionElapsed   int32
	randomizedTimeout int32
	// reads holds forwarded reads and read outcomes not yet reported: nil
	// when there are none (readq allocates it).
	reads *readQueue
	// readRound is the last heartbeat round this node started as leader
	// (reads.go). It outlives a term: round numbers only grow.
	readRound uint64

	// cfg is shared with other nodes that have the same settings: never
	// modify it.
	cfg  *nodeConfig
	id   NodeID
	term Term
	vote NodeID
	lead NodeID
	// configs holds the configuration in force (members) and the ones
	// before it that the log still holds.
	configs configHistory
	log     raftLog

	// ldr is the leader's state: non-nil exactly while role is
	// RoleLeader (see leaderState).
	ldr *leaderState

	// camp is a candidate's or pre-candidate's state: non-nil exactly
	// while role is one of those.
	camp *campaign

	// leaseUntil is the tick until which this node promised, by hearing
	// from a leader, to vote for no other (check-quorum, thesis §6.4.1). It
	// survives term changes, which wipe out lead.
	leaseUntil uint64

	// quiesceRound is the leader's last heartbeat round before it went
	// quiet: a late heartbeat of that round or earlier wakes nobody.
	quiesceRound uint64

	rng rng

	// snapshotIndex is where the latest snapshot ends: taken by Compact,
	// installed from a leader, or restored. Its term is the log's at that
	// index, its configuration the one configs holds there; snapshotMeta
	// puts the three together.
	snapshotIndex Index
	// pendingApply is a received snapshot not yet handed out for
	// application (it must be durable first).
	pendingApply *SnapshotMeta

	persist persistence
	// outbox holds messages ready to send, in creation order;
	// outboxSnapshots the MsgSnap messages whose data the caller must ship.
	outbox          []Message
	outboxSnapshots []Message
	actions         []Action
}

// leaderState is what only a leader keeps. It is allocated when the node
// becomes leader and dropped when it steps down, so the followers that
// make up most of a multi-group host do not carry it (docs/performance.md).
type leaderState struct {
	// heartbeatElapsed counts ticks since the last heartbeat.
	heartbeatElapsed int
	// progress has one entry per member other than this node.
	progress []progress
	// uncommittedBytes weighs the entries this leader appended that are
	// not yet committed (Config.MaxUncommittedBytes).
	uncommittedBytes uint64
	// Leadership transfer: the target and the ticks since it began.
	transferee      NodeID
	transferElapsed int
	// idleTicks counts idle ticks toward going quiet.
	idleTicks int
	// reads is the leader's side of the read bookkeeping.
	reads leaderReads
}

// campaign is what only a candidate or pre-candidate keeps: the answers
// to its vote requests in this election.
type campaign struct {
	votes []vote
}

type vote struct {
	id      NodeID
	granted bool
}

// PersistentState is what a restarting node reads back from its storage:
// everything its persist actions wrote.
type PersistentState struct {
	// HardState is the last hard state a persist action wrote, or the zero
	// value if none was.
	HardState HardState
	// Snapshot is the last snapshot's metadata; for a bootstrapped cluster
	// that never compacted, the index-0 snapshot Bootstrap persisted.
	Snapshot SnapshotMeta
	// Entries are the stored entries, in order, without gaps. They may
	// start at or before Snapshot.Index+1 (a compaction that retained a
	// tail); entries at or below Snapshot.Index are dropped.
	Entries []Entry
	// Applied is the last index the caller's state machine applied before
	// the restart (0 means Snapshot.Index). The node hands out entries for
	// application from Applied+1, so nothing is applied twice; if Applied
	// is below Snapshot.Index, it first hands out the snapshot. It may
	// exceed HardState.Commit: entries are applied once committed, before
	// the new commit index is durable.
	Applied Index
}

// NewNode builds a node from a validated config and the state it persisted
// before (the zero PersistentState for a node joining an existing cluster,
// which waits to hear from the leader). It returns an error, and no node, if
// either is invalid.
func NewNode(cfg Config, st PersistentState) (*Node, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	if err := st.validate(); err != nil {
		return nil, err
	}
	n := &Node{
		cfg:     cfg.resolve(),
		id:      cfg.ID,
		term:    st.HardState.Term,
		vote:    st.HardState.Vote,
		configs: configHistory{base: st.Snapshot.Membership.Clone()},
		rng:     newRNG(cfg.Seed, cfg.ID),
	}
	n.snapshotIndex = st.Snapshot.Index
	ents := st.Entries
	for len(ents) > 0 && ents[0].Index <= st.Snapshot.Index {
		ents = ents[1:]
	}
	n.log = raftLog{
		snapIndex: st.Snapshot.Index,
		snapTerm:  st.Snapshot.Term,
	}
	if len(ents) > 0 {
		// The caller's slice becomes the first chunk, clipped so that the
		// log never appends into the caller's array.
		n.log.chunks = [][]Entry{slices.Clip(ents)}
	}
	last := n.log.lastIndex()
	n.log.stable, n.log.persisted = last, last
	// What the caller applied was committed, even if the commit index that
	// said so was not yet durable (it is persisted lazily): an
	// asynchronous caller may apply before that write completes.
	n.log.committed = max(st.HardState.Commit, st.Snapshot.Index, st.Applied)
	n.log.applied = max(st.Applied, st.Snapshot.Index)
	if st.Applied != 0 && st.Applied < st.Snapshot.Index {
		// The state machine is older than the snapshot (a crash after a
		// received snapshot was persisted, before it was applied): the
		// entries in between are gone, so hand out the snapshot first.
		n.log.applied = st.Applied
		n.pendingApply = n.snapshotMeta()
	}
	n.noteConfigEntries(ents)
	n.restoreReadTokens(st.HardState.ReadTokenLimit)
	n.persist.lastHardState = n.hardState()
	n.resetElectionTimer()
	if cfg.Ticker != nil {
		cfg.Ticker.add(n)
	}
	return n, nil
}

// Bootstrap builds the first node of a brand-new cluster whose initial
// voters are voters (thesis §4.4: every initial server is bootstrapped with
// the same configuration). Its first action persists that configuration as a
// snapshot at index 0; persist it like any other and acknowledge it. Start
// each of the initial servers with Bootstrap, never a server that has run
// before: that would forget its vote.
func Bootstrap(cfg Config, voters []NodeID) (*Node, error) {
	m := Membership{Voters: slices.Clone(voters)}
	if err := m.Validate(); err != nil {
		return nil, err
	}
	if !m.IsMember(cfg.ID) {
		return nil, fmt.Errorf("%w: bootstrapping node %d is not among the voters %v", ErrInvalidConfig, cfg.ID, voters)
	}
	n, err := NewNode(cfg, PersistentState{Snapshot: SnapshotMeta{Membership: m}})
	if err != nil {
		return nil, err
	}
	n.persist.snapshot = n.snapshotMeta()
	return n, nil
}

func (st *PersistentState) validate() error {
	snap := &st.Snapshot
	if len(snap.Membership.Voters)+len(snap.Membership.Learners)+len(snap.Membership.OutgoingVoters) > 0 {
		if err := snap.Membership.Validate(); err != nil {
			return fmt.Errorf("%w: snapshot membership: %v", ErrInvalidState, err)
		}
	}
	if snap.Index > 0 && snap.Term == 0 {
		return fmt.Errorf("%w: snapshot of index %d has term 0", ErrInvalidState, snap.Index)
	}
	if snap.Index > 0 && len(snap.Membership.Voters) == 0 {
		return fmt.Errorf("%w: snapshot of index %d has no voters (only a joining server starts empty, at index 0)", ErrInvalidState, snap.Index)
	}
	if snap.Index > maxIndex || len(st.Entries) > 0 && st.Entries[len(st.Entries)-1].Index > maxIndex {
		return fmt.Errorf("%w: log reaches past index %d", ErrInvalidState, maxIndex)
	}
	if len(st.Entries) > 0 && (st.Entries[0].Index == 0 || st.Entries[0].Index > snap.Index+1) {
		return fmt.Errorf("%w: entries start at %d, leaving a gap after the snapshot at %d", ErrInvalidState, st.Entries[0].Index, snap.Index)
	}
	var prevTerm Term
	for i := range st.Entries {
		e := &st.Entries[i]
		if want := st.Entries[0].Index + Index(i); e.Index != want {
			return fmt.Errorf("%w: entry %d has index %d, want %d", ErrInvalidState, i, e.Index, want)
		}
		if e.Index == snap.Index && e.Term != snap.Term {
			return fmt.Errorf("%w: entry %d has term %d, the snapshot there says %d", ErrInvalidState, e.Index, e.Term, snap.Term)
		}
		if e.Index == snap.Index+1 && e.Term < snap.Term {
			return fmt.Errorf("%w: entry %d has term %d, below the snapshot's term %d", ErrInvalidState, e.Index, e.Term, snap.Term)
		}
		if e.Term == 0 {
			return fmt.Errorf("%w: entry %d has term 0", ErrInvalidState, e.Index)
		}
		if e.Term < prevTerm {
			return fmt.Errorf("%w: entry %d has term %d after term %d", ErrInvalidState, e.Index, e.Term, prevTerm)
		}
		if e.Type >= entryTypeCount {
			return fmt.Errorf("%w: entry %d has unknown type %d", ErrInvalidState, e.Index, e.Type)
		}
		if e.Type == EntryConfig {
			if _, err := decodeMembership(e.Data); err != nil {
				return fmt.Errorf("%w: configuration entry %d: %v", ErrInvalidState, e.Index, err)
			}
		}
		prevTerm = e.Term
	}
	prevTerm = max(prevTerm, snap.Term)
	last := snap.Index
	if k := len(st.Entries); k > 0 {
		last = max(last, st.Entries[k-1].Index)
	}
	hs := &st.HardState
	switch {
	case hs.Term < prevTerm:
		return fmt.Errorf("%w: hard state term %d is below the last entry's term %d", ErrInvalidState, hs.Term, prevTerm)
	case hs.Commit > last:
		return fmt.Errorf("%w: commit index %d beyond last index %d", ErrInvalidState, hs.Commit, last)
	case st.Applied > last:
		// Applied may exceed hs.Commit (see NewNode), never the log.
		return fmt.Errorf("%w: applied index %d beyond last index %d", ErrInvalidState, st.Applied, last)
	case hs.ReadTokenLimit > maxReadTokenLimit:
		return fmt.Errorf("%w: read token limit %d beyond %d", ErrInvalidState, hs.ReadTokenLimit, uint64(maxReadTokenLimit))
	}
	return nil
}

// ID returns the node's ID.
func (n *Node) ID() NodeID { return n.id }

// Tick advances the node's logical clock by one tick. Elections and
// heartbeats are measured in ticks; the caller decides how long one is.
//
// A node built with Config.Ticker is ticked by its Ticker only: calling
// Tick on it would count one tick twice, and panics (a programming error,
// like unlocking an unlocked mutex), until Ticker.Remove lets go of it.
func (n *Node) Tick() {
	if n.cfg.Ticker != nil && n.tickerSlot != noSlot {
		panic("raft: Node.Tick called on a node that a Ticker drives; call Ticker.Tick instead")
	}
	n.tick()
}

// tick is one tick of the node's clock. ticksUntilDue and quietTicks
// (ticker.go) know which ticks only count: keep them in step with it.
func (n *Node) tick() {
	n.ticks++
	if n.ticks%trimPeriodTicks == 0 {
		n.trimBuffers()
	}
	if n.quiescent {
		return
	}
	if n.role == RoleLeader {
		n.tickLeader()
		return
	}
	n.tickElection()
	if n.reads != nil && len(n.reads.forwarded) > 0 {
		n.expireForwardedReads()
	}
}

// Propose appends data to the log as a new entry, if this node is the
// leader, and returns the index and term the entry was given. The proposal
// has committed when an apply action carries an entry with that index and
// that term; an entry there with another term means it was overwritten.
//
// On a follower that knows the leader, the proposal is forwarded (unless
// Config.DisableProposalForwarding) and Propose returns index 0 and term 0:
// its fate is known only from the applied entries, so callers that forward
// should put a request ID in data. Otherwise it returns a *NotLeaderError.
// A leader refuses with ErrEntryTooLarge or ErrUncommittedLimit.
func (n *Node) Propose(data []byte) (Index, Term, error) {
	if t := n.cfg.Ticker; t != nil {
		t.catchUp(n)
		defer t.reschedule(n)
	}
	if size := uint64(len(data)); size > n.cfg.MaxEntryBytes {
		return 0, 0, fmt.Errorf("%w (%d > %d)", ErrEntryTooLarge, size, n.cfg.MaxEntryBytes)
	}
	n.wake()
	if n.transferee() != None {
		return 0, 0, ErrTransferInProgress
	}
	if n.role != RoleLeader {
		if n.lead == None || n.cfg.DisableProposalForwarding {
			return 0, 0, &NotLeaderError{Leader: n.lead}
		}
		n.send(Message{Type: MsgProp, To: n.lead, Entries: []Entry{{Data: data}}})
		return 0, 0, nil
	}
	return n.appendProposal(data)
}

// Campaign starts an election now (through pre-vote unless it is off)
// instead of waiting for the election timeout. It fails if this node cannot
// vote or is already leader, and, with lease reads on, while it may still
// owe a leader its lease: within an election timeout of hearing from the
// leader or of starting (hand leadership over with TransferLeadership
// instead).
func (n *Node) Campaign() error {
	if t := n.cfg.Ticker; t != nil {
		t.catchUp(n)
		defer t.reschedule(n)
	}
	switch {
	case n.role == RoleLeader:
		return fmt.Errorf("raft: node %d is already leader of term %d", n.id, n.term)
	case !n.promotable():
		return fmt.Errorf("raft: node %d is not a voter and cannot campaign", n.id)
	}
	// A quiescent node does not tick its election timer: awake, it retries
	// the election if this round fails (or, refused below, holds one once
	// its timer runs out).
	n.wake()
	if n.cfg.EnableLeaseReads && n.inLease() {
		// Its vote for itself would break the promise its heartbeat
		// acknowledgement made: no vote for another leader within an
		// election timeout (thesis §6.4.1), on which the leader serves
		// lease reads.
		return fmt.Errorf("raft: node %d may owe leader %d its lease; with lease reads it cannot campaign until an election timeout passes without hearing from it", n.id, n.lead)
	}
	n.startElection()
	return nil
}

// Actions returns the work the caller must start, in order, and clears it:
// at most one persist action first, then sends, then applies. The returned
// slice is reused by the next call; the slices inside the actions are not.
func (n *Node) Actions() []Action {
	if t := n.cfg.Ticker; t != nil {
		t.catchUp(n)
		defer t.reschedule(n)
	}
	n.actions = n.actions[:0]
	if n.role == RoleLeader && n.ldr.reads.newRound {
		n.broadcastHeartbeat() // a read round, sent now rather than at the next tick
	}
	if n.role == RoleLeader && n.needFlush {
		n.flushReplication()
	}
	n.emitPersist()
	for i := range n.outbox {
		n.addAction(ActionSend).Message = n.outbox[i]
		n.outbox[i] = Message{} // drop references to entries
	}
	n.outbox = n.outbox[:0]
	for i := range n.outboxSnapshots {
		n.addAction(ActionSendSnapshot).Message = n.outboxSnapshots[i]
		n.outboxSnapshots[i] = Message{}
	}
	n.outboxSnapshots = n.outboxSnapshots[:0]
	if s := n.pendingApply; s != nil {
		if n.log.stable < s.Index {
			n.emitReadResults()
			return n.actions // entries after it wait for the snapshot
		}
		n.pendingApply = nil
		n.log.applied = s.Index
		n.addAction(ActionApply).Apply.Snapshot = s
	}
	for {
		ents := n.log.nextApply(n.cfg.MaxApplyBytes)
		if len(ents) == 0 {
			break
		}
		n.log.applied = ents[len(ents)-1].Index
		n.addAction(ActionApply).Apply.Entries = ents
	}
	n.emitReadResults()
	return n.actions
}

// HasActions reports whether Actions would return anything, without
// changing state. Hosts running many groups use it to skip idle ones.
func (n *Node) HasActions() bool {
	return len(n.outbox) > 0 || len(n.outboxSnapshots) > 0 || n.persist.dirty(n) ||
		(n.role == RoleLeader && (n.needFlush || n.ldr.reads.newRound)) ||
		(n.reads != nil && len(n.reads.ready)+len(n.reads.failed) > 0) || n.hasApply()
}

// hasApply reports whether Actions would hand out something to apply: a
// received snapshot once durable (nothing after it before that), else
// committed durable entries.
func (n *Node) hasApply() bool {
	if s := n.pendingApply; s != nil {
		return n.log.stable >= s.Index
	}
	return min(n.log.committed, n.log.stable) > n.log.applied
}

// hardState is the node's current hard state.
func (n *Node) hardState() HardState {
	return HardState{Term: n.term, Vote: n.vote, Commit: n.log.committed, ReadTokenLimit: n.readTokenLimit()}
}

// promotable reports whether this node may campaign: it must be a voter and
// not a witness (a witness holds no payloads, so it must never lead). A
// voter removed by a configuration entry not yet known committed may
// campaign too: it may hold the only copy of that entry, which the
// remaining voters need to leave a joint configuration (thesis §4.2.2: it
// manages the cluster until the removal commits, then steps down).
func (n *Node) promotable() bool {
	if n.members().IsVoter(n.id) {
		return !n.members().IsWitness(n.id)
	}
	last := n.configs.lastIndex()
	if last == 0 || last <= n.log.committed {
		return false
	}
	prev := n.configs.at(last - 1)
	return prev.IsVoter(n.id) && !prev.IsWitness(n.id)
}

// send queues a message from this node. Responses wait for every persist
// action emitted before them (see persistence.gate).
func (n *Node) send(m Message) {
	m.From = n.id
	if m.Term == 0 && m.Type != MsgProp {
		m.Term = n.term
	}
	// A vote request waits too: it speaks for the candidate's new term
	// (and the log it describes), which must not be lost to a crash while
	// the request collects grants, or the restarted candidate could win
	// the same term again with them and a shorter log. Pre-votes bind
	// nothing and go at once.
	// A forwarded read waits for the block of read tokens it draws from
	// (readtoken.go).
	mustWait := m.Type.IsResponse() || m.Type == MsgVote || m.Type == MsgReadIndex && !n.readTokensDurable()
	if mustWait && n.persist.gate(n, m) {
		return
	}
	if m.To == n.id {
		n.stepSelf(m)
		return
	}
	n.outbox = append(n.outbox, m)
}
