package fuzz

import (
	"bytes"
	"errors"
	"reflect"
	"runtime"
	"testing"
	"unsafe"

	"github.com/pureraft/raft"
)

// tightLimits are small decode limits: an input accepted under them must
// respect them, and must be accepted (identically) under the defaults too.
var tightLimits = raft.DecodeLimits{MaxEntries: 8, MaxEntryBytes: 64, MaxMessageBytes: 512}

// FuzzDecodeMessage checks raft.Decode on arbitrary bytes: no panic; an
// error wraps ErrDecode and leaves the destination alone; an accepted
// message respects the limits, aliases its payloads into the input,
// re-encodes to exactly the input and decodes again to an equal message;
// allocation stays proportional to the input.
func FuzzDecodeMessage(f *testing.F) {
	f.Fuzz(func(t *testing.T, b []byte) {
		countExec("FuzzDecodeMessage")
		checkAllocBound(t, b, func() {
			var m raft.Message
			_ = raft.Decode(b, &m, raft.DecodeLimits{})
		})

		m, err := decodeMessage(t, b, raft.DecodeLimits{})
		tm, terr := decodeMessage(t, b, tightLimits)
		if terr == nil {
			if err != nil {
				t.Fatalf("accepted under tight limits, rejected under defaults: %v", err)
			}
			if !reflect.DeepEqual(m, tm) {
				t.Fatalf("decodes differ under different limits:\n%+v\n%+v", m, tm)
			}
			if len(b) > tightLimits.MaxMessageBytes || len(tm.Entries) > tightLimits.MaxEntries {
				t.Fatalf("tight limits exceeded: %d bytes, %d entries", len(b), len(tm.Entries))
			}
			for _, e := range tm.Entries {
				if len(e.Data) > tightLimits.MaxEntryBytes {
					t.Fatalf("entry of %d bytes accepted under tight limits", len(e.Data))
				}
			}
		}
		if err != nil {
			return
		}
		if cap(m.Entries) > len(b)/3 {
			t.Fatalf("%d bytes decoded into an entry array of capacity %d", len(b), cap(m.Entries))
		}
		for i, e := range m.Entries {
			if e.Index != m.Index+raft.Index(i)+1 {
				t.Fatalf("entry %d has index %d after message index %d", i, e.Index, m.Index)
			}
			checkAliases(t, b, e.Data)
		}
		if n := m.EncodedSize(); n != len(b) {
			t.Fatalf("EncodedSize %d, input %d bytes", n, len(b))
		}
		again, err := m.MarshalBinary()
		if err != nil {
			t.Fatalf("re-encode: %v", err)
		}
		if !bytes.Equal(again, b) {
			t.Fatalf("re-encoding differs:\n in % x\nout % x", b, again)
		}
		m2, err := decodeMessage(t, again, raft.DecodeLimits{})
		if err != nil {
			t.Fatalf("decoding the re-encoding: %v", err)
		}
		if !reflect.DeepEqual(m, m2) {
			t.Fatalf("second decode differs:\n%+v\n%+v", m, m2)
		}
	})
}

// decodeMessage decodes into a sentinel and checks the error contract.
func decodeMessage(t *testing.T, b []byte, lim raft.DecodeLimits) (raft.Message, error) {
	t.Helper()
	sentinel := raft.Message{Type: raft.MsgHeartbeat, From: 99, Context: 99}
	m := sentinel
	err := raft.Decode(b, &m, lim)
	if err != nil {
		if !errors.Is(err, raft.ErrDecode) {
			t.Fatalf("error %v does not wrap ErrDecode", err)
		}
		if !reflect.DeepEqual(m, sentinel) {
			t.Fatalf("failed decode changed the message to %+v", m)
		}
	}
	return m, err
}

// FuzzDecodeEntry checks raft.DecodeEntry like FuzzDecodeMessage.
func FuzzDecodeEntry(f *testing.F) {
	f.Fuzz(func(t *testing.T, b []byte) {
		countExec("FuzzDecodeEntry")
		checkAllocBound(t, b, func() {
			var e raft.Entry
			_ = raft.DecodeEntry(b, &e, raft.DecodeLimits{})
		})
		sentinel := raft.Entry{Index: 99, Data: []byte("sentinel")}
		e := sentinel
		err := raft.DecodeEntry(b, &e, raft.DecodeLimits{})
		te := sentinel
		terr := raft.DecodeEntry(b, &te, tightLimits)
		if terr == nil && (err != nil || !reflect.DeepEqual(e, te) || len(te.Data) > tightLimits.MaxEntryBytes) {
			t.Fatalf("tight limits: accepted %+v, defaults gave %+v, %v", te, e, err)
		}
		if err != nil {
			if !errors.Is(err, raft.ErrDecode) {
				t.Fatalf("error %v does not wrap ErrDecode", err)
			}
			if !reflect.DeepEqual(e, sentinel) {
				t.Fatalf("failed decode changed the entry to %+v", e)
			}
			return
		}
		checkAliases(t, b, e.Data)
		if n := e.EncodedSize(); n != len(b) {
			t.Fatalf("EncodedSize %d, input %d bytes", n, len(b))
		}
		again, _ := e.MarshalBinary()
		if !bytes.Equal(again, b) {
			t.Fatalf("re-encoding differs:\n in % x\nout % x", b, again)
		}
		var e2 raft.Entry
		if err := raft.DecodeEntry(again, &e2, raft.DecodeLimits{}); err != nil || !reflect.DeepEqual(e, e2) {
			t.Fatalf("second decode: %+v, %v; want %+v", e2, err, e)
		}
	})
}

