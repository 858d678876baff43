package raft

import (
	"encoding/binary"
	"errors"
	"fmt"
	"log/slog"
	"slices"
)

// This file holds membership changes (thesis chapter 4): how a change is
// requested and validated, how a configuration entry is encoded, and the
// history of configurations in the log. A configuration takes effect on a
// server as soon as its entry is appended to that server's log, committed
// or not (thesis §4.1), and is rolled back if the entry is truncated.

// ChangeType is one kind of membership change.
type ChangeType uint8

const (
	// AddVoter adds a new voter or promotes a learner.
	AddVoter ChangeType = iota + 1
	// AddLearner adds a new learner or demotes a voter to learner.
	AddLearner
	// RemoveMember removes a voter, witness or learner.
	RemoveMember
	// AddWitness adds a new witness: a voter that stores no payloads and
	// never leads (thesis §11.7.2). A witness cannot become a learner or a
	// full voter (it has no state to serve); remove it instead.
	AddWitness
)

// String returns the change type's name, as used in logs and errors.
func (t ChangeType) String() string {
	switch t {
	case AddVoter:
		return "AddVoter"
	case AddLearner:
		return "AddLearner"
	case RemoveMember:
		return "RemoveMember"
	case AddWitness:
		return "AddWitness"
	}
	return fmt.Sprintf("ChangeType(%d)", uint8(t))
}

// MembershipChange changes one server's part in the cluster.
type MembershipChange struct {
	// Type is what happens to the server.
	Type ChangeType
	// Node is the server being added, removed, promoted or demoted.
	Node NodeID
}

// ErrMembershipChangeRefused wraps every refused membership change; the
// wrapping error says why.
var ErrMembershipChangeRefused = errors.New("raft: membership change refused")

// Reasons a membership change is refused, each wrapping
// ErrMembershipChangeRefused.
var (
	ErrAlreadyMember    = fmt.Errorf("%w: already a member in that role", ErrMembershipChangeRefused)
	ErrNotMember        = fmt.Errorf("%w: not a member", ErrMembershipChangeRefused)
	ErrLastVoter        = fmt.Errorf("%w: would remove the last voter that can lead", ErrMembershipChangeRefused)
	ErrJointNotLeft     = fmt.Errorf("%w: the joint configuration has not been left", ErrMembershipChangeRefused)
	ErrNotJoint         = fmt.Errorf("%w: the configuration is not joint", ErrMembershipChangeRefused)
	ErrChangePending    = fmt.Errorf("%w: an earlier change is not yet committed", ErrMembershipChangeRefused)
	ErrEmptyChange      = fmt.Errorf("%w: no changes given", ErrMembershipChangeRefused)
	ErrDemoteInJoint    = fmt.Errorf("%w: demoting a voter to learner must be a change of its own", ErrMembershipChangeRefused)
	ErrMembershipTooBig = fmt.Errorf("%w: more than MaxMembers members", ErrMembershipChangeRefused)
	ErrWitnessRole      = fmt.Errorf("%w: a witness cannot change role; remove it and add the server anew", ErrMembershipChangeRefused)
)

// ProposeMembershipChange proposes changing the cluster's membership. A
// change that adds, removes, promotes or demotes at most one voter is made
// directly (thesis §4.2: any two majorities of configurations differing by
// one voter overlap). Changing several voters at once goes through a joint
// configuration (thesis §4.3), which the leader leaves automatically once it
// commits. Learner-only changes are direct. The change is validated against
// the latest configuration in the log; a refusal wraps
// ErrMembershipChangeRefused and says why.
func (n *Node) ProposeMembershipChange(changes ...MembershipChange) (Index, Term, error) {
	if t := n.cfg.Ticker; t != nil {
		t.catchUp(n)
		defer t.reschedule(n)
	}
	return n.proposeChange(changes, false, true)
}

