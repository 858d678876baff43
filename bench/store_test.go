package bench

import (
	"errors"
	"math/rand/v2"
	"reflect"
	"testing"

	raft "github.com/pureraft/raft"
	etcd "go.etcd.io/raft/v3"
	pb "go.etcd.io/raft/v3/raftpb"
)

// storeSeed drives the store tests' random operations; failures print it.
const storeSeed = 16

// storeBatch returns n entries from index first with the given term; each
// payload names its index and term, so a misplaced entry shows.
func storeBatch(first raft.Index, n int, term raft.Term) []raft.Entry {
	out := make([]raft.Entry, n)
	for i := range out {
		idx := first + raft.Index(i)
		out[i] = raft.Entry{Index: idx, Term: term, Data: []byte{byte(idx), byte(idx >> 8), byte(term)}}
	}
	return out
}

// TestStoresHoldSameEntries checks that pureraft's two store designs do
// equal work: after the same persists (appends, overwrites of a suffix as
// after a leader change, snapshots) and compactions they hold the same
// entries with the same terms, so that a ratio measured with one design
// against the other's is a comparison of storage layout, not of content.
// Batches of up to 3,000 entries cross 4,096-entry chunk boundaries.
func TestStoresHoldSameEntries(t *testing.T) {
	rng := rand.New(rand.NewPCG(storeSeed, 0))
	slice, _ := newPureLog(StoreSlice)
	chunked, _ := newPureLog(StoreChunked)
	stores := []pureLog{slice, chunked}
	term := raft.Term(1)
	for op := range 400 {
		first, last := slice.bounds()
		var what string
		switch r := rng.IntN(10); {
		case r < 5 || last < first: // append at the end
			what = "append"
			write(t, stores, &raft.Persist{Entries: storeBatch(last+1, 1+rng.IntN(3000), term), HasHardState: true,
				HardState: raft.HardState{Term: term}})
		case r < 7: // a new leader overwrites a suffix
			what = "overwrite"
			term++
			from := first + raft.Index(rng.IntN(int(last-first)+2))
			write(t, stores, &raft.Persist{Entries: storeBatch(from, 1+rng.IntN(500), term)})
		case r < 9: // compaction, as the harness does it after Node.Compact
			what = "compact"
			through := first - 1 + raft.Index(rng.IntN(int(last-first)+2))
			for _, s := range stores {
				s.compact(raft.SnapshotMeta{Index: through, Term: term}, through)
			}
		default: // a snapshot from the leader replaces everything
			what = "snapshot"
			snap := raft.SnapshotMeta{Index: last + raft.Index(rng.IntN(10000)), Term: term}
			write(t, stores, &raft.Persist{Snapshot: &snap})
		}
		sameEntries(t, op, what, slice, chunked)
	}
	for _, s := range stores {
		_, last := s.bounds()
		if err := s.write(&raft.Persist{Entries: storeBatch(last+2, 1, term)}); err == nil {
			t.Errorf("%T: a persist leaving a gap was accepted", s)
		}
	}
}

func write(t *testing.T, stores []pureLog, p *raft.Persist) {
	t.Helper()
	for _, s := range stores {
		if err := s.write(p); err != nil {
			t.Fatalf("seed %d: %T: %v", storeSeed, s, err)
		}
	}
}

func sameEntries(t *testing.T, op int, what string, a, b pureLog) {
	t.Helper()
	af, al := a.bounds()
	bf, bl := b.bounds()
	if af != bf || al != bl {
		t.Fatalf("seed %d, op %d (%s): slice store holds %d...%d, chunked %d...%d", storeSeed, op, what, af, al, bf, bl)
	}
	for i := af; i <= al; i++ {
		ea, eb := a.entry(i), b.entry(i)
		if ea.Index != i || !reflect.DeepEqual(ea, eb) {
			t.Fatalf("seed %d, op %d (%s): entry %d: slice store %+v, chunked %+v", storeSeed, op, what, i, ea, eb)
		}
	}
}

// etcdBatch returns n etcd entries from index first with the given term.
func etcdBatch(first uint64, n int, term uint64) []pb.Entry {
	out := make([]pb.Entry, n)
	for i := range out {
		idx := first + uint64(i)
		out[i] = pb.Entry{Index: idx, Term: term, Data: []byte{byte(idx), byte(idx >> 8), byte(term)}}
	}
	return out
}

