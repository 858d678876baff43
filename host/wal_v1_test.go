package host

import (
	"encoding/binary"
	"errors"
	"fmt"
	"hash/crc32"
	"os"
	"path/filepath"
	"testing"

	"github.com/pureraft/raft"
)

// v1Record encodes a record as format version 1 wrote it: no group field.
func v1Record(typ byte, enc func([]byte) ([]byte, error)) []byte {
	b := []byte{0, 0, 0, 0, 0, 0, 0, 0, typ}
	b, err := enc(b)
	if err != nil {
		panic(err)
	}
	binary.BigEndian.PutUint32(b, uint32(len(b)-recHeaderSize))
	binary.BigEndian.PutUint32(b[4:], crc32.Checksum(b[8:], crcTable))
	return b
}

// writeV1Dir writes a version 1 WAL as the single-group host left it: two
// segments, each starting with the compaction point and hard state, the
// second preallocated with zeros.
func writeV1Dir(t *testing.T, dir string) {
	t.Helper()
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	hs1 := raft.HardState{Term: 1, Vote: 1, Commit: 3}
	hs2 := raft.HardState{Term: 2, Vote: 2, Commit: 7}
	var seg1, seg2 []byte
	seg1 = append(seg1, v1Record(recSnapCompact, bootSnap.AppendBinary)...)
	for _, e := range gents(1, 1, 6, 1) {
		seg1 = append(seg1, v1Record(recEntry, e.AppendBinary)...)
	}
	seg1 = append(seg1, v1Record(recHardState, hs1.AppendBinary)...)
	seg2 = append(seg2, v1Record(recSnapCompact, bootSnap.AppendBinary)...)
	seg2 = append(seg2, v1Record(recHardState, hs1.AppendBinary)...)
	for _, e := range gents(1, 5, 8, 2) { // a new leader overwrote 5..6
		seg2 = append(seg2, v1Record(recEntry, e.AppendBinary)...)
	}
	seg2 = append(seg2, v1Record(recHardState, hs2.AppendBinary)...)
	seg2 = append(seg2, make([]byte, 4096)...)
	for i, data := range [][]byte{seg1, seg2} {
		if err := os.WriteFile(filepath.Join(dir, fmt.Sprintf("%016x.wal", i+1)), data, 0o644); err != nil {
			t.Fatal(err)
		}
	}
}

func v1Model() map[GroupID]*modelGroup {
	m := &modelGroup{snap: bootSnap, hasSnap: true, hs: raft.HardState{Term: 2, Vote: 2, Commit: 7}}
	m.ents = append(gents(1, 1, 4, 1), gents(1, 5, 8, 2)...)
	return map[GroupID]*modelGroup{SingleGroup: m}
}

// A data directory written by the single-group host (format version 1)
// opens as group 1; new writes go to a version 2 segment, and the old
// segments are released like any other once compacted past.
func TestWALOpensVersion1AsGroup1(t *testing.T) {
	dir := t.TempDir()
	writeV1Dir(t, dir)
	w, rec := openGroups(t, dir, 1<<20)
	model := v1Model()
	checkAll(t, "version 1", rec, model)
	if w.Segments() != 3 || w.size != segHeaderSize {
		t.Fatalf("%d segments, current at %d: want a fresh version 2 segment after the two old ones", w.Segments(), w.size)
	}
	saveGroups(t, w, model, gp(1, raft.Persist{Entries: gents(1, 9, 9, 2)}), gp(2, raft.Persist{Snapshot: snapAt(0, 0), Entries: gents(2, 1, 1, 1)}))
	w.Close()
	w, rec = openGroups(t, dir, 1<<20)
	checkAll(t, "version 1, then written", rec, model)
	if err := w.SaveGroupSnapshot(1, *snapAt(8, 2)); err != nil {
		t.Fatal(err)
	}
	model[1].snap = *snapAt(8, 2)
	if n, err := w.ReleaseGroup(1, 9); err != nil || n != 2 {
		t.Fatalf("released %d old segments (%v), want 2", n, err)
	}
	w.Close()
	_, rec = openGroups(t, dir, 1<<20)
	checkAll(t, "old segments released", rec, model)
}

// The single-group API reads a version 1 directory as before, torn tail
// included.
func TestWALVersion1TornTail(t *testing.T) {
	dir := t.TempDir()
	writeV1Dir(t, dir)
	seg := lastSegment(t, dir)
	data, _ := os.ReadFile(seg)
	end := len(data) - 4096
	if err := os.WriteFile(seg, data[:end-3], 0o644); err != nil { // cut into the last hard state
		t.Fatal(err)
	}
	w, st := mustOpen(t, dir, 1<<20)
	defer w.Close()
	if st.TornBytes == 0 || st.HardState.Term != 1 {
		t.Fatalf("torn tail: %d bytes, hard state %+v", st.TornBytes, st.HardState)
	}
	checkEntries(t, st.Entries, v1Model()[1].want().Entries)
}

// A version 1 segment after a version 2 one cannot come from any writer:
// refused by name.
func TestWALVersion1AfterVersion2(t *testing.T) {
	dir := t.TempDir()
	w, _ := openGroups(t, dir, 1<<20)
	w.Close()
	seg := filepath.Join(dir, fmt.Sprintf("%016x.wal", 2))
	if err := os.WriteFile(seg, v1Record(recSnapCompact, bootSnap.AppendBinary), 0o644); err != nil {
		t.Fatal(err)
	}
	if _, _, err := OpenWALGroups(dir, 1<<20); !errors.Is(err, ErrCorrupt) {
		t.Fatalf("open: %v, want ErrCorrupt", err)
	}
}

// The single-group OpenWAL refuses a directory holding other groups: it
// would not see them.
func TestWALSingleGroupRefusesOtherGroups(t *testing.T) {
	dir := t.TempDir()
	w, _ := openGroups(t, dir, 1<<20)
	saveGroups(t, w, map[GroupID]*modelGroup{}, gp(2, raft.Persist{Snapshot: snapAt(0, 0)}))
	w.Close()
	if _, _, err := OpenWAL(dir, 1<<20); err == nil {
		t.Fatal("OpenWAL opened a WAL of group 2")
	}
}
