package raft

import (
	"encoding/binary"
	"errors"
	"fmt"
	"math"
)

// MessageType names a Raft RPC or its response.
type MessageType uint8

const (
	// MsgApp is AppendEntries (§5.3): Index and LogTerm locate the entry
	// preceding Entries; Commit is the leader's commit index.
	MsgApp MessageType = iota + 1
	// MsgAppResp answers MsgApp. On success Index is the last index the
	// follower now holds durably from the leader's log. On rejection Index
	// echoes the rejected MsgApp.Index and RejectHint/LogTerm carry the
	// conflict hint: the follower's last index at or below the rejected one
	// whose term is at most the rejected LogTerm, and that term.
	MsgAppResp
	// MsgHeartbeat asserts leadership without entries. Commit is
	// min(leader commit, follower match); Context identifies the round.
	MsgHeartbeat
	// MsgHeartbeatResp answers MsgHeartbeat, echoing Context.
	MsgHeartbeatResp
	// MsgVote is RequestVote (§5.2): Index and LogTerm describe the
	// candidate's last entry.
	MsgVote
	// MsgVoteResp answers MsgVote; Reject false means granted.
	MsgVoteResp
	// MsgPreVote asks whether the receiver would vote for the sender in
	// Term, without either side changing its term (thesis §9.6).
	MsgPreVote
	// MsgPreVoteResp answers MsgPreVote.
	MsgPreVoteResp
	// MsgProp carries a proposal forwarded by a follower to its leader:
	// Entries hold the payloads; their Index and Term are ignored.
	MsgProp
	// MsgSnap is InstallSnapshot (paper §7): Snapshot describes the
	// snapshot whose data the caller shipped alongside. It is answered
	// with a MsgAppResp.
	MsgSnap
	// MsgReadIndex asks the leader for a read index on a follower's behalf
	// (thesis §6.4); Context is a token the follower never uses for
	// another read (readtoken.go), not the caller's read ID.
	MsgReadIndex
	// MsgReadIndexResp answers MsgReadIndex: Index is the read index, or
	// Reject says the leader cannot serve it. Context echoes the token.
	MsgReadIndexResp
	// MsgTimeoutNow tells a leadership transfer's target to campaign at
	// once (thesis §3.10).
	MsgTimeoutNow
	// MsgQuiesce tells followers that the leader goes quiet because the
	// group is idle and fully replicated up to Index; they stop expecting
	// heartbeats until any message or Wake.
	MsgQuiesce
	// msgTypeCount bounds valid types.
	msgTypeCount
)

var msgTypeNames = [...]string{
	MsgApp: "MsgApp", MsgAppResp: "MsgAppResp",
	MsgHeartbeat: "MsgHeartbeat", MsgHeartbeatResp: "MsgHeartbeatResp",
	MsgVote: "MsgVote", MsgVoteResp: "MsgVoteResp",
	MsgPreVote: "MsgPreVote", MsgPreVoteResp: "MsgPreVoteResp",
	MsgProp: "MsgProp", MsgSnap: "MsgSnap",
	MsgReadIndex: "MsgReadIndex", MsgReadIndexResp: "MsgReadIndexResp",
	MsgTimeoutNow: "MsgTimeoutNow", MsgQuiesce: "MsgQuiesce",
}

// String returns the message type's name (such as "MsgApp"), as used in
// logs and traces.
func (t MessageType) String() string {
	if t > 0 && t < msgTypeCount {
		return msgTypeNames[t]
	}
	return fmt.Sprintf("MessageType(%d)", uint8(t))
}

// IsResponse reports whether t answers a request.
func (t MessageType) IsResponse() bool {
	switch t {
	case MsgAppResp, MsgHeartbeatResp, MsgVoteResp, MsgPreVoteResp, MsgReadIndexResp:
		return true
	}
	return false
}