// TestChunkStorageContract checks that chunkStorage keeps etcd's Storage
// contract as MemoryStorage does, by doing the same random operations on
// both and comparing every answer: Append (past the end, overwriting a
// suffix, partly compacted), Compact and CreateSnapshot (valid and stale),
// ApplySnapshot, and then Entries (with size limits), Term, FirstIndex,
// LastIndex, Snapshot and InitialState, errors included (ErrCompacted,
// ErrUnavailable, ErrSnapOutOfDate). Only calls within the contract are
// made: MemoryStorage panics outside it.
func TestChunkStorageContract(t *testing.T) {
	rng := rand.New(rand.NewPCG(storeSeed, 1))
	mem, chunk := etcd.NewMemoryStorage(), newChunkStorage()
	both := func(op int, what string, f func(s etcdStore) error) {
		t.Helper()
		em, ec := f(mem), f(chunk)
		if !errors.Is(ec, em) && !(em == nil && ec == nil) {
			t.Fatalf("seed %d, op %d: %s: MemoryStorage says %v, chunkStorage %v", storeSeed, op, what, em, ec)
		}
	}
	// Empty: the dummy entry at 0 only.
	both(-1, "Entries on an empty store", func(s etcdStore) error { _, err := s.Entries(1, 1, 100); return err })
	term := uint64(1)
	for op := range 400 {
		first, _ := mem.FirstIndex()
		last, _ := mem.LastIndex()
		var what string
		switch r := rng.IntN(12); {
		case r < 5 || last < first:
			what = "append"
			ents := etcdBatch(last+1, 1+rng.IntN(3000), term)
			both(op, what, func(s etcdStore) error { return s.Append(ents) })
		case r < 7:
			what = "overwrite"
			term++
			// From anywhere at or after the compaction mark, sometimes
			// partly compacted already (Append skips that part).
			from := first - 1 + uint64(rng.IntN(int(last-first)+3))
			if from == 0 {
				from = 1
			}
			ents := etcdBatch(from, 1+rng.IntN(500), term)
			both(op, what, func(s etcdStore) error { return s.Append(ents) })
		case r < 9:
			what = "compact"
			i := first - 1 + uint64(rng.IntN(int(last-first)+2)) // may be the mark: ErrCompacted
			both(op, what, func(s etcdStore) error { return s.Compact(i) })
		case r < 11:
			what = "create snapshot"
			i := first - 1 + uint64(rng.IntN(int(last-first)+2))
			cs := &pb.ConfState{Voters: []uint64{1, 2, uint64(op)}}
			both(op, what, func(s etcdStore) error { _, err := s.CreateSnapshot(i, cs, []byte{byte(op)}); return err })
		default:
			what = "apply snapshot"
			snap, _ := mem.Snapshot()
			snap.Metadata.Index += uint64(rng.IntN(10000)) // sometimes stale: ErrSnapOutOfDate
			snap.Metadata.Term = term
			both(op, what, func(s etcdStore) error { return s.ApplySnapshot(snap) })
		}
		sameAnswers(t, op, what, rng, mem, chunk)
	}
}

