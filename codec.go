package raft

import (
	"encoding/binary"
	"fmt"
)

// Storage codecs.
//
// An embedder writes what persist actions carry — entries, hard states and
// snapshot metadata — to its own storage. These codecs give each a compact,
// versioned binary form in the style of the message codec (message.go):
//
//	Entry:        version, Index, Term (uvarints), Type (byte), payload length (uvarint), payload
//	HardState:    version, Term, Vote, Commit (uvarints), then ReadTokenLimit
//	              (uvarint) only when it is not zero, so that hard states
//	              written before it existed still decode
//	SnapshotMeta: version, Index, Term (uvarints), then the Membership as a
//	              configuration entry holds it (membership.go): its own
//	              version byte, a flags byte (AutoLeave), and the Voters,
//	              OutgoingVoters, Learners and Witnesses lists, each a count
//	              and the IDs (uvarints)
//
// Every value has exactly one accepted encoding (varints must be minimal,
// nothing may trail), so an accepted input re-encodes to the identical bytes.
// Decoders check encoding only — lengths, ranges of enumerations, limits —
// not protocol meaning: NewNode validates the PersistentState built from
// what was read. Every length is checked against its limit and against the
// bytes remaining before anything is allocated. Decoded payloads alias the
// input. Failures wrap ErrDecode and leave the destination unchanged.

// storageCodecVersion is the first byte of every encoded entry, hard state
// and snapshot metadata. It is versioned separately from messages so that
// the wire and the disk formats can evolve independently.
const storageCodecVersion = 1

// EncodedSize returns the exact length of e's encoding.
func (e *Entry) EncodedSize() int {
	return 1 + uvarintLen(uint64(e.Index)) + uvarintLen(uint64(e.Term)) + 1 +
		uvarintLen(uint64(len(e.Data))) + len(e.Data)
}

// AppendBinary appends e's encoding to b and returns the extended slice. It
// allocates only if b lacks capacity. It implements encoding.BinaryAppender.
func (e *Entry) AppendBinary(b []byte) ([]byte, error) {
	b = append(b, storageCodecVersion)
	b = binary.AppendUvarint(b, uint64(e.Index))
	b = binary.AppendUvarint(b, uint64(e.Term))
	b = append(b, byte(e.Type))
	b = binary.AppendUvarint(b, uint64(len(e.Data)))
	return append(b, e.Data...), nil
}

// MarshalBinary returns e's encoding in a new slice.
func (e *Entry) MarshalBinary() ([]byte, error) {
	return e.AppendBinary(make([]byte, 0, e.EncodedSize()))
}

// UnmarshalBinary decodes b into e with DefaultDecodeLimits. See
// DecodeEntry.
func (e *Entry) UnmarshalBinary(b []byte) error {
	return DecodeEntry(b, e, DecodeLimits{})
}

// DecodeEntry decodes one entry encoded by Entry.AppendBinary. It rejects
// truncated, trailing or non-minimal bytes, an unknown entry type, and a
// payload larger than lim.MaxEntryBytes (zero fields of lim select
// DefaultDecodeLimits) with an error wrapping ErrDecode; on error e is left
// unchanged. It does not allocate: e.Data aliases b (nil for an empty
// payload), so the caller must not reuse b while the entry is in use.
func DecodeEntry(b []byte, e *Entry, lim DecodeLimits) error {
	lim = lim.withDefaults()
	d := decoder{buf: b}
	d.version("entry", storageCodecVersion)
	var out Entry
	out.Index = Index(d.uvarint())
	out.Term = Term(d.uvarint())
	out.Type = EntryType(d.small("entry type", uint64(entryTypeCount-1)))
	size := d.uvarint()
	if d.err == nil && size > uint64(lim.MaxEntryBytes) {
		d.err = fmt.Errorf("%w: entry of %d bytes exceeds limit %d", ErrDecode, size, lim.MaxEntryBytes)
	}
	out.Data = d.bytes(size)
	if err := d.finish(); err != nil {
		return err
	}
	*e = out
	return nil
}

// hardStateMaxSize is the longest encoding of a HardState: a version byte
// and four 10-byte varints.
const hardStateMaxSize = 1 + 4*binary.MaxVarintLen64

// EncodedSize returns the exact length of h's encoding.
func (h *HardState) EncodedSize() int {
	size := 1 + uvarintLen(uint64(h.Term)) + uvarintLen(uint64(h.Vote)) + uvarintLen(uint64(h.Commit))
	if h.ReadTokenLimit != 0 {
		size += uvarintLen(h.ReadTokenLimit)
	}
	return size
}

// AppendBinary appends h's encoding to b and returns the extended slice. It
// allocates only if b lacks capacity. It implements encoding.BinaryAppender.
func (h *HardState) AppendBinary(b []byte) ([]byte, error) {
	b = append(b, storageCodecVersion)
	b = binary.AppendUvarint(b, uint64(h.Term))
	b = binary.AppendUvarint(b, uint64(h.Vote))
	b = binary.AppendUvarint(b, uint64(h.Commit))
	if h.ReadTokenLimit != 0 {
		b = binary.AppendUvarint(b, h.ReadTokenLimit)
	}
	return b, nil
}

// MarshalBinary returns h's encoding in a new slice.
func (h *HardState) MarshalBinary() ([]byte, error) {
	return h.AppendBinary(make([]byte, 0, h.EncodedSize()))
}

// UnmarshalBinary decodes b into h. See DecodeHardState.
func (h *HardState) UnmarshalBinary(b []byte) error {
	return DecodeHardState(b, h)
}

