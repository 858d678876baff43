package host

import (
	"errors"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/pureraft/raft"
)

func snapAt(i raft.Index, term raft.Term) *raft.SnapshotMeta {
	return &raft.SnapshotMeta{Index: i, Term: term, Membership: bootSnap.Membership}
}

// Each group's overwrite, snapshot install and compaction apply to that
// group alone (§5.3 log matching per group; §7 snapshots per group).
func TestWALGroupsReplayIndependently(t *testing.T) {
	dir := t.TempDir()
	w, _ := openGroups(t, dir, 1<<20)
	model := map[GroupID]*modelGroup{}
	saveGroups(t, w, model,
		gp(1, raft.Persist{Snapshot: snapAt(0, 0), Entries: gents(1, 1, 10, 1), HasHardState: true, HardState: raft.HardState{Term: 1, Vote: 1, Commit: 5}}),
		gp(2, raft.Persist{Snapshot: snapAt(0, 0), Entries: gents(2, 1, 10, 1), HasHardState: true, HardState: raft.HardState{Term: 1, Vote: 2, Commit: 6}}),
		gp(3, raft.Persist{Snapshot: snapAt(0, 0), Entries: gents(3, 1, 10, 1)}),
	)
	// Group 1 overwrites 8.. (a new leader, §5.3); group 2 installs a
	// snapshot at 50; group 3 compacts at 7. Interleaved in one batch.
	saveGroups(t, w, model,
		gp(1, raft.Persist{Entries: gents(1, 8, 9, 2)}),
		gp(2, raft.Persist{Snapshot: snapAt(50, 3), Entries: gents(2, 51, 52, 3), HasHardState: true, HardState: raft.HardState{Term: 3, Commit: 50}}),
		gp(1, raft.Persist{HasHardState: true, HardState: raft.HardState{Term: 2, Vote: 2, Commit: 8}}),
		gp(3, raft.Persist{Entries: gents(3, 11, 11, 1)}),
	)
	if err := w.SaveGroupSnapshot(3, *snapAt(7, 1)); err != nil {
		t.Fatal(err)
	}
	model[3].snap, model[3].hasSnap = *snapAt(7, 1), true
	w.Close()
	_, rec := openGroups(t, dir, 1<<20)
	checkAll(t, "reopen", rec, model)
	if got := indexes(rec.Groups[1].Entries); len(got) != 9 || got[8] != 9 {
		t.Fatalf("group 1 entries %v: its overwrite leaked into or from another group", got)
	}
}

// One batch holding persists of many groups costs one fsync, however many
// groups it holds: the group commit across groups.
func TestWALGroupCommitOneFsyncPerBatch(t *testing.T) {
	for _, groups := range []int{1, 16, 64} {
		dir := t.TempDir()
		w, _ := openGroups(t, dir, 64<<20)
		syncs := 0
		w.FsyncHook = func(time.Duration) { syncs++ }
		for round := raft.Index(1); round <= 3; round++ {
			var batch []GroupPersist
			for g := GroupID(1); g <= GroupID(groups); g++ {
				batch = append(batch, gp(g, raft.Persist{Entries: gents(g, round, round, 1), HasHardState: true, HardState: raft.HardState{Term: 1, Commit: round}}))
			}
			if err := w.SaveGroups(batch); err != nil {
				t.Fatal(err)
			}
		}
		if syncs != 3 {
			t.Fatalf("%d groups: %d fsyncs for 3 batches, want 3", groups, syncs)
		}
		// A batch in which nobody asks for durability costs none.
		p := raft.Persist{Entries: gents(1, 4, 4, 1)}
		if err := w.SaveGroups([]GroupPersist{{Group: 1, Persist: &p}}); err != nil {
			t.Fatal(err)
		}
		if syncs != 3 {
			t.Fatalf("an unsynced batch was synced")
		}
		w.Close()
	}
}

