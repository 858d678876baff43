package host

// The single-group API of the WAL, on group 1, for the host while it runs
// one group. The many-group host uses OpenWALGroups and the *Group methods.

import (
	"fmt"

	"github.com/pureraft/raft"
)

// SingleGroup is the group the single-group API reads and writes, and the
// group a version 1 WAL's records belong to.
const SingleGroup GroupID = 1

// OpenWAL opens the WAL in dir like OpenWALGroups and returns the state of
// group 1 (empty if the WAL holds none). A WAL holding other groups is
// refused: this API would not see them.
func OpenWAL(dir string, segSize int64) (*WAL, *WALState, error) {
	w, rec, err := OpenWALGroups(dir, segSize)
	if err != nil {
		return nil, nil, err
	}
	for gid := range rec.Groups {
		if gid != SingleGroup {
			w.Close()
			return nil, nil, fmt.Errorf("wal: %s holds group %d; open it with OpenWALGroups", dir, gid)
		}
	}
	st := rec.Groups[SingleGroup]
	if st == nil {
		st = &WALState{}
	}
	st.TornBytes = rec.TornBytes
	return w, st, nil
}

// Save writes a batch of group 1's persist actions, as SaveGroups does.
func (w *WAL) Save(batch []*raft.Persist) error {
	gb := make([]GroupPersist, len(batch))
	for i, p := range batch {
		gb[i] = GroupPersist{Group: SingleGroup, Persist: p}
	}
	return w.SaveGroups(gb)
}

// SaveSnapshot marks group 1's compaction point, as SaveGroupSnapshot does.
func (w *WAL) SaveSnapshot(meta raft.SnapshotMeta) error {
	return w.SaveGroupSnapshot(SingleGroup, meta)
}

// Release records group 1's first needed index and deletes the segments no
// longer needed, as ReleaseGroup does.
func (w *WAL) Release(firstIndex raft.Index) (int, error) {
	return w.ReleaseGroup(SingleGroup, firstIndex)
}
