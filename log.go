package raft

import (
	"fmt"
	"sort"
)

// raftLog is the node's in-memory copy of its log: a snapshot boundary
// (snapIndex, snapTerm) followed by every entry after it. It knows which
// prefix is durable (stable), which entries have been handed to the caller
// in a persist action (persisted), what is committed, and what was handed
// out for application.
//
// Invariants, checked by checkInvariants in tests:
//
//	snapIndex <= applied <= committed <= lastIndex
//	applied <= stable <= persisted <= lastIndex
//	entries have consecutive indexes from snapIndex+1, terms never decrease
//
// The entries live in chunks (log_chunks.go), so that appending never
// copies earlier entries and compaction frees whole chunks instead of
// moving the rest of the log. The log never writes into an array region it
// has handed out: slices handed out are capped, and a truncation clips or
// replaces the chunk it cuts, so slices held by an asynchronous caller
// stay intact.
type raftLog struct {
	snapIndex Index
	snapTerm  Term
	// chunks hold the entries after snapIndex: chunks[0][0] is the entry
	// at snapIndex+1. See log_chunks.go for their shape.
	chunks [][]Entry

	// stable is the last index known durable and still part of this log.
	stable Index
	// persisted is the last index included in an emitted persist action.
	persisted Index
	committed Index
	// applied is the last index handed out in an apply action.
	applied Index
}

func (l *raftLog) firstIndex() Index { return l.snapIndex + 1 }
func (l *raftLog) lastIndex() Index  { return l.snapIndex + Index(l.count()) }

func (l *raftLog) lastTerm() Term {
	if n := len(l.chunks); n > 0 {
		if last := l.chunks[n-1]; len(last) > 0 {
			return last[len(last)-1].Term
		}
	}
	return l.snapTerm
}

// term returns the term of the entry at i; ok is false if i is compacted
// away or beyond the last index.
func (l *raftLog) term(i Index) (t Term, ok bool) {
	switch {
	case i == l.snapIndex:
		return l.snapTerm, true
	case i < l.snapIndex || i > l.lastIndex():
		return 0, false
	}
	return l.entry(i).Term, true
}

// matchTerm reports whether the log holds an entry at i with term t (§5.3's
// consistency check).
func (l *raftLog) matchTerm(i Index, t Term) bool {
	lt, ok := l.term(i)
	return ok && lt == t
}

// entry returns a pointer to the entry at i, which must be in
// [firstIndex, lastIndex].
func (l *raftLog) entry(i Index) *Entry {
	c, j := l.locate(i)
	return &l.chunks[c][j]
}

// isUpToDate reports whether a log ending at (lastIdx, lastT) is at least as
// up-to-date as this one (§5.4.1): later last term wins, then longer log.
func (l *raftLog) isUpToDate(lastIdx Index, lastT Term) bool {
	mine := l.lastTerm()
	return lastT > mine || (lastT == mine && lastIdx >= l.lastIndex())
}

// slice returns entries [lo, hi] — at least one if lo <= hi, and further
// ones only while their total size stays within maxBytes and they lie in
// lo's chunk (a message or an apply action then stops short; the next one
// continues). The result aliases the log's chunk and is capped so appends
// to it cannot write into the log.
func (l *raftLog) slice(lo, hi Index, maxBytes uint64) []Entry {
	if lo > hi {
		return nil
	}
	if lo <= l.snapIndex || hi > l.lastIndex() {
		panic(fmt.Sprintf("raft: slice [%d, %d] outside log [%d, %d]", lo, hi, l.firstIndex(), l.lastIndex()))
	}
	c, j := l.locate(lo)
	ents := l.chunks[c][j:]
	ents = ents[:min(Index(len(ents)), hi-lo+1)]
	size := ents[0].size()
	n := 1
	for ; n < len(ents); n++ {
		size += ents[n].size()
		if size > maxBytes {
			break
		}
	}
	return ents[:n:n]
}

