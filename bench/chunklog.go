package bench

import "fmt"

// storeChunk is the entries per chunk of the chunked store design, on both
// sides of the comparison.
const storeChunk = 4096

// chunkLog is the chunked store design, shared by pureraft's chunked store
// (chunkStore) and etcd's chunked Storage (chunkStorage) so that both sides
// of the "chunked" comparison store entries the same way: in fixed chunks
// of storeChunk entries, aligned on absolute log indexes (chunk k holds
// indexes k*storeChunk ... k*storeChunk+storeChunk-1). Storing an entry
// never copies the ones before it, and compaction frees whole chunks
// without copying what remains.
//
// Stored entries are never modified in place, because the reader may still
// hold slices of them (etcd keeps the slices Storage.Entries returns in
// Ready and in messages): a truncation replaces the chunk it cuts with a
// fresh copy of the kept prefix. Truncations happen only after a leader
// change, so their cost does not matter.
type chunkLog[E any] struct {
	chunks [][]E  // chunks[k] is chunk number base+k; each is storeChunk long
	base   uint64 // the chunk number of chunks[0]
	first  uint64 // the first index held
	last   uint64 // the last index held; first-1 when empty
}

// reset empties the log; it continues from index next.
func (l *chunkLog[E]) reset(next uint64) {
	clear(l.chunks)
	*l = chunkLog[E]{chunks: l.chunks[:0], base: next / storeChunk, first: next, last: next - 1}
}

// len is the number of entries held.
func (l *chunkLog[E]) len() int { return int(l.last + 1 - l.first) }

// at returns the entry at index i, which must be held.
func (l *chunkLog[E]) at(i uint64) *E {
	return &l.chunks[i/storeChunk-l.base][i%storeChunk]
}

// append stores ents at indexes from, from+1, ..., after deleting every
// held entry at or after from. from must lie in first ... last+1.
func (l *chunkLog[E]) append(from uint64, ents []E) error {
	if from < l.first || from > l.last+1 {
		return fmt.Errorf("append at %d to a log holding %d...%d", from, l.first, l.last)
	}
	if from <= l.last {
		l.truncate(from)
	}
	for len(ents) > 0 {
		next := l.last + 1
		k := next/storeChunk - l.base
		if k == uint64(len(l.chunks)) {
			l.chunks = append(l.chunks, make([]E, storeChunk))
		}
		n := copy(l.chunks[k][next%storeChunk:], ents)
		ents = ents[n:]
		l.last += uint64(n)
	}
	return nil
}

// truncate deletes the entries at from and after (first <= from <= last).
func (l *chunkLog[E]) truncate(from uint64) {
	k := from/storeChunk - l.base
	if off := from % storeChunk; off != 0 {
		// The chunk holding from keeps a prefix: copy it, so that slices
		// handed out of the old chunk never change.
		fresh := make([]E, storeChunk)
		copy(fresh[:off], l.chunks[k][:off])
		l.chunks[k] = fresh
		k++
	}
	clear(l.chunks[k:])
	l.chunks = l.chunks[:k]
	l.last = from - 1
}

// compact forgets the entries up to through (first-1 <= through <= last),
// freeing every chunk that holds nothing after through.
func (l *chunkLog[E]) compact(through uint64) {
	l.first = through + 1
	drop := min(l.first/storeChunk-l.base, uint64(len(l.chunks)))
	clear(l.chunks[:drop])
	l.chunks = l.chunks[drop:]
	l.base += drop
}

// slice returns the entries lo ... hi-1 (first <= lo < hi <= last+1). A
// range within one chunk is returned without copying, capped so that
// appending to it cannot write into the chunk; a range across chunks is
// copied into a new slice.
func (l *chunkLog[E]) slice(lo, hi uint64) []E {
	if lo >= hi {
		return nil
	}
	k := lo/storeChunk - l.base
	if (hi-1)/storeChunk-l.base == k {
		c := l.chunks[k][lo%storeChunk : lo%storeChunk+(hi-lo)]
		return c[:len(c):len(c)]
	}
	out := make([]E, 0, hi-lo)
	for i := lo; i < hi; {
		c := l.chunks[i/storeChunk-l.base][i%storeChunk:]
		c = c[:min(uint64(len(c)), hi-i)]
		out = append(out, c...)
		i += uint64(len(c))
	}
	return out
}
