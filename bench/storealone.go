package bench

import (
	"fmt"
	"runtime"

	raft "github.com/pureraft/raft"
)

// RunStoreAlone measures what pureraft's caller's store costs with no node
// at all: the persists and compactions a throughput run makes to each of
// p.Nodes stores (p.Batch entries a round, a compaction every CompactEvery
// entries keeping CompactRetain) replayed into stores of design p.Store.
// Its CPU time per entry is a floor under pureraft's with that store — no
// core, however fast, brings the whole run below it — and so bounds the
// ratio to etcd that any core could reach with that store design. With
// StoreChunked it is also the cost of keeping p.Nodes chunked copies of
// the log, which is what the core's own log does (BenchmarkCore).
func RunStoreAlone(p ThroughputParams) (ThroughputResult, error) {
	if p.Store == StoreOff {
		return ThroughputResult{}, fmt.Errorf("store-alone run of %s: no store to measure", p)
	}
	stores := make([]pureLog, p.Nodes)
	for i := range stores {
		s, err := newPureLog(p.Store)
		if err != nil {
			return ThroughputResult{}, err
		}
		stores[i] = s
	}
	payloads := makePayloads(p.Batch, p.Size)
	res := ThroughputResult{Entries: p.Entries}
	err := measureLoop(&res, func() error {
		for i, s := range stores {
			if err := replayStore(s, p.Entries, p.Batch, payloads); err != nil {
				return fmt.Errorf("store %d: %w", i+1, err)
			}
		}
		return nil
	})
	runtime.KeepAlive(stores)
	return res, err
}

// replayStore does to one pureraft store what the throughput harness does
// to each node's store, without a node: entries persisted in batches of
// batch, and a compaction every CompactEvery entries keeping the last
// CompactRetain. It writes entries entries in all.
func replayStore(s pureLog, entries, batch int, payloads [][]byte) error {
	buf := make([]raft.Entry, batch)
	p := new(raft.Persist) // one for the run: the harness's persists come from the node, not from the heap
	var written, compacted raft.Index
	for written < raft.Index(entries) {
		n := min(batch, entries-int(written))
		for k := range buf[:n] {
			buf[k] = raft.Entry{Index: written + raft.Index(k) + 1, Term: 1, Data: payloads[k%len(payloads)]}
		}
		p.Entries = buf[:n]
		if err := s.write(p); err != nil {
			return err
		}
		written += raft.Index(n)
		if written-compacted >= CompactEvery {
			s.compact(raft.SnapshotMeta{Index: written, Term: 1}, written-CompactRetain)
			compacted = written
		}
	}
	return nil
}