// ProposeJointMembershipChange enters a joint configuration for changes even
// if one voter would do. With autoLeave false the cluster stays joint until
// LeaveJoint is called (useful to check the new servers before committing
// to them).
func (n *Node) ProposeJointMembershipChange(autoLeave bool, changes ...MembershipChange) (Index, Term, error) {
	if t := n.cfg.Ticker; t != nil {
		t.catchUp(n)
		defer t.reschedule(n)
	}
	return n.proposeChange(changes, true, autoLeave)
}

// CaughtUp reports, on the leader, whether member id durably holds the
// leader's log up to at most maxLag entries from its end: the check to make
// before promoting a learner to voter (thesis §4.2.1: a server added as a
// voter before it has caught up leaves the cluster short of a working
// quorum until it does). It is false on a node that is not leader and for
// an id the leader does not track; the leader itself is always caught up.
func (n *Node) CaughtUp(id NodeID, maxLag uint64) bool {
	n.tickerSync()
	if n.role != RoleLeader {
		return false
	}
	if id == n.id {
		return true
	}
	pr := n.progressOf(id)
	// Match 0: the member never acknowledged anything, so nothing says
	// it is up (or even exists), however short the leader's log is.
	return pr != nil && pr.Match > 0 && uint64(n.log.lastIndex()-pr.Match) <= maxLag
}

// LeaveJoint proposes leaving a joint configuration for its new half.
func (n *Node) LeaveJoint() (Index, Term, error) {
	if t := n.cfg.Ticker; t != nil {
		t.catchUp(n)
		defer t.reschedule(n)
	}
	if err := n.checkCanChangeMembership(); err != nil {
		return 0, 0, err
	}
	if !n.members().IsJoint() {
		return 0, 0, ErrNotJoint
	}
	idx, term := n.appendConfig(n.members().leaveJoint())
	return idx, term, nil
}

func (n *Node) proposeChange(changes []MembershipChange, forceJoint, autoLeave bool) (Index, Term, error) {
	next, err := n.nextConfig(changes, forceJoint, autoLeave)
	if err != nil {
		return 0, 0, err
	}
	idx, term := n.appendConfig(next)
	return idx, term, nil
}

// nextConfig validates changes against the latest configuration and
// returns the configuration they lead to: joint when forceJoint or when
// more than one voter changes.
func (n *Node) nextConfig(changes []MembershipChange, forceJoint, autoLeave bool) (Membership, error) {
	if err := n.checkCanChangeMembership(); err != nil {
		return Membership{}, err
	}
	if n.members().IsJoint() {
		return Membership{}, ErrJointNotLeft
	}
	next, err := n.members().apply(changes)
	if err != nil {
		return Membership{}, err
	}
	if forceJoint || votersChanged(n.members().Voters, next.Voters) > 1 {
		if demotesVoter(*n.members(), next) {
			return Membership{}, ErrDemoteInJoint
		}
		next.OutgoingVoters = slices.Clone(n.members().Voters)
		next.AutoLeave = autoLeave
		// A witness removed here is still an outgoing voter, with its
		// payload-less log: it stays a witness until the joint
		// configuration is left (leaveJoint drops it then).
		for _, id := range n.members().Witnesses {
			if !next.IsWitness(id) {
				next.Witnesses = append(next.Witnesses, id)
			}
		}
	}
	return next, nil
}

// checkCanChangeMembership: only a leader changes membership, and only one
// change may be uncommitted at a time (thesis §4.1), which also covers a new
// leader's inherited uncommitted change.
func (n *Node) checkCanChangeMembership() error {
	if n.role != RoleLeader {
		return &NotLeaderError{Leader: n.lead}
	}
	if n.ldr.transferee != None {
		return ErrTransferInProgress
	}
	if n.configs.lastIndex() > n.log.committed {
		return ErrChangePending
	}
	return nil
}

// appendConfig appends a configuration entry; it takes effect at once.
// Config.MaxEntryBytes does not apply: it bounds the caller's payloads,
// while a configuration entry is the node's own, at most
// maxMembershipBytes (MaxMembers per list), and must never be refused — a
// new leader has to be able to leave a joint configuration whatever its
// limits (Config.DecodeLimits admits such entries from peers).
func (n *Node) appendConfig(m Membership) (Index, Term) {
	// A quiescent leader neither ticks nor heartbeats: awake, it retries
	// appends that are lost, as for any proposal.
	n.wake()
	e := Entry{Index: n.log.lastIndex() + 1, Term: n.term, Type: EntryConfig, Data: encodeMembership(m)}
	n.log.append(e)
	n.noteConfigEntries(n.log.slice(e.Index, e.Index, 0))
	n.needFlush = true
	return e.Index, e.Term
}