// A segment is deleted only when every group is past it; an idle group's
// latest records are written again once, when their segment goes, so it
// survives the release of every segment it wrote.
func TestWALReleaseWaitsForEveryGroup(t *testing.T) {
	dir := t.TempDir()
	const seg = 1024
	w, _ := openGroups(t, dir, seg)
	model := map[GroupID]*modelGroup{}
	// Group 3 is idle after its first write.
	saveGroups(t, w, model, gp(3, raft.Persist{Snapshot: snapAt(5, 1), HasHardState: true, HardState: raft.HardState{Term: 1, Vote: 3, Commit: 5}}))
	saveGroups(t, w, model, gp(1, raft.Persist{Snapshot: snapAt(0, 0)}), gp(2, raft.Persist{Snapshot: snapAt(0, 0)}))
	for i := raft.Index(1); i <= 100; i++ {
		saveGroups(t, w, model,
			gp(1, raft.Persist{Entries: gents(1, i, i, 1), HasHardState: true, HardState: raft.HardState{Term: 1, Commit: i - 1}}),
			gp(2, raft.Persist{Entries: gents(2, i, i, 1)}))
	}
	segs := w.Segments()
	if segs < 5 {
		t.Fatalf("want several segments, got %d", segs)
	}
	compact := func(gid GroupID, at raft.Index) int {
		t.Helper()
		if err := w.SaveGroupSnapshot(gid, *snapAt(at, 1)); err != nil {
			t.Fatal(err)
		}
		model[gid].snap = *snapAt(at, 1)
		n, err := w.ReleaseGroup(gid, at+1)
		if err != nil {
			t.Fatal(err)
		}
		walCheckInvariants(t, w)
		return n
	}
	if n := compact(1, 100); n != 0 {
		t.Fatalf("released %d segments that group 2 still needs", n)
	}
	n := compact(2, 90)
	if n == 0 || w.Segments() >= segs {
		t.Fatalf("released %d segments: %d left of %d", n, w.Segments(), segs)
	}
	// Group 2's entries 91..100 keep the last few segments, nothing more.
	if first := w.segs[0]; len(first.needs) == 0 && len(w.segs) > 1 {
		t.Fatalf("segment %d is kept though no group needs it", first.seq)
	}
	w.Close()
	_, rec := openGroups(t, dir, seg)
	checkAll(t, "after release", rec, model)
	if rec.Groups[3].HardState.Vote != 3 {
		t.Fatalf("the idle group lost its hard state")
	}
}

// A new segment starts with its header only: rolling over does not write
// the state of every group.
func TestWALSegmentStartIsHeaderOnly(t *testing.T) {
	dir := t.TempDir()
	w, _ := openGroups(t, dir, 4096)
	model := map[GroupID]*modelGroup{}
	var batch []GroupPersist
	for g := GroupID(1); g <= 500; g++ {
		batch = append(batch, gp(g, raft.Persist{Snapshot: snapAt(1, 1), HasHardState: true, HardState: raft.HardState{Term: 1, Commit: 1}}))
	}
	saveGroups(t, w, model, batch...)
	if w.Segments() != 2 || w.size != segHeaderSize {
		t.Fatalf("after rollover: %d segments, current holds %d bytes, want 2 and %d", w.Segments(), w.size, segHeaderSize)
	}
	w.Close()
	_, rec := openGroups(t, dir, 4096)
	checkAll(t, "reopen", rec, model)
}

// A removed group is not rebuilt after a restart, its segments go, and
// writes to it are refused.
func TestWALRemoveGroupSurvivesRestart(t *testing.T) {
	dir := t.TempDir()
	const seg = 1024
	w, _ := openGroups(t, dir, seg)
	model := map[GroupID]*modelGroup{}
	saveGroups(t, w, model, gp(1, raft.Persist{Snapshot: snapAt(0, 0), Entries: gents(1, 1, 2, 1)}))
	for i := raft.Index(1); i <= 60; i++ {
		saveGroups(t, w, model, gp(2, raft.Persist{Entries: gents(2, i, i, 1)}))
	}
	segs := w.Segments()
	n, err := w.RemoveGroup(2)
	if err != nil {
		t.Fatal(err)
	}
	model[2].removed = true
	// Group 1's entries sit in the first segment: it stays, and with it
	// every later one (segments go oldest first).
	if n != 0 {
		t.Fatalf("released %d segments while group 1 needs the first", n)
	}
	w.Close()
	w, rec := openGroups(t, dir, seg)
	checkAll(t, "after removal", rec, model)
	if err := w.SaveGroups([]GroupPersist{gp(2, raft.Persist{Entries: gents(2, 61, 61, 1)})}); !errors.Is(err, ErrGroupRemoved) {
		t.Fatalf("write to a removed group: %v, want ErrGroupRemoved", err)
	}
	if _, err := w.RemoveGroup(2); !errors.Is(err, ErrGroupRemoved) {
		t.Fatalf("second removal: %v, want ErrGroupRemoved", err)
	}
	if err := w.SaveGroupSnapshot(1, *snapAt(2, 1)); err != nil {
		t.Fatal(err)
	}
	model[1].snap = *snapAt(2, 1)
	if n, err = w.ReleaseGroup(1, 3); err != nil || n != segs-1 {
		t.Fatalf("release after removal: %d of %d segments, %v", n, segs, err)
	}
	walCheckInvariants(t, w)
	w.Close()
	_, rec = openGroups(t, dir, seg)
	checkAll(t, "after release", rec, model)
}

