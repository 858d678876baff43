package host

import (
	"bytes"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"testing"

	"github.com/pureraft/raft"
)

func ents(from, to raft.Index, term raft.Term) []raft.Entry {
	var out []raft.Entry
	for i := from; i <= to; i++ {
		out = append(out, raft.Entry{Index: i, Term: term, Data: []byte(fmt.Sprintf("entry-%d-%d", i, term))})
	}
	return out
}

func mustOpen(t *testing.T, dir string, seg int64) (*WAL, *WALState) {
	t.Helper()
	w, st, err := OpenWAL(dir, seg)
	if err != nil {
		t.Fatalf("OpenWAL: %v", err)
	}
	return w, st
}

func save(t *testing.T, w *WAL, ps ...raft.Persist) {
	t.Helper()
	batch := make([]*raft.Persist, len(ps))
	for i := range ps {
		batch[i] = &ps[i]
	}
	if err := w.Save(batch); err != nil {
		t.Fatalf("Save: %v", err)
	}
}

func indexes(es []raft.Entry) []raft.Index {
	var out []raft.Index
	for _, e := range es {
		out = append(out, e.Index)
	}
	return out
}

func checkEntries(t *testing.T, got []raft.Entry, want []raft.Entry) {
	t.Helper()
	if len(got) != len(want) {
		t.Fatalf("got entries %v, want %v", indexes(got), indexes(want))
	}
	for i := range got {
		if got[i].Index != want[i].Index || got[i].Term != want[i].Term || !bytes.Equal(got[i].Data, want[i].Data) {
			t.Fatalf("entry %d: got %+v, want %+v", i, got[i], want[i])
		}
	}
}

var bootSnap = raft.SnapshotMeta{Membership: raft.Membership{Voters: []raft.NodeID{1, 2, 3}}}

func TestWALRoundTripAndOverwrite(t *testing.T) {
	dir := t.TempDir()
	w, st := mustOpen(t, dir, 1<<20)
	if st.HasSnapshot || len(st.Entries) != 0 || !st.HardState.IsZero() {
		t.Fatalf("fresh WAL not empty: %+v", st)
	}
	save(t, w,
		raft.Persist{ID: 1, Snapshot: &bootSnap, Sync: true},
		raft.Persist{ID: 2, Entries: ents(1, 10, 1), HasHardState: true, HardState: raft.HardState{Term: 1, Vote: 1, Commit: 5}, Sync: true},
	)
	// A new leader overwrites 8..10 with entries of term 2 (§5.3).
	save(t, w, raft.Persist{ID: 3, Entries: ents(8, 12, 2), HasHardState: true, HardState: raft.HardState{Term: 2, Vote: 2, Commit: 9}, Sync: true})
	w.Close()
	_, st = mustOpen(t, dir, 1<<20)
	want := append(ents(1, 7, 1), ents(8, 12, 2)...)
	checkEntries(t, st.Entries, want)
	if st.HardState != (raft.HardState{Term: 2, Vote: 2, Commit: 9}) {
		t.Fatalf("hard state %+v", st.HardState)
	}
	if !st.HasSnapshot || !slices.Equal(st.Snapshot.Membership.Voters, bootSnap.Membership.Voters) {
		t.Fatalf("snapshot %+v", st.Snapshot)
	}
	if st.TornBytes != 0 {
		t.Fatalf("clean log reported %d torn bytes", st.TornBytes)
	}
}

func lastSegment(t *testing.T, dir string) string {
	t.Helper()
	names, _ := filepath.Glob(filepath.Join(dir, "*.wal"))
	slices.Sort(names)
	if len(names) == 0 {
		t.Fatal("no segments")
	}
	return names[len(names)-1]
}

