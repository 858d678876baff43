package host

// Which segments each group still needs, and deleting the ones none needs.
//
// Invariants (checked by walCheckInvariants in the tests):
//   - seq is in g.entSegs exactly when g is in that segment's needs;
//   - a segment's pins count the group's hsSeq and snapSeq naming it;
//   - a removed group has no needs and no pins.

import (
	"fmt"
	"os"
	"slices"

	"github.com/pureraft/raft"
)

// seg returns the segment numbered seq, or nil if it was deleted.
func (w *WAL) seg(seq uint64) *segment {
	i, ok := slices.BinarySearchFunc(w.segs, seq, func(s *segment, seq uint64) int {
		switch {
		case s.seq < seq:
			return -1
		case s.seq > seq:
			return 1
		}
		return 0
	})
	if !ok {
		return nil
	}
	return w.segs[i]
}

// noteEntry records that group gid wrote an entry at idx into the current
// segment.
func (w *WAL) noteEntry(gid GroupID, g *walGroup, idx raft.Index) {
	s := w.cur()
	if old, ok := s.needs[gid]; ok {
		s.needs[gid] = max(old, idx)
		return
	}
	s.needs[gid] = idx
	g.entSegs = append(g.entSegs, s.seq)
}

func (w *WAL) noteHardState(gid GroupID, g *walGroup, hs raft.HardState) {
	g.hs = hs
	g.hsSeq = w.movePin(gid, g.hsSeq)
}

// noteSnapshot records a snapshot record; an installed snapshot replaces
// every entry of the group written before it (the entries after it are
// noted after it).
func (w *WAL) noteSnapshot(gid GroupID, g *walGroup, meta raft.SnapshotMeta, install bool) {
	g.snap, g.hasSnap = meta, true
	g.snapSeq = w.movePin(gid, g.snapSeq)
	if install {
		w.dropEntries(gid, g)
	}
}

func (w *WAL) noteRemoved(gid GroupID, g *walGroup) {
	g.removed = true
	w.unpin(gid, g.hsSeq)
	w.unpin(gid, g.snapSeq)
	g.hsSeq, g.snapSeq = 0, 0
	w.dropEntries(gid, g)
	s := w.cur()
	s.tombs = append(s.tombs, gid)
}

// movePin moves group gid's pin from segment from (0: none) to the current
// one and returns the current one's number.
func (w *WAL) movePin(gid GroupID, from uint64) uint64 {
	w.unpin(gid, from)
	s := w.cur()
	s.pins[gid]++
	return s.seq
}

func (w *WAL) unpin(gid GroupID, seq uint64) {
	if seq == 0 {
		return
	}
	s := w.seg(seq)
	if s == nil {
		panic(fmt.Sprintf("wal: group %d pins deleted segment %d", gid, seq))
	}
	if s.pins[gid]--; s.pins[gid] == 0 {
		delete(s.pins, gid)
	}
}

// dropEntries forgets that the group needs any entry written so far.
func (w *WAL) dropEntries(gid GroupID, g *walGroup) {
	for _, seq := range g.entSegs {
		delete(w.seg(seq).needs, gid)
	}
	g.entSegs = g.entSegs[:0]
}

// dropBelowFirst forgets the group's oldest segments whose entries all lie
// below its first needed index. It stops at the first segment still needed:
// segments go oldest first anyway.
func (w *WAL) dropBelowFirst(gid GroupID, g *walGroup) {
	for len(g.entSegs) > 0 {
		s := w.seg(g.entSegs[0])
		if s.needs[gid] >= g.first {
			return
		}
		delete(s.needs, gid)
		g.entSegs = g.entSegs[1:]
	}
}

// ReleaseGroup records that group gid no longer needs entries before first
// (it compacted them into a snapshot saved with SaveGroupSnapshot) and
// deletes the oldest segments no group needs any more. It returns how many
// it deleted. first may not pass the group's snapshot: the entries after it
// exist nowhere else.
func (w *WAL) ReleaseGroup(gid GroupID, first raft.Index) (int, error) {
	g, err := w.live(gid)
	if err != nil {
		return 0, err
	}
	limit := raft.Index(1)
	if g.hasSnap {
		limit = g.snap.Index + 1
	}
	if first > limit {
		return 0, fmt.Errorf("%w: group %d: first index %d is past its snapshot (%d)", ErrBadRelease, gid, first, limit-1)
	}
	if first > g.first {
		g.first = first
		w.dropBelowFirst(gid, g)
	}
	return w.release()
}

// release deletes the oldest segments (never the current one) in which no
// group needs an entry. The latest hard state and snapshot records they
// hold are first written again at the end of the log, and made durable with
// whatever records the caller left in w.buf: one fsync.
func (w *WAL) release() (int, error) {
	k := 0
	for k < len(w.segs)-1 && len(w.segs[k].needs) == 0 {
		k++
	}
	w.carry(w.segs[:k])
	if len(w.buf) > 0 {
		if err := w.flush(true); err != nil {
			return 0, err
		}
	}
	if k == 0 {
		return 0, nil
	}
	for n, s := range w.segs[:k] {
		if err := os.Remove(s.path); err != nil {
			w.forget(n)
			return n, err
		}
	}
	w.forget(k)
	return k, syncDir(w.dir)
}

// carry appends again the latest hard state and snapshot records held in
// segs. They were encoded once already: failing now is a broken invariant.
func (w *WAL) carry(segs []*segment) {
	var gids []GroupID
	for _, s := range segs {
		for gid := range s.pins {
			gids = append(gids, gid)
		}
	}
	if len(gids) == 0 {
		return
	}
	slices.Sort(gids)
	gids = slices.Compact(gids) // both records of a group may be in the range
	end := segs[len(segs)-1].seq
	for _, gid := range gids {
		g := w.groups[gid]
		if g.snapSeq != 0 && g.snapSeq <= end {
			if err := w.appendRecord(recSnapCompact, gid, g.snap.AppendBinary); err != nil {
				panic(fmt.Sprintf("wal: carrying group %d's snapshot record: %v", gid, err))
			}
			g.snapSeq = w.movePin(gid, g.snapSeq)
		}
		if g.hsSeq != 0 && g.hsSeq <= end {
			if err := w.appendRecord(recHardState, gid, g.hs.AppendBinary); err != nil {
				panic(fmt.Sprintf("wal: carrying group %d's hard state: %v", gid, err))
			}
			g.hsSeq = w.movePin(gid, g.hsSeq)
		}
	}
}

// forget drops the first n segments from the WAL's view, and with them the
// removed groups whose removal record they held.
func (w *WAL) forget(n int) {
	for _, s := range w.segs[:n] {
		for _, gid := range s.tombs {
			delete(w.groups, gid)
		}
	}
	w.segs = slices.Delete(w.segs, 0, n)
}

// Blocking returns, in order, the groups that need an entry in the oldest
// segment: until they compact past it (SaveGroupSnapshot and ReleaseGroup),
// no segment is deleted. A host can snapshot these first when the WAL
// grows.
func (w *WAL) Blocking() []GroupID {
	if len(w.segs) < 2 {
		return nil
	}
	var out []GroupID
	for gid := range w.segs[0].needs {
		out = append(out, gid)
	}
	slices.Sort(out)
	return out
}
