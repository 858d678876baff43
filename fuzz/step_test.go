package fuzz

import (
	"errors"
	"flag"
	"fmt"
	"math"
	"reflect"
	"slices"
	"testing"

	"github.com/pureraft/raft"
)

// FuzzStep feeds one node a program decoded from the fuzz input and checks
// that it never panics, that every rejected input leaves it unchanged, and
// that its node-local invariants hold.
//
// The first byte picks the starting role (follower, pre-candidate,
// candidate, leader; see buildSubject) and the configuration variant
// (pre-vote and check-quorum on or off). Each following byte is an
// operation, reading its arguments from the bytes after it (see the op*
// constants): a message built field by field relative to the node's state
// (so that most are plausible and many are subtly wrong), raw bytes through
// raft.Decode, a peer's natural answer to a message the node sent, ticks,
// proposals, collecting actions, acknowledging persists (also ones never
// emitted), campaigns, compactions, snapshot reports, membership changes.
//
// Two identical nodes run side by side. Node a receives every input; node
// b only those a accepted. Rejected inputs must change nothing, so the two
// must agree on Status, progress, membership and every action, always.
func FuzzStep(f *testing.F) {
	f.Fuzz(func(t *testing.T, data []byte) {
		countExec("FuzzStep")
		runStep(t, data)
	})
}

// Operations of a FuzzStep program.
const (
	opTick       = iota // tick once
	opMessage           // a message built from the following bytes
	opRaw               // length byte, then that many bytes for raft.Decode
	opRespond           // a peer answers a message the node sent
	opPropose           // length byte, payload
	opActions           // collect and check the actions
	opAck               // acknowledge a persist (choice byte)
	opCampaign          // Campaign
	opCompact           // Compact (index and retain bytes)
	opReport            // ReportSnapshot (peer and outcome byte)
	opMembership        // ProposeMembershipChange (type and node bytes)
	opTicks             // tick count byte times
	opRead              // ReadIndex or LeaseRead (id byte)
	opTransfer          // TransferLeadership (peer byte)
	opWake              // Wake
	opCount
)

// maxOps bounds the operations run per input, so every input runs fast.
const maxOps = 400

// input reads a fuzz program; past the end it reads zeros.
type input struct {
	b []byte
	i int
}

func (in *input) done() bool { return in.i >= len(in.b) }

func (in *input) byte() byte {
	if in.i >= len(in.b) {
		return 0
	}
	c := in.b[in.i]
	in.i++
	return c
}

// bytes returns the next n bytes (fewer at the end), aliasing the input:
// payloads the node holds must never be modified, and the input never is.
func (in *input) bytes(n int) []byte {
	n = min(n, len(in.b)-in.i)
	if n <= 0 {
		return nil
	}
	b := in.b[in.i : in.i+n : in.i+n]
	in.i += n
	return b
}

// stepRun is the state of one FuzzStep execution.
type stepRun struct {
	t    *testing.T
	a, b *raft.Node
	in   input
	// log of everything done, printed on failure.
	trace []string
	// model of node a's effects, built from its actions.
	m model
	// sent holds recent messages a sent, for opRespond.
	sent []raft.Message
}

func runStep(t *testing.T, data []byte) {
	in := input{b: data}
	sel := in.byte()
	start, variant := int(sel%startCount), (sel/startCount)%8
	a, st, sent := buildSubject(start, variant)
	b, _, _ := buildSubject(start, variant)
	r := &stepRun{t: t, a: a, b: b, in: in, sent: sent}
	r.m = newModel(st, a.Status())
	r.logf("start %d variant %d: %+v", start, variant, a.Status())
	r.compare()
	for ops := 0; ops < maxOps && !r.in.done(); ops++ {
		r.op(r.in.byte() % opCount)
		r.compare()
		r.m.checkStatus(r, a.Status())
	}
	// Collect what remains, so its actions are checked too.
	r.op(opActions)
	if *traceStep {
		t.Logf("trace:\n  %s", joinLines(r.trace))
	}
}

var traceStep = flag.Bool("trace-step", false, "log every FuzzStep operation (use with -run and -v)")

func (r *stepRun) logf(format string, args ...any) {
	r.trace = append(r.trace, fmt.Sprintf(format, args...))
}