// A crash in the middle of a write leaves a partial record at the end of
// the last segment: it is cut, and everything before it survives.
func TestWALTornTail(t *testing.T) {
	dir := t.TempDir()
	w, _ := mustOpen(t, dir, 1<<20)
	save(t, w, raft.Persist{ID: 1, Snapshot: &bootSnap, Entries: ents(1, 20, 1), Sync: true})
	full := w.size // where the written data ends (the segment is preallocated)
	w.Close()
	seg := lastSegment(t, dir)
	for _, cut := range []int64{1, 5, 9, 15} { // inside the header, inside the payload
		if err := os.Truncate(seg, full-cut); err != nil {
			t.Fatal(err)
		}
		w, st := mustOpen(t, dir, 1<<20)
		w.Close()
		checkEntries(t, st.Entries, ents(1, 19, 1))
		if st.TornBytes == 0 {
			t.Fatalf("cut %d: torn tail not reported", cut)
		}
		// The file was cut back to the last whole record; appending after
		// it works and survives a reopen.
		w, st = mustOpen(t, dir, 1<<20)
		if st.TornBytes != 0 {
			t.Fatalf("cut %d: second open still sees a torn tail", cut)
		}
		save(t, w, raft.Persist{ID: 2, Entries: ents(20, 20, 1), Sync: true})
		full = w.size
		w.Close()
		_, st = mustOpen(t, dir, 1<<20)
		checkEntries(t, st.Entries, ents(1, 20, 1))
	}
}

// A flipped bit in the last records fails their checksum: the log is cut
// at the first bad record.
func TestWALChecksumMismatch(t *testing.T) {
	dir := t.TempDir()
	w, _ := mustOpen(t, dir, 1<<20)
	save(t, w, raft.Persist{ID: 1, Snapshot: &bootSnap, Entries: ents(1, 10, 1), Sync: true})
	end := int(w.size)
	w.Close()
	seg := lastSegment(t, dir)
	data, _ := os.ReadFile(seg)
	rec := len(ents(10, 10, 1)[0].Data) + 1 + 1 + 1 + 1 + 1 // the last entry's payload (index, term, type, length are 1 byte each here)
	data[end-rec/2] ^= 0x40
	os.WriteFile(seg, data, 0o644)
	w, st := mustOpen(t, dir, 1<<20)
	w.Close()
	checkEntries(t, st.Entries, ents(1, 9, 1))
	if st.TornBytes == 0 {
		t.Fatal("corruption not reported")
	}
}

// Corruption in a segment that is not the last cannot be a torn write:
// Open refuses to guess.
func TestWALCorruptOlderSegment(t *testing.T) {
	dir := t.TempDir()
	w, _ := mustOpen(t, dir, 512)
	save(t, w, raft.Persist{ID: 1, Snapshot: &bootSnap, Sync: true})
	for i := raft.Index(1); i <= 60; i++ {
		save(t, w, raft.Persist{ID: uint64(i + 1), Entries: ents(i, i, 1), Sync: true})
	}
	w.Close()
	names, _ := filepath.Glob(filepath.Join(dir, "*.wal"))
	slices.Sort(names)
	if len(names) < 3 {
		t.Fatalf("want several segments, got %d", len(names))
	}
	data, _ := os.ReadFile(names[0])
	data[100] ^= 1
	os.WriteFile(names[0], data, 0o644)
	if _, _, err := OpenWAL(dir, 512); err == nil {
		t.Fatal("Open accepted a corrupt older segment")
	}
}

