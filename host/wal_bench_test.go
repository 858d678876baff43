package host

import (
	"fmt"
	"testing"
	"time"

	"github.com/pureraft/raft"
)

// BenchmarkWALSaveGroups writes batches in which each of G groups
// contributes one persist (a 128-byte entry and a hard state), fsync on, on
// the disk under t.TempDir. "batched" is the group commit across groups: one
// SaveGroups, one fsync per batch. "separate" is the baseline of one
// SaveGroups (one fsync) per group, as G single-group WALs sharing a disk
// would do. Reported: entries/s, fsyncs/s, fsyncs per batch (1 for
// batched, whatever G is) and bytes written per entry.
func BenchmarkWALSaveGroups(b *testing.B) {
	for _, groups := range []int{1, 16, 64} {
		for _, mode := range []string{"batched", "separate"} {
			b.Run(fmt.Sprintf("%s/G=%d", mode, groups), func(b *testing.B) {
				benchSaveGroups(b, groups, mode == "batched")
			})
		}
	}
}

func benchSaveGroups(b *testing.B, groups int, batched bool) {
	w, _, err := OpenWALGroups(b.TempDir(), 64<<20)
	if err != nil {
		b.Fatal(err)
	}
	defer w.Close()
	syncs := 0
	w.FsyncHook = func(time.Duration) { syncs++ }
	data := make([]byte, 128)
	ps := make([]raft.Persist, groups)
	batch := make([]GroupPersist, groups)
	ents := make([]raft.Entry, groups)
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		idx := raft.Index(i + 1)
		for g := range groups {
			ents[g] = raft.Entry{Index: idx, Term: 1, Data: data}
			ps[g] = raft.Persist{Entries: ents[g : g+1], HasHardState: true, HardState: raft.HardState{Term: 1, Vote: 1, Commit: idx - 1}, Sync: true}
			batch[g] = GroupPersist{Group: GroupID(g + 1), Persist: &ps[g]}
		}
		if batched {
			err = w.SaveGroups(batch)
		} else {
			for g := range batch {
				if err = w.SaveGroups(batch[g : g+1]); err != nil {
					break
				}
			}
		}
		if err != nil {
			b.Fatal(err)
		}
	}
	secs := b.Elapsed().Seconds()
	entries := float64(b.N * groups)
	b.ReportMetric(entries/secs, "entries/s")
	b.ReportMetric(float64(syncs)/secs, "fsyncs/s")
	b.ReportMetric(float64(syncs)/float64(b.N), "fsyncs/batch")
	b.ReportMetric(float64(w.written)/entries, "bytes/entry")
}

// BenchmarkWALOpenGroups measures recovery: opening a WAL that holds
// 10,000 groups, each with a snapshot record, 10 entries of 128 bytes and
// a hard state, written in batches of 100 groups. Reported per group.
func BenchmarkWALOpenGroups(b *testing.B) {
	const groups, perGroup = 10000, 10
	dir := b.TempDir()
	w, _, err := OpenWALGroups(dir, 64<<20)
	if err != nil {
		b.Fatal(err)
	}
	data := make([]byte, 128)
	for first := 1; first <= groups; first += 100 {
		var batch []GroupPersist
		for g := first; g < first+100; g++ {
			ents := make([]raft.Entry, perGroup)
			for i := range ents {
				ents[i] = raft.Entry{Index: raft.Index(i + 1), Term: 1, Data: data}
			}
			p := raft.Persist{Snapshot: snapAt(0, 0), Entries: ents, HasHardState: true, HardState: raft.HardState{Term: 1, Commit: perGroup}}
			batch = append(batch, GroupPersist{Group: GroupID(g), Persist: &p})
		}
		if err := w.SaveGroups(batch); err != nil {
			b.Fatal(err)
		}
	}
	w.Close()
	b.ResetTimer()
	for b.Loop() {
		w, rec, err := OpenWALGroups(dir, 64<<20)
		if err != nil || len(rec.Groups) != groups {
			b.Fatalf("open: %v, %d groups", err, len(rec.Groups))
		}
		w.Close()
	}
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N)/groups, "ns/group")
}
