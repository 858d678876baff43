package raft

import (
	"bytes"
	"errors"
	"math"
	"reflect"
	"runtime"
	"testing"
	"unsafe"
)

// Tests of the storage codecs (codec.go): round trips, one case per class
// of malformed input, and bounded allocation. The fuzz targets in fuzz/
// explore the same properties on arbitrary bytes.

func TestEntryCodecRoundTrip(t *testing.T) {
	entries := []Entry{
		{},
		{Index: 1, Term: 1, Type: EntryNoop},
		{Index: 7, Term: 3, Type: EntryNormal, Data: []byte("hello")},
		{Index: 9, Term: 4, Type: EntryConfig, Data: encodeMembership(Membership{Voters: []NodeID{1, 2, 3}})},
		{Index: math.MaxUint64, Term: math.MaxUint64, Type: EntryNormal, Data: bytes.Repeat([]byte{0xff}, 300)},
	}
	for _, e := range entries {
		b, err := e.MarshalBinary()
		if err != nil {
			t.Fatalf("marshal %+v: %v", e, err)
		}
		if len(b) != e.EncodedSize() {
			t.Errorf("%+v: EncodedSize %d, encoding has %d bytes", e, e.EncodedSize(), len(b))
		}
		var got Entry
		if err := DecodeEntry(b, &got, DecodeLimits{}); err != nil {
			t.Fatalf("decode %+v: %v", e, err)
		}
		if !reflect.DeepEqual(got, e) {
			t.Errorf("round trip: got %+v, want %+v", got, e)
		}
		if len(got.Data) > 0 && unsafe.SliceData(got.Data) != &b[len(b)-len(got.Data)] {
			t.Errorf("%+v: payload was copied, want it to alias the input", e)
		}
		again, _ := got.AppendBinary([]byte("prefix"))
		if !bytes.Equal(again[len("prefix"):], b) {
			t.Errorf("%+v: re-encoding after a prefix differs", e)
		}
		var viaMethod Entry
		if err := viaMethod.UnmarshalBinary(b); err != nil || !reflect.DeepEqual(viaMethod, e) {
			t.Errorf("UnmarshalBinary: %+v, %v", viaMethod, err)
		}
	}
}

func TestHardStateCodecRoundTrip(t *testing.T) {
	for _, h := range []HardState{
		{},
		{Term: 1, Vote: 2, Commit: 3},
		{Term: 1 << 40, Vote: None, Commit: 127},
		{Term: math.MaxUint64, Vote: math.MaxUint64, Commit: math.MaxUint64},
		{Term: 1, Vote: 2, Commit: 3, ReadTokenLimit: readTokenBlock},
		{Term: math.MaxUint64, Vote: math.MaxUint64, Commit: math.MaxUint64, ReadTokenLimit: math.MaxUint64},
	} {
		b, err := h.MarshalBinary()
		if err != nil {
			t.Fatalf("marshal %+v: %v", h, err)
		}
		if len(b) != h.EncodedSize() || len(b) > hardStateMaxSize {
			t.Errorf("%+v: EncodedSize %d, encoding has %d bytes", h, h.EncodedSize(), len(b))
		}
		var got HardState
		if err := got.UnmarshalBinary(b); err != nil {
			t.Fatalf("decode %+v: %v", h, err)
		}
		if got != h {
			t.Errorf("round trip: got %+v, want %+v", got, h)
		}
	}
}