func (r *stepRun) fatalf(format string, args ...any) {
	r.t.Helper()
	tail := r.trace[max(0, len(r.trace)-40):]
	r.t.Fatalf("%s\nlast operations:\n  %s", fmt.Sprintf(format, args...), joinLines(tail))
}

func joinLines(lines []string) string {
	s := ""
	for i, l := range lines {
		if i > 0 {
			s += "\n  "
		}
		s += l
	}
	return s
}

func (r *stepRun) op(op byte) {
	a, b := r.a, r.b
	switch op {
	case opTick:
		r.logf("tick")
		a.Tick()
		b.Tick()
	case opTicks:
		n := int(r.in.byte() % 32)
		r.logf("tick x%d", n)
		for range n {
			a.Tick()
			b.Tick()
		}
	case opMessage:
		r.step(r.buildMessage())
	case opRaw:
		raw := r.in.bytes(int(r.in.byte()))
		var m raft.Message
		if err := raft.Decode(raw, &m, raft.DecodeLimits{}); err != nil {
			r.logf("raw % x: %v", raw, err)
			return
		}
		r.step(m)
	case opRespond:
		if m, ok := r.respond(); ok {
			r.step(m)
		}
	case opPropose:
		data := r.in.bytes(int(r.in.byte() % 96))
		ia, ta, errA := a.Propose(data)
		r.logf("propose %d bytes: %d/%d %v", len(data), ia, ta, errA)
		if errA != nil {
			return
		}
		if ib, tb, errB := b.Propose(data); ib != ia || tb != ta || errB != nil {
			r.fatalf("twins disagree on a proposal: %d/%d %v vs %d/%d %v", ia, ta, errA, ib, tb, errB)
		}
	case opActions:
		actsA := slices.Clone(a.Actions())
		actsB := slices.Clone(b.Actions())
		if !reflect.DeepEqual(actsA, actsB) {
			r.fatalf("twins emitted different actions:\n a: %v\n b: %v", actsA, actsB)
		}
		r.logf("actions %v", actsA)
		for _, act := range actsA {
			r.m.action(r, act)
		}
		st := a.Status()
		if st.Applied != r.m.lastApplied {
			r.fatalf("Status().Applied is %d, apply actions reached %d", st.Applied, r.m.lastApplied)
		}
		r.m.commitAtActions = st.Commit
	case opAck:
		id := r.m.pickAck(r.in.byte())
		errA := a.AckPersist(id)
		r.logf("ack %d: %v", id, errA)
		if errA != nil {
			if !errors.Is(errA, raft.ErrBadAck) {
				r.fatalf("ack %d failed with %v, want ErrBadAck", id, errA)
			}
			return
		}
		if errB := b.AckPersist(id); errB != nil {
			r.fatalf("twin refused ack %d: %v", id, errB)
		}
		r.m.ack(r, id)
	case opCampaign:
		errA := a.Campaign()
		r.logf("campaign: %v", errA)
		if errA == nil {
			if errB := b.Campaign(); errB != nil {
				r.fatalf("twin refused campaign: %v", errB)
			}
		}
	case opCompact:
		st := a.Status()
		idx := st.Applied - raft.Index(min(uint64(st.Applied), uint64(r.in.byte()%8)))
		if r.in.byte()%8 == 0 {
			idx += 1 + raft.Index(r.in.byte()%4) // not yet applied: refused
		}
		retain := uint64(r.in.byte() % 4)
		metaA, errA := a.Compact(idx, retain)
		r.logf("compact %d retain %d: %+v %v", idx, retain, metaA, errA)
		if errA == nil {
			metaB, errB := b.Compact(idx, retain)
			if errB != nil || !reflect.DeepEqual(metaA, metaB) {
				r.fatalf("twins disagree on compaction: %+v %v vs %+v %v", metaA, errA, metaB, errB)
			}
			r.m.compacted(r, metaA)
		}
	case opReport:
		c := r.in.byte()
		to := peerTable[c%8]
		var err error
		if c&0x80 != 0 {
			err = errors.New("transfer failed")
		}
		r.logf("report snapshot to %d: %v", to, err)
		a.ReportSnapshot(to, err)
		b.ReportSnapshot(to, err)
	case opRead:
		c := r.in.byte()
		id := uint64(c >> 1)
		read, name := a.ReadIndex, "ReadIndex"
		if c&1 != 0 {
			read, name = a.LeaseRead, "LeaseRead"
		}
		errA := read(id)
		r.logf("%s %d: %v", name, id, errA)
		if errA == nil {
			readB := b.ReadIndex
			if c&1 != 0 {
				readB = b.LeaseRead
			}
			if errB := readB(id); errB != nil {
				r.fatalf("twin refused %s: %v", name, errB)
			}
		}
	case opTransfer:
		to := peerTable[r.in.byte()%8]
		errA := a.TransferLeadership(to)
		r.logf("transfer to %d: %v", to, errA)
		if errA == nil {
			if errB := b.TransferLeadership(to); errB != nil {
				r.fatalf("twin refused the transfer: %v", errB)
			}
		}
	case opWake:
		r.logf("wake")
		a.Wake()
		b.Wake()
	case opMembership:
		c := r.in.byte()
		change := raft.MembershipChange{Type: raft.ChangeType(c%4 + 0), Node: peerTable[(c/4)%8]}
		ia, ta, errA := a.ProposeMembershipChange(change)
		r.logf("membership %+v: %d/%d %v", change, ia, ta, errA)
		if errA == nil {
			if ib, tb, errB := b.ProposeMembershipChange(change); ib != ia || tb != ta || errB != nil {
				r.fatalf("twins disagree on a membership change: %d/%d vs %d/%d %v", ia, ta, ib, tb, errB)
			}
		}
	}
}

