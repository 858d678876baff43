package host

// The apply goroutine: committed entries to the Machine, results to
// the clients waiting for them.

import (
	"context"
	"encoding/json"
	"fmt"

	"github.com/pureraft/raft"
)

func (h *Host) applyLoop() {
	defer h.bgWG.Done()
	var cmds []Command
	var tags []uint64 // proposal seq of each command proposed here, or 0
	flush := func() bool {
		if len(cmds) == 0 {
			return true
		}
		if err := h.m.Apply(cmds); err != nil {
			h.noteCorrupt(err)
			h.fatal(fmt.Errorf("machine apply at %d: %w", cmds[0].Index, err))
			return false
		}
		for i, c := range cmds {
			if tags[i] != 0 {
				h.finish(tags[i], waitResult{res: Result{Index: c.Index, Data: c.Result}})
			}
			cmds[i] = Command{}
		}
		cmds, tags = cmds[:0], tags[:0]
		return true
	}
	// stage queues ents' commands for the next flush, applying address
	// entries (after flushing what precedes them) on the way.
	stage := func(ents []raft.Entry) bool {
		for i := range ents {
			e := &ents[i]
			if uint64(e.Index) <= h.skipThrough || e.Type != raft.EntryNormal {
				if e.Type == raft.EntryConfig || e.Type == raft.EntryNoop {
					h.finishIndex(e)
				}
				continue
			}
			kind, proposer, seq, body, ok := parseEntry(e.Data)
			if !ok {
				h.log.Error("skipping an entry the host cannot parse", "index", e.Index)
				continue
			}
			tag := uint64(0)
			if proposer == h.id {
				tag = seq
			}
			switch kind {
			case entryCommand:
				cmds = append(cmds, Command{Index: uint64(e.Index), Data: body})
				tags = append(tags, tag)
			case entryAddress:
				if !flush() {
					return false
				}
				h.applyAddress(body)
				if tag != 0 {
					h.finish(tag, waitResult{res: Result{Index: uint64(e.Index)}})
				}
			case entryHashCheck:
				if !flush() {
					return false
				}
				h.startHash(uint64(e.Index))
				if tag != 0 {
					h.finish(tag, waitResult{res: Result{Index: uint64(e.Index)}})
				}
			}
		}
		return true
	}
	var pending *applyOp
	for {
		var op applyOp
		if pending != nil {
			op, pending = *pending, nil
		} else {
			select {
			case op = <-h.applyc:
			case <-h.applyQuit:
				// The loop has stopped: apply what it handed over, then stop.
				select {
				case op = <-h.applyc:
				default:
					h.waitSnapshot()
					return
				}
			}
		}
		if op.snapshot != nil {
			h.takeSnapshot(op.snapshot)
			continue
		}
		if s := op.apply.Snapshot; s != nil {
			idx := uint64(s.Index)
			if err := h.restoreFromFile(idx); err != nil {
				h.fatal(err)
				return
			}
			// The machine is now exactly at idx, even if it was ahead of
			// the log before (a cut WAL tail): every entry after idx must
			// be applied again, none skipped.
			h.skipThrough = idx
			h.lastSnapIndex = idx
			h.log.Info("installed snapshot from the leader", "index", idx, "term", s.Term)
			h.setApplied(idx)
			continue
		}
		// Apply every entry batch already waiting in one Machine.Apply:
		// under load the batches queue up while a transaction commits, so
		// the machine commits (and rewrites its pages) once per wave, not
		// once per batch.
		last := raft.Index(0)
		for {
			ents := op.apply.Entries
			if !stage(ents) {
				return
			}
			if len(ents) > 0 {
				last = ents[len(ents)-1].Index
			}
			if len(cmds) >= 4096 {
				break
			}
			select {
			case next := <-h.applyc:
				if next.snapshot == nil && next.apply.Snapshot == nil {
					op = next
					continue
				}
				pending = &next
			default:
			}
			break
		}
		if !flush() {
			return
		}
		if last > 0 {
			h.setApplied(uint64(last))
		}
		if h.applied-h.lastSnapIndex >= h.cfg.SnapshotEntries && !h.snapping.Load() {
			h.takeSnapshot(nil)
		}
	}
}

func (h *Host) applyAddress(body []byte) {
	var ch addressChange
	if err := json.Unmarshal(body, &ch); err != nil {
		h.log.Error("bad address entry", "err", err)
		return
	}
	h.peersMu.Lock()
	h.peers[ch.ID] = ch.Addr
	book := h.peers.clone()
	h.peersMu.Unlock()
	if err := savePeers(h.cfg.Dir, book); err != nil {
		h.fatal(fmt.Errorf("save address book: %w", err))
	}
	h.log.Info("address book updated", "id", ch.ID, "raft", ch.Addr.Raft, "http", ch.Addr.HTTP, "removed", ch.Addr.Removed)
}

func (h *Host) setApplied(idx uint64) {
	h.appliedMu.Lock()
	h.applied = idx
	k := 0
	for _, w := range h.appliedWaiters {
		if w.index <= idx {
			close(w.ch)
			continue
		}
		h.appliedWaiters[k] = w
		k++
	}
	clear(h.appliedWaiters[k:])
	h.appliedWaiters = h.appliedWaiters[:k]
	h.appliedMu.Unlock()
	h.metrics.applied.Store(idx)
}

func (h *Host) waitApplied(ctx context.Context, idx uint64) error {
	h.appliedMu.Lock()
	if h.applied >= idx {
		h.appliedMu.Unlock()
		return nil
	}
	ch := make(chan struct{})
	h.appliedWaiters = append(h.appliedWaiters, appliedWaiter{index: idx, ch: ch})
	h.appliedMu.Unlock()
	select {
	case <-ch:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	case <-h.stopc:
		return ErrStopped
	}
}

// Applied returns the last applied index.
func (h *Host) Applied() uint64 {
	h.appliedMu.Lock()
	defer h.appliedMu.Unlock()
	return h.applied
}