// Message is the one message type of the protocol; which fields matter
// depends on Type (see the MessageType constants).
type Message struct {
	// Type says which RPC or response this is.
	Type MessageType
	// From is the sender.
	From NodeID
	// To is the receiver: the transport delivers the message to this node.
	To NodeID
	// Term is the sender's term (§5.1): a receiver with an older term
	// adopts it, one with a newer term rejects or ignores the message. It
	// is 0 on a forwarded MsgProp, which is not bound to a term.
	Term Term
	// LogTerm is the term of the entry at Index: the entry preceding
	// Entries on MsgApp, the candidate's last entry on votes, the hint's
	// term on a rejected MsgAppResp.
	LogTerm Term
	// Index is a log index whose meaning depends on Type (see the
	// MessageType constants).
	Index Index
	// Commit is the commit index the leader passes on: on MsgApp and
	// MsgQuiesce its own, on MsgHeartbeat capped at what the receiver is
	// known to hold.
	Commit Index
	// Entries are the log entries carried by MsgApp, or the payloads of a
	// forwarded MsgProp.
	Entries []Entry
	// Reject marks a negative response.
	Reject bool
	// Transfer marks a MsgVote or MsgPreVote of a campaign the leader asked
	// for (leadership transfer): receivers vote even within a leader lease.
	Transfer bool
	// RejectHint is the conflict hint index of a rejected MsgAppResp.
	RejectHint Index
	// Context correlates heartbeats with their responses.
	Context uint64
	// Snapshot is the snapshot's metadata, on MsgSnap only. It is shared,
	// never modified.
	Snapshot *SnapshotMeta
}

// String describes the message in one line for logs and test failures;
// entries are counted, not shown.
func (m Message) String() string {
	s := fmt.Sprintf("%s %d->%d term=%d logterm=%d index=%d commit=%d entries=%d reject=%t hint=%d ctx=%d",
		m.Type, m.From, m.To, m.Term, m.LogTerm, m.Index, m.Commit, len(m.Entries), m.Reject, m.RejectHint, m.Context)
	if m.Transfer {
		s += " transfer"
	}
	if m.Snapshot != nil {
		s += fmt.Sprintf(" snapshot=(%d,%d)", m.Snapshot.Index, m.Snapshot.Term)
	}
	return s
}

// validate checks the message's shape, independent of any node's state:
// known type, sender and receiver set, entries only where allowed, entries
// contiguous after Index with terms that never decrease and never exceed the
// message's term.
func (m *Message) validate() error {
	if m.Type == 0 || m.Type >= msgTypeCount {
		return fmt.Errorf("%w: unknown type %d", ErrInvalidMessage, m.Type)
	}
	if m.From == None || m.To == None {
		return fmt.Errorf("%w: %s with sender %d and receiver %d", ErrInvalidMessage, m.Type, m.From, m.To)
	}
	if m.From == m.To {
		return fmt.Errorf("%w: %s from node %d to itself", ErrInvalidMessage, m.Type, m.From)
	}
	if m.Term == 0 && m.Type != MsgProp {
		return fmt.Errorf("%w: %s with term 0", ErrInvalidMessage, m.Type)
	}
	if len(m.Entries) > 0 && m.Type != MsgApp && m.Type != MsgProp {
		return fmt.Errorf("%w: %s carries entries", ErrInvalidMessage, m.Type)
	}
	if m.Transfer && m.Type != MsgVote && m.Type != MsgPreVote {
		return fmt.Errorf("%w: %s with the transfer flag", ErrInvalidMessage, m.Type)
	}
	if (m.Snapshot != nil) != (m.Type == MsgSnap) {
		return fmt.Errorf("%w: %s with snapshot metadata %t", ErrInvalidMessage, m.Type, m.Snapshot != nil)
	}
	switch m.Type {
	case MsgApp:
		return m.validateAppend()
	case MsgProp:
		for i := range m.Entries {
			if m.Entries[i].Type != EntryNormal {
				return fmt.Errorf("%w: forwarded proposal of type %s", ErrInvalidMessage, m.Entries[i].Type)
			}
		}
	case MsgVote, MsgPreVote:
		if m.LogTerm > m.Term || (m.Index == 0) != (m.LogTerm == 0) {
			return fmt.Errorf("%w: %s last entry (index %d, term %d) inconsistent with term %d", ErrInvalidMessage, m.Type, m.Index, m.LogTerm, m.Term)
		}
	case MsgSnap:
		s := m.Snapshot
		if s.Index == 0 || s.Index > maxIndex || s.Term == 0 || s.Term > m.Term {
			return fmt.Errorf("%w: MsgSnap snapshot (index %d, term %d) invalid for term %d", ErrInvalidMessage, s.Index, s.Term, m.Term)
		}
		if err := s.Membership.Validate(); err != nil {
			return fmt.Errorf("%w: MsgSnap membership: %v", ErrInvalidMessage, err)
		}
	case MsgAppResp:
		if m.Reject && (m.RejectHint > m.Index || m.LogTerm > m.Term) {
			return fmt.Errorf("%w: rejection hint (index %d, term %d) beyond rejected index %d or term %d", ErrInvalidMessage, m.RejectHint, m.LogTerm, m.Index, m.Term)
		}
	}
	return nil
}