// FuzzDecodeHardState checks raft.DecodeHardState like FuzzDecodeMessage.
func FuzzDecodeHardState(f *testing.F) {
	f.Fuzz(func(t *testing.T, b []byte) {
		countExec("FuzzDecodeHardState")
		checkAllocBound(t, b, func() {
			var h raft.HardState
			_ = raft.DecodeHardState(b, &h)
		})
		sentinel := raft.HardState{Term: 99, Vote: 99, Commit: 99}
		h := sentinel
		if err := raft.DecodeHardState(b, &h); err != nil {
			if !errors.Is(err, raft.ErrDecode) {
				t.Fatalf("error %v does not wrap ErrDecode", err)
			}
			if h != sentinel {
				t.Fatalf("failed decode changed the hard state to %+v", h)
			}
			return
		}
		if n := h.EncodedSize(); n != len(b) {
			t.Fatalf("EncodedSize %d, input %d bytes", n, len(b))
		}
		again, _ := h.MarshalBinary()
		if !bytes.Equal(again, b) {
			t.Fatalf("re-encoding differs:\n in % x\nout % x", b, again)
		}
		var h2 raft.HardState
		if err := raft.DecodeHardState(again, &h2); err != nil || h2 != h {
			t.Fatalf("second decode: %+v, %v; want %+v", h2, err, h)
		}
	})
}

// FuzzDecodeSnapshotMeta checks raft.DecodeSnapshotMeta like
// FuzzDecodeMessage, and that no member list exceeds MaxMembers.
func FuzzDecodeSnapshotMeta(f *testing.F) {
	f.Fuzz(func(t *testing.T, b []byte) {
		countExec("FuzzDecodeSnapshotMeta")
		checkAllocBound(t, b, func() {
			var s raft.SnapshotMeta
			_ = raft.DecodeSnapshotMeta(b, &s)
		})
		sentinel := raft.SnapshotMeta{Index: 99, Membership: raft.Membership{Voters: []raft.NodeID{99}}}
		s := sentinel
		if err := raft.DecodeSnapshotMeta(b, &s); err != nil {
			if !errors.Is(err, raft.ErrDecode) {
				t.Fatalf("error %v does not wrap ErrDecode", err)
			}
			if !reflect.DeepEqual(s, sentinel) {
				t.Fatalf("failed decode changed the metadata to %+v", s)
			}
			return
		}
		m := s.Membership
		for _, ids := range [][]raft.NodeID{m.Voters, m.OutgoingVoters, m.Learners, m.Witnesses} {
			if len(ids) > raft.MaxMembers {
				t.Fatalf("decoded a member list of %d IDs", len(ids))
			}
			if ids != nil && len(ids) == 0 {
				t.Fatalf("empty member list decoded as non-nil")
			}
		}
		if n := s.EncodedSize(); n != len(b) {
			t.Fatalf("EncodedSize %d, input %d bytes", n, len(b))
		}
		again, _ := s.MarshalBinary()
		if !bytes.Equal(again, b) {
			t.Fatalf("re-encoding differs:\n in % x\nout % x", b, again)
		}
		var s2 raft.SnapshotMeta
		if err := raft.DecodeSnapshotMeta(again, &s2); err != nil || !reflect.DeepEqual(s, s2) {
			t.Fatalf("second decode: %+v, %v; want %+v", s2, err, s)
		}
	})
}

// checkAliases fails unless data is empty (and nil) or lies inside b: the
// decoders never copy payloads.
func checkAliases(t *testing.T, b, data []byte) {
	t.Helper()
	if len(data) == 0 {
		if data != nil {
			t.Fatalf("empty payload decoded as non-nil")
		}
		return
	}
	start := uintptr(unsafe.Pointer(unsafe.SliceData(b)))
	p := uintptr(unsafe.Pointer(unsafe.SliceData(data)))
	if p < start || p+uintptr(len(data)) > start+uintptr(len(b)) {
		t.Fatalf("payload of %d bytes does not alias the input", len(data))
	}
	if cap(data) != len(data) {
		t.Fatalf("payload capacity %d exceeds its length %d: appending would overwrite the input", cap(data), len(data))
	}
}

// allocSampleRate: checkAllocBound measures one input in this many, chosen
// by a hash of the input so the choice is deterministic. Measuring costs a
// stop-the-world pause (runtime.ReadMemStats), too slow for every input; an
// allocation driven by a length field shows up on many inputs, so sampling
// still finds it.
const allocSampleRate = 32

// checkAllocBound fails if decode allocates more than a small constant plus
// a constant factor of the input's size (an Entry per 3 input bytes, as
// Decode's own check allows, plus the member lists of a membership).
func checkAllocBound(t *testing.T, b []byte, decode func()) {
	t.Helper()
	if fnv32a(b)%allocSampleRate != 0 {
		return
	}
	const slack = 4096
	limit := uint64(slack + len(b)/3*int(unsafe.Sizeof(raft.Entry{})))
	// The runtime and the fuzzing engine allocate now and then on their
	// own; an allocation caused by decode repeats on every try, so only
	// the smallest of a few measurements counts.
	least := ^uint64(0)
	for range 3 {
		var before, after runtime.MemStats
		runtime.ReadMemStats(&before)
		decode()
		runtime.ReadMemStats(&after)
		least = min(least, after.TotalAlloc-before.TotalAlloc)
		if least <= limit {
			return
		}
	}
	t.Fatalf("decoding %d bytes allocated %d bytes (limit %d)", len(b), least, limit)
}

// fnv32a is the FNV-1a hash of b.
func fnv32a(b []byte) uint32 {
	h := uint32(2166136261)
	for _, c := range b {
		h = (h ^ uint32(c)) * 16777619
	}
	return h
}
