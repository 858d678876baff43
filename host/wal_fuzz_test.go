package host

import (
	"errors"
	"os"
	"path/filepath"
	"slices"
	"testing"

	"github.com/pureraft/raft"
)

// FuzzWALOpen opens a WAL whose last segment holds arbitrary bytes after a
// valid older one. Open never panics; it either fails with ErrCorrupt and
// changes nothing, or cuts a torn tail and then reopens clean, to the same
// state, and takes new writes.
func FuzzWALOpen(f *testing.F) {
	// Seeds: a valid segment of several groups, and pieces of one.
	seed := append([]byte(nil), segHeader[:]...)
	hs := raft.HardState{Term: 2, Vote: 1, Commit: 1}
	for _, r := range [][]byte{
		rawRecord(recSnapInstall, 1, snapAt(0, 0).AppendBinary),
		rawRecord(recEntry, 1, gents(1, 1, 1, 1)[0].AppendBinary),
		rawRecord(recEntry, 3, gents(3, 1, 1, 1)[0].AppendBinary),
		rawRecord(recHardState, 1, hs.AppendBinary),
		rawRecord(recSnapCompact, 300, snapAt(5, 1).AppendBinary),
		rawRecord(recRemoved, 3, nil),
	} {
		seed = append(seed, r...)
	}
	f.Add(seed)
	f.Add(seed[:len(seed)-3])
	f.Add(append(slices.Clone(seed), 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1))
	f.Add(segHeader[:])
	f.Add(v1Record(recHardState, hs.AppendBinary))
	f.Add([]byte{})
	f.Fuzz(func(t *testing.T, data []byte) {
		dir := t.TempDir()
		first := append(slices.Clone(segHeader[:]), rawRecord(recEntry, 2, gents(2, 1, 1, 1)[0].AppendBinary)...)
		if err := os.WriteFile(filepath.Join(dir, "0000000000000001.wal"), first, 0o644); err != nil {
			t.Fatal(err)
		}
		last := filepath.Join(dir, "0000000000000002.wal")
		if err := os.WriteFile(last, data, 0o644); err != nil {
			t.Fatal(err)
		}
		w, rec, err := OpenWALGroups(dir, 1<<16)
		if err != nil {
			if !errors.Is(err, ErrCorrupt) {
				t.Fatalf("open failed without ErrCorrupt: %v", err)
			}
			if got, _ := os.ReadFile(last); !slices.Equal(got, data) {
				t.Fatal("a refused open changed the segment")
			}
			return
		}
		walCheckInvariants(t, w)
		w.Close()
		w, again, err := OpenWALGroups(dir, 1<<16)
		if err != nil {
			t.Fatalf("reopen after a cut: %v", err)
		}
		if again.TornBytes != 0 || len(again.Groups) != len(rec.Groups) {
			t.Fatalf("reopen: %d torn bytes, %d groups (first open: %d)", again.TornBytes, len(again.Groups), len(rec.Groups))
		}
		for gid, st := range rec.Groups {
			g := again.Groups[gid]
			if g == nil || g.HardState != st.HardState || len(g.Entries) != len(st.Entries) || g.Snapshot.Index != st.Snapshot.Index {
				t.Fatalf("group %d differs on reopen", gid)
			}
		}
		p := raft.Persist{HasHardState: true, HardState: raft.HardState{Term: 1}, Sync: true}
		if err := w.SaveGroups([]GroupPersist{{Group: 7, Persist: &p}}); err != nil {
			t.Fatal(err)
		}
		w.Close()
		if _, rec, err = OpenWALGroups(dir, 1<<16); err != nil || rec.Groups[7] == nil {
			t.Fatalf("write after open lost: %v", err)
		}
	})
}