// maxIndex bounds the indexes Step accepts. A log grows one entry at a
// time, so none comes near it; a hostile snapshot or append beyond it would
// make the node's next index (last+1) wrap around.
const maxIndex = Index(math.MaxUint64 >> 1)

func (m *Message) validateAppend() error {
	if m.LogTerm > m.Term || (m.Index == 0 && m.LogTerm != 0) {
		return fmt.Errorf("%w: MsgApp previous entry (index %d, term %d) inconsistent with term %d", ErrInvalidMessage, m.Index, m.LogTerm, m.Term)
	}
	prevTerm := m.LogTerm
	for i := range m.Entries {
		e := &m.Entries[i]
		if e.Index != m.Index+Index(i)+1 {
			return fmt.Errorf("%w: MsgApp entry %d has index %d, want %d", ErrInvalidMessage, i, e.Index, m.Index+Index(i)+1)
		}
		if e.Term == 0 || e.Term < prevTerm || e.Term > m.Term {
			return fmt.Errorf("%w: MsgApp entry %d has term %d outside [%d, %d]", ErrInvalidMessage, e.Index, e.Term, prevTerm, m.Term)
		}
		if e.Type >= entryTypeCount {
			return fmt.Errorf("%w: MsgApp entry %d has unknown type %d", ErrInvalidMessage, e.Index, e.Type)
		}
		if e.Type == EntryConfig {
			if _, err := decodeMembership(e.Data); err != nil {
				return fmt.Errorf("%w: MsgApp configuration entry %d: %v", ErrInvalidMessage, e.Index, err)
			}
		}
		prevTerm = e.Term
	}
	if last := m.Index + Index(len(m.Entries)); last < m.Index || last > maxIndex {
		return fmt.Errorf("%w: MsgApp reaches index %d, beyond any log", ErrInvalidMessage, m.Index+Index(len(m.Entries)))
	}
	return nil
}

// Binary encoding.
//
// A message is a version byte and a type byte, then the fields as unsigned
// varints in declaration order (From, To, Term, LogTerm, Index, Commit), a
// flags byte, RejectHint and Context, then the entry count and each entry as
// term (varint), type (byte), payload length (varint) and payload, then, if
// the snapshot flag is set, the snapshot's index, term and membership. Entry
// indexes are not sent: they follow from Index. Every value has exactly one
// accepted encoding. The layout is documented in docs/design.md.

// codecVersion is the first byte of every encoded message.
const codecVersion = 1

const (
	flagReject   = 1
	flagSnapshot = 2
	flagTransfer = 4
)

// DecodeLimits bound what Decode accepts, so a hostile length field cannot
// make it allocate or hold more than the caller allows.
type DecodeLimits struct {
	// MaxEntries bounds the entries in one message. Default 65536.
	MaxEntries int
	// MaxEntryBytes bounds one entry's payload. Default 1 MiB.
	MaxEntryBytes int
	// MaxMessageBytes bounds the encoded message. Default 64 MiB.
	MaxMessageBytes int
}

// DefaultDecodeLimits are the limits Decode uses for zero fields.
var DefaultDecodeLimits = DecodeLimits{MaxEntries: 1 << 16, MaxEntryBytes: DefaultMaxMsgBytes, MaxMessageBytes: 64 << 20}

func (l DecodeLimits) withDefaults() DecodeLimits {
	if l.MaxEntries <= 0 {
		l.MaxEntries = DefaultDecodeLimits.MaxEntries
	}
	if l.MaxEntryBytes <= 0 {
		l.MaxEntryBytes = DefaultDecodeLimits.MaxEntryBytes
	}
	if l.MaxMessageBytes <= 0 {
		l.MaxMessageBytes = DefaultDecodeLimits.MaxMessageBytes
	}
	return l
}

