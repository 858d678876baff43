package raftsim

import (
	"errors"
	"fmt"
	"slices"
	"sort"

	"github.com/pureraft/raft"
)

// This file drives the core's optional features: log compaction and
// snapshot transfer, ReadIndex / follower / lease reads, membership changes
// and leadership transfers.

// featureCore is the part of *raft.Node beyond Core that the features use.
// A Core that does not implement it (a user's wrapper) simply runs without
// them.
type featureCore interface {
	Compact(index raft.Index, retain uint64) (raft.SnapshotMeta, error)
	ReportSnapshot(to raft.NodeID, err error)
	ReadIndex(id uint64) error
	LeaseRead(id uint64) error
	ProposeMembershipChange(changes ...raft.MembershipChange) (raft.Index, raft.Term, error)
	ProposeJointMembershipChange(autoLeave bool, changes ...raft.MembershipChange) (raft.Index, raft.Term, error)
	LeaveJoint() (raft.Index, raft.Term, error)
	CaughtUp(id raft.NodeID, maxLag uint64) bool
	Membership() raft.Membership
	TransferLeadership(to raft.NodeID) error
	TransferToBestVoter() (raft.NodeID, error)
	Wake()
	Campaign() error
}

func (n *simNode) feat() featureCore {
	f, _ := n.core.(featureCore)
	return f
}

// Snapshotter is implemented by state machines that can be snapshotted,
// which log compaction needs: Snapshot serializes the whole state,
// Restore (called on a fresh state machine) loads it.
type Snapshotter interface {
	// Snapshot returns the whole state, serialized.
	Snapshot() []byte
	// Restore replaces the state with a serialized one.
	Restore(data []byte)
}

// smSnap is a state-machine snapshot as of index: the state machine's
// serialized state and the session table. It is immutable once taken.
type smSnap struct {
	index    raft.Index
	term     raft.Term
	data     []byte
	sessions []session
	hash     uint64
}

func (r *replica) snapshot(term raft.Term) *smSnap {
	sn, ok := r.sm.(Snapshotter)
	if !ok {
		return nil
	}
	d := &smSnap{index: r.applied, term: term, data: sn.Snapshot(), sessions: slices.Clone(r.sessions)}
	h := uint64(14695981039346656037)
	mixb := func(b byte) { h ^= uint64(b); h *= 1099511628211 }
	mix := func(x uint64) {
		for i := 0; i < 8; i++ {
			mixb(byte(x >> (8 * i)))
		}
	}
	for _, b := range d.data {
		mixb(b)
	}
	for _, s := range d.sessions {
		mix(s.seq)
		mix(uint64(len(s.result)))
		for _, b := range s.result {
			mixb(b)
		}
	}
	d.hash = h
	return d
}

func restoreReplica(sm StateMachine, d *smSnap) *replica {
	sm.(Snapshotter).Restore(d.data)
	return &replica{sm: sm, applied: d.index, sessions: slices.Clone(d.sessions)}
}

