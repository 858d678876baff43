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
func (g *Group) takeSnapshot(done chan snapDone) {
	reply := func(d snapDone) {
		if done != nil {
			done <- d
		}
	}
	if done != nil {
		g.waitSnapshot() // an explicit request waits for an automatic one
	}
	idx := g.applied
	if idx <= g.lastSnapIndex {
		reply(snapDone{index: g.lastSnapIndex})
		return
	}
	if idx < g.skipThrough {
		// The machine is ahead of the applied index (a cut WAL tail is
		// being repaired): its state is that of skipThrough, not idx. A
		// snapshot labelled idx would make whoever restores it apply the
		// entries after idx twice. Wait until the log has caught up.
		reply(snapDone{err: fmt.Errorf("the machine is ahead of the log (at %d, applied %d): no snapshot until the log is repaired", g.skipThrough, idx)})
		return
	}
	if !g.snapping.CompareAndSwap(false, true) {
		reply(snapDone{err: errors.New("a snapshot is already being written")})
		return
	}
	snap, err := g.m.Snapshot()
	if err != nil {
		g.snapping.Store(false)
		g.log.Error("machine snapshot failed", "err", err)
		reply(snapDone{err: err})
		return
	}
	g.lastSnapIndex = idx
	g.h.peersMu.RLock()
	book := g.h.peers.clone()
	g.h.peersMu.RUnlock()
	g.bgWG.Add(1)
	go func() {
		defer g.bgWG.Done()
		defer g.snapping.Store(false)
		start := time.Now()
		size, err := g.snaps.write(idx, book, snap)
		snap.Release()
		if err != nil {
			g.log.Error("writing snapshot failed", "index", idx, "err", err)
			reply(snapDone{err: err})
			return
		}
		g.metrics.snapTaken.Inc()
		g.log.Info("snapshot written", "index", idx, "bytes", size, "took", time.Since(start).Round(time.Millisecond))
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		var cerr error
		err = g.do(ctx, func() {
			meta, err := g.node.Compact(raft.Index(idx), g.cfg.SnapshotRetain)
			if err != nil {
				cerr = err
				return
			}
			g.h.storec <- storeOp{g: g, compact: &meta, first: g.node.Status().FirstIndex}
		})
		if err == nil {
			err = cerr
		}
		if err != nil {
			g.log.Warn("compaction after snapshot failed", "index", idx, "err", err)
		}
		reply(snapDone{index: idx, err: err})
	}()
}

func (g *Group) waitSnapshot() {
	for g.snapping.Load() {
		time.Sleep(time.Millisecond)
	}
}

// TakeSnapshot snapshots the machine now and compacts the log.
func (g *Group) TakeSnapshot(ctx context.Context) (uint64, error) {
	done := make(chan snapDone, 1)
	select {
	case g.applyc <- applyOp{snapshot: done}:
	case <-ctx.Done():
		return 0, ctx.Err()
	case <-g.stopc:
		return 0, ErrStopped
	}
	select {
	case d := <-done:
		return d.index, d.err
	case <-ctx.Done():
		return 0, ctx.Err()
	case <-g.applyQuit:
		return 0, ErrStopped
	}
}
