package host

// The storage goroutine: every group's persist actions in one shared WAL
// (wal*.go), many persists of many groups per write and per fsync.
//
// A batch takes every persist queued so far by any group, writes them with
// one SaveGroups (one write, at most one fsync for all groups), then tells
// each touched group the last of its persists that is durable. Compactions
// and other WAL calls (a group's removal, checks) run here too, in queue
// order after what was queued before them: the WAL is used by this
// goroutine only, once the host runs.

import (
	"errors"
	"fmt"

	"github.com/pureraft/raft"
)

type storeOp struct {
	g       *Group
	persist *raft.Persist
	compact *raft.SnapshotMeta
	first   raft.Index
	// fn, with neither persist nor compact: run fn on the WAL once
	// everything queued before it is written, then close done.
	fn   func(*WAL)
	done chan struct{}
}

// onStorage runs fn on the storage goroutine, after everything queued
// before it is written, and waits for it.
func (h *Host) onStorage(fn func(*WAL)) {
	done := make(chan struct{})
	h.storec <- storeOp{fn: fn, done: done}
	<-done
}

func (h *Host) storeLoop() {
	defer close(h.storeDone)
	var batch []GroupPersist
	last := map[*Group]uint64{} // each touched group's last persist ID in batch
	flush := func() bool {
		if len(batch) == 0 {
			return true
		}
		if err := h.wal.SaveGroups(batch); err != nil {
			h.fatal(fmt.Errorf("WAL write: %w", err))
			return false
		}
		h.metrics.batch.Observe(float64(len(batch)))
		for g, id := range last {
			g.durable.Store(id)
			select {
			case g.ackSig <- struct{}{}:
			default:
			}
		}
		clear(batch)
		batch = batch[:0]
		clear(last)
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
			switch {
			case o.persist != nil:
				batch = append(batch, GroupPersist{Group: o.g.gid, Persist: o.persist})
				last[o.g] = o.persist.ID
			case o.compact != nil:
				if !flush() {
					return
				}
				h.compact(o.g, *o.compact, o.first)
			default:
				if !flush() {
					return
				}
				o.fn(h.wal)
				close(o.done)
			}
		}
		if !flush() {
			return
		}
	}
}

// compact records group g's local snapshot in the WAL and frees the
// segments no group needs any more (one fsync), then deletes the older
// snapshot files.
func (h *Host) compact(g *Group, meta raft.SnapshotMeta, first raft.Index) {
	n, err := h.wal.CompactGroups([]GroupCompaction{{Group: g.gid, Snapshot: meta, First: first}})
	if errors.Is(err, ErrBadRelease) {
		// A snapshot from the leader, installed while this one was being
		// written, is newer: this compaction is moot.
		g.log.Warn("compaction skipped", "snapshot", meta.Index, "err", err)
		return
	}
	if err != nil {
		h.fatal(fmt.Errorf("group %d: WAL compaction: %w", g.gid, err))
		return
	}
	g.snaps.prune(uint64(meta.Index))
	g.log.Info("compacted the log", "snapshot", meta.Index, "first", first, "segments_deleted", n)
}