func TestSnapshotMetaCodecRoundTrip(t *testing.T) {
	many := make([]NodeID, MaxMembers)
	for i := range many {
		many[i] = NodeID(math.MaxUint64 - uint64(i))
	}
	for _, s := range []SnapshotMeta{
		{},
		{Membership: Membership{Voters: []NodeID{1, 2, 3}}},
		{Index: 100, Term: 5, Membership: Membership{Voters: []NodeID{1, 2, 4}, OutgoingVoters: []NodeID{1, 2, 3}, Learners: []NodeID{9}, Witnesses: []NodeID{4}, AutoLeave: true}},
		{Index: math.MaxUint64, Term: math.MaxUint64, Membership: Membership{Voters: many, OutgoingVoters: many}},
	} {
		b, err := s.MarshalBinary()
		if err != nil {
			t.Fatalf("marshal %+v: %v", s, err)
		}
		if len(b) != s.EncodedSize() {
			t.Errorf("%+v: EncodedSize %d, encoding has %d bytes", s, s.EncodedSize(), len(b))
		}
		var got SnapshotMeta
		if err := got.UnmarshalBinary(b); err != nil {
			t.Fatalf("decode %+v: %v", s, err)
		}
		if !reflect.DeepEqual(got, s) {
			t.Errorf("round trip: got %+v, want %+v", got, s)
		}
	}
}

// TestSnapshotMetaEmptyListsDecodeNil: nil and empty lists share one
// encoding, which decodes as nil.
func TestSnapshotMetaEmptyListsDecodeNil(t *testing.T) {
	s := SnapshotMeta{Membership: Membership{Voters: []NodeID{1}, Learners: []NodeID{}}}
	b, _ := s.MarshalBinary()
	var got SnapshotMeta
	if err := DecodeSnapshotMeta(b, &got); err != nil {
		t.Fatal(err)
	}
	if got.Membership.Learners != nil || got.Membership.OutgoingVoters != nil {
		t.Errorf("empty lists decoded as %#v, want nil", got.Membership)
	}
}

// malformed is one class of bad input for one codec.
type malformed struct {
	name string
	b    []byte
	lim  DecodeLimits
}

// uv is a varint, for building inputs by hand.
func uv(v uint64) []byte { return appendUvarintForTest(nil, v) }

func appendUvarintForTest(b []byte, v uint64) []byte {
	for v >= 0x80 {
		b = append(b, byte(v)|0x80)
		v >>= 7
	}
	return append(b, byte(v))
}

func cat(parts ...[]byte) []byte { return bytes.Join(parts, nil) }

func TestDecodeEntryRejects(t *testing.T) {
	valid, _ := (&Entry{Index: 5, Term: 2, Type: EntryNormal, Data: []byte("abc")}).MarshalBinary()
	cases := []malformed{
		{name: "empty", b: nil},
		{name: "unknown version", b: cat([]byte{2}, valid[1:])},
		{name: "version zero", b: cat([]byte{0}, valid[1:])},
		{name: "trailing byte", b: cat(valid, []byte{0})},
		{name: "non-minimal index", b: cat([]byte{1, 0x85, 0x00}, valid[2:])},
		{name: "non-minimal length", b: []byte{1, 5, 2, 0, 0x83, 0x00, 'a', 'b', 'c'}},
		{name: "varint overflow", b: cat([]byte{1}, bytes.Repeat([]byte{0xff}, 10), []byte{1, 2, 0, 0})},
		{name: "unknown entry type", b: []byte{1, 5, 2, byte(entryTypeCount), 0}},
		{name: "entry type 255", b: []byte{1, 5, 2, 255, 0}},
		{name: "payload beyond input", b: []byte{1, 5, 2, 0, 4, 'a', 'b', 'c'}},
		{name: "huge payload length", b: cat([]byte{1, 5, 2, 0}, uv(math.MaxUint64))},
		{name: "payload over limit", b: valid, lim: DecodeLimits{MaxEntryBytes: 2}},
	}
	for i := 1; i < len(valid); i++ {
		cases = append(cases, malformed{name: "truncated", b: valid[:i]})
	}
	for _, c := range cases {
		sentinel := Entry{Index: 42, Data: []byte("untouched")}
		e := sentinel
		err := DecodeEntry(c.b, &e, c.lim)
		if !errors.Is(err, ErrDecode) {
			t.Errorf("%s (% x): err %v, want ErrDecode", c.name, c.b, err)
		}
		if !reflect.DeepEqual(e, sentinel) {
			t.Errorf("%s: destination changed to %+v", c.name, e)
		}
	}
}