// step hands m to a, and to b if a accepted it.
func (r *stepRun) step(m raft.Message) {
	errA := r.a.Step(m)
	r.logf("step %v: %v", m, errA)
	if errA != nil {
		// A rejected message is one no correct peer sends, or (for a
		// forwarded proposal) one the node cannot take now.
		var nl *raft.NotLeaderError
		if !errors.Is(errA, raft.ErrInvalidMessage) && !errors.Is(errA, raft.ErrUnknownPeer) &&
			!errors.Is(errA, raft.ErrProposalDropped) && !errors.As(errA, &nl) {
			r.fatalf("step failed with an untyped error: %v", errA)
		}
		return
	}
	mb := m
	mb.Entries = slices.Clone(m.Entries)
	if errB := r.b.Step(mb); errB != nil {
		r.fatalf("twin rejected %v: %v", m, errB)
	}
}

// compare fails unless the twins look identical.
func (r *stepRun) compare() {
	a, b := r.a, r.b
	if sa, sb := a.Status(), b.Status(); sa != sb {
		r.fatalf("a rejected input changed the node:\n a: %+v\n b: %+v", sa, sb)
	}
	if ha, hb := a.HasActions(), b.HasActions(); ha != hb {
		r.fatalf("a rejected input changed pending work: HasActions %t vs %t", ha, hb)
	}
	if ma, mb := a.Membership(), b.Membership(); !reflect.DeepEqual(ma, mb) {
		r.fatalf("a rejected input changed the membership:\n a: %+v\n b: %+v", ma, mb)
	}
	var pa, pb []string
	a.ForEachProgress(func(id raft.NodeID, p raft.Progress) { pa = append(pa, fmt.Sprintf("%d:%+v", id, p)) })
	b.ForEachProgress(func(id raft.NodeID, p raft.Progress) { pb = append(pb, fmt.Sprintf("%d:%+v", id, p)) })
	if !slices.Equal(pa, pb) {
		r.fatalf("a rejected input changed progress:\n a: %v\n b: %v", pa, pb)
	}
}

// peerTable maps a byte to a sender: mostly the other members, sometimes a
// stranger, nobody, the node itself or an absurd ID.
var peerTable = [8]raft.NodeID{2, 3, 2, 3, 4, raft.None, subject, math.MaxUint64}

