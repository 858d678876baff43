package host

// Taking snapshots and compacting the log.

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/pureraft/raft"
)

// takeSnapshot captures the machine at the applied index (on the apply
// goroutine, so the capture is consistent with it), writes the file on
// another goroutine, then compacts the node and the WAL.
func (h *Host) takeSnapshot(done chan snapDone) {
	reply := func(d snapDone) {
		if done != nil {
			done <- d
		}
	}
	if done != nil {
		h.waitSnapshot() // an explicit request waits for an automatic one
	}
	idx := h.applied
	if idx <= h.lastSnapIndex {
		reply(snapDone{index: h.lastSnapIndex})
		return
	}
	if idx < h.skipThrough {
		// The machine is ahead of the applied index (a cut WAL tail is
		// being repaired): its state is that of skipThrough, not idx. A
		// snapshot labelled idx would make whoever restores it apply the
		// entries after idx twice. Wait until the log has caught up.
		reply(snapDone{err: fmt.Errorf("the machine is ahead of the log (at %d, applied %d): no snapshot until the log is repaired", h.skipThrough, idx)})
		return
	}
	if !h.snapping.CompareAndSwap(false, true) {
		reply(snapDone{err: errors.New("a snapshot is already being written")})
		return
	}
	snap, err := h.m.Snapshot()
	if err != nil {
		h.snapping.Store(false)
		h.log.Error("machine snapshot failed", "err", err)
		reply(snapDone{err: err})
		return
	}
	h.lastSnapIndex = idx
	h.peersMu.RLock()
	book := h.peers.clone()
	h.peersMu.RUnlock()
	h.bgWG.Add(1)
	go func() {
		defer h.bgWG.Done()
		defer h.snapping.Store(false)
		start := time.Now()
		size, err := h.snaps.write(idx, book, snap)
		snap.Release()
		if err != nil {
			h.log.Error("writing snapshot failed", "index", idx, "err", err)
			reply(snapDone{err: err})
			return
		}
		h.metrics.snapTaken.Inc()
		h.log.Info("snapshot written", "index", idx, "bytes", size, "took", time.Since(start).Round(time.Millisecond))
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		var cerr error
		err = h.do(ctx, func() {
			meta, err := h.node.Compact(raft.Index(idx), h.cfg.SnapshotRetain)
			if err != nil {
				cerr = err
				return
			}
			h.storec <- storeOp{compact: &meta, first: h.node.Status().FirstIndex}
		})
		if err == nil {
			err = cerr
		}
		if err != nil {
			h.log.Warn("compaction after snapshot failed", "index", idx, "err", err)
		}
		reply(snapDone{index: idx, err: err})
	}()
}

func (h *Host) waitSnapshot() {
	for h.snapping.Load() {
		time.Sleep(time.Millisecond)
	}
}

// TakeSnapshot snapshots the machine now and compacts the log.
func (h *Host) TakeSnapshot(ctx context.Context) (uint64, error) {
	done := make(chan snapDone, 1)
	select {
	case h.applyc <- applyOp{snapshot: done}:
	case <-ctx.Done():
		return 0, ctx.Err()
	case <-h.stopc:
		return 0, ErrStopped
	}
	select {
	case d := <-done:
		return d.index, d.err
	case <-ctx.Done():
		return 0, ctx.Err()
	case <-h.applyQuit:
		return 0, ErrStopped
	}
}
