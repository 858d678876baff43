package raft

import "fmt"

// This file holds the shape of the log's entry storage: chunks. One
// growing array, as the log was before, copies every entry again each time
// it doubles and again at each compaction (moving the retained tail to a
// new array); with payload pointers in every entry, those copies are
// memmoves with write barriers, and the dead arrays are garbage to scan
// (issue 16: about half of the core's time at 64 entries per round).
// Chunks of a fixed size never move: an entry is copied into the log once,
// and compaction drops whole chunks.
//
// The shape, with C = logChunk (checkChunks):
//
//   - chunks[0] starts at the first entry after the snapshot. It may hold
//     any number of entries: while the log is young it is the only chunk
//     and grows by doubling up to C, so an idle group's log stays small;
//     compaction reslices it from the front; a node restored from storage
//     starts with the caller's slice as chunks[0], however long.
//   - every chunk after it but the last holds exactly C entries, and the
//     last holds 1 to C, so the chunk of an index is one division away
//     (locate);
//   - only a lone chunks[0] may be empty.
//
// Slices handed out alias a chunk and are capped at their end, so nothing
// the caller holds is ever written again: appends go past them, and a
// truncation clips chunks[0] or replaces the chunk it cuts by a copy of
// the kept prefix. Compaction never writes either, which means the
// compacted entries at the front of chunks[0] (at most C, or the restored
// slice) stay reachable until the whole chunk is dropped.

// logChunk is the number of entries in a full chunk: 4,096 entries of 48
// bytes (192 KiB) — large enough that the allocation of a chunk, and the
// copy a persist action spanning two chunks needs (raftLog.span), are
// rare (once per 4,096 entries), small enough that what compaction leaves
// behind in a chunk is a small part of a log that is compacted at all.
const logChunk = 4096

// count returns the number of entries after the snapshot.
func (l *raftLog) count() int {
	switch n := len(l.chunks); n {
	case 0:
		return 0
	case 1:
		return len(l.chunks[0])
	default:
		return len(l.chunks[0]) + (n-2)*logChunk + len(l.chunks[n-1])
	}
}

// locate returns the chunk and the position in it of the entry at i, which
// must be in [firstIndex, lastIndex].
func (l *raftLog) locate(i Index) (chunk, pos int) {
	off := int(i - l.snapIndex - 1)
	if n0 := len(l.chunks[0]); off >= n0 {
		off -= n0
		return 1 + off/logChunk, off % logChunk
	}
	return 0, off
}

// push stores ents after the last entry, filling the last chunk before it
// starts a new one.
func (l *raftLog) push(ents []Entry) {
	if len(ents) > 0 && len(l.chunks) == 0 {
		l.chunks = append(l.chunks, nil)
	}
	for len(ents) > 0 {
		last := &l.chunks[len(l.chunks)-1]
		if len(*last) == cap(*last) {
			l.addRoom(len(ents))
			continue
		}
		k := min(len(ents), cap(*last)-len(*last))
		*last = append(*last, ents[:k]...)
		ents = ents[k:]
	}
}

// addRoom makes room after a full last chunk for up to need entries: a
// young log's lone chunk below full size moves to an array twice as large
// (at most logChunk); otherwise a new chunk of full size starts. The first
// array holds just what is pushed: an idle follower's log of one entry
// costs 48 bytes, as it did with one growing slice (the idle-group memory
// figure of docs/performance.md).
func (l *raftLog) addRoom(need int) {
	if c := l.chunks[0]; len(l.chunks) == 1 && cap(c) < logChunk {
		grown := make([]Entry, len(c), min(max(2*cap(c), len(c)+need), logChunk))
		copy(grown, c)
		l.chunks[0] = grown
		return
	}
	l.chunks = append(l.chunks, make([]Entry, 0, logChunk))
}

// cutChunks removes the entries from index i on, which must be in the
// log, without writing into any array a slice was handed out of.
func (l *raftLog) cutChunks(i Index) {
	c, j := l.locate(i)
	clear(l.chunks[c+1:])
	switch {
	case c == 0:
		// Clipping the capacity makes the next append move the kept
		// entries to a new array (addRoom) instead of writing here.
		l.chunks = l.chunks[:1]
		l.chunks[0] = l.chunks[0][:j:j]
	case j == 0:
		// The chunk before is full (or chunks[0]): the next append
		// starts a new chunk.
		l.chunks[c] = nil
		l.chunks = l.chunks[:c]
	default:
		kept := make([]Entry, j, logChunk)
		copy(kept, l.chunks[c][:j])
		l.chunks[c] = kept
		l.chunks = l.chunks[:c+1]
	}
}

// dropChunks forgets the first k entries, which must be in the log: the
// chunks they fill are dropped, and chunks[0] is resliced past the rest.
// The last chunk stays, even empty, so that appends continue in its
// capacity.
func (l *raftLog) dropChunks(k int) {
	whole := 0
	for whole < len(l.chunks)-1 && k >= len(l.chunks[whole]) {
		k -= len(l.chunks[whole])
		whole++
	}
	if whole > 0 {
		n := copy(l.chunks, l.chunks[whole:])
		clear(l.chunks[n:])
		l.chunks = l.chunks[:n]
	}
	if len(l.chunks) > 0 {
		l.chunks[0] = l.chunks[0][k:]
	}
}

// checkChunks panics if the chunks do not have the shape described at the
// top of this file, or if their entries' indexes do not follow each other
// from the snapshot on. Called from tests (checkInvariants).
func (l *raftLog) checkChunks() {
	n := len(l.chunks)
	for c, ch := range l.chunks {
		switch {
		case c > 0 && c < n-1 && len(ch) != logChunk:
			panic(fmt.Sprintf("raft: log chunk %d of %d holds %d entries, want %d", c, n, len(ch), logChunk))
		case c > 0 && c == n-1 && (len(ch) == 0 || len(ch) > logChunk):
			panic(fmt.Sprintf("raft: last log chunk %d holds %d entries", c, len(ch)))
		}
	}
	if l.count() == 0 {
		return
	}
	if first := l.entry(l.firstIndex()); first.Index != l.firstIndex() {
		panic(fmt.Sprintf("raft: first entry has index %d, want %d", first.Index, l.firstIndex()))
	}
	if last := l.entry(l.lastIndex()); last.Index != l.lastIndex() {
		panic(fmt.Sprintf("raft: last entry has index %d, want %d", last.Index, l.lastIndex()))
	}
}