// apply returns m with changes applied, or why they cannot be.
func (m Membership) apply(changes []MembershipChange) (Membership, error) {
	if len(changes) == 0 {
		return Membership{}, ErrEmptyChange
	}
	out := m.Clone()
	for _, c := range changes {
		if c.Node == None {
			return Membership{}, fmt.Errorf("%w: node ID 0", ErrMembershipChangeRefused)
		}
		isVoter, isLearner := slices.Contains(out.Voters, c.Node), slices.Contains(out.Learners, c.Node)
		// A witness of m stays one even if an earlier change of this batch
		// removed it: re-added, it would keep its payload-less log.
		if (out.IsWitness(c.Node) || m.IsWitness(c.Node)) && c.Type != RemoveMember {
			if c.Type == AddWitness {
				return Membership{}, fmt.Errorf("%w: node %d is a witness", ErrAlreadyMember, c.Node)
			}
			return Membership{}, fmt.Errorf("%w: node %d", ErrWitnessRole, c.Node)
		}
		switch c.Type {
		case AddVoter:
			if isVoter {
				return Membership{}, fmt.Errorf("%w: node %d is a voter", ErrAlreadyMember, c.Node)
			}
			out.Learners = removeID(out.Learners, c.Node)
			out.Voters = append(out.Voters, c.Node)
		case AddLearner:
			if isLearner {
				return Membership{}, fmt.Errorf("%w: node %d is a learner", ErrAlreadyMember, c.Node)
			}
			out.Voters = removeID(out.Voters, c.Node)
			out.Learners = append(out.Learners, c.Node)
		case AddWitness:
			if isVoter || isLearner {
				return Membership{}, fmt.Errorf("%w: node %d is a member; a witness must be new", ErrWitnessRole, c.Node)
			}
			out.Voters = append(out.Voters, c.Node)
			out.Witnesses = append(out.Witnesses, c.Node)
		case RemoveMember:
			if !isVoter && !isLearner {
				return Membership{}, fmt.Errorf("%w: node %d", ErrNotMember, c.Node)
			}
			out.Voters = removeID(out.Voters, c.Node)
			out.Learners = removeID(out.Learners, c.Node)
			out.Witnesses = removeID(out.Witnesses, c.Node) // kept if it stays an outgoing voter (proposeChange)
		default:
			return Membership{}, fmt.Errorf("%w: unknown change type %d", ErrMembershipChangeRefused, c.Type)
		}
	}
	// A witness never leads: a configuration whose voters are all
	// witnesses could never elect a leader again.
	if !slices.ContainsFunc(out.Voters, func(id NodeID) bool { return !out.IsWitness(id) }) {
		return Membership{}, ErrLastVoter
	}
	if len(out.Voters)+len(out.Learners) > MaxMembers {
		return Membership{}, ErrMembershipTooBig
	}
	return out, nil
}

// leaveJoint returns the new half of a joint configuration.
func (m Membership) leaveJoint() Membership {
	out := m.Clone()
	out.OutgoingVoters, out.AutoLeave = nil, false
	out.Witnesses = slices.DeleteFunc(out.Witnesses, func(id NodeID) bool { return !out.IsVoter(id) })
	return out
}

// votersChanged counts voters added or removed between a and b.
func votersChanged(a, b []NodeID) int {
	n := 0
	for _, id := range a {
		if !slices.Contains(b, id) {
			n++
		}
	}
	for _, id := range b {
		if !slices.Contains(a, id) {
			n++
		}
	}
	return n
}

