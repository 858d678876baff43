package bench

import (
	"fmt"
	"sync"

	etcd "go.etcd.io/raft/v3"
	pb "go.etcd.io/raft/v3/raftpb"
)

// etcdStore is what the etcd harness needs of a store: the raft.Storage
// etcd reads its log from, and the writes the caller makes to it.
// *etcd.MemoryStorage (StoreSlice) and *chunkStorage (StoreChunked) are
// both one.
type etcdStore interface {
	etcd.Storage
	SetHardState(st pb.HardState) error
	Append(entries []pb.Entry) error
	ApplySnapshot(snap pb.Snapshot) error
	CreateSnapshot(i uint64, cs *pb.ConfState, data []byte) (pb.Snapshot, error)
	Compact(compactIndex uint64) error
}

func newEtcdStore(s Store) (etcdStore, error) {
	switch s {
	case StoreSlice:
		return etcd.NewMemoryStorage(), nil
	case StoreChunked:
		return newChunkStorage(), nil
	}
	return nil, fmt.Errorf("unknown store design %q", s)
}

// chunkStorage is StoreChunked for etcd: a raft.Storage with the contract
// of MemoryStorage (same errors, same answers; TestChunkStorageContract
// checks them side by side) that keeps entries in fixed chunks (chunkLog),
// as the pureraft side's chunkStore does. Like MemoryStorage it takes a
// mutex on every call, since etcd allows Append from another goroutine.
type chunkStorage struct {
	mu   sync.Mutex
	hs   pb.HardState
	snap pb.Snapshot
	// markIndex and markTerm are the last compacted entry's index and term
	// (MemoryStorage's dummy entry): Term answers for it, Entries does not.
	markIndex, markTerm uint64
	log                 chunkLog[pb.Entry] // markIndex+1 ... LastIndex
}

func newChunkStorage() *chunkStorage {
	s := &chunkStorage{}
	s.log.reset(1)
	return s
}

// InitialState implements etcd.Storage.
func (s *chunkStorage) InitialState() (pb.HardState, pb.ConfState, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.hs, s.snap.Metadata.ConfState, nil
}

// SetHardState saves the hard state.
func (s *chunkStorage) SetHardState(st pb.HardState) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.hs = st
	return nil
}

// Entries implements etcd.Storage. Out-of-range requests are an error
// here where MemoryStorage panics.
func (s *chunkStorage) Entries(lo, hi, maxSize uint64) ([]pb.Entry, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	switch {
	case lo <= s.markIndex:
		return nil, etcd.ErrCompacted
	case hi > s.log.last+1:
		return nil, fmt.Errorf("entries [%d, %d) beyond the last index %d", lo, hi, s.log.last)
	case s.log.len() == 0:
		return nil, etcd.ErrUnavailable
	}
	if lo >= hi {
		return nil, nil
	}
	// Count the entries within maxSize first (at least one, as etcd's
	// limitSize), so that only those are sliced or copied.
	size, end := uint64(s.log.at(lo).Size()), lo+1
	for ; end < hi; end++ {
		size += uint64(s.log.at(end).Size())
		if size > maxSize {
			break
		}
	}
	return s.log.slice(lo, end), nil
}

// Term implements etcd.Storage.
func (s *chunkStorage) Term(i uint64) (uint64, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	switch {
	case i < s.markIndex:
		return 0, etcd.ErrCompacted
	case i == s.markIndex:
		return s.markTerm, nil
	case i > s.log.last:
		return 0, etcd.ErrUnavailable
	}
	return s.log.at(i).Term, nil
}

// LastIndex implements etcd.Storage.
func (s *chunkStorage) LastIndex() (uint64, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.log.last, nil
}

// FirstIndex implements etcd.Storage.
func (s *chunkStorage) FirstIndex() (uint64, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.markIndex + 1, nil
}

// Snapshot implements etcd.Storage.
func (s *chunkStorage) Snapshot() (pb.Snapshot, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.snap, nil
}

// ApplySnapshot replaces the storage's contents with the snapshot.
func (s *chunkStorage) ApplySnapshot(snap pb.Snapshot) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if snap.Metadata.Index <= s.snap.Metadata.Index {
		return etcd.ErrSnapOutOfDate
	}
	s.snap = snap
	s.markIndex, s.markTerm = snap.Metadata.Index, snap.Metadata.Term
	s.log.reset(s.markIndex + 1)
	return nil
}

// CreateSnapshot records a snapshot at index i (held or the compaction
// mark) with configuration cs, when not nil, and data.
func (s *chunkStorage) CreateSnapshot(i uint64, cs *pb.ConfState, data []byte) (pb.Snapshot, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	switch {
	case i <= s.snap.Metadata.Index:
		return pb.Snapshot{}, etcd.ErrSnapOutOfDate
	case i < s.markIndex:
		return pb.Snapshot{}, etcd.ErrCompacted
	case i > s.log.last:
		return pb.Snapshot{}, fmt.Errorf("snapshot at %d beyond the last index %d", i, s.log.last)
	}
	s.snap.Metadata.Index = i
	s.snap.Metadata.Term = s.markTerm
	if i > s.markIndex {
		s.snap.Metadata.Term = s.log.at(i).Term
	}
	if cs != nil {
		s.snap.Metadata.ConfState = *cs
	}
	s.snap.Data = data
	return s.snap, nil
}

// Compact discards the entries before compactIndex, which becomes the
// compaction mark, freeing whole chunks.
func (s *chunkStorage) Compact(compactIndex uint64) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	switch {
	case compactIndex <= s.markIndex:
		return etcd.ErrCompacted
	case compactIndex > s.log.last:
		return fmt.Errorf("compact to %d beyond the last index %d", compactIndex, s.log.last)
	}
	s.markTerm = s.log.at(compactIndex).Term
	s.markIndex = compactIndex
	s.log.compact(compactIndex)
	return nil
}

// Append stores entries after deleting every stored entry at or after the
// first one; entries already compacted are skipped.
func (s *chunkStorage) Append(entries []pb.Entry) error {
	if len(entries) == 0 {
		return nil
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	first := s.markIndex + 1
	if last := entries[0].Index + uint64(len(entries)) - 1; last < first {
		return nil
	}
	if entries[0].Index < first {
		entries = entries[first-entries[0].Index:]
	}
	if entries[0].Index > s.log.last+1 {
		return fmt.Errorf("append at %d leaves a gap after the last index %d", entries[0].Index, s.log.last)
	}
	return s.log.append(entries[0].Index, entries)
}
