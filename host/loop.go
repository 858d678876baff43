package host

// The node loop: it owns the raft.Node, takes inputs, and hands each
// action to whoever does it.

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/pureraft/raft"
)

func (h *Host) run() {
	defer close(h.loopDone)
	h.ticker = time.NewTicker(h.cfg.TickInterval)
	defer h.ticker.Stop()
	for h.handleOne(true) {
		// Take in whatever else is waiting before producing actions: one
		// batch of actions for many inputs.
		for i := 0; i < 512 && h.handleOne(false); i++ {
		}
		h.flushReads()
		h.handleActions()
		h.publishStatus()
	}
}

// handleOne handles one input; block says whether to wait for one. It
// returns false when there was nothing (or the host stops).
func (h *Host) handleOne(block bool) bool {
	if block {
		select {
		case <-h.stopc:
			return false
		case p := <-h.propc:
			h.propose(p)
		case r := <-h.readc:
			h.read(r)
		case msgs := <-h.recvc:
			h.step(msgs)
		case <-h.ackSig:
			h.ack()
		case f := <-h.opc:
			f()
		case <-h.ticker.C:
			h.node.Tick()
		}
		return true
	}
	select {
	case p := <-h.propc:
		h.propose(p)
	case r := <-h.readc:
		h.read(r)
	case msgs := <-h.recvc:
		h.step(msgs)
	case <-h.ackSig:
		h.ack()
	case f := <-h.opc:
		f()
	default:
		return false
	}
	return true
}

func (h *Host) ack() {
	if err := h.node.AckPersist(h.durable.Load()); err != nil {
		h.fatal(fmt.Errorf("ack persist: %w", err))
	}
}

func (h *Host) step(msgs []raft.Message) {
	for _, m := range msgs {
		if err := h.node.Step(m); err != nil {
			switch {
			case errors.Is(err, raft.ErrUnknownPeer):
				h.log.Debug("message from a non-member", "from", m.From, "type", m.Type)
			case errors.Is(err, raft.ErrNotLeader), errors.Is(err, raft.ErrProposalDropped):
				// A forwarded proposal reached a node that is no longer
				// leader, or one that refused it: the proposer times out
				// and its client retries.
				h.log.Debug("forwarded proposal refused", "from", m.From, "err", err)
			default:
				h.log.Warn("dropped invalid message", "from", m.From, "type", m.Type, "err", err)
			}
		}
	}
}

func (h *Host) propose(p proposal) {
	if _, _, err := h.node.Propose(p.data); err != nil {
		h.finish(p.seq, waitResult{err: h.clientErr(err)})
	}
}

func (h *Host) clientErr(err error) error {
	var nl *raft.NotLeaderError
	switch {
	case errors.As(err, &nl):
		return h.notLeader(nl.Leader)
	case errors.Is(err, raft.ErrEntryTooLarge):
		return fmt.Errorf("%w: %v", ErrTooLarge, err)
	case errors.Is(err, raft.ErrProposalDropped):
		return fmt.Errorf("%w: %v", ErrDropped, err)
	case errors.Is(err, raft.ErrReadLeadershipLost), errors.Is(err, raft.ErrReadRefused), errors.Is(err, raft.ErrReadTimeout):
		return fmt.Errorf("%w: %w", ErrNoLeader, err)
	}
	return err
}

func (h *Host) notLeader(lead raft.NodeID) error {
	h.peersMu.RLock()
	a := h.peers[lead]
	h.peersMu.RUnlock()
	return &NotLeaderError{Leader: lead, Addr: a}
}

func (h *Host) read(r readReq) {
	if r.lease {
		h.leaseBatch = append(h.leaseBatch, r.id)
	} else {
		h.readBatch = append(h.readBatch, r.id)
	}
}

// flushReads asks the node for one read index per batch of reads that
// arrived together (etcd batches its reads the same way): a follower sends
// one MsgReadIndex, a leader confirms one heartbeat round, for all of them.
func (h *Host) flushReads() {
	for _, lease := range []bool{false, true} {
		batch := &h.readBatch
		if lease {
			batch = &h.leaseBatch
		}
		if len(*batch) == 0 {
			continue
		}
		h.batchSeq++
		id := h.batchSeq
		var err error
		if lease {
			err = h.node.LeaseRead(id)
		} else {
			err = h.node.ReadIndex(id)
		}
		if err != nil {
			err = h.clientErr(err)
			for _, r := range *batch {
				h.finishRead(r, waitResult{err: err})
			}
		} else {
			h.batches[id] = *batch
		}
		*batch = nil
	}
}

// readDone answers every read of a batch.
func (h *Host) readDone(id uint64, r waitResult) {
	for _, rid := range h.batches[id] {
		h.finishRead(rid, r)
	}
	delete(h.batches, id)
}

func (h *Host) handleActions() {
	for _, a := range h.node.Actions() {
		switch a.Kind {
		case raft.ActionPersist:
			p := a.Persist
			h.storec <- storeOp{persist: &p}
		case raft.ActionSend:
			h.tr.send(a.Message)
		case raft.ActionSendSnapshot:
			h.startSnapshotSend(a.Message)
		case raft.ActionApply:
			h.applyc <- applyOp{apply: a.Apply}
		case raft.ActionReadReady:
			h.readDone(a.Read.ID, waitResult{res: Result{Index: uint64(a.Read.Index)}})
		case raft.ActionReadFailed:
			h.readDone(a.Read.ID, waitResult{err: h.clientErr(a.Read.Err)})
		}
	}
}

func (h *Host) publishStatus() {
	st := h.node.Status()
	h.statusMu.Lock()
	h.status = st
	h.statusMu.Unlock()
	m := h.metrics
	m.term.Store(uint64(st.Term))
	m.commit.Store(uint64(st.Commit))
	m.leader.Store(uint64(st.Leader))
	m.role.Store(uint64(st.Role))
	m.lastIndex.Store(uint64(st.LastIndex))
}

// do runs f on the node loop and waits for it.
func (h *Host) do(ctx context.Context, f func()) error {
	done := make(chan struct{})
	select {
	case h.opc <- func() { f(); close(done) }:
	case <-ctx.Done():
		return ctx.Err()
	case <-h.loopDone:
		return ErrStopped
	}
	select {
	case <-done:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	case <-h.loopDone:
		return ErrStopped
	}
}