// ErrDecode wraps every decoding failure.
var ErrDecode = errors.New("raft: cannot decode message")

// EncodedSize returns the exact length of m's encoding.
func (m *Message) EncodedSize() int {
	n := 2 + uvarintLen(uint64(m.From)) + uvarintLen(uint64(m.To)) +
		uvarintLen(uint64(m.Term)) + uvarintLen(uint64(m.LogTerm)) + uvarintLen(uint64(m.Index)) +
		uvarintLen(uint64(m.Commit)) + 1 + uvarintLen(uint64(m.RejectHint)) + uvarintLen(m.Context) +
		uvarintLen(uint64(len(m.Entries)))
	for i := range m.Entries {
		e := &m.Entries[i]
		n += uvarintLen(uint64(e.Term)) + 1 + uvarintLen(uint64(len(e.Data))) + len(e.Data)
	}
	if s := m.Snapshot; s != nil {
		n += uvarintLen(uint64(s.Index)) + uvarintLen(uint64(s.Term)) + membershipEncodedSize(&s.Membership)
	}
	return n
}

// AppendBinary appends m's encoding to b and returns the extended slice. It
// allocates only if b lacks capacity. It implements encoding.BinaryAppender.
func (m *Message) AppendBinary(b []byte) ([]byte, error) {
	b = append(b, codecVersion, byte(m.Type))
	b = binary.AppendUvarint(b, uint64(m.From))
	b = binary.AppendUvarint(b, uint64(m.To))
	b = binary.AppendUvarint(b, uint64(m.Term))
	b = binary.AppendUvarint(b, uint64(m.LogTerm))
	b = binary.AppendUvarint(b, uint64(m.Index))
	b = binary.AppendUvarint(b, uint64(m.Commit))
	var flags byte
	if m.Reject {
		flags |= flagReject
	}
	if m.Snapshot != nil {
		flags |= flagSnapshot
	}
	if m.Transfer {
		flags |= flagTransfer
	}
	b = append(b, flags)
	b = binary.AppendUvarint(b, uint64(m.RejectHint))
	b = binary.AppendUvarint(b, m.Context)
	b = binary.AppendUvarint(b, uint64(len(m.Entries)))
	for i := range m.Entries {
		e := &m.Entries[i]
		b = binary.AppendUvarint(b, uint64(e.Term))
		b = append(b, byte(e.Type))
		b = binary.AppendUvarint(b, uint64(len(e.Data)))
		b = append(b, e.Data...)
	}
	if s := m.Snapshot; s != nil {
		b = binary.AppendUvarint(b, uint64(s.Index))
		b = binary.AppendUvarint(b, uint64(s.Term))
		b = appendMembership(b, &s.Membership)
	}
	return b, nil
}

// MarshalBinary returns m's encoding in a new slice.
func (m *Message) MarshalBinary() ([]byte, error) {
	return m.AppendBinary(make([]byte, 0, m.EncodedSize()))
}

// UnmarshalBinary decodes b into m with DefaultDecodeLimits. See Decode.
func (m *Message) UnmarshalBinary(b []byte) error {
	return Decode(b, m, DecodeLimits{})
}

