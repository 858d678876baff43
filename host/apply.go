package host

// The apply goroutine: committed entries to the Machine, results to
// the clients waiting for them.

import (
	"context"
	"encoding/json"
	"fmt"

	"github.com/pureraft/raft"
)

func (g *Group) applyLoop() {
	defer g.bgWG.Done()
	var cmds []Command
	var tags []uint64 // proposal seq of each command proposed here, or 0
	flush := func() bool {
		if len(cmds) == 0 {
			return true
		}
		if err := g.m.Apply(cmds); err != nil {
			g.noteCorrupt(err)
			g.h.fatal(fmt.Errorf("machine apply at %d: %w", cmds[0].Index, err))
			return false
		}
		for i, c := range cmds {
			if tags[i] != 0 {
				g.finish(tags[i], waitResult{res: Result{Index: c.Index, Data: c.Result}})
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
			if uint64(e.Index) <= g.skipThrough || e.Type != raft.EntryNormal {
				if e.Type == raft.EntryConfig || e.Type == raft.EntryNoop {
					g.finishIndex(e)
				}
				continue
			}
			kind, proposer, seq, body, ok := parseEntry(e.Data)
			if !ok {
				g.log.Error("skipping an entry the host cannot parse", "index", e.Index)
				continue
			}
			tag := uint64(0)
			if proposer == g.nodeID {
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
				g.applyAddress(body)
				if tag != 0 {
					g.finish(tag, waitResult{res: Result{Index: uint64(e.Index)}})
				}
			case entryHashCheck:
				if !flush() {
					return false
				}
				g.startHash(uint64(e.Index))
				if tag != 0 {
					g.finish(tag, waitResult{res: Result{Index: uint64(e.Index)}})
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
			case op = <-g.applyc:
			case <-g.applyQuit:
				// The loop has stopped: apply what it handed over, then stop.
				select {
				case op = <-g.applyc:
				default:
					g.waitSnapshot()
					return
				}
			}
		}
		if op.snapshot != nil {
			g.takeSnapshot(op.snapshot)
			continue
		}
		if s := op.apply.Snapshot; s != nil {
			idx := uint64(s.Index)
			if err := g.restoreFromFile(idx); err != nil {
				g.h.fatal(err)
				return
			}
			// The machine is now exactly at idx, even if it was ahead of
			// the log before (a cut WAL tail): every entry after idx must
			// be applied again, none skipped.
			g.skipThrough = idx
			g.lastSnapIndex = idx
			g.log.Info("installed snapshot from the leader", "index", idx, "term", s.Term)
			g.setApplied(idx)
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
			case next := <-g.applyc:
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
			g.setApplied(uint64(last))
		}
		if g.applied-g.lastSnapIndex >= g.cfg.SnapshotEntries && !g.snapping.Load() {
			g.takeSnapshot(nil)
		}
	}
}

func (g *Group) applyAddress(body []byte) {
	var ch addressChange
	if err := json.Unmarshal(body, &ch); err != nil {
		g.log.Error("bad address entry", "err", err)
		return
	}
	if err := g.h.mergePeers(Peers{ch.ID: ch.Addr}); err != nil {
		g.h.fatal(fmt.Errorf("save address book: %w", err))
	}
	g.log.Info("address book updated", "id", ch.ID, "raft", ch.Addr.Raft, "http", ch.Addr.HTTP, "removed", ch.Addr.Removed)
}

func (g *Group) setApplied(idx uint64) {
	g.appliedMu.Lock()
	g.applied = idx
	k := 0
	for _, w := range g.appliedWaiters {
		if w.index <= idx {
			close(w.ch)
			continue
		}
		g.appliedWaiters[k] = w
		k++
	}
	clear(g.appliedWaiters[k:])
	g.appliedWaiters = g.appliedWaiters[:k]
	g.appliedMu.Unlock()
	g.gauges.applied.Store(idx)
}

func (g *Group) waitApplied(ctx context.Context, idx uint64) error {
	g.appliedMu.Lock()
	if g.applied >= idx {
		g.appliedMu.Unlock()
		return nil
	}
	ch := make(chan struct{})
	g.appliedWaiters = append(g.appliedWaiters, appliedWaiter{index: idx, ch: ch})
	g.appliedMu.Unlock()
	select {
	case <-ch:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	case <-g.stopc:
		return ErrStopped
	}
}

// Applied returns the last applied index.
func (g *Group) Applied() uint64 {
	g.appliedMu.Lock()
	defer g.appliedMu.Unlock()
	return g.applied
}