// A hard state without read tokens encodes as it did before
// ReadTokenLimit existed, so storage written by an older version still
// decodes, to a zero limit.
func TestHardStateCodecWithoutReadTokens(t *testing.T) {
	old := []byte{storageCodecVersion, 5, 2, 9}
	var h HardState
	if err := DecodeHardState(old, &h); err != nil {
		t.Fatal(err)
	}
	if want := (HardState{Term: 5, Vote: 2, Commit: 9}); h != want {
		t.Fatalf("decoded %+v, want %+v", h, want)
	}
	if b, _ := h.MarshalBinary(); !bytes.Equal(b, old) {
		t.Errorf("re-encoded as % x, want % x", b, old)
	}
}

func TestDecodeHardStateRejects(t *testing.T) {
	valid, _ := (&HardState{Term: 300, Vote: 2, Commit: 9}).MarshalBinary()
	cases := []malformed{
		{name: "empty", b: nil},
		{name: "unknown version", b: cat([]byte{9}, valid[1:])},
		{name: "trailing byte", b: cat(valid, []byte{0})},
		{name: "non-minimal term", b: []byte{1, 0x80, 0x00, 2, 9}},
		{name: "varint overflow", b: cat([]byte{1}, bytes.Repeat([]byte{0xff}, 10), []byte{1, 2, 9})},
		{name: "longer than any hard state", b: make([]byte, hardStateMaxSize+1)},
		{name: "explicit zero read token limit", b: cat(valid, []byte{0})},
		{name: "trailing byte after the read token limit", b: cat(valid, []byte{5, 0})},
	}
	for i := 1; i < len(valid); i++ {
		cases = append(cases, malformed{name: "truncated", b: valid[:i]})
	}
	for _, c := range cases {
		sentinel := HardState{Term: 7, Vote: 7, Commit: 7}
		h := sentinel
		if err := DecodeHardState(c.b, &h); !errors.Is(err, ErrDecode) {
			t.Errorf("%s (% x): err %v, want ErrDecode", c.name, c.b, err)
		}
		if h != sentinel {
			t.Errorf("%s: destination changed to %+v", c.name, h)
		}
	}
}

func TestDecodeSnapshotMetaRejects(t *testing.T) {
	valid, _ := (&SnapshotMeta{Index: 10, Term: 2, Membership: Membership{Voters: []NodeID{1, 2, 3}, Learners: []NodeID{4}}}).MarshalBinary()
	// header is version, index 10, term 2; membership version 1, flags 0.
	header := []byte{1, 10, 2, 1, 0}
	ids := func(n int) []byte { return bytes.Repeat([]byte{1}, n) }
	cases := []malformed{
		{name: "empty", b: nil},
		{name: "unknown version", b: cat([]byte{0}, valid[1:])},
		{name: "unknown membership version", b: cat([]byte{1, 10, 2, 2, 0}, valid[len(header):])},
		{name: "unknown flags", b: cat([]byte{1, 10, 2, 1, 2}, valid[len(header):])},
		{name: "trailing byte", b: cat(valid, []byte{0})},
		{name: "non-minimal index", b: cat([]byte{1, 0x8a, 0x00}, valid[2:])},
		{name: "non-minimal count", b: cat(header, []byte{0x81, 0x00, 7, 0, 0})},
		{name: "too many voters", b: cat(header, uv(MaxMembers+1), ids(MaxMembers+1), []byte{0, 0, 0})},
		{name: "too many outgoing voters", b: cat(header, []byte{1, 1}, uv(MaxMembers+1), ids(MaxMembers+1), []byte{0, 0})},
		{name: "too many learners", b: cat(header, []byte{1, 1, 0}, uv(MaxMembers+1), ids(MaxMembers+1), []byte{0})},
		{name: "too many witnesses", b: cat(header, []byte{1, 1, 0, 0}, uv(MaxMembers+1), ids(MaxMembers+1))},
		{name: "huge count", b: cat(header, uv(math.MaxUint64))},
		{name: "count beyond input", b: cat(header, []byte{3, 1, 2})},
		{name: "missing lists", b: cat(header, []byte{1, 1})},
	}
	for i := 1; i < len(valid); i++ {
		cases = append(cases, malformed{name: "truncated", b: valid[:i]})
	}
	for _, c := range cases {
		sentinel := SnapshotMeta{Index: 1, Membership: Membership{Voters: []NodeID{5}}}
		s := sentinel
		if err := DecodeSnapshotMeta(c.b, &s); !errors.Is(err, ErrDecode) {
			t.Errorf("%s (% x): err %v, want ErrDecode", c.name, c.b, err)
		}
		if !reflect.DeepEqual(s, sentinel) {
			t.Errorf("%s: destination changed to %+v", c.name, s)
		}
	}
}

