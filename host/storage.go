package host

// The storage goroutine: every group's persist actions, many per fsync.
//
// Until the shared multi-group WAL lands, each group keeps its own WAL
// (Dir/groups/<id>/wal) behind groupWAL, all written by this one
// goroutine: a batch takes every persist queued by any group, writes each
// touched group's part with one write and one fsync, and then acknowledges
// each group. Switching to one shared WAL (one fsync per batch for all
// groups) changes this file and openGroupWAL only.

import (
	"fmt"
	"time"

	"github.com/pureraft/raft"
)

// groupWAL is what a group needs of its log storage.
type groupWAL interface {
	// Save writes persist actions in order and makes them durable if any
	// asks for it.
	Save(ps []*raft.Persist) error
	// SaveSnapshot records a compaction point (a local snapshot).
	SaveSnapshot(meta raft.SnapshotMeta) error
	// Release deletes what lies wholly below first; it returns how many
	// segments it deleted.
	Release(first raft.Index) (int, error)
	Close() error
}

// openGroupWAL opens one group's log and returns what it holds; fsync
// is told each fsync's duration.
func openGroupWAL(dir string, segBytes int64, fsync func(time.Duration)) (groupWAL, *WALState, error) {
	w, st, err := OpenWAL(dir, segBytes)
	if err != nil {
		return nil, nil, err
	}
	w.FsyncHook = fsync
	return w, st, nil
}

func (h *Host) storeLoop() {
	defer close(h.storeDone)
	batches := map[*Group][]*raft.Persist{}
	var order []*Group
	flushGroup := func(g *Group) bool {
		batch := batches[g]
		if len(batch) == 0 {
			return true
		}
		if err := g.wal.Save(batch); err != nil {
			h.fatal(fmt.Errorf("group %d: WAL write: %w", g.gid, err))
			return false
		}
		h.metrics.batch.Observe(float64(len(batch)))
		g.durable.Store(batch[len(batch)-1].ID)
		select {
		case g.ackSig <- struct{}{}:
		default:
		}
		clear(batch)
		batches[g] = batch[:0]
		return true
	}
	flushAll := func() bool {
		for _, g := range order {
			if !flushGroup(g) {
				return false
			}
		}
		order = order[:0]
		return true
	}
	for op := range h.storec {
		ops := []storeOp{op}
	drain:
		for len(ops) < 1024 {
			select {
			case o, ok := <-h.storec:
				if !ok {
					break drain
				}
				ops = append(ops, o)
			default:
				break drain
			}
		}
		for _, o := range ops {
			g := o.g
			if o.persist != nil {
				if len(batches[g]) == 0 {
					order = append(order, g)
				}
				batches[g] = append(batches[g], o.persist)
				continue
			}
			if !flushGroup(g) {
				return
			}
			if o.compact == nil {
				// A barrier: everything the group queued before is written.
				delete(batches, g)
				close(o.done)
				continue
			}
			if err := g.wal.SaveSnapshot(*o.compact); err != nil {
				h.fatal(fmt.Errorf("group %d: WAL snapshot record: %w", g.gid, err))
				return
			}
			n, err := g.wal.Release(o.first)
			if err != nil {
				g.log.Warn("cannot delete WAL segments", "err", err)
			}
			g.snaps.prune(uint64(o.compact.Index))
			g.log.Info("compacted the log", "snapshot", o.compact.Index, "first", o.first, "segments_deleted", n)
		}
		if !flushAll() {
			return
		}
	}
}