// Bad calls are refused with a clear error and write nothing.
func TestWALBadCallsChangeNothing(t *testing.T) {
	dir := t.TempDir()
	w, _ := openGroups(t, dir, 1<<20)
	model := map[GroupID]*modelGroup{}
	saveGroups(t, w, model, gp(1, raft.Persist{Snapshot: snapAt(10, 1), Entries: gents(1, 11, 12, 1)}), gp(2, raft.Persist{Snapshot: snapAt(0, 0)}))
	if _, err := w.RemoveGroup(2); err != nil {
		t.Fatal(err)
	}
	model[2].removed = true
	size := w.size
	syncs := 0
	w.FsyncHook = func(time.Duration) { syncs++ }
	for _, c := range []struct {
		name string
		call func() error
		want error
	}{
		{"group 0 in a batch", func() error {
			return w.SaveGroups([]GroupPersist{gp(1, raft.Persist{Entries: gents(1, 13, 13, 1)}), gp(0, raft.Persist{Entries: gents(0, 1, 1, 1)})})
		}, ErrUnknownGroup},
		{"removed group in a batch", func() error {
			return w.SaveGroups([]GroupPersist{gp(1, raft.Persist{Entries: gents(1, 13, 13, 1)}), gp(2, raft.Persist{Entries: gents(2, 1, 1, 1)})})
		}, ErrGroupRemoved},
		{"release of an unknown group", func() error { _, err := w.ReleaseGroup(9, 1); return err }, ErrUnknownGroup},
		{"removal of an unknown group", func() error { _, err := w.RemoveGroup(9); return err }, ErrUnknownGroup},
		{"release past the snapshot", func() error { _, err := w.ReleaseGroup(1, 12); return err }, ErrBadRelease},
		{"compaction back in time", func() error { return w.SaveGroupSnapshot(1, *snapAt(9, 1)) }, ErrBadRelease},
		{"compaction of group 0", func() error { return w.SaveGroupSnapshot(0, *snapAt(9, 1)) }, ErrUnknownGroup},
	} {
		if err := c.call(); !errors.Is(err, c.want) {
			t.Fatalf("%s: %v, want %v", c.name, err, c.want)
		}
		if w.size != size || syncs != 0 {
			t.Fatalf("%s: refused call wrote %d bytes, %d fsyncs", c.name, w.size-size, syncs)
		}
	}
	walCheckInvariants(t, w)
	w.Close()
	_, rec := openGroups(t, dir, 1<<20)
	checkAll(t, "reopen", rec, model)
}

// rawRecord encodes one version 2 record, whatever its content.
func rawRecord(typ byte, gid GroupID, enc func([]byte) ([]byte, error)) []byte {
	var w WAL
	if err := w.appendRecord(typ, gid, enc); err != nil {
		panic(err)
	}
	return w.buf
}