// allocatedBytes returns how many heap bytes f allocates.
//
// The counter is process-wide, so another goroutine's allocations (a
// parallel test, the testing framework) can land in one measurement; the
// least of several runs, on one P as testing.AllocsPerRun does, is f's own.
func allocatedBytes(f func()) uint64 {
	defer runtime.GOMAXPROCS(runtime.GOMAXPROCS(1))
	least := uint64(math.MaxUint64)
	for range 5 {
		var before, after runtime.MemStats
		runtime.ReadMemStats(&before)
		f()
		runtime.ReadMemStats(&after)
		least = min(least, after.TotalAlloc-before.TotalAlloc)
	}
	return least
}

// TestDecodeAllocationBounded: a length field claiming far more than the
// input holds is refused before anything proportional to the claim is
// allocated.
func TestDecodeAllocationBounded(t *testing.T) {
	var m Message
	msgHeader := []byte{codecVersion, byte(MsgApp), 1, 2, 1, 0, 0, 0, 0, 0, 0}
	thirdLie := cat(msgHeader, uv(4000), make([]byte, 4000)) // built outside the measurement
	lies := map[string]func() error{
		"message entry count": func() error {
			return Decode(cat(msgHeader, uv(1<<16), make([]byte, 64)), &m, DecodeLimits{})
		},
		// Every entry takes at least 3 bytes: a count above a third of
		// the bytes left is refused before the entries are allocated.
		"message entry count above a third of the bytes": func() error {
			return Decode(thirdLie, &m, DecodeLimits{})
		},
		"message entry count above limit": func() error {
			return Decode(cat(msgHeader, uv(math.MaxUint64)), &m, DecodeLimits{})
		},
		"message payload length": func() error {
			return Decode(cat(msgHeader, []byte{1, 1, 0}, uv(1<<19)), &m, DecodeLimits{})
		},
		"entry payload length": func() error {
			var e Entry
			return DecodeEntry(cat([]byte{1, 1, 1, 0}, uv(1<<19)), &e, DecodeLimits{})
		},
		"snapshot member count": func() error {
			var s SnapshotMeta
			return DecodeSnapshotMeta(cat([]byte{1, 1, 1, 1, 0}, uv(1<<40)), &s)
		},
	}
	for name, decode := range lies {
		var err error
		if n := allocatedBytes(func() { err = decode() }); n > 4096 {
			t.Errorf("%s: decoding allocated %d bytes", name, n)
		}
		if !errors.Is(err, ErrDecode) {
			t.Errorf("%s: err %v, want ErrDecode", name, err)
		}
	}
}