// span returns all entries [lo, hi], which must lie in the log, as one
// slice: a persist action carries every entry not yet persisted. Within
// one chunk it aliases the log (capped); across a chunk boundary the
// entries are copied into a new array — once per chunk of the log at
// most, since persists never overlap.
func (l *raftLog) span(lo, hi Index) []Entry {
	first := l.slice(lo, hi, ^uint64(0))
	if n := Index(len(first)); n == hi-lo+1 {
		return first
	}
	out := make([]Entry, 0, hi-lo+1)
	for i := lo; i <= hi; {
		part := l.slice(i, hi, ^uint64(0))
		out = append(out, part...)
		i += Index(len(part))
	}
	return out
}

// append adds entries that continue the log directly (a leader's own).
func (l *raftLog) append(ents ...Entry) {
	if len(ents) > 0 && ents[0].Index != l.lastIndex()+1 {
		panic(fmt.Sprintf("raft: append at %d to log ending at %d", ents[0].Index, l.lastIndex()))
	}
	l.push(ents)
}

// appendOne adds one entry that continues the log directly: append for a
// leader's proposal, without the slice copy (most proposals land in the
// last chunk's spare capacity).
func (l *raftLog) appendOne(e Entry) {
	if e.Index != l.lastIndex()+1 {
		panic(fmt.Sprintf("raft: append at %d to log ending at %d", e.Index, l.lastIndex()))
	}
	if n := len(l.chunks); n > 0 {
		if last := &l.chunks[n-1]; len(*last) < cap(*last) {
			*last = append(*last, e)
			return
		}
	}
	l.push([]Entry{e})
}

// findConflict returns the index of the first entry of ents that is not
// already in the log with the same term, or 0 if every entry is present.
// Entries at or below the snapshot are committed, so they match.
func (l *raftLog) findConflict(ents []Entry) Index {
	for i := range ents {
		e := &ents[i]
		if e.Index <= l.snapIndex {
			continue
		}
		if t, ok := l.term(e.Index); !ok || t != e.Term {
			return e.Index
		}
	}
	return 0
}

// checkAppend reports why ents cannot be appended after (prevIdx, prevTerm)
// without destroying committed state; it changes nothing. A correct leader
// never sends such a message (Leader Completeness, §5.4): its log holds
// every committed entry, so neither the previous entry nor any entry it
// sends contradicts one. Such a message comes from a hostile or corrupt
// peer.
func (l *raftLog) checkAppend(prevIdx Index, prevTerm Term, ents []Entry) error {
	if prevIdx <= l.committed && prevIdx >= l.snapIndex && !l.matchTerm(prevIdx, prevTerm) {
		return fmt.Errorf("%w: MsgApp previous entry (index %d, term %d) contradicts committed entry %d", ErrInvalidMessage, prevIdx, prevTerm, prevIdx)
	}
	if c := l.findConflict(ents); c != 0 && c <= l.committed {
		return fmt.Errorf("%w: MsgApp conflicts with committed entry %d", ErrInvalidMessage, c)
	}
	return nil
}

// checkSnapshot reports why a snapshot cannot replace the log without
// contradicting committed entries; it changes nothing. A correct leader's
// snapshot covers a prefix of its log, which holds every committed entry
// (§5.4), and terms never decrease along a log: a snapshot past the commit
// index never has a lower term than the last committed entry.
func (l *raftLog) checkSnapshot(s *SnapshotMeta) error {
	if s.Index <= l.committed {
		return nil // stale: ignored
	}
	if t, ok := l.term(l.committed); ok && s.Term < t {
		return fmt.Errorf("%w: MsgSnap snapshot (index %d, term %d) contradicts committed entry %d of term %d", ErrInvalidMessage, s.Index, s.Term, l.committed, t)
	}
	return nil
}

// appendAfterMatch stores ents, which follow an entry already known to
// match, truncating the first conflicting suffix (§5.3, Figure 2 rule 3 and
// 4 of AppendEntries). Entries already present are left alone, so a stale
// or duplicated message never truncates a longer matching log. It returns
// the index of the last entry of ents and the entries actually written
// (none if all were present).
func (l *raftLog) appendAfterMatch(prevIdx Index, ents []Entry) (last Index, written []Entry) {
	last = prevIdx + Index(len(ents))
	c := l.findConflict(ents)
	if c == 0 {
		return last, nil
	}
	if c <= l.committed {
		panic(fmt.Sprintf("raft: conflict at committed index %d (commit %d)", c, l.committed))
	}
	if c <= l.lastIndex() {
		// Only a real truncation cuts a chunk; appending right after the
		// last entry writes into capacity no slice was handed out of.
		l.truncateFrom(c)
	}
	written = ents[c-ents[0].Index:]
	l.push(written)
	return last, written
}