// buildMessage builds a message field by field from the input, each field
// relative to node a's state so that plausible messages are common.
func (r *stepRun) buildMessage() raft.Message {
	in := &r.in
	st := r.a.Status()
	m := raft.Message{Type: raft.MessageType(in.byte() % 16), From: peerTable[in.byte()%8], To: subject}
	if in.byte()%32 == 0 {
		m.To = 2
	}
	m.Term = relTerm(st.Term, in.byte())
	m.Index = relIndex(st, in.byte())
	lt, ok := r.m.termAt(m.Index)
	if !ok {
		lt = m.Term
	}
	switch c := in.byte() % 8; {
	case c == 6:
		lt++
	case c == 7 && lt > 0:
		lt--
	}
	m.LogTerm = min(lt, m.Term)
	if m.Index == 0 && (m.Type == raft.MsgApp || m.Type == raft.MsgVote || m.Type == raft.MsgPreVote) {
		m.LogTerm = 0
	}
	switch c := in.byte() % 8; c {
	case 0, 1:
		m.Commit = st.Commit
	case 2:
		m.Commit = st.Commit + 1
	case 3:
		m.Commit = st.LastIndex
	case 4:
		m.Commit = st.LastIndex + 1
	case 5:
		m.Commit = math.MaxUint64
	case 6:
		m.Commit = m.Index + 2
	}
	flags := in.byte()
	m.Reject = flags&1 != 0
	m.RejectHint = m.Index - raft.Index(min(uint64(m.Index), uint64(flags>>1&3)))
	m.Context = uint64(flags >> 3)
	if m.Type == raft.MsgApp || m.Type == raft.MsgProp || flags&0x80 != 0 {
		m.Entries = r.buildEntries(m)
	}
	if m.Type == raft.MsgSnap || in.byte()%64 == 0 {
		m.Snapshot = r.buildSnapshot(m.Term)
	}
	return m
}

// buildEntries builds 0-4 entries continuing m, mostly well-formed.
func (r *stepRun) buildEntries(m raft.Message) []raft.Entry {
	in := &r.in
	n := int(in.byte() % 5)
	if n == 0 {
		return nil
	}
	ents := make([]raft.Entry, n)
	term := m.LogTerm
	for i := range ents {
		c := in.byte()
		if c&3 == 0 {
			term = min(term+1, m.Term)
		}
		if c&0x1f == 0x1f {
			term = relTerm(m.Term, in.byte()) // possibly out of order
		}
		e := &ents[i]
		e.Index, e.Term = m.Index+raft.Index(i)+1, term
		if c&0x60 == 0x60 && c&0x80 != 0 {
			e.Index++ // a gap
		}
		switch t := in.byte(); t % 8 {
		case 4:
			e.Type = raft.EntryNoop
		case 5:
			e.Type = raft.EntryConfig
			e.Data = encodeMembership(membershipTable[(t/8)%uint8(len(membershipTable))])
			continue
		case 6:
			e.Type = raft.EntryConfig
		case 7:
			e.Type = raft.EntryType(t / 8)
		}
		size := int(in.byte())
		if size >= 0xf0 {
			size = int(raft.DefaultMaxMsgBytes) // larger than any limit here
		} else {
			size %= 80
		}
		if size > 16 {
			e.Data = make([]byte, size)
		} else {
			e.Data = in.bytes(size)
		}
	}
	return ents
}

// membershipTable holds the memberships messages and entries carry.
var membershipTable = []raft.Membership{
	{Voters: []raft.NodeID{1, 2, 3}},
	{Voters: []raft.NodeID{1, 2, 3, 4}},
	{Voters: []raft.NodeID{1, 2}},
	{Voters: []raft.NodeID{2, 3}},
	{Voters: []raft.NodeID{1, 2, 3}, Learners: []raft.NodeID{4}},
	{Voters: []raft.NodeID{1, 2, 4}, OutgoingVoters: []raft.NodeID{1, 2, 3}, AutoLeave: true},
	{Voters: []raft.NodeID{2, 3}, Learners: []raft.NodeID{1}},
	{Voters: []raft.NodeID{1, 2, 3}, Witnesses: []raft.NodeID{3}},
	{Voters: []raft.NodeID{1, 1}},
	{},
}

// encodeMembership encodes m as a configuration entry holds it: the
// snapshot metadata encoding of (0, 0, m) without its three-byte header.
func encodeMembership(m raft.Membership) []byte {
	s := raft.SnapshotMeta{Membership: m}
	b, _ := s.MarshalBinary()
	return b[3:]
}

