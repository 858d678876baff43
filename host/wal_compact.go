package host

// Compacting many groups at once: their compaction points, the carried
// records of idle groups and the deletion of freed segments, under one
// fsync.

import (
	"fmt"

	"github.com/pureraft/raft"
)

// GroupCompaction is one group's compaction for CompactGroups.
type GroupCompaction struct {
	Group GroupID
	// Snapshot is the metadata of the group's durable snapshot (the host
	// wrote its file first), as for SaveGroupSnapshot.
	Snapshot raft.SnapshotMeta
	// First is the lowest entry index the group still needs, as for
	// ReleaseGroup; at most Snapshot.Index+1.
	First raft.Index
}

// CompactGroups does what SaveGroupSnapshot and ReleaseGroup do, for many
// groups, with one fsync: a host that snapshots thousands of groups does
// not pay an fsync for each. It returns how many segments it deleted. A
// batch with a bad compaction (group 0, a removed group, a snapshot older
// than the group's, a first index past the snapshot) is refused before
// anything is written.
func (w *WAL) CompactGroups(batch []GroupCompaction) (int, error) {
	if err := w.checkCompactions(batch); err != nil {
		return 0, err
	}
	for i := range batch {
		if err := w.appendRecord(recSnapCompact, batch[i].Group, batch[i].Snapshot.AppendBinary); err != nil {
			w.buf = w.buf[:0]
			return 0, err
		}
	}
	for _, c := range batch {
		g := w.group(c.Group, true)
		w.noteSnapshot(c.Group, g, c.Snapshot, false)
		if c.First > g.first {
			g.first = c.First
			w.dropBelowFirst(c.Group, g)
		}
	}
	return w.release()
}

// checkCompactions validates a batch against the WAL and against the
// batch's own earlier compactions of the same group.
func (w *WAL) checkCompactions(batch []GroupCompaction) error {
	latest := map[GroupID]raft.Index{}
	for _, c := range batch {
		if err := w.writable(c.Group); err != nil {
			return err
		}
		cur, ok := latest[c.Group]
		if g := w.groups[c.Group]; !ok && g != nil && g.hasSnap {
			cur, ok = g.snap.Index, true
		}
		if ok && c.Snapshot.Index < cur {
			return fmt.Errorf("%w: group %d: snapshot %d is older than its snapshot %d", ErrBadRelease, c.Group, c.Snapshot.Index, cur)
		}
		if c.First > c.Snapshot.Index+1 {
			return fmt.Errorf("%w: group %d: first index %d is past its snapshot (%d)", ErrBadRelease, c.Group, c.First, c.Snapshot.Index)
		}
		latest[c.Group] = c.Snapshot.Index
	}
	return nil
}
