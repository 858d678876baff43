package bench

import (
	"fmt"

	raft "github.com/pureraft/raft"
)

// Store names a store design. The throughput harness runs both libraries
// on stores of the same design, so that a ratio compares the libraries,
// not the ways their callers store entries.
type Store string

const (
	// StoreSlice is one slice of entries grown by append, as etcd's
	// MemoryStorage grows: an overwrite copies the kept prefix into a new
	// array, and compaction copies the remaining entries into a new array.
	// etcd gets MemoryStorage itself; pureraft gets sliceStore.
	StoreSlice Store = "slice"
	// StoreChunked is fixed chunks of 4,096 entries (chunkLog): storing an
	// entry never copies earlier ones, and compaction frees whole chunks.
	// pureraft gets chunkStore, etcd gets chunkStorage.
	StoreChunked Store = "chunked"
)

// Stores are the store designs, in the order the tables report them.
var Stores = []Store{StoreSlice, StoreChunked}

// StoreOff is pureraft only, and no store: the caller acknowledges every
// persist at once and keeps nothing but the bounds (offStore). It makes
// the core's own cost per entry visible (issue 16 part 2); etcd reads its
// log from its Storage, so it has no such mode, and no ratio is quoted
// with it.
const StoreOff Store = "off"

// Describe names the store each library gets under design s, for table
// headings.
func (s Store) Describe() string {
	switch s {
	case StoreSlice:
		return "growing slice (`slice`): etcd gets its MemoryStorage, pureraft one slice grown and compacted the way MemoryStorage does"
	case StoreChunked:
		return "chunked (`chunked`): both get fixed 4,096-entry chunks, compaction freeing whole chunks (etcd through chunkStorage, a raft.Storage)"
	}
	return string(s)
}

// Compaction, the same on both sides and for both designs: once a node has
// applied CompactEvery entries since its last compaction, it snapshots at
// its applied index and compacts its log, keeping the last CompactRetain
// entries for followers that lag (etcd server's defaults for its snapshot
// count and catch-up entries).
const (
	CompactEvery  = 10_000
	CompactRetain = 5_000
)

// pureLog is the pureraft caller's stand-in for a disk: it applies persist
// actions as the contract says — snapshot, then entries (replacing any
// stored suffix from the first one on), then hard state — into memory. It
// keeps the entries (not their payloads, which neither library copies) in
// memory, as etcd's Storage does on the other side.
type pureLog interface {
	write(p *raft.Persist) error
	// compact records the snapshot Node.Compact returned and deletes the
	// stored entries up to through.
	compact(meta raft.SnapshotMeta, through raft.Index)
	// bounds returns the first and last stored index (last = first-1 when
	// no entry is stored).
	bounds() (first, last raft.Index)
	// entry returns the stored entry at i, which must lie within bounds.
	entry(i raft.Index) raft.Entry
}

func newPureLog(s Store) (pureLog, error) {
	switch s {
	case StoreSlice:
		return &sliceStore{first: 1}, nil
	case StoreChunked:
		c := &chunkStore{}
		c.log.reset(1)
		return c, nil
	case StoreOff:
		return &offStore{first: 1}, nil
	}
	return nil, fmt.Errorf("unknown store design %q", s)
}

// sliceStore is StoreSlice for pureraft: one slice, grown the way etcd's
// MemoryStorage grows it, so that both sides copy entries alike.
type sliceStore struct {
	hs    raft.HardState
	snap  raft.SnapshotMeta
	first raft.Index // the index of ents[0]
	ents  []raft.Entry
}

func (s *sliceStore) write(p *raft.Persist) error {
	if p.Snapshot != nil {
		s.snap = *p.Snapshot
		s.first, s.ents = s.snap.Index+1, nil
	}
	if len(p.Entries) > 0 {
		from := p.Entries[0].Index
		if from < s.first || from > s.first+raft.Index(len(s.ents)) {
			return fmt.Errorf("persist of entries from %d onto a store holding %d...%d", from, s.first, s.first+raft.Index(len(s.ents))-1)
		}
		keep := int(from - s.first)
		if keep < len(s.ents) {
			// As MemoryStorage: the kept prefix moves to a new array,
			// so that entries handed out earlier never change.
			s.ents = append(s.ents[:keep:keep], p.Entries...)
		} else {
			s.ents = append(s.ents, p.Entries...)
		}
	}
	if p.HasHardState {
		s.hs = p.HardState
	}
	return nil
}

func (s *sliceStore) compact(meta raft.SnapshotMeta, through raft.Index) {
	s.snap = meta
	if through < s.first {
		return
	}
	// As MemoryStorage.Compact: the remaining entries are copied into a
	// new array of just their size.
	drop := int(through + 1 - s.first)
	rest := make([]raft.Entry, 0, len(s.ents)-drop)
	s.ents = append(rest, s.ents[drop:]...)
	s.first = through + 1
}

func (s *sliceStore) bounds() (raft.Index, raft.Index) {
	return s.first, s.first + raft.Index(len(s.ents)) - 1
}

func (s *sliceStore) entry(i raft.Index) raft.Entry { return s.ents[i-s.first] }

// chunkStore is StoreChunked for pureraft: entries in fixed chunks
// (chunkLog), like a write-ahead log that only ever appends (or cuts a
// suffix) and drops whole segments on compaction.
type chunkStore struct {
	hs   raft.HardState
	snap raft.SnapshotMeta
	log  chunkLog[raft.Entry]
}

func (s *chunkStore) write(p *raft.Persist) error {
	if p.Snapshot != nil {
		s.snap = *p.Snapshot
		s.log.reset(uint64(s.snap.Index) + 1)
	}
	if len(p.Entries) > 0 {
		if err := s.log.append(uint64(p.Entries[0].Index), p.Entries); err != nil {
			return fmt.Errorf("persist: %w", err)
		}
	}
	if p.HasHardState {
		s.hs = p.HardState
	}
	return nil
}

func (s *chunkStore) compact(meta raft.SnapshotMeta, through raft.Index) {
	s.snap = meta
	if uint64(through) >= s.log.first {
		s.log.compact(uint64(through))
	}
}

func (s *chunkStore) bounds() (raft.Index, raft.Index) {
	return raft.Index(s.log.first), raft.Index(s.log.last)
}

func (s *chunkStore) entry(i raft.Index) raft.Entry { return *s.log.at(uint64(i)) }

// offStore is StoreOff: it checks that persists continue or overwrite what
// it "stores", as a real store would require, and keeps only the bounds.
type offStore struct {
	first, last raft.Index
}

func (s *offStore) write(p *raft.Persist) error {
	if p.Snapshot != nil {
		s.first, s.last = p.Snapshot.Index+1, p.Snapshot.Index
	}
	if n := len(p.Entries); n > 0 {
		if from := p.Entries[0].Index; from < s.first || from > s.last+1 {
			return fmt.Errorf("persist of entries from %d onto a store holding %d...%d", from, s.first, s.last)
		}
		s.last = p.Entries[n-1].Index
	}
	return nil
}

func (s *offStore) compact(_ raft.SnapshotMeta, through raft.Index) {
	s.first = max(s.first, through+1)
}

func (s *offStore) bounds() (raft.Index, raft.Index) { return s.first, s.last }

// entry is never called on offStore: it keeps no entries.
func (s *offStore) entry(raft.Index) raft.Entry { panic("bench: offStore keeps no entries") }