func (r *stepRun) buildSnapshot(term raft.Term) *raft.SnapshotMeta {
	in := &r.in
	idxSel, termSel, memSel := in.byte(), in.byte(), in.byte()
	s := &raft.SnapshotMeta{Index: relIndex(r.a.Status(), idxSel)}
	if t, ok := r.m.termAt(s.Index); ok && termSel%4 != 0 {
		s.Term = t
	} else {
		s.Term = relTerm(term, termSel/4)
	}
	s.Membership = membershipTable[int(memSel)%len(membershipTable)]
	return s
}

// relTerm picks a term near cur.
func relTerm(cur raft.Term, c byte) raft.Term {
	switch c % 8 {
	case 0:
		return cur - raft.Term(min(uint64(cur), 1))
	case 1, 2:
		return cur
	case 3, 4:
		return cur + 1
	case 5:
		return cur + 2
	case 6:
		return 0
	}
	return cur - raft.Term(min(uint64(cur), 2))
}

// relIndex picks an index near the interesting points of the node's log.
func relIndex(st raft.Status, c byte) raft.Index {
	sub := func(i raft.Index, d byte) raft.Index { return i - raft.Index(min(uint64(i), uint64(d))) }
	switch v := c % 16; {
	case v < 6:
		return sub(st.LastIndex, v)
	case v < 9:
		return sub(st.Commit, v-6)
	case v == 9:
		return st.LastIndex + 1
	case v == 10:
		return st.LastIndex + 2
	case v == 11:
		return 0
	case v == 12:
		return math.MaxUint64 - raft.Index(c>>4)
	case v == 13:
		return sub(st.FirstIndex, 1)
	case v == 14:
		return st.Applied
	}
	return raft.Index(c >> 4)
}

// respond builds a peer's natural answer to a message a sent recently.
func (r *stepRun) respond() (raft.Message, bool) {
	c := r.in.byte()
	if len(r.sent) == 0 {
		return raft.Message{}, false
	}
	s := r.sent[int(c)%len(r.sent)]
	reject := c&0x80 != 0
	resp := raft.Message{From: s.To, To: s.From, Term: s.Term}
	switch s.Type {
	case raft.MsgApp:
		resp.Type = raft.MsgAppResp
		resp.Index = s.Index + raft.Index(len(s.Entries))
		if reject {
			resp.Index, resp.Reject = s.Index, true
			resp.RejectHint = s.Index - raft.Index(min(uint64(s.Index), uint64(c>>4&3)))
			resp.LogTerm = min(s.LogTerm, raft.Term(c>>6&1))
		}
	case raft.MsgSnap:
		resp.Type = raft.MsgAppResp
		resp.Index = s.Snapshot.Index
	case raft.MsgHeartbeat:
		resp.Type, resp.Context = raft.MsgHeartbeatResp, s.Context
	case raft.MsgVote:
		resp.Type, resp.Reject = raft.MsgVoteResp, reject
	case raft.MsgPreVote:
		resp.Type, resp.Reject = raft.MsgPreVoteResp, reject
	case raft.MsgAppResp, raft.MsgHeartbeatResp:
		// The node follows s.To: the leader answers with a heartbeat
		// carrying a commit index the node's answer allows.
		resp.Type = raft.MsgHeartbeat
		resp.Commit = s.Index
	case raft.MsgReadIndex:
		// The leader answers with its commit index as the read index.
		resp.Type, resp.Context, resp.Reject = raft.MsgReadIndexResp, s.Context, reject
		resp.Index = r.a.Status().Commit
	case raft.MsgTimeoutNow:
		// The transferee campaigns at once.
		st := r.a.Status()
		resp.Type, resp.Term = raft.MsgVote, s.Term+1
		resp.Index = st.LastIndex
		resp.LogTerm, _ = r.m.termAt(st.LastIndex)
	case raft.MsgProp:
		// The leader appends the forwarded proposal and replicates it.
		st := r.a.Status()
		resp.Type = raft.MsgApp
		resp.Index = st.LastIndex
		resp.LogTerm, _ = r.m.termAt(st.LastIndex)
		resp.Term = max(st.Term, resp.LogTerm)
		resp.Commit = st.Commit
		for i, e := range s.Entries {
			resp.Entries = append(resp.Entries, raft.Entry{Index: st.LastIndex + raft.Index(i) + 1, Term: resp.Term, Data: e.Data})
		}
	default:
		return raft.Message{}, false
	}
	return resp, true
}