// DecodeHardState decodes a hard state encoded by HardState.AppendBinary,
// rejecting truncated, trailing or non-minimal bytes with an error wrapping
// ErrDecode; on error h is left unchanged. The encoding has a fixed upper
// size, so no limits apply, and decoding does not allocate.
func DecodeHardState(b []byte, h *HardState) error {
	if len(b) > hardStateMaxSize {
		return fmt.Errorf("%w: hard state of %d bytes exceeds %d", ErrDecode, len(b), hardStateMaxSize)
	}
	d := decoder{buf: b}
	d.version("hard state", storageCodecVersion)
	var out HardState
	out.Term = Term(d.uvarint())
	out.Vote = NodeID(d.uvarint())
	out.Commit = Index(d.uvarint())
	if d.err == nil && d.off < len(d.buf) {
		out.ReadTokenLimit = d.uvarint()
		if d.err == nil && out.ReadTokenLimit == 0 {
			d.err = fmt.Errorf("%w: hard state has an explicit zero read token limit", ErrDecode)
		}
	}
	if err := d.finish(); err != nil {
		return err
	}
	*h = out
	return nil
}

// EncodedSize returns the exact length of s's encoding.
func (s *SnapshotMeta) EncodedSize() int {
	return 1 + uvarintLen(uint64(s.Index)) + uvarintLen(uint64(s.Term)) + membershipEncodedSize(&s.Membership)
}

// AppendBinary appends s's encoding to b and returns the extended slice. It
// allocates only if b lacks capacity. It implements encoding.BinaryAppender.
// The membership is encoded as in a configuration entry.
func (s *SnapshotMeta) AppendBinary(b []byte) ([]byte, error) {
	b = append(b, storageCodecVersion)
	b = binary.AppendUvarint(b, uint64(s.Index))
	b = binary.AppendUvarint(b, uint64(s.Term))
	return appendMembership(b, &s.Membership), nil
}

// MarshalBinary returns s's encoding in a new slice.
func (s *SnapshotMeta) MarshalBinary() ([]byte, error) {
	return s.AppendBinary(make([]byte, 0, s.EncodedSize()))
}

// UnmarshalBinary decodes b into s. See DecodeSnapshotMeta.
func (s *SnapshotMeta) UnmarshalBinary(b []byte) error {
	return DecodeSnapshotMeta(b, s)
}

// DecodeSnapshotMeta decodes snapshot metadata encoded by
// SnapshotMeta.AppendBinary. It rejects truncated, trailing or non-minimal
// bytes, unknown flags, and member lists longer than MaxMembers (checked
// before allocating) with an error wrapping ErrDecode; on error s is left
// unchanged. It does not check the membership's meaning (zero or repeated
// IDs, an empty voter set — the zero SnapshotMeta of a node that never had
// a snapshot is valid input): NewNode validates the state it is given. An
// empty member list decodes as nil.
func DecodeSnapshotMeta(b []byte, s *SnapshotMeta) error {
	d := decoder{buf: b}
	d.version("snapshot metadata", storageCodecVersion)
	var out SnapshotMeta
	out.Index = Index(d.uvarint())
	out.Term = Term(d.uvarint())
	if d.err == nil {
		out.Membership = d.membership()
	}
	if err := d.finish(); err != nil {
		return err
	}
	*s = out
	return nil
}

// version reads the leading version byte and checks it.
func (d *decoder) version(what string, want byte) {
	v := d.byte()
	if d.err == nil && v != want {
		d.err = fmt.Errorf("%w: %s has unknown version %d", ErrDecode, what, v)
	}
}

// finish returns the first error, or an error if bytes trail the value.
func (d *decoder) finish() error {
	if d.err == nil && d.off != len(d.buf) {
		d.err = fmt.Errorf("%w: %d trailing bytes", ErrDecode, len(d.buf)-d.off)
	}
	return d.err
}

// DecodeLimits returns limits that accept every message a peer running
// the same Config sends, and little more: entry payloads up to
// MaxEntryBytes, as many entries as fit in MaxMsgBytes (each is counted at
// its payload plus a fixed overhead, as flow control does), and an encoded
// size covering those entries, their framing and the message header. Use it
// to decode what arrives from peers when Config's sizes differ from the
// defaults; DefaultDecodeLimits accept everything a default Config sends.
func (c Config) DecodeLimits() DecodeLimits {
	d := c.withDefaults()
	// An append carries either one entry of at most MaxEntryBytes, or
	// several whose sizes (payload+entryOverhead) sum to at most
	// MaxMsgBytes; each entry's framing is at most 21 bytes (term, type,
	// length), the header at most 93. Doubling MaxMsgBytes covers both.
	// A configuration entry may exceed MaxEntryBytes (see appendConfig)
	// but never maxMembershipBytes.
	msgBytes := max(d.MaxMsgBytes, maxMembershipBytes)
	maxBytes := maxInt
	if msgBytes < (maxInt-256)/2 {
		maxBytes = 2*msgBytes + 256
	}
	return DecodeLimits{
		MaxEntries:      int(min(max(1, d.MaxMsgBytes/entryOverhead), maxInt)),
		MaxEntryBytes:   int(min(max(d.MaxEntryBytes, maxMembershipBytes), maxInt)),
		MaxMessageBytes: int(maxBytes),
	}
}

// maxInt is the largest int, as a uint64.
const maxInt = uint64(^uint(0) >> 1)
