package raft

import "fmt"

// MemoryStorage keeps in memory what a node's persist actions write, as
// the persistence contract describes it: the hard state, the snapshot
// metadata, and the entries. It is storage for tests, simulations and
// benchmarks, and a reference for writing a real one; nothing survives the
// process. It keeps the entries in the same fixed-size chunks as the
// node's own log (log_chunks.go): storing an entry never copies earlier
// ones, and compaction frees whole chunks.
//
// Entries are stored as given, never copied one by one beyond that, and
// never modified: the slices State and Entry hand out stay valid. Like the
// Node, a MemoryStorage is not safe for concurrent use.
type MemoryStorage struct {
	hardState HardState
	snapshot  SnapshotMeta
	// log holds the stored entries: log.snapIndex is the last index
	// deleted (by Compact or a snapshot), log.snapTerm its term. Only its
	// entries are used, not its durability or commit fields.
	log raftLog
}

// NewMemoryStorage returns an empty storage: what a server that never ran
// has (Bootstrap's first persist action then writes the initial
// configuration as a snapshot at index 0).
func NewMemoryStorage() *MemoryStorage { return &MemoryStorage{} }

// Write makes p "durable": the snapshot, then the entries (deleting every
// stored entry from p.Entries[0].Index on), then the hard state. Entries
// that would leave a gap after the stored ones, or that start at or below
// a deleted index, are an error, and nothing is written.
func (s *MemoryStorage) Write(p *Persist) error {
	first, last := s.log.firstIndex(), s.log.lastIndex()
	if p.Snapshot != nil {
		first, last = p.Snapshot.Index+1, p.Snapshot.Index
	}
	if len(p.Entries) > 0 {
		if from := p.Entries[0].Index; from < first || from > last+1 {
			return fmt.Errorf("%w: persist of entries from %d onto storage holding %d to %d", ErrInvalidState, from, first, last)
		}
	}
	if p.Snapshot != nil {
		s.snapshot = *p.Snapshot
		s.log.restore(p.Snapshot.Index, p.Snapshot.Term)
	}
	if len(p.Entries) > 0 {
		if from := p.Entries[0].Index; from <= s.log.lastIndex() {
			s.log.truncateFrom(from) // thesis §3.5: a conflicting suffix is overwritten
		}
		s.log.append(p.Entries...)
	}
	if p.HasHardState {
		s.hardState = p.HardState
	}
	return nil
}

// Compact stores snap, the metadata Node.Compact returned, and deletes the
// stored entries up to through (the node's Status().FirstIndex-1, so that
// the entries it retains for lagging followers survive a restart too).
// through beyond the last stored entry is an error, and changes nothing.
func (s *MemoryStorage) Compact(snap SnapshotMeta, through Index) error {
	if through > s.log.lastIndex() {
		return fmt.Errorf("%w: compaction through %d beyond the last stored entry %d", ErrInvalidState, through, s.log.lastIndex())
	}
	s.snapshot = snap
	if through > s.log.snapIndex {
		s.log.compactTo(through)
	}
	return nil
}

// State returns what NewNode needs to restart the node from this storage,
// with applied as the state machine's applied index. Its Entries are a
// new slice (the stored chunks joined); their payloads are shared.
func (s *MemoryStorage) State(applied Index) PersistentState {
	st := PersistentState{HardState: s.hardState, Snapshot: s.snapshot, Applied: applied}
	if n := s.log.count(); n > 0 {
		st.Entries = make([]Entry, 0, n)
		for _, c := range s.log.chunks {
			st.Entries = append(st.Entries, c...)
		}
	}
	return st
}

// FirstIndex returns the first stored entry's index, and LastIndex the
// last one's; LastIndex is FirstIndex-1 when no entry is stored.
func (s *MemoryStorage) FirstIndex() Index { return s.log.firstIndex() }

// LastIndex returns the last stored entry's index (see FirstIndex).
func (s *MemoryStorage) LastIndex() Index { return s.log.lastIndex() }

// Entry returns the stored entry at i, and false if none is stored there.
func (s *MemoryStorage) Entry(i Index) (Entry, bool) {
	if i < s.log.firstIndex() || i > s.log.lastIndex() {
		return Entry{}, false
	}
	return *s.log.entry(i), true
}

// HardState returns the last hard state written.
func (s *MemoryStorage) HardState() HardState { return s.hardState }

// Snapshot returns the last snapshot metadata written or compacted to.
func (s *MemoryStorage) Snapshot() SnapshotMeta { return s.snapshot }