// TestConfigDecodeLimits: a node decoding with its Config's limits accepts
// the largest messages a peer with the same Config sends.
func TestConfigDecodeLimits(t *testing.T) {
	if got, want := (Config{ID: 1}).DecodeLimits(), DefaultDecodeLimits; got.MaxEntries != want.MaxEntries || got.MaxEntryBytes != want.MaxEntryBytes || got.MaxMessageBytes > want.MaxMessageBytes {
		t.Errorf("default Config limits %+v, want within %+v", got, want)
	}
	for _, cfg := range []Config{
		{ID: 1, MaxMsgBytes: 256, MaxEntryBytes: 64},
		{ID: 1, MaxMsgBytes: 256, MaxEntryBytes: 256},
		{ID: 1, MaxMsgBytes: 1000, MaxEntryBytes: 10},
	} {
		lim := cfg.DecodeLimits()
		for _, payload := range []int{0, 1, int(cfg.MaxEntryBytes)} {
			// The most entries the leader's slice puts in one append, and
			// the largest single entry.
			var ents []Entry
			var size uint64
			for i := 1; ; i++ {
				e := Entry{Index: Index(i), Term: math.MaxUint64, Data: make([]byte, payload)}
				if len(ents) > 0 && size+e.size() > cfg.MaxMsgBytes {
					break
				}
				size += e.size()
				ents = append(ents, e)
			}
			m := Message{Type: MsgApp, From: math.MaxUint64, To: math.MaxUint64 - 1, Term: math.MaxUint64, LogTerm: math.MaxUint64,
				Index: 0, Commit: math.MaxUint64, RejectHint: math.MaxUint64, Context: math.MaxUint64, Entries: ents}
			b, _ := m.MarshalBinary()
			var got Message
			if err := Decode(b, &got, lim); err != nil {
				t.Errorf("config %+v, %d entries of %d bytes (%d encoded): %v", cfg, len(ents), payload, len(b), err)
			}
		}
		// A configuration entry may exceed MaxEntryBytes (appendConfig):
		// the largest one a peer can send must decode.
		var full Membership
		for i := range MaxMembers {
			id := NodeID(math.MaxUint64) - NodeID(i)
			full.Voters, full.OutgoingVoters = append(full.Voters, id), append(full.OutgoingVoters, id-MaxMembers)
			full.Learners, full.Witnesses = append(full.Learners, id-2*MaxMembers), append(full.Witnesses, id)
		}
		conf := Entry{Index: 1, Term: math.MaxUint64, Type: EntryConfig, Data: encodeMembership(full)}
		if len(conf.Data) > maxMembershipBytes {
			t.Fatalf("a membership encodes to %d bytes, beyond maxMembershipBytes %d", len(conf.Data), maxMembershipBytes)
		}
		m := Message{Type: MsgApp, From: 1, To: 2, Term: math.MaxUint64, Commit: math.MaxUint64, Entries: []Entry{conf}}
		b, _ := m.MarshalBinary()
		var got Message
		if err := Decode(b, &got, lim); err != nil {
			t.Errorf("config %+v: the largest configuration entry (%d bytes) refused: %v", cfg, len(conf.Data), err)
		}
		e := Entry{Data: make([]byte, max(cfg.MaxEntryBytes, maxMembershipBytes)+1)}
		b, _ = e.MarshalBinary()
		if err := DecodeEntry(b, &e, lim); !errors.Is(err, ErrDecode) {
			t.Errorf("config %+v: entry over the limit accepted", cfg)
		}
	}
	huge := Config{ID: 1, MaxMsgBytes: math.MaxUint64, MaxEntryBytes: math.MaxUint64, MaxInflightBytes: math.MaxUint64,
		MaxUncommittedBytes: math.MaxUint64, MaxApplyBytes: math.MaxUint64}
	if lim := huge.DecodeLimits(); lim.MaxEntries <= 0 || lim.MaxEntryBytes <= 0 || lim.MaxMessageBytes <= 0 {
		t.Errorf("huge config: limits %+v overflowed", lim)
	}
}