// truncateFrom removes entries from index i on, which must be in the log.
// The chunk cut is clipped or replaced (cutChunks), so the removed region
// is never overwritten in place.
func (l *raftLog) truncateFrom(i Index) {
	l.cutChunks(i)
	l.stable = min(l.stable, i-1)
	l.persisted = min(l.persisted, i-1)
}

// compactTo forgets the entries up to i, which must be applied. Chunks
// wholly at or below i are dropped (dropChunks); no entry is copied.
func (l *raftLog) compactTo(i Index) {
	t, _ := l.term(i)
	l.dropChunks(int(i - l.snapIndex))
	l.snapIndex, l.snapTerm = i, t
}

// restore replaces the whole log by a snapshot boundary (index, term),
// which is committed by definition. stable and applied stay below it until
// the snapshot is durable and applied.
func (l *raftLog) restore(index Index, term Term) {
	clear(l.chunks)
	l.chunks = l.chunks[:0]
	l.snapIndex, l.snapTerm = index, term
	l.committed = index
	l.persisted = index
	l.stable = min(l.stable, index-1)
}

// commitTo advances the commit index; it never moves backwards.
func (l *raftLog) commitTo(i Index) bool {
	if i <= l.committed {
		return false
	}
	if i > l.lastIndex() {
		panic(fmt.Sprintf("raft: commit %d beyond last index %d", i, l.lastIndex()))
	}
	l.committed = i
	return true
}

// findConflictByTerm returns the last index at or below index whose term is
// at most term, and that term. Terms never decrease along a log, so a binary
// search suffices. This is the conflict hint of fast backtracking (§5.3, the
// optimisation the paper mentions, as etcd implements it): any entry after
// the returned one cannot match an entry of the other log with term <= term.
func (l *raftLog) findConflictByTerm(index Index, term Term) (Index, Term) {
	index = min(index, l.lastIndex())
	if index <= l.snapIndex {
		return index, 0 // compacted: unknown term, assume a possible match
	}
	if l.snapTerm > term {
		return l.snapIndex, 0
	}
	n := int(index - l.snapIndex)
	// Largest k in [0, n] such that the k-th entry after the snapshot has
	// a term <= term (k==0: the snapshot itself).
	k := sort.Search(n, func(k int) bool { return l.entry(l.snapIndex+1+Index(k)).Term > term })
	if k == 0 {
		return l.snapIndex, l.snapTerm
	}
	return l.snapIndex + Index(k), l.entry(l.snapIndex + Index(k)).Term
}

// nextApply returns the committed, durable entries not yet handed out for
// application, bounded by maxBytes. The caller must first apply any
// received snapshot (applied >= snapIndex).
func (l *raftLog) nextApply(maxBytes uint64) []Entry {
	hi := min(l.committed, l.stable)
	if hi <= l.applied {
		return nil
	}
	return l.slice(l.applied+1, hi, maxBytes)
}

// checkInvariants panics if the log's invariants are broken. Called from
// tests. While a received snapshot awaits application, applied and stable
// lie below snapIndex.
func (l *raftLog) checkInvariants(snapshotPending bool) {
	if !((snapshotPending || l.snapIndex <= l.applied) && l.applied <= l.committed && l.committed <= l.lastIndex()) ||
		!(l.applied <= l.stable && l.stable <= l.persisted && l.persisted <= l.lastIndex()) {
		panic(fmt.Sprintf("raft: log invariant broken: snap=%d applied=%d commit=%d stable=%d persisted=%d last=%d",
			l.snapIndex, l.applied, l.committed, l.stable, l.persisted, l.lastIndex()))
	}
	l.checkChunks()
}