// Snapshot implements Snapshotter: the keys in order, each with its value.
func (kv *KV) Snapshot() []byte {
	keys := make([]string, 0, len(kv.data))
	for k := range kv.data {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	out := []byte{}
	for _, k := range keys {
		e := EncodeKV(KVPut, k, kv.data[k])
		out = append(out, byte(len(e)>>24), byte(len(e)>>16), byte(len(e)>>8), byte(len(e)))
		out = append(out, e...)
	}
	return out
}

// Restore implements Snapshotter.
func (kv *KV) Restore(data []byte) {
	kv.data = map[string]string{}
	for len(data) >= 4 {
		n := int(data[0])<<24 | int(data[1])<<16 | int(data[2])<<8 | int(data[3])
		data = data[4:]
		if _, k, v, ok := decodeKV(data[:n]); ok {
			kv.data[k] = v
		}
		data = data[n:]
	}
}

// ---- Compaction and snapshot transfer ----

var errSnapshotLost = errors.New("raftsim: snapshot transfer lost")

// maybeCompact: node n snapshots its state machine at its applied index,
// stores it durably and tells the node (docs/snapshots.md, "Taking a
// snapshot").
func (s *Sim) maybeCompact(n *simNode) {
	f := n.feat()
	if f == nil || n.rep == nil || n.rep.applied <= n.disk.snap.Index {
		return
	}
	term, ok := n.disk.Term(n.rep.applied)
	if !ok {
		s.chk.fail(Durability, n.id, "node %d applied entry %d, which is not on its disk", n.id, n.rep.applied)
		return
	}
	if n.witness {
		s.compactWitness(n, f, term)
		return
	}
	data := n.rep.snapshot(term)
	if data == nil {
		return
	}
	meta, err := f.Compact(data.index, uint64(s.sc.Features.Retain))
	if err != nil {
		// Refused while a received snapshot awaits application: fine.
		s.record(TraceEvent{Kind: TrNote, Node: n.id, Text: "compact refused: " + err.Error()})
		return
	}
	if meta.Index != data.index || meta.Term != term {
		s.chk.fail(Protocol, n.id, "node %d: Compact(%d) returned a snapshot at %d term %d, want term %d", n.id, data.index, meta.Index, meta.Term, term)
		return
	}
	n.disk.compact(meta, data)
	n.latest = data
	s.chk.onSnapshotTaken(n.id, data)
	s.Stats.Compactions++
	s.record(TraceEvent{Kind: TrNote, Node: n.id, Index: meta.Index, Term: meta.Term, Text: "compact"})
	s.logs.add(s.now, n.id, "C", meta.Index, 0, nil)
	s.drain(n)
}

// compactWitness: a witness compacts its log with a snapshot of metadata
// only (it has no state machine), once its role is committed: before that,
// the role may be rolled back and the server become a data member, which
// needs its entries.
func (s *Sim) compactWitness(n *simNode, f featureCore, term raft.Term) {
	if !s.chk.witnessCommitted(n.id) || !f.Membership().IsWitness(n.id) {
		return
	}
	meta, err := f.Compact(n.rep.applied, uint64(s.sc.Features.Retain))
	if err != nil {
		s.record(TraceEvent{Kind: TrNote, Node: n.id, Text: "compact refused: " + err.Error()})
		return
	}
	if meta.Index != n.rep.applied || meta.Term != term {
		s.chk.fail(Protocol, n.id, "node %d: Compact(%d) returned a snapshot at %d term %d, want term %d", n.id, n.rep.applied, meta.Index, meta.Term, term)
		return
	}
	n.disk.compact(meta, nil)
	s.Stats.Compactions++
	s.record(TraceEvent{Kind: TrNote, Node: n.id, Index: meta.Index, Term: meta.Term, Text: "compact (witness)"})
	s.logs.add(s.now, n.id, "C", meta.Index, 0, nil)
	s.drain(n)
}

// snapFor returns node n's data for the snapshot meta describes.
func (n *simNode) snapFor(meta *raft.SnapshotMeta) *smSnap {
	for _, d := range []*smSnap{n.latest, n.disk.snapData, n.recv} {
		if d != nil && d.index == meta.Index && d.term == meta.Term {
			return d
		}
	}
	return nil
}

// sendSnapshot ships a snapshot's data with its message through the
// network. The transfer may be lost (reported as failed, or never
// reported: the leader's timeout path) or arrive (reported, or not).
func (s *Sim) sendSnapshot(n *simNode, m *raft.Message) {
	if m.Snapshot == nil {
		s.chk.fail(Protocol, n.id, "node %d asked to send a snapshot without metadata", n.id)
		return
	}
	data := n.snapFor(m.Snapshot)
	if data == nil {
		s.chk.fail(Protocol, n.id, "node %d asked to send snapshot %d/%d, which it never took or received", n.id, m.Snapshot.Index, m.Snapshot.Term)
		return
	}
	s.msgID++
	s.Stats.SnapshotsSent++
	if m.To == n.id || m.To < 1 || int(m.To) > len(s.nodes) {
		s.chk.fail(Protocol, n.id, "node %d sent a snapshot to unknown node %d", n.id, m.To)
		return
	}
	if why := s.net.dropReason(m.From, m.To, s.now); why != "" {
		s.recordMsg(TrDrop, m, s.msgID, "snapshot: "+why)
		s.snapshotOutcome(n.id, n.epoch, m.To, errSnapshotLost)
		return
	}
	at, _, _ := s.net.arrivals(m.From, m.To, s.now)
	s.recordMsg(TrSend, m, s.msgID, "snapshot")
	// The data takes a while longer than a message.
	s.push(event{at: at[0] + Ticks(1), kind: evSnapshot, node: n.id, epoch: n.epoch, msg: *m, msgID: s.msgID, sentAt: s.now, snap: data})
}

// snapshotOutcome reports a transfer's outcome to the sender, most of the
// time: a transfer never reported is retried after the node's timeout.
func (s *Sim) snapshotOutcome(from raft.NodeID, epoch uint32, to raft.NodeID, err error) {
	if err != nil {
		s.Stats.SnapshotsLost++
	}
	if s.snapRng.Intn(4) == 0 {
		return
	}
	ev := event{at: s.now + Tick/2, kind: evSnapshotReport, node: from, epoch: epoch, gen: uint64(to)}
	if err != nil {
		ev.msgID = 1
	}
	s.push(ev)
}

func (s *Sim) deliverSnapshot(ev *event) {
	m := &ev.msg
	n := s.nodes[m.To-1]
	switch {
	case !s.net.Up(m.From, m.To, s.now):
		s.recordMsg(TrDrop, m, ev.msgID, "snapshot: link down in flight")
		s.snapshotOutcome(ev.node, ev.epoch, m.To, errSnapshotLost)
		return
	case n.core == nil:
		s.recordMsg(TrDrop, m, ev.msgID, "snapshot: receiver down")
		s.snapshotOutcome(ev.node, ev.epoch, m.To, errSnapshotLost)
		return
	}
	s.recordMsg(TrDeliver, m, ev.msgID, "snapshot")
	// The data arrived: store it aside, then pass the message to Step.
	n.recv = ev.snap
	s.snapshotOutcome(ev.node, ev.epoch, m.To, nil)
	if err := n.core.Step(*m); err != nil {
		s.stepError(n, m, err)
	}
	s.drain(n)
}

func (s *Sim) snapshotReport(ev *event) {
	n := s.nodes[ev.node-1]
	if n.core == nil || n.epoch != ev.epoch {
		return
	}
	f := n.feat()
	if f == nil {
		return
	}
	var err error
	if ev.msgID != 0 {
		err = errSnapshotLost
	}
	f.ReportSnapshot(raft.NodeID(ev.gen), err)
	s.drain(n)
}

// applySnapshot restores node n's state machine from the snapshot meta
// describes, which must be durable on its disk.
func (s *Sim) applySnapshot(n *simNode, meta *raft.SnapshotMeta) {
	d := n.disk.snapData
	if n.witness && n.disk.snap.Index == meta.Index && n.disk.snap.Term == meta.Term {
		// No state machine to restore.
		s.chk.onApplySnapshot(n.id, meta, nil)
		n.rep = &replica{sm: s.work.NewStateMachine(), applied: meta.Index, witness: true}
		s.Stats.SnapshotsInstalled++
		s.record(TraceEvent{Kind: TrNote, Node: n.id, Index: meta.Index, Term: meta.Term, Text: "install (witness)"})
		return
	}
	if n.disk.snap.Index != meta.Index || n.disk.snap.Term != meta.Term || d == nil {
		s.chk.fail(Durability, n.id, "node %d was told to apply snapshot %d/%d, but its disk holds snapshot %d/%d", n.id, meta.Index, meta.Term, n.disk.snap.Index, n.disk.snap.Term)
		return
	}
	s.chk.onApplySnapshot(n.id, meta, d)
	n.rep = restoreReplica(s.work.NewStateMachine(), d)
	s.Stats.SnapshotsInstalled++
	s.record(TraceEvent{Kind: TrNote, Node: n.id, Index: meta.Index, Term: meta.Term, Text: "install"})
	s.logs.add(s.now, n.id, "a", meta.Index, 0, nil)
	s.serveReads(n)
}

// ---- Reads ----

// readWait is a read a node is serving for a client.
type readWait struct {
	id     uint64
	client int
	seq    uint64
	index  raft.Index
	ready  bool
	// floor was known committed when the read was issued: its index must
	// be at least that (ReadFreshness).
	floor raft.Index
}

// readAttempt asks node n for a read index (or a lease read) for the
// client's read; ok is false if the node cannot (the caller falls back to
// the log).
func (s *Sim) readAttempt(c *client, n *simNode, lease bool) bool {
	f := n.feat()
	if _, q := n.rep.sm.(Querier); f == nil || !q {
		return false
	}
	if n.witness {
		s.witnessRead(c, n, f, lease)
		return true
	}
	id := s.readID(n)
	n.reads = append(n.reads, readWait{id: id, client: c.id, seq: c.seq, floor: s.chk.knownCommitted()})
	var err error
	if lease {
		s.Stats.LeaseReads++
		err = f.LeaseRead(id)
	} else {
		s.Stats.IndexReads++
		s.ruleReadAsked(n, id)
		err = f.ReadIndex(id)
	}
	if err != nil {
		n.reads = n.reads[:len(n.reads)-1]
		s.refused(c, n.id, err)
		return true
	}
	s.setTimer(c, s.sc.Workload.Timeout)
	s.drain(n)
	return true
}

// witnessRead: a client asked a witness for a read. Once the node knows it
// is a witness, the core must refuse at once (ErrWitnessRead); either way
// the host turns the client away, naming the leader.
func (s *Sim) witnessRead(c *client, n *simNode, f featureCore, lease bool) {
	s.Stats.WitnessRefusals++
	if f.Membership().IsWitness(n.id) {
		id := s.readID(n)
		var err error
		if lease {
			err = f.LeaseRead(id)
		} else {
			err = f.ReadIndex(id)
		}
		s.chk.checks[Protocol]++
		if !errors.Is(err, raft.ErrWitnessRead) {
			s.chk.fail(Protocol, n.id, "node %d, a witness, answered a read request with %v, want ErrWitnessRead", n.id, err)
		}
		s.drain(n)
	}
	s.refused(c, n.id, &raft.NotLeaderError{Leader: n.last.Leader})
}

// readID picks the ID of a new read on node n the way docs/reads.md allows
// and a careless host would: the smallest ID no read under way uses. So an
// ID is reused as soon as its read ended (served, failed or timed out),
// and after a crash the IDs start again from 1, while answers to the old
// reads may still be in flight.
func (s *Sim) readID(n *simNode) uint64 {
	id := uint64(1)
	for n.readWait(id) >= 0 {
		id++
	}
	if id <= n.maxRead {
		s.Stats.ReadIDsReused++
	}
	n.maxRead = max(n.maxRead, id)
	return id
}

func (n *simNode) readWait(id uint64) int {
	for i := range n.reads {
		if n.reads[i].id == id {
			return i
		}
	}
	return -1
}

func (s *Sim) readReady(n *simNode, r *raft.ReadResult) {
	i := n.readWait(r.ID)
	if i < 0 {
		s.chk.fail(Protocol, n.id, "node %d reported read %d ready, which it was not asked or already answered", n.id, r.ID)
		return
	}
	s.chk.checkReadFresh(n.id, r.ID, r.Index, n.reads[i].floor)
	s.ruleReadDone(n, r.ID, true)
	n.reads[i].ready, n.reads[i].index = true, r.Index
	if s.sc.Workload.Reads == readIndexNoWait {
		n.reads[i].index = 0
	}
	s.serveReads(n)
}

func (s *Sim) readFailed(n *simNode, r *raft.ReadResult) {
	i := n.readWait(r.ID)
	if i < 0 {
		s.chk.fail(Protocol, n.id, "node %d reported read %d failed, which it was not asked or already answered", n.id, r.ID)
		return
	}
	s.ruleReadDone(n, r.ID, false)
	w := n.reads[i]
	n.reads = slices.Delete(n.reads, i, i+1)
	s.Stats.ReadsFailed++
	c := s.client(w.client)
	if c != nil && c.busy && c.seq == w.seq && c.target == n.id {
		c.hint = raft.None
		s.retryLater(c, "read failed: "+r.Err.Error())
	}
}

// serveReads answers the ready reads node n has applied far enough for.
func (s *Sim) serveReads(n *simNode) {
	if len(n.reads) == 0 || n.rep == nil {
		return
	}
	if n.witness {
		// Reads it took before it became a witness: its state machine
		// stopped, so they go unanswered (the clients time out).
		return
	}
	keep := n.reads[:0]
	for _, w := range n.reads {
		if !w.ready || n.rep.applied < w.index {
			keep = append(keep, w)
			continue
		}
		c := s.client(w.client)
		if c != nil && c.busy && c.seq == w.seq {
			s.Stats.ReadsServed++
			s.complete(c, n.id, n.rep.sm.(Querier).Query(c.op.Cmd))
		}
	}
	clear(n.reads[len(keep):])
	n.reads = keep
}

// ---- Membership changes and leadership transfers ----

func isIn(ids []raft.NodeID, id raft.NodeID) bool { return slices.Contains(ids, id) }

func isVoter(m raft.Membership, id raft.NodeID) bool {
	return isIn(m.Voters, id) || isIn(m.OutgoingVoters, id)
}

func isMember(m raft.Membership, id raft.NodeID) bool {
	return isIn(m.Voters, id) || isIn(m.OutgoingVoters, id) || isIn(m.Learners, id) || isIn(m.Witnesses, id)
}

// changeMembership has the leader propose a random membership change.
func (s *Sim) changeMembership() {
	l := s.leader()
	if l == nil {
		return
	}
	f := l.feat()
	if f == nil {
		return
	}
	r := s.memberRng
	m := f.Membership()
	if m.IsJoint() {
		if !m.AutoLeave {
			s.memberResult(l, "leave joint", func() error {
				idx, term, err := f.LeaveJoint()
				if err == nil {
					s.ruleProposed(entryKey{idx, term}, f.Membership())
					s.noteConfig(entryKey{idx, term}, f.Membership())
				}
				return err
			})
		}
		return
	}
	// outside: servers outside the configuration that may join as
	// witnesses; dataOK: those that may join as data members. A server's
	// role is the one the committed configuration gives it, and a
	// proposal not committed yet may still commit — another leader's log
	// can hold it even after this leader's log dropped it. So a server
	// proposed a data member is not made a witness, and a witness not a
	// data member, until every entry that proposed the old role has been
	// decided: a witness only once all its witness entries were
	// overwritten (never committed), since a former witness whose role
	// committed may hold a log without payloads: it would need its
	// storage wiped, and a server that lost its storage must never come
	// back under its old ID (it could vote, blank, in a stale
	// configuration that still counts it, and elect a leader missing
	// committed entries).
	var outside, dataOK []raft.NodeID
	for _, n := range s.nodes {
		if !isIn(m.Voters, n.id) && !isIn(m.Learners, n.id) && !isIn(m.Witnesses, n.id) {
			if n.witness || !s.chk.dataPending(n.id) {
				outside = append(outside, n.id)
			}
			if !n.witness || (!n.stripped && s.chk.witnessRolledBack(n.id)) {
				dataOK = append(dataOK, n.id)
			}
		}
	}
	pick := func(ids []raft.NodeID) raft.NodeID { return ids[r.Intn(len(ids))] }
	minV, maxV := max(1, s.sc.Nodes-1), s.sc.Nodes+1
	var data []raft.NodeID // voters that are not witnesses
	for _, id := range m.Voters {
		if !m.IsWitness(id) {
			data = append(data, id)
		}
	}
	var ch []raft.MembershipChange
	joint := false
	switch k := r.Intn(11); {
	case k == 0 && len(dataOK) > 0:
		ch = append(ch, raft.MembershipChange{Type: raft.AddLearner, Node: pick(dataOK)})
	case k == 1 && len(m.Learners) > 0 && len(m.Voters) < maxV:
		id := pick(m.Learners)
		if !f.CaughtUp(id, uint64(max(1, s.sc.Features.Retain))) {
			return
		}
		ch = append(ch, raft.MembershipChange{Type: raft.AddVoter, Node: id})
	case k == 2 && len(m.Voters) > minV:
		ch = append(ch, raft.MembershipChange{Type: raft.RemoveMember, Node: pick(m.Voters)})
	case k == 3 && len(m.Learners) > 0:
		ch = append(ch, raft.MembershipChange{Type: raft.RemoveMember, Node: pick(m.Learners)})
	case k == 4 && len(m.Voters) > minV:
		ch = append(ch, raft.MembershipChange{Type: raft.AddLearner, Node: pick(m.Voters)})
	case k == 5 && len(dataOK) > 0 && len(m.Voters) < maxV:
		ch = append(ch, raft.MembershipChange{Type: raft.AddVoter, Node: pick(dataOK)})
	case k == 6:
		// Replace up to two voters by servers outside the voters.
		cand := append(slices.Clone(dataOK), m.Learners...)
		old := slices.Clone(m.Voters)
		shuffle(r, cand)
		shuffle(r, old)
		for i := 0; i < 2 && i < len(cand) && i < len(old)-1; i++ {
			ch = append(ch, raft.MembershipChange{Type: raft.RemoveMember, Node: old[i]},
				raft.MembershipChange{Type: raft.AddVoter, Node: cand[i]})
		}
		joint = true
	case k == 7 && len(outside) > 0 && len(m.Voters) < maxV && len(m.Witnesses) < 2:
		// Witnesses (thesis §11.7.2): add one, remove one, or replace a
		// data voter by one through a joint configuration.
		ch = append(ch, raft.MembershipChange{Type: raft.AddWitness, Node: pick(outside)})
	case k == 8 && len(m.Witnesses) > 0 && len(m.Voters) > minV:
		ch = append(ch, raft.MembershipChange{Type: raft.RemoveMember, Node: pick(m.Witnesses)})
	case k == 9 && len(outside) > 0 && len(data) >= 2 && len(m.Witnesses) < 2:
		ch = append(ch, raft.MembershipChange{Type: raft.RemoveMember, Node: pick(data)},
			raft.MembershipChange{Type: raft.AddWitness, Node: pick(outside)})
		joint = true
	case k == 10 && len(m.Witnesses) > 0:
		// A witness cannot change role (ErrWitnessRole), not even by
		// removal and addition in one change: its log lacks payloads.
		w := pick(m.Witnesses)
		ct := []raft.ChangeType{raft.AddVoter, raft.AddLearner}[r.Intn(2)]
		var err error
		if r.Intn(2) == 0 {
			_, _, err = f.ProposeMembershipChange(raft.MembershipChange{Type: ct, Node: w})
		} else {
			_, _, err = f.ProposeMembershipChange(raft.MembershipChange{Type: raft.RemoveMember, Node: w}, raft.MembershipChange{Type: ct, Node: w})
		}
		s.chk.checks[Protocol]++
		if err == nil {
			s.chk.fail(Protocol, l.id, "leader %d accepted %v of witness %d: a witness cannot change role", l.id, ct, w)
		}
		s.Stats.MembershipRefused++
		s.drain(l)
		return
	}
	if len(ch) == 0 {
		return
	}
	autoLeave := r.Intn(4) != 0
	s.proposeChange(l, f, fmt.Sprint(ch), ch, joint, autoLeave)
}

// hostNewMembers does the host's part for the servers a change just
// proposed adds, and tells the checker which entry proposed which role. A
// witness runs without a state machine (a server outside the cluster so
// far, or a former member keeping its storage). A former witness becoming
// a data member is one each of whose witness entries was overwritten (see
// changeMembership): it was never sent a log without payloads, keeps its

// proposeChange has leader l propose ch, through a joint configuration if
// joint, and notes the configuration it appends for the rule checks, the
// host's bookkeeping and the servers it adds.
func (s *Sim) proposeChange(l *simNode, f featureCore, what string, ch []raft.MembershipChange, joint, autoLeave bool) {
	s.memberResult(l, what, func() error {
		var idx raft.Index
		var term raft.Term
		var err error
		if joint {
			idx, term, err = f.ProposeJointMembershipChange(autoLeave, ch...)
		} else {
			idx, term, err = f.ProposeMembershipChange(ch...)
		}
		if err == nil {
			key := entryKey{idx, term}
			s.ruleProposed(key, f.Membership())
			s.hostNewMembers(ch, key)
			s.noteConfig(key, f.Membership())
		}
		return err
	})
}

// storage, and its state machine is rebuilt from it (a restart).
func (s *Sim) hostNewMembers(ch []raft.MembershipChange, key entryKey) {
	for _, c := range ch {
		if c.Node < 1 || int(c.Node) > len(s.nodes) {
			continue
		}
		n := s.nodes[c.Node-1]
		switch c.Type {
		case raft.AddWitness:
			n.stripped = n.stripped || s.chk.witnessCommitted(n.id)
			n.witness = true
			s.chk.setWitness(n.id, true, key)
			s.Stats.Witnesses++
			if n.rep != nil {
				n.rep.witness = true
			}
		case raft.AddVoter, raft.AddLearner:
			s.chk.setData(n.id, key)
			if !n.witness {
				continue
			}
			if n.stripped || !s.chk.witnessRolledBack(n.id) {
				s.chk.fail(Protocol, n.id, "simulator bug: witness %d, whose role may commit or has, added as a data member", n.id)
			}
			n.witness = false
			s.chk.setWitness(n.id, false, entryKey{})
			s.Stats.WitnessesConverted++
			if n.core != nil {
				s.crash(n, "former witness (role never committed) restarted as a data member")
				s.restart(n)
			}
		}
	}
}

func (s *Sim) memberResult(l *simNode, what string, do func() error) {
	err := do()
	if err == nil {
		s.Stats.MembershipChanges++
		s.record(TraceEvent{Kind: TrNote, Node: l.id, Text: fmt.Sprintf("n%d proposes membership change %s", l.id, what)})
	} else {
		s.Stats.MembershipRefused++
	}
	s.drain(l)
	if err == nil {
		s.changeFault(l)
	}
}

// campaign has the host of a random node call Campaign (an operator
// forcing an election). A witness, a non-voter or a leader must refuse;
// with lease reads, so must a node that may owe a leader its lease.
func (s *Sim) campaign() {
	n := s.nodes[s.campaignRng.Intn(len(s.nodes))]
	f := n.feat()
	if n.core == nil || f == nil {
		return
	}
	err := f.Campaign()
	if err == nil {
		s.Stats.Campaigns++
		s.record(TraceEvent{Kind: TrNote, Node: n.id, Text: "host calls Campaign"})
	}
	s.drain(n)
}

// transferLeadership has the leader hand over leadership.
func (s *Sim) transferLeadership() {
	l := s.leader()
	if l == nil {
		return
	}
	f := l.feat()
	if f == nil {
		return
	}
	var err error
	to := raft.None
	if s.transferRng.Intn(2) == 0 {
		to, err = f.TransferToBestVoter()
	} else {
		m := f.Membership()
		to = m.Voters[s.transferRng.Intn(len(m.Voters))]
		err = f.TransferLeadership(to)
	}
	if err == nil {
		s.Stats.Transfers++
		s.record(TraceEvent{Kind: TrNote, Node: l.id, Text: fmt.Sprintf("n%d transfers leadership to n%d", l.id, to)})
	}
	s.drain(l)
}

// checkCommitQuorum: a leader that advanced its commit index must have the
// entry there durable on a quorum of the configuration in force (the
// latest in its log, which it counts with; both halves of a joint one).
// A node whose durable snapshot covers the index holds it.
func (s *Sim) checkCommitQuorum(n *simNode, st *raft.Status) {
	f := n.feat()
	if f == nil {
		return
	}
	le, ok := s.chk.view(n.id).entry(st.Commit)
	if !ok {
		return
	}
	holds := func(id raft.NodeID) bool {
		if id < 1 || int(id) > len(s.nodes) {
			return false
		}
		d := s.nodes[id-1].disk
		if d.snap.Index >= st.Commit {
			return true
		}
		t, ok := d.Term(st.Commit)
		return ok && t == le.term
	}
	m := f.Membership()
	for _, half := range [][]raft.NodeID{m.Voters, m.OutgoingVoters} {
		if len(half) == 0 {
			continue
		}
		s.chk.checks[Durability]++
		k := 0
		for _, id := range half {
			if holds(id) {
				k++
			}
		}
		if 2*k <= len(half) {
			s.chk.fail(Durability, n.id, "node %d, leader of term %d, commits entry %d (term %d), but only %d of the voters %v hold it durably", n.id, st.Term, st.Commit, le.term, k, half)
			return
		}
	}
}