// TestDecodeEntryAcceptsTheLargestProposal: the limit is inclusive, as
// Propose's is. An entry of exactly MaxEntryBytes is a proposal the
// leader accepts, persists and replicates; storage decoding it with the
// node's own limits on restart must accept it too, or a node that wrote
// it can never start again. One byte more is refused.
func TestDecodeEntryAcceptsTheLargestProposal(t *testing.T) {
	for _, size := range []uint64{maxMembershipBytes + 1, 4096, uint64(DefaultDecodeLimits.MaxEntryBytes)} {
		cfg := defaultTestConfig(1)
		cfg.MaxEntryBytes, cfg.MaxMsgBytes = size, max(size, 1<<20)
		n, err := Bootstrap(cfg, []NodeID{1})
		if err != nil {
			t.Fatal(err)
		}
		syncRun(t, n)
		if err := n.Campaign(); err != nil {
			t.Fatal(err)
		}
		syncRun(t, n)
		if _, _, err := n.Propose(make([]byte, size)); err != nil {
			t.Fatalf("MaxEntryBytes %d: Propose of %d bytes: %v", size, size, err)
		}
		var stored *Entry
		for _, p := range persists(take(n)) {
			for i := range p.Entries {
				stored = &p.Entries[i]
			}
		}
		if stored == nil || uint64(len(stored.Data)) != size {
			t.Fatalf("MaxEntryBytes %d: persisted entry %v, want one of %d bytes", size, stored, size)
		}
		b, _ := stored.MarshalBinary()
		var got Entry
		if err := DecodeEntry(b, &got, cfg.DecodeLimits()); err != nil {
			t.Errorf("MaxEntryBytes %d: DecodeEntry refused the entry Propose accepted: %v", size, err)
		}
		if err := DecodeEntry(b, &got, DecodeLimits{MaxEntryBytes: int(size)}); err != nil {
			t.Errorf("DecodeEntry with MaxEntryBytes %d refused an entry of exactly %d bytes: %v", size, size, err)
		}
		over := Entry{Index: 1, Term: 1, Data: make([]byte, size+1)}
		b, _ = over.MarshalBinary()
		if err := DecodeEntry(b, &got, DecodeLimits{MaxEntryBytes: int(size)}); !errors.Is(err, ErrDecode) {
			t.Errorf("DecodeEntry with MaxEntryBytes %d accepted %d bytes: %v", size, size+1, err)
		}
	}
}

// EncodedSize must be exact at every varint length boundary (127 takes one
// byte, 128 two, 16383 two, 16384 three, ...): callers size buffers by it,
// and the message limits count on it. A property test may miss the exact
// boundary values; this one does not.
func TestEncodedSizeAtVarintBoundaries(t *testing.T) {
	for shift := 7; shift < 64; shift += 7 {
		for _, v := range []uint64{1<<shift - 1, 1 << shift} {
			m := Message{Type: MsgApp, From: 1, To: 2, Term: Term(v), Index: Index(v), Commit: Index(v), Context: v}
			if b, _ := m.MarshalBinary(); len(b) != m.EncodedSize() {
				t.Errorf("message with fields %d: EncodedSize %d, encoding %d bytes", v, m.EncodedSize(), len(b))
			}
			e := Entry{Index: Index(v), Term: Term(v), Data: []byte("x")}
			if b, _ := e.MarshalBinary(); len(b) != e.EncodedSize() {
				t.Errorf("entry with fields %d: EncodedSize %d, encoding %d bytes", v, e.EncodedSize(), len(b))
			}
			h := HardState{Term: Term(v), Vote: NodeID(v), Commit: Index(v), ReadTokenLimit: v}
			if b, _ := h.MarshalBinary(); len(b) != h.EncodedSize() {
				t.Errorf("hard state with fields %d: EncodedSize %d, encoding %d bytes", v, h.EncodedSize(), len(b))
			}
		}
	}
}