// Segments roll over at the size limit; after a compaction the segments
// holding only compacted entries are deleted, and what is left replays to
// the same state.
func TestWALSegmentRolloverAndRelease(t *testing.T) {
	dir := t.TempDir()
	w, _ := mustOpen(t, dir, 1024)
	save(t, w, raft.Persist{ID: 1, Snapshot: &bootSnap, Sync: true})
	for i := raft.Index(1); i <= 200; i++ {
		save(t, w, raft.Persist{ID: uint64(i + 1), Entries: ents(i, i, 1), HasHardState: true, HardState: raft.HardState{Term: 1, Vote: 1, Commit: i - 1}, Sync: true})
	}
	segs := w.Segments()
	if segs < 5 {
		t.Fatalf("expected rollover into several segments, got %d", segs)
	}
	// Compact to 150, keeping 150.. (the node's first index is 151 minus
	// a retained tail of 20).
	meta := raft.SnapshotMeta{Index: 150, Term: 1, Membership: bootSnap.Membership}
	if err := w.SaveSnapshot(meta); err != nil {
		t.Fatal(err)
	}
	n, err := w.Release(131)
	if err != nil {
		t.Fatal(err)
	}
	if n == 0 || w.Segments() != segs-n {
		t.Fatalf("released %d segments of %d (now %d)", n, segs, w.Segments())
	}
	w.Close()
	_, st := mustOpen(t, dir, 1024)
	if st.Snapshot.Index != 150 {
		t.Fatalf("snapshot index %d", st.Snapshot.Index)
	}
	checkEntries(t, st.Entries, ents(151, 200, 1))
	if st.HardState.Commit != 199 {
		t.Fatalf("hard state %+v", st.HardState)
	}
}

// An installed snapshot replaces every entry before it; segments written
// before it are deleted at the next release.
func TestWALSnapshotInstall(t *testing.T) {
	dir := t.TempDir()
	w, _ := mustOpen(t, dir, 1024)
	save(t, w, raft.Persist{ID: 1, Snapshot: &bootSnap, Entries: ents(1, 80, 1), Sync: true})
	snap := raft.SnapshotMeta{Index: 500, Term: 3, Membership: bootSnap.Membership}
	save(t, w, raft.Persist{ID: 2, Snapshot: &snap, HasHardState: true, HardState: raft.HardState{Term: 3, Commit: 500}, Sync: true})
	save(t, w, raft.Persist{ID: 3, Entries: ents(501, 505, 3), Sync: true})
	if _, err := w.Release(501); err != nil {
		t.Fatal(err)
	}
	w.Close()
	_, st := mustOpen(t, dir, 1024)
	if st.Snapshot.Index != 500 || st.Snapshot.Term != 3 {
		t.Fatalf("snapshot %+v", st.Snapshot)
	}
	checkEntries(t, st.Entries, ents(501, 505, 3))
}

// A preallocated segment's zero tail is the clean end of the log, not a
// torn write; bytes after a zero header are corruption.
func TestWALPreallocatedTail(t *testing.T) {
	dir := t.TempDir()
	w, _ := mustOpen(t, dir, 1<<20)
	save(t, w, raft.Persist{ID: 1, Snapshot: &bootSnap, Entries: ents(1, 5, 1), Sync: true})
	end := w.size
	w.Close()
	seg := lastSegment(t, dir)
	if fi, _ := os.Stat(seg); fi.Size() < 1<<20 && runtime.GOOS == "linux" {
		t.Fatalf("segment not preallocated: %d bytes", fi.Size())
	}
	w, st := mustOpen(t, dir, 1<<20)
	if st.TornBytes != 0 || len(st.Entries) != 5 {
		t.Fatalf("zero tail misread: torn %d, %d entries", st.TornBytes, len(st.Entries))
	}
	save(t, w, raft.Persist{ID: 2, Entries: ents(6, 6, 1), Sync: true})
	w.Close()
	_, st = mustOpen(t, dir, 1<<20)
	checkEntries(t, st.Entries, ents(1, 6, 1))
	// A stray non-zero byte after the end: cut back to the last good record.
	data, _ := os.ReadFile(seg)
	data[end+4096] = 1
	os.WriteFile(seg, data, 0o644)
	_, st = mustOpen(t, dir, 1<<20)
	if st.TornBytes == 0 {
		t.Fatal("garbage after the end not reported")
	}
	checkEntries(t, st.Entries, ents(1, 6, 1))
}