// appendAt writes rec at the end of the written part of the last segment.
func appendAt(t *testing.T, path string, off int64, rec []byte) {
	t.Helper()
	f, err := os.OpenFile(path, os.O_WRONLY, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if _, err := f.WriteAt(rec, off); err != nil {
		t.Fatal(err)
	}
}

// A whole record whose checksum holds but whose content is impossible is
// not a torn write: open fails, names the place, and cuts nothing — even in
// the last segment.
func TestWALImpossibleRecordsAreCorruption(t *testing.T) {
	hs := raft.HardState{Term: 1}
	for _, c := range []struct {
		name string
		rec  []byte
		want string
	}{
		{"group 0", rawRecord(recHardState, 0, hs.AppendBinary), "group 0"},
		{"after removal", rawRecord(recHardState, 2, hs.AppendBinary), "group 2 after its removal"},
		{"unknown type", rawRecord(42, 1, hs.AppendBinary), "group 1: unknown record type 42"},
		{"gap", rawRecord(recEntry, 1, gents(1, 9, 9, 1)[0].AppendBinary), "group 1: entry 9 leaves a gap after 2"},
	} {
		t.Run(c.name, func(t *testing.T) {
			dir := t.TempDir()
			w, _ := openGroups(t, dir, 1<<20)
			model := map[GroupID]*modelGroup{}
			saveGroups(t, w, model, gp(1, raft.Persist{Snapshot: snapAt(0, 0), Entries: gents(1, 1, 2, 1)}), gp(2, raft.Persist{Snapshot: snapAt(0, 0)}))
			if _, err := w.RemoveGroup(2); err != nil {
				t.Fatal(err)
			}
			end := w.size
			w.Close()
			seg := lastSegment(t, dir)
			appendAt(t, seg, end, c.rec)
			before, _ := os.ReadFile(seg)
			_, _, err := OpenWALGroups(dir, 1<<20)
			if !errors.Is(err, ErrCorrupt) {
				t.Fatalf("open: %v, want ErrCorrupt", err)
			}
			for _, part := range []string{seg, "offset " + strconv.FormatInt(end, 10), c.want} {
				if !strings.Contains(err.Error(), part) {
					t.Fatalf("error %q does not name %q", err, part)
				}
			}
			if after, _ := os.ReadFile(seg); !slices.Equal(before, after) {
				t.Fatal("a refused open changed the segment")
			}
		})
	}
}

// A checksum failure in a segment before the last cannot be a torn write:
// open fails naming the segment and offset, and deletes nothing.
func TestWALGroupsCorruptOlderSegment(t *testing.T) {
	dir := t.TempDir()
	w, _ := openGroups(t, dir, 512)
	model := map[GroupID]*modelGroup{}
	for i := raft.Index(1); i <= 40; i++ {
		saveGroups(t, w, model, gp(1, raft.Persist{Entries: gents(1, i, i, 1)}), gp(2, raft.Persist{Entries: gents(2, i, i, 1)}))
	}
	w.Close()
	names, _ := filepath.Glob(filepath.Join(dir, "*.wal"))
	slices.Sort(names)
	data, _ := os.ReadFile(names[0])
	data[segHeaderSize+12] ^= 1 // inside the first record's payload
	os.WriteFile(names[0], data, 0o644)
	_, _, err := OpenWALGroups(dir, 512)
	if !errors.Is(err, ErrCorrupt) || !strings.Contains(err.Error(), names[0]+" at offset 8: checksum mismatch") {
		t.Fatalf("open: %v", err)
	}
	after, _ := filepath.Glob(filepath.Join(dir, "*.wal"))
	if len(after) != len(names) {
		t.Fatalf("open deleted segments: %d of %d left", len(after), len(names))
	}
}

// A torn record at the end of the last segment is cut and reported, and
// every group keeps what came before it.
func TestWALGroupsTornTailReported(t *testing.T) {
	dir := t.TempDir()
	w, _ := openGroups(t, dir, 1<<20)
	model := map[GroupID]*modelGroup{}
	saveGroups(t, w, model, gp(1, raft.Persist{Entries: gents(1, 1, 3, 1)}), gp(2, raft.Persist{Entries: gents(2, 1, 3, 1)}))
	end := w.size
	p := raft.Persist{Entries: gents(2, 4, 4, 1), Sync: true}
	if err := w.SaveGroups([]GroupPersist{{Group: 2, Persist: &p}}); err != nil {
		t.Fatal(err)
	}
	w.Close()
	seg := lastSegment(t, dir)
	if err := os.Truncate(seg, end+5); err != nil {
		t.Fatal(err)
	}
	_, rec := openGroups(t, dir, 1<<20)
	if rec.TornBytes != 5 || rec.TornSegment != seg {
		t.Fatalf("torn tail reported as %d bytes in %q", rec.TornBytes, rec.TornSegment)
	}
	checkAll(t, "after the cut", rec, model)
}

// A segment of an unknown format version is refused by name, not cut as a
// torn write.
func TestWALUnknownFormatVersion(t *testing.T) {
	dir := t.TempDir()
	w, _ := openGroups(t, dir, 1<<20)
	w.Close()
	seg := lastSegment(t, dir)
	data, _ := os.ReadFile(seg)
	data[7] = 9
	os.WriteFile(seg, data, 0o644)
	_, _, err := OpenWALGroups(dir, 1<<20)
	if !errors.Is(err, ErrCorrupt) || !strings.Contains(err.Error(), "segment format version 9") {
		t.Fatalf("open: %v", err)
	}
}

// The segment holding a group's first needed entry stays, however close
// to the release point it ends (§7: only entries the snapshot covers may
// be discarded).
func TestWALReleaseKeepsFirstNeededEntry(t *testing.T) {
	dir := t.TempDir()
	w, _ := openGroups(t, dir, 512)
	model := map[GroupID]*modelGroup{}
	saveGroups(t, w, model, gp(1, raft.Persist{Snapshot: snapAt(0, 0)}))
	for i := raft.Index(1); i <= 100; i++ {
		saveGroups(t, w, model, gp(1, raft.Persist{Entries: gents(1, i, i, 1)}))
	}
	if w.Segments() < 3 {
		t.Fatalf("want several segments, got %d", w.Segments())
	}
	last := w.segs[1].needs[1] // the last entry of the second segment
	if err := w.SaveGroupSnapshot(1, *snapAt(last-1, 1)); err != nil {
		t.Fatal(err)
	}
	model[1].snap = *snapAt(last-1, 1)
	if n, err := w.ReleaseGroup(1, last); err != nil || n != 1 {
		t.Fatalf("released %d segments (%v), want only the first", n, err)
	}
	w.Close()
	_, rec := openGroups(t, dir, 512)
	checkAll(t, "after release", rec, model)
}

// A batch with a record too large to store is refused whole: the other
// groups' records in it are not written either.
func TestWALOversizedRecordRefusesTheBatch(t *testing.T) {
	dir := t.TempDir()
	w, _ := openGroups(t, dir, 1<<20)
	model := map[GroupID]*modelGroup{}
	saveGroups(t, w, model, gp(1, raft.Persist{Snapshot: snapAt(0, 0)}), gp(2, raft.Persist{Snapshot: snapAt(0, 0)}))
	size := w.size
	huge := raft.Entry{Index: 1, Term: 1, Data: make([]byte, maxRecordSize)}
	err := w.SaveGroups([]GroupPersist{gp(1, raft.Persist{Entries: gents(1, 1, 1, 1)}), gp(2, raft.Persist{Entries: []raft.Entry{huge}})})
	if err == nil || w.size != size {
		t.Fatalf("oversized record: %v, %d bytes written", err, w.size-size)
	}
	saveGroups(t, w, model, gp(2, raft.Persist{Entries: gents(2, 1, 1, 1)}))
	w.Close()
	_, rec := openGroups(t, dir, 1<<20)
	checkAll(t, "reopen", rec, model)
}

// Idle groups' latest records are written again only when the segment
// holding them is deleted — at most once per release and once per segment,
// never at a segment start — and the groups that hold the oldest segment
// are named.
func TestWALCarryRewritesIdleGroupsOnlyWithTheirSegment(t *testing.T) {
	dir := t.TempDir()
	const seg = 2048
	w, _ := openGroups(t, dir, seg)
	model := map[GroupID]*modelGroup{}
	var idle []GroupPersist
	for g := GroupID(2); g <= 41; g++ {
		idle = append(idle, gp(g, raft.Persist{Snapshot: snapAt(3, 1), HasHardState: true, HardState: raft.HardState{Term: 1, Commit: 3}}))
	}
	saveGroups(t, w, model, idle...)
	saveGroups(t, w, model, gp(1, raft.Persist{Snapshot: snapAt(0, 0)}))
	next := raft.Index(1)
	carries := 0
	for round := 0; round < 60; round++ {
		saveGroups(t, w, model, gp(1, raft.Persist{Entries: gents(1, next, next+19, 1)}))
		next += 20
		// Group 1 compacts and keeps a tail of 150 entries, a few
		// segments: the start of the log it needs moves in small steps.
		pinned := w.groups[2].hsSeq
		before := w.written
		at := next - 1
		if err := w.SaveGroupSnapshot(1, *snapAt(at, 1)); err != nil {
			t.Fatal(err)
		}
		model[1].snap = *snapAt(at, 1)
		if _, err := w.ReleaseGroup(1, max(at+1, 151)-150); err != nil {
			t.Fatal(err)
		}
		walCheckInvariants(t, w)
		if got := w.Blocking(); w.Segments() > 1 && !slices.Equal(got, []GroupID{1}) {
			t.Fatalf("round %d: blocking groups %v, want [1]", round, got)
		}
		own := int64(len(rawRecord(recSnapCompact, 1, snapAt(at, 1).AppendBinary)))
		carried := w.written-before > own
		if deleted := w.seg(pinned) == nil; carried != deleted {
			t.Fatalf("round %d: carried %v, the idle groups' segment %d deleted %v", round, carried, pinned, deleted)
		}
		if carried {
			carries++
			if got := w.written - before - own; got < 40*2*recHeaderSize {
				t.Fatalf("round %d: carried only %d bytes for 40 idle groups", round, got)
			}
		}
	}
	t.Logf("idle groups carried in %d of 60 releases", carries)
	if carries == 0 || carries > 60/4 {
		t.Fatalf("idle groups carried in %d of 60 releases", carries)
	}
	w.Close()
	_, rec := openGroups(t, dir, seg)
	checkAll(t, "reopen", rec, model)
}

// Compacting many groups at once costs one fsync — their compaction
// points, the idle groups' carried records and all — and deletes what no
// group needs any more; a bad compaction in the batch refuses it whole.
func TestWALCompactGroupsOneFsync(t *testing.T) {
	dir := t.TempDir()
	const seg = 1024
	w, _ := openGroups(t, dir, seg)
	model := map[GroupID]*modelGroup{}
	saveGroups(t, w, model, gp(99, raft.Persist{Snapshot: snapAt(7, 1), HasHardState: true, HardState: raft.HardState{Term: 1, Commit: 7}}))
	for i := raft.Index(1); i <= 30; i++ {
		var batch []GroupPersist
		for g := GroupID(1); g <= 8; g++ {
			batch = append(batch, gp(g, raft.Persist{Entries: gents(g, i, i, 1)}))
		}
		saveGroups(t, w, model, batch...)
	}
	segs := w.Segments()
	var compactions []GroupCompaction
	for g := GroupID(1); g <= 8; g++ {
		compactions = append(compactions, GroupCompaction{Group: g, Snapshot: *snapAt(29, 1), First: 30})
	}
	syncs := 0
	w.FsyncHook = func(time.Duration) { syncs++ }
	size := w.size
	for _, bad := range []GroupCompaction{
		{Group: 3, Snapshot: *snapAt(29, 1), First: 31},
		{Group: 0, Snapshot: *snapAt(29, 1), First: 30},
		{Group: 99, Snapshot: *snapAt(6, 1), First: 7},
	} {
		if _, err := w.CompactGroups(append(slices.Clone(compactions), bad)); err == nil || w.size != size || syncs != 0 {
			t.Fatalf("bad compaction %+v: %v, %d bytes, %d fsyncs", bad, err, w.size-size, syncs)
		}
	}
	n, err := w.CompactGroups(compactions)
	if err != nil {
		t.Fatal(err)
	}
	if syncs != 1 || n < segs-2 {
		t.Fatalf("compacting 8 groups: %d fsyncs, %d of %d segments deleted", syncs, n, segs)
	}
	for g := GroupID(1); g <= 8; g++ {
		model[g].snap, model[g].hasSnap = *snapAt(29, 1), true
	}
	walCheckInvariants(t, w)
	w.Close()
	_, rec := openGroups(t, dir, seg)
	checkAll(t, "reopen", rec, model)
}
