package bench

import (
	"fmt"
	"testing"

	raft "github.com/pureraft/raft"
)

// BenchmarkStoreAlone measures what the caller's store costs pureraft per
// entry, with no node at all: the persists and compactions of a 3-node
// run (BenchmarkThroughput, S=128) replayed into three stores. cpu-ns/op
// is per entry over the three stores, in BenchmarkThroughput's unit, so
// it is a floor under pureraft's cost with that store: no core, however
// fast, brings the whole below it. That bounds the ratio to etcd any core
// could reach with the store design (docs/performance.md, "Why the
// growing-slice ratios stop short").
func BenchmarkStoreAlone(b *testing.B) {
	for _, store := range Stores {
		for _, batch := range []int{1, 64} {
			name := fmt.Sprintf("store=%s/nodes=3/B=%d/S=128", store, batch)
			b.Run(name, func(b *testing.B) {
				b.ReportAllocs()
				res, err := RunStoreAlone(ThroughputParams{Nodes: 3, Batch: batch, Size: 128, Entries: b.N, Store: store})
				if err != nil {
					b.Fatal(err)
				}
				b.ReportMetric(float64(res.CPU.Nanoseconds())/float64(b.N), "cpu-ns/op")
			})
		}
	}
}

// TestReplayStoreKeepsWhatTheHarnessKeeps checks that the replay leaves a
// store as a harness run leaves it: every entry written, the log
// compacted to the last CompactRetain entries before the last compaction
// point, so the benchmark does the work it claims to.
func TestReplayStoreKeepsWhatTheHarnessKeeps(t *testing.T) {
	for _, store := range Stores {
		s, err := newPureLog(store)
		if err != nil {
			t.Fatal(err)
		}
		const entries = 472 * 64 // 30,208
		if err := replayStore(s, entries, 64, makePayloads(64, 16)); err != nil {
			t.Fatalf("store %s: %v", store, err)
		}
		first, last := s.bounds()
		// Compactions fall on the first batch end at least CompactEvery
		// entries past the one before: 10,048, 20,096 and 30,144, which
		// keeps 25,145 on.
		if wantFirst := raft.Index(30_144 - CompactRetain + 1); first != wantFirst || last != entries {
			t.Errorf("store %s holds %d...%d, want %d...%d", store, first, last, wantFirst, raft.Index(entries))
		}
		if e := s.entry(last); e.Index != last {
			t.Errorf("store %s: entry at %d has index %d", store, last, e.Index)
		}
	}
}
