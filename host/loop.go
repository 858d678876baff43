package host

// The node loop: it owns the raft.Node, takes inputs, and hands each
// action to whoever does it.

import (
	"context"
	"errors"
	"fmt"

	"github.com/pureraft/raft"
)

func (g *Group) run() {
	defer close(g.loopDone)
	defer g.h.setAwake(g, false)
	for g.handleOne(true) {
		// Take in whatever else is waiting before producing actions: one
		// batch of actions for many inputs.
		for i := 0; i < 512 && g.handleOne(false); i++ {
		}
		g.flushReads()
		g.handleActions()
		g.publishStatus()
	}
}

// handleOne handles one input; block says whether to wait for one. It
// returns false when there was nothing (or the host stops).
func (g *Group) handleOne(block bool) bool {
	var in loopInput
	if block {
		select {
		case <-g.stopc:
			return false
		case in.p = <-g.propc:
			in.kind = inPropose
		case in.r = <-g.readc:
			in.kind = inRead
		case in.msgs = <-g.recvc:
			in.kind = inStep
		case <-g.ackSig:
			in.kind = inAck
		case in.f = <-g.opc:
			in.kind = inOp
		case <-g.tickc:
			in.kind = inTick
		case <-g.wakec:
			in.kind = inWake
		}
	} else {
		select {
		case in.p = <-g.propc:
			in.kind = inPropose
		case in.r = <-g.readc:
			in.kind = inRead
		case in.msgs = <-g.recvc:
			in.kind = inStep
		case <-g.ackSig:
			in.kind = inAck
		case in.f = <-g.opc:
			in.kind = inOp
		default:
			return false
		}
	}
	// The node's clock first: a read or a message is judged at the time
	// it is handled, not at the time of the last tick delivered (tick.go).
	g.catchUpTicks()
	switch in.kind {
	case inPropose:
		g.propose(in.p)
	case inRead:
		g.read(in.r)
	case inStep:
		g.step(in.msgs)
	case inAck:
		g.ack()
	case inOp:
		in.f()
	case inWake:
		g.node.Wake()
	}
	return true
}

// loopInput is one input the node loop took.
type loopInput struct {
	kind int
	p    proposal
	r    readReq
	msgs []raft.Message
	f    func()
}

const (
	inPropose = iota
	inRead
	inStep
	inAck
	inOp
	inTick
	inWake
)

func (g *Group) ack() {
	if err := g.node.AckPersist(g.durable.Load()); err != nil {
		g.h.fatal(fmt.Errorf("ack persist: %w", err))
	}
}

func (g *Group) step(msgs []raft.Message) {
	for _, m := range msgs {
		if err := g.node.Step(m); err != nil {
			switch {
			case errors.Is(err, raft.ErrUnknownPeer):
				g.log.Debug("message from a non-member", "from", m.From, "type", m.Type)
			case errors.Is(err, raft.ErrNotLeader), errors.Is(err, raft.ErrProposalDropped):
				// A forwarded proposal reached a node that is no longer
				// leader, or one that refused it: the proposer times out
				// and its client retries.
				g.log.Debug("forwarded proposal refused", "from", m.From, "err", err)
			default:
				g.log.Warn("dropped invalid message", "from", m.From, "type", m.Type, "err", err)
			}
		}
	}
}

func (g *Group) propose(p proposal) {
	if _, _, err := g.node.Propose(p.data); err != nil {
		g.finish(p.seq, waitResult{err: g.clientErr(err)})
	}
}

func (g *Group) clientErr(err error) error {
	var nl *raft.NotLeaderError
	switch {
	case errors.As(err, &nl):
		return g.notLeader(nl.Leader)
	case errors.Is(err, raft.ErrEntryTooLarge):
		return fmt.Errorf("%w: %v", ErrTooLarge, err)
	case errors.Is(err, raft.ErrProposalDropped):
		return fmt.Errorf("%w: %v", ErrDropped, err)
	case errors.Is(err, raft.ErrReadLeadershipLost), errors.Is(err, raft.ErrReadRefused), errors.Is(err, raft.ErrReadTimeout):
		return fmt.Errorf("%w: %w", ErrNoLeader, err)
	}
	return err
}

func (g *Group) notLeader(lead raft.NodeID) error {
	g.h.peersMu.RLock()
	a := g.h.peers[lead]
	g.h.peersMu.RUnlock()
	return &NotLeaderError{Leader: lead, Addr: a}
}

func (g *Group) read(r readReq) {
	if r.lease {
		g.leaseBatch = append(g.leaseBatch, r.id)
	} else {
		g.readBatch = append(g.readBatch, r.id)
	}
}

// flushReads asks the node for one read index per batch of reads that
// arrived together (etcd batches its reads the same way): a follower sends
// one MsgReadIndex, a leader confirms one heartbeat round, for all of them.
func (g *Group) flushReads() {
	for _, lease := range []bool{false, true} {
		batch := &g.readBatch
		if lease {
			batch = &g.leaseBatch
		}
		if len(*batch) == 0 {
			continue
		}
		g.batchSeq++
		id := g.batchSeq
		var err error
		if lease {
			err = g.node.LeaseRead(id)
		} else {
			err = g.node.ReadIndex(id)
		}
		if err != nil {
			err = g.clientErr(err)
			for _, r := range *batch {
				g.finishRead(r, waitResult{err: err})
			}
		} else {
			g.batches[id] = *batch
		}
		*batch = nil
	}
}

// readDone answers every read of a batch.
func (g *Group) readDone(id uint64, r waitResult) {
	for _, rid := range g.batches[id] {
		g.finishRead(rid, r)
	}
	delete(g.batches, id)
}

func (g *Group) handleActions() {
	for _, a := range g.node.Actions() {
		switch a.Kind {
		case raft.ActionPersist:
			p := a.Persist
			g.h.storec <- storeOp{g: g, persist: &p}
		case raft.ActionSend:
			g.h.tr.send(g.gid, a.Message)
		case raft.ActionSendSnapshot:
			g.startSnapshotSend(a.Message)
		case raft.ActionApply:
			g.applyc <- applyOp{apply: a.Apply}
		case raft.ActionReadReady:
			g.readDone(a.Read.ID, waitResult{res: Result{Index: uint64(a.Read.Index)}})
		case raft.ActionReadFailed:
			g.readDone(a.Read.ID, waitResult{err: g.clientErr(a.Read.Err)})
		}
	}
}

func (g *Group) publishStatus() {
	st := g.node.Status()
	g.setStatus(st)
	m := &g.gauges
	m.term.Store(uint64(st.Term))
	m.commit.Store(uint64(st.Commit))
	m.leader.Store(uint64(st.Leader))
	m.role.Store(uint64(st.Role))
	m.lastIndex.Store(uint64(st.LastIndex))
	m.quiescent.Store(st.Quiescent)
	g.noteQuiescence(st.Quiescent)
}

// do runs f on the node loop and waits for it.
func (g *Group) do(ctx context.Context, f func()) error {
	done := make(chan struct{})
	select {
	case g.opc <- func() { f(); close(done) }:
	case <-ctx.Done():
		return ctx.Err()
	case <-g.loopDone:
		return ErrStopped
	}
	select {
	case <-done:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	case <-g.loopDone:
		return ErrStopped
	}
}