// sameAnswers compares every read of the Storage interface on a and b.
func sameAnswers(t *testing.T, op int, what string, rng *rand.Rand, a, b etcdStore) {
	t.Helper()
	fail := func(call string, x, y any) {
		t.Helper()
		t.Fatalf("seed %d, op %d (%s): %s: MemoryStorage %v, chunkStorage %v", storeSeed, op, what, call, x, y)
	}
	af, _ := a.FirstIndex()
	bf, _ := b.FirstIndex()
	al, _ := a.LastIndex()
	bl, _ := b.LastIndex()
	if af != bf || al != bl {
		fail("FirstIndex/LastIndex", [2]uint64{af, al}, [2]uint64{bf, bl})
	}
	as, _ := a.Snapshot()
	bs, _ := b.Snapshot()
	if !reflect.DeepEqual(as, bs) {
		fail("Snapshot", as, bs)
	}
	ahs, acs, _ := a.InitialState()
	bhs, bcs, _ := b.InitialState()
	if !reflect.DeepEqual(ahs, bhs) || !reflect.DeepEqual(acs, bcs) {
		fail("InitialState", acs, bcs)
	}
	lo := max(af, 2) - 2
	for i := lo; i <= al+1; i++ {
		at, aerr := a.Term(i)
		bt, berr := b.Term(i)
		if at != bt || aerr != berr {
			fail("Term", [2]any{at, aerr}, [2]any{bt, berr})
		}
	}
	for range 20 {
		lo := af - 1 + uint64(rng.IntN(int(al-af)+2))
		hi := lo + uint64(rng.IntN(int(al+2-lo)))
		if lo == 0 {
			continue
		}
		maxSize := uint64(rng.IntN(200)) // entries are 6–11 bytes encoded
		ae, aerr := a.Entries(lo, hi, maxSize)
		be, berr := b.Entries(lo, hi, maxSize)
		if aerr != berr || len(ae) != len(be) || (len(ae) > 0 && !reflect.DeepEqual(ae, be)) {
			fail("Entries", [2]any{len(ae), aerr}, [2]any{len(be), berr})
		}
	}
}

// TestChunkStorageEntriesStayPut checks what etcd relies on when it keeps
// the slices Storage.Entries returns: a later overwrite of the same indexes
// does not change them, and appending to a returned slice does not write
// into the storage — within a chunk and across chunks.
func TestChunkStorageEntriesStayPut(t *testing.T) {
	s := newChunkStorage()
	if err := s.Append(etcdBatch(1, 3*storeChunk, 1)); err != nil {
		t.Fatal(err)
	}
	within, _ := s.Entries(100, 110, 1<<30)
	across, _ := s.Entries(storeChunk-5, storeChunk+5, 1<<30)
	keep := append([]pb.Entry(nil), within...)
	keepAcross := append([]pb.Entry(nil), across...)
	_ = append(within, pb.Entry{Index: 999, Term: 9})
	if term, _ := s.Term(110); term != 1 {
		t.Fatalf("appending to a returned slice changed the storage: term %d at 110", term)
	}
	// A new leader's entries from 50 on replace 100... and both chunks.
	if err := s.Append(etcdBatch(50, storeChunk, 2)); err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(within, keep) || !reflect.DeepEqual(across, keepAcross) {
		t.Fatalf("an overwrite changed entries handed out earlier")
	}
	if term, _ := s.Term(110); term != 2 {
		t.Fatalf("the overwrite did not take: term %d at 110", term)
	}
	if _, err := s.Entries(1, 3*storeChunk+1, 1<<30); err == nil {
		t.Fatal("Entries beyond the last index did not fail")
	}
}

// TestHarnessCompacts checks that the throughput harness compacts on both
// sides and with both store designs, as CompactEvery says: after 25,000
// entries every node's store starts past index 10,000-CompactRetain and the
// cluster still applies everything.
func TestHarnessCompacts(t *testing.T) {
	for _, store := range Stores {
		for _, lib := range []Library{Pureraft, Etcd} {
			p := ThroughputParams{Nodes: 3, Batch: 64, Size: 16, Entries: 25_000, Store: store}
			c, err := newCluster(lib, p.Nodes, store)
			if err != nil {
				t.Fatal(err)
			}
			var res ThroughputResult
			if err := replicate(c, p, makePayloads(p.Batch, p.Size), &res); err != nil {
				t.Fatalf("%s %s: %v", lib, p, err)
			}
			for i := range p.Nodes {
				var first uint64
				switch c := c.(type) {
				case *pureCluster:
					f, _ := c.stores[i].bounds()
					first = uint64(f)
					if nf := c.nodes[i].Status().FirstIndex; uint64(nf) != first {
						t.Errorf("%s %s: node %d: store starts at %d, node's log at %d", lib, p, i+1, first, nf)
					}
				case *etcdCluster:
					first, _ = c.stores[i].FirstIndex()
				}
				if first <= 20_000-CompactRetain {
					t.Errorf("%s %s: node %d: store starts at %d: not compacted", lib, p, i+1, first)
				}
			}
		}
	}
}
