package host

// The storage goroutine: persist actions to the WAL, many per fsync.

import (
	"fmt"

	"github.com/pureraft/raft"
)

func (h *Host) storeLoop() {
	defer h.bgWG.Done()
	var batch []*raft.Persist
	flush := func() {
		if len(batch) == 0 {
			return
		}
		if err := h.wal.Save(batch); err != nil {
			h.fatal(fmt.Errorf("WAL write: %w", err))
			return
		}
		h.metrics.batch.Observe(float64(len(batch)))
		h.durable.Store(batch[len(batch)-1].ID)
		select {
		case h.ackSig <- struct{}{}:
		default:
		}
		clear(batch)
		batch = batch[:0]
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
			if o.persist != nil {
				batch = append(batch, o.persist)
				continue
			}
			flush()
			if err := h.wal.SaveSnapshot(*o.compact); err != nil {
				h.fatal(fmt.Errorf("WAL snapshot record: %w", err))
				return
			}
			n, err := h.wal.Release(o.first)
			if err != nil {
				h.log.Warn("cannot delete WAL segments", "err", err)
			}
			h.snaps.prune(uint64(o.compact.Index))
			h.log.Info("compacted the log", "snapshot", o.compact.Index, "first", o.first, "segments_deleted", n)
		}
		flush()
	}
}