// Decode decodes b into m, rejecting truncated, oversized, trailing or
// inconsistent bytes with an error wrapping ErrDecode; on error m is left
// unchanged. Entry payloads alias b (no copy): the caller must not reuse b
// while the message or the node holds them. Decode checks encoding only;
// Node.Step checks the protocol-level shape as well.
func Decode(b []byte, m *Message, lim DecodeLimits) error {
	lim = lim.withDefaults()
	if len(b) > lim.MaxMessageBytes {
		return fmt.Errorf("%w: %d bytes exceeds limit %d", ErrDecode, len(b), lim.MaxMessageBytes)
	}
	d := decoder{buf: b}
	if v := d.byte(); v != codecVersion {
		if d.err != nil {
			return d.err
		}
		return fmt.Errorf("%w: unknown version %d", ErrDecode, v)
	}
	var out Message
	out.Type = MessageType(d.small("type", uint64(msgTypeCount-1)))
	if out.Type == 0 && d.err == nil {
		d.err = fmt.Errorf("%w: unknown type 0", ErrDecode)
	}
	out.From = NodeID(d.uvarint())
	out.To = NodeID(d.uvarint())
	out.Term = Term(d.uvarint())
	out.LogTerm = Term(d.uvarint())
	out.Index = Index(d.uvarint())
	out.Commit = Index(d.uvarint())
	flags := d.byte()
	if flags&^(flagReject|flagSnapshot|flagTransfer) != 0 && d.err == nil {
		d.err = fmt.Errorf("%w: unknown flags %#x", ErrDecode, flags)
	}
	out.Reject = flags&flagReject != 0
	out.Transfer = flags&flagTransfer != 0
	out.RejectHint = Index(d.uvarint())
	out.Context = d.uvarint()
	n := d.uvarint()
	if d.err == nil && n > uint64(lim.MaxEntries) {
		d.err = fmt.Errorf("%w: %d entries exceeds limit %d", ErrDecode, n, lim.MaxEntries)
	}
	// Every entry takes at least three bytes, so a count larger than the
	// remaining bytes allow is a lie: refuse it before allocating.
	if d.err == nil && n > uint64(len(d.buf)-d.off)/3 {
		d.err = fmt.Errorf("%w: %d entries cannot fit in %d bytes", ErrDecode, n, len(d.buf)-d.off)
	}
	if d.err == nil && n > 0 {
		out.Entries = make([]Entry, n)
		for i := range out.Entries {
			e := &out.Entries[i]
			e.Index = out.Index + Index(i) + 1
			e.Term = Term(d.uvarint())
			e.Type = EntryType(d.small("entry type", uint64(entryTypeCount-1)))
			size := d.uvarint()
			if d.err == nil && size > uint64(lim.MaxEntryBytes) {
				d.err = fmt.Errorf("%w: entry of %d bytes exceeds limit %d", ErrDecode, size, lim.MaxEntryBytes)
			}
			e.Data = d.bytes(size)
			if d.err != nil {
				break
			}
		}
	}
	if flags&flagSnapshot != 0 && d.err == nil {
		s := &SnapshotMeta{Index: Index(d.uvarint()), Term: Term(d.uvarint())}
		s.Membership = d.membership()
		out.Snapshot = s
	}
	if d.err == nil && d.off != len(d.buf) {
		d.err = fmt.Errorf("%w: %d trailing bytes", ErrDecode, len(d.buf)-d.off)
	}
	if d.err != nil {
		return d.err
	}
	*m = out
	return nil
}

// decoder reads varints and bytes from buf, remembering the first error so
// callers can check once.
type decoder struct {
	buf []byte
	off int
	err error
}

func (d *decoder) byte() byte {
	if d.err != nil {
		return 0
	}
	if d.off >= len(d.buf) {
		d.err = fmt.Errorf("%w: truncated at byte %d", ErrDecode, d.off)
		return 0
	}
	c := d.buf[d.off]
	d.off++
	return c
}

func (d *decoder) uvarint() uint64 {
	if d.err != nil {
		return 0
	}
	v, n := binary.Uvarint(d.buf[d.off:])
	if n <= 0 {
		d.err = fmt.Errorf("%w: bad varint at byte %d", ErrDecode, d.off)
		return 0
	}
	// Reject non-minimal encodings so that every accepted message has
	// exactly one encoding.
	if n != uvarintLen(v) {
		d.err = fmt.Errorf("%w: non-minimal varint at byte %d", ErrDecode, d.off)
		return 0
	}
	d.off += n
	return v
}

// small reads a one-byte enumeration value no larger than maxValue.
func (d *decoder) small(what string, maxValue uint64) uint64 {
	v := uint64(d.byte())
	if d.err == nil && v > maxValue {
		d.err = fmt.Errorf("%w: %s %d out of range", ErrDecode, what, v)
	}
	return v
}

func (d *decoder) bytes(n uint64) []byte {
	if d.err != nil {
		return nil
	}
	if n > uint64(len(d.buf)-d.off) {
		d.err = fmt.Errorf("%w: payload of %d bytes truncated at byte %d", ErrDecode, n, d.off)
		return nil
	}
	if n == 0 {
		return nil
	}
	b := d.buf[d.off : d.off+int(n) : d.off+int(n)]
	d.off += int(n)
	return b
}

func uvarintLen(v uint64) int {
	n := 1
	for v >= 0x80 {
		v >>= 7
		n++
	}
	return n
}
