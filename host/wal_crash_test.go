package host

import (
	"encoding/binary"
	"fmt"
	"os"
	"testing"

	"github.com/pureraft/raft"
)

// A process crashes while writing a batch that holds records of several
// groups. Whatever prefix of the batch reached the disk — cut at every byte
// offset, with the rest missing or left as the segment's preallocated zeros
// — every group recovers its durable prefix (everything synced before the
// batch) plus a prefix of its own records in the batch, never another
// group's entry, and the log can be written and reopened after.
func TestWALCrashDuringMultiGroupBatch(t *testing.T) {
	dir := t.TempDir()
	const segSize = 1 << 16
	w, _ := openGroups(t, dir, segSize)
	durable := map[GroupID]*modelGroup{}
	for g := GroupID(1); g <= 5; g++ {
		saveGroups(t, w, durable, gp(g, raft.Persist{Snapshot: snapAt(0, 0), Entries: gents(g, 1, 3, 1),
			HasHardState: true, HardState: raft.HardState{Term: 1, Vote: 1, Commit: 2}}))
	}
	start := w.size
	// The batch: appends, an overwrite (§5.3), an installed snapshot (§7),
	// two persists of one group, hard states, and a group that writes
	// nothing (5).
	batch := []GroupPersist{
		gp(1, raft.Persist{Entries: gents(1, 4, 5, 1)}),
		gp(2, raft.Persist{Entries: gents(2, 3, 4, 2), HasHardState: true, HardState: raft.HardState{Term: 2, Vote: 2, Commit: 2}}),
		gp(3, raft.Persist{Snapshot: snapAt(10, 3), Entries: gents(3, 11, 12, 3), HasHardState: true, HardState: raft.HardState{Term: 3, Commit: 10}}),
		gp(1, raft.Persist{HasHardState: true, HardState: raft.HardState{Term: 1, Vote: 1, Commit: 5}}),
		gp(4, raft.Persist{Entries: gents(4, 4, 4, 1)}),
		gp(2, raft.Persist{Entries: gents(2, 5, 5, 2)}),
	}
	if err := w.SaveGroups(batch); err != nil {
		t.Fatal(err)
	}
	end := w.size
	w.Close()
	seg := lastSegment(t, dir)
	orig, err := os.ReadFile(seg)
	if err != nil {
		t.Fatal(err)
	}
	recs := flatten(batch)
	bounds := recordBounds(orig, start, end)
	if len(bounds) != len(recs)+1 {
		t.Fatalf("%d record boundaries for %d records", len(bounds), len(recs))
	}
	for cut := start; cut <= end; cut++ {
		for _, zeros := range []bool{false, true} {
			ctx := fmt.Sprintf("cut at %d of %d..%d (zero tail %v)", cut, start, end, zeros)
			img := orig[:cut]
			if zeros {
				img = append(append([]byte(nil), orig[:cut]...), make([]byte, len(orig)-int(cut))...)
			}
			if err := os.WriteFile(seg, img, 0o644); err != nil {
				t.Fatal(err)
			}
			w, rec := openGroups(t, dir, segSize)
			// The records wholly before the cut survive, in order.
			whole := 0
			for whole+1 < len(bounds) && bounds[whole+1] <= cut {
				whole++
			}
			if zeros && whole+1 < len(bounds) && isZero(orig[cut:bounds[whole+1]]) {
				whole++ // the record's missing bytes were zeros anyway
			}
			model := cloneModel(durable)
			for _, r := range recs[:whole] {
				r.apply(model[r.gid])
			}
			checkAll(t, ctx, rec, model)
			// A partial record is reported, unless what reached the disk
			// of it is zeros: that reads as the preallocated end.
			if torn := bounds[whole] < cut && !isZero(orig[bounds[whole]:cut]); torn != (rec.TornBytes > 0) {
				t.Fatalf("%s: torn bytes %d", ctx, rec.TornBytes)
			}
			if cut%7 == 0 {
				// The cut log takes new writes and reads them back.
				saveGroups(t, w, model, gp(5, raft.Persist{Entries: gents(5, 4, 4, 1)}), gp(1, raft.Persist{HasHardState: true, HardState: raft.HardState{Term: 9}}))
				w.Close()
				w, rec = openGroups(t, dir, segSize)
				checkAll(t, ctx+", then written", rec, model)
			}
			w.Close()
		}
	}
}

// recordBounds returns the offsets at which the records between start and
// end begin, and end.
func recordBounds(data []byte, start, end int64) []int64 {
	out := []int64{start}
	for off := start; off < end; {
		off += recHeaderSize + int64(binary.BigEndian.Uint32(data[off:]))
		out = append(out, off)
	}
	return out
}

func cloneModel(m map[GroupID]*modelGroup) map[GroupID]*modelGroup {
	out := map[GroupID]*modelGroup{}
	for gid, g := range m {
		c := *g
		c.ents = append([]raft.Entry(nil), g.ents...)
		out[gid] = &c
	}
	return out
}

// A crash while a release deletes segments (oldest first, after the carried
// records are durable) leaves the newest of the segments it meant to delete
// on disk: any such state recovers every group as a clean release would.
func TestWALCrashDuringRelease(t *testing.T) {
	dir := t.TempDir()
	const segSize = 1024
	w, _ := openGroups(t, dir, segSize)
	model := map[GroupID]*modelGroup{}
	saveGroups(t, w, model,
		gp(2, raft.Persist{Snapshot: snapAt(4, 1), HasHardState: true, HardState: raft.HardState{Term: 1, Vote: 2, Commit: 4}}),
		gp(3, raft.Persist{Snapshot: snapAt(0, 0), Entries: gents(3, 1, 2, 1)}),
		gp(1, raft.Persist{Snapshot: snapAt(0, 0)}))
	for i := raft.Index(1); i <= 80; i++ {
		saveGroups(t, w, model, gp(1, raft.Persist{Entries: gents(1, i, i, 1), HasHardState: true, HardState: raft.HardState{Term: 1, Commit: i}}))
	}
	if _, err := w.RemoveGroup(3); err != nil {
		t.Fatal(err)
	}
	model[3].removed = true
	saved := map[string][]byte{}
	var order []string
	for _, s := range w.segs {
		b, err := os.ReadFile(s.path)
		if err != nil {
			t.Fatal(err)
		}
		saved[s.path] = b
		order = append(order, s.path)
	}
	if err := w.SaveGroupSnapshot(1, *snapAt(80, 1)); err != nil {
		t.Fatal(err)
	}
	model[1].snap = *snapAt(80, 1)
	n, err := w.ReleaseGroup(1, 81)
	if err != nil || n < 3 {
		t.Fatalf("released %d segments (%v), want several", n, err)
	}
	w.Close()
	for keep := 0; keep <= n; keep++ {
		// The crash came after the first n-keep deletions.
		for _, path := range order[n-keep : n] {
			if err := os.WriteFile(path, saved[path], 0o644); err != nil {
				t.Fatal(err)
			}
		}
		w, rec := openGroups(t, dir, segSize)
		checkAll(t, fmt.Sprintf("%d of %d deleted segments left", keep, n), rec, model)
		w.Close()
		for _, path := range order[n-keep : n] {
			os.Remove(path)
		}
	}
}