// demotesVoter reports whether a voter of old is a learner of next: in a
// joint configuration it would be an outgoing voter and a learner at once.
func demotesVoter(old, next Membership) bool {
	for _, id := range next.Learners {
		if slices.Contains(old.Voters, id) {
			return true
		}
	}
	return false
}

func removeID(ids []NodeID, id NodeID) []NodeID {
	if i := slices.Index(ids, id); i >= 0 {
		return slices.Delete(ids, i, i+1)
	}
	return ids
}

// configHistory is the configurations a server's log holds: the one in
// force at the log's first retained index (base) and every configuration
// entry after it.
type configHistory struct {
	base    Membership
	records []configRecord
}

type configRecord struct {
	index Index
	m     Membership
}

// latest is the configuration in force: the last one in the log. The
// pointer is good until the history next changes.
func (h *configHistory) latest() *Membership {
	if k := len(h.records); k > 0 {
		return &h.records[k-1].m
	}
	return &h.base
}

// members is the configuration in force (the latest in configs). Do not
// hold the pointer across a change to the configuration history.
func (n *Node) members() *Membership { return n.configs.latest() }

// lastIndex is the index of the last configuration entry, or 0.
func (h *configHistory) lastIndex() Index {
	if len(h.records) > 0 {
		return h.records[len(h.records)-1].index
	}
	return 0
}

// at returns the configuration in force at index i.
func (h *configHistory) at(i Index) Membership {
	m := h.base
	for _, r := range h.records {
		if r.index > i {
			break
		}
		m = r.m
	}
	return m
}

// truncateFrom forgets configuration entries at index i and after: their
// entries were overwritten, so the configuration rolls back (thesis §4.1).
func (h *configHistory) truncateFrom(i Index) {
	k := len(h.records)
	for k > 0 && h.records[k-1].index >= i {
		k--
	}
	h.records = h.records[:k]
}

// compactTo folds configuration entries at or below i into base.
func (h *configHistory) compactTo(i Index) {
	k := 0
	for k < len(h.records) && h.records[k].index <= i {
		h.base = h.records[k].m
		k++
	}
	h.records = h.records[:copy(h.records, h.records[k:])]
}

// noteConfigEntries records the configuration entries among ents, which were
// just appended, and makes the last one current.
func (n *Node) noteConfigEntries(ents []Entry) {
	changed := false
	for i := range ents {
		if ents[i].Type != EntryConfig {
			continue
		}
		m, err := decodeMembership(ents[i].Data)
		if err != nil {
			// Step validated every configuration entry before appending.
			panic(fmt.Sprintf("raft: appended an invalid configuration entry %d: %v", ents[i].Index, err))
		}
		n.configs.records = append(n.configs.records, configRecord{index: ents[i].Index, m: m})
		changed = true
	}
	if changed {
		n.membershipChanged()
		if n.cfg.Logger != nil {
			n.logEvent(slog.LevelInfo, "raft: configuration changed", slog.Any("membership", *n.members()))
		}
	}
}

// membershipChanged runs when the latest configuration changed. A leader
// starts or stops tracking members accordingly.
func (n *Node) membershipChanged() {
	if n.role != RoleLeader {
		return
	}
	l, m := n.ldr, n.members()
	kept := l.progress[:0]
	for _, pr := range l.progress {
		if m.IsMember(pr.id) {
			pr.witness = m.IsWitness(pr.id)
			kept = append(kept, pr)
		}
	}
	l.progress = kept
	if l.transferee != None && (!m.IsVoter(l.transferee) || m.IsWitness(l.transferee)) {
		// The target left the configuration (the leader's own auto-leave
		// entry removed it): the transfer cannot complete, so end it now
		// rather than refuse proposals until it times out (thesis §3.10).
		l.transferee = None
	}
	m.forEachMember(func(id NodeID) {
		if id != n.id && n.progressOf(id) == nil {
			l.progress = append(l.progress, progress{id: id, witness: m.IsWitness(id), Progress: Progress{Next: n.log.lastIndex() + 1, RecentActive: true}})
		}
	})
	n.needFlush = true
}

// afterCommitMembership runs on a leader whose commit index advanced: it
// leaves a committed joint configuration marked AutoLeave (thesis §4.3), and
// steps down once a configuration that removes it is committed (thesis
// §4.2.2: until then it manages the cluster without counting itself).
func (n *Node) afterCommitMembership() {
	if n.configs.lastIndex() > n.log.committed {
		return
	}
	if n.members().IsJoint() && n.members().AutoLeave {
		n.appendConfig(n.members().leaveJoint())
		return
	}
	if !n.members().IsVoter(n.id) {
		if n.cfg.Logger != nil {
			n.logEvent(slog.LevelInfo, "raft: leader stepping down: removed from the committed configuration")
		}
		n.becomeFollower(n.term, None)
	}
}

// Configuration entry encoding: version, flags, then the voter, outgoing
// voter, learner and witness lists, each a count and IDs as uvarints.

const membershipCodecVersion = 1

const membershipFlagAutoLeave = 1

func encodeMembership(m Membership) []byte {
	b := make([]byte, 0, 8+8*(len(m.Voters)+len(m.OutgoingVoters)+len(m.Learners)+len(m.Witnesses)))
	return appendMembership(b, &m)
}

// maxMembershipBytes bounds an encoded Membership: version and flags, then
// four lists (voters, outgoing voters, learners, witnesses) of at most
// MaxMembers IDs, each a count and uvarints.
const maxMembershipBytes = 2 + 4*(binary.MaxVarintLen64+MaxMembers*binary.MaxVarintLen64)

// membershipEncodedSize is the exact length of appendMembership's output.
func membershipEncodedSize(m *Membership) int {
	n := 2 // version, flags
	for _, ids := range [][]NodeID{m.Voters, m.OutgoingVoters, m.Learners, m.Witnesses} {
		n += uvarintLen(uint64(len(ids)))
		for _, id := range ids {
			n += uvarintLen(uint64(id))
		}
	}
	return n
}

func appendMembership(b []byte, m *Membership) []byte {
	var flags byte
	if m.AutoLeave {
		flags |= membershipFlagAutoLeave
	}
	b = append(b, membershipCodecVersion, flags)
	for _, ids := range [][]NodeID{m.Voters, m.OutgoingVoters, m.Learners, m.Witnesses} {
		b = binary.AppendUvarint(b, uint64(len(ids)))
		for _, id := range ids {
			b = binary.AppendUvarint(b, uint64(id))
		}
	}
	return b
}

func decodeMembership(b []byte) (Membership, error) {
	d := decoder{buf: b}
	m := d.membership()
	if d.err == nil && d.off != len(b) {
		d.err = fmt.Errorf("%w: %d trailing bytes after membership", ErrDecode, len(b)-d.off)
	}
	if d.err != nil {
		return Membership{}, d.err
	}
	if err := m.Validate(); err != nil {
		return Membership{}, fmt.Errorf("%w: %v", ErrDecode, err)
	}
	return m, nil
}

// membership decodes a membership, refusing member counts above MaxMembers
// before allocating.
func (d *decoder) membership() Membership {
	var m Membership
	if v := d.byte(); v != membershipCodecVersion && d.err == nil {
		d.err = fmt.Errorf("%w: unknown membership version %d", ErrDecode, v)
	}
	flags := d.byte()
	if flags&^membershipFlagAutoLeave != 0 && d.err == nil {
		d.err = fmt.Errorf("%w: unknown membership flags %#x", ErrDecode, flags)
	}
	m.AutoLeave = flags&membershipFlagAutoLeave != 0
	for _, ids := range []*[]NodeID{&m.Voters, &m.OutgoingVoters, &m.Learners, &m.Witnesses} {
		count := d.uvarint()
		if d.err != nil {
			return Membership{}
		}
		if count > MaxMembers {
			d.err = fmt.Errorf("%w: %d members exceeds MaxMembers", ErrDecode, count)
			return Membership{}
		}
		if count == 0 {
			continue
		}
		*ids = make([]NodeID, count)
		for i := range *ids {
			(*ids)[i] = NodeID(d.uvarint())
		}
	}
	if d.err != nil {
		return Membership{}
	}
	return m
}
