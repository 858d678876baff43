package host

// The client and cluster API, and the waiters that answer it.

import (
	"context"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"time"

	"github.com/pureraft/raft"
)

func (h *Host) finish(seq uint64, r waitResult) { h.answer(h.waiters, seq, r) }

func (h *Host) finishRead(id uint64, r waitResult) { h.answer(h.readWaiters, id, r) }

// answer hands r to the waiter registered under id in m, if it still waits.
func (h *Host) answer(m map[uint64]chan waitResult, id uint64, r waitResult) {
	h.waitMu.Lock()
	ch := m[id]
	delete(m, id)
	h.waitMu.Unlock()
	if ch != nil {
		ch <- r
	}
}

// call registers a waiter under id in m, hands req to the node loop on c
// and waits for the answer. Giving up (the context ends, the host stops)
// removes the waiter, so a late answer is dropped.
func call[T any](h *Host, ctx context.Context, m map[uint64]chan waitResult, id uint64, c chan<- T, req T) (waitResult, error) {
	ch := make(chan waitResult, 1)
	h.waitMu.Lock()
	m[id] = ch
	h.waitMu.Unlock()
	giveUp := func(err error) (waitResult, error) {
		h.waitMu.Lock()
		delete(m, id)
		h.waitMu.Unlock()
		return waitResult{}, err
	}
	select {
	case c <- req:
	case <-ctx.Done():
		return giveUp(ctx.Err())
	case <-h.stopc:
		return giveUp(ErrStopped)
	}
	select {
	case r := <-ch:
		return r, nil
	case <-ctx.Done():
		return giveUp(ctx.Err())
	case <-h.stopc:
		return giveUp(ErrStopped)
	}
}

// finishIndex answers a membership change waiting for the entry at e's
// index: committed if the term matches, overwritten otherwise.
func (h *Host) finishIndex(e *raft.Entry) {
	h.waitMu.Lock()
	w, ok := h.idxWaiters[uint64(e.Index)]
	delete(h.idxWaiters, uint64(e.Index))
	h.waitMu.Unlock()
	if !ok {
		return
	}
	if w.term != e.Term {
		w.ch <- waitResult{err: fmt.Errorf("%w: the change was overwritten by a new leader", ErrDropped)}
		return
	}
	w.ch <- waitResult{res: Result{Index: uint64(e.Index)}}
}

// Propose replicates cmd and returns the Machine's result once applied
// here. It works on any node: a follower's proposal is forwarded to the
// leader by the core.
//
// A member under a corruption alarm refuses: the result would come from
// its own machine.
func (h *Host) Propose(ctx context.Context, cmd []byte) (Result, error) {
	if r := h.alarm.Load(); r != nil {
		return Result{}, fmt.Errorf("%w: %s", ErrStateCorrupt, *r)
	}
	return h.proposeEntry(ctx, entryCommand, cmd)
}

func (h *Host) proposeEntry(ctx context.Context, kind byte, body []byte) (Result, error) {
	if h.closing.Load() {
		return Result{}, ErrStopped
	}
	start := time.Now()
	seq := h.seq.Add(1)
	data := make([]byte, 0, len(body)+1+2*binary.MaxVarintLen64)
	data = append(data, kind)
	data = binary.AppendUvarint(data, uint64(h.id))
	data = binary.AppendUvarint(data, seq)
	data = append(data, body...)
	r, err := call(h, ctx, h.waiters, seq, h.propc, proposal{data: data, seq: seq})
	if err != nil {
		return Result{}, err
	}
	if r.err == nil {
		h.metrics.proposal.Observe(time.Since(start).Seconds())
	}
	return r.res, r.err
}

func parseEntry(b []byte) (kind byte, proposer raft.NodeID, seq uint64, body []byte, ok bool) {
	if len(b) < 3 {
		return 0, 0, 0, nil, false
	}
	kind = b[0]
	p, n := binary.Uvarint(b[1:])
	if n <= 0 {
		return 0, 0, 0, nil, false
	}
	s, m := binary.Uvarint(b[1+n:])
	if m <= 0 {
		return 0, 0, 0, nil, false
	}
	return kind, raft.NodeID(p), s, b[1+n+m:], kind == entryCommand || kind == entryAddress || kind == entryHashCheck
}

// Consistency is how fresh a read must be.
type Consistency int

const (
	// Linearizable reads go through ReadIndex: a quorum confirms the
	// leader is still leader; the read sees every write acknowledged
	// before it began.
	Linearizable Consistency = iota
	// Lease reads trust the leader's lease (clock-bounded) and skip the
	// quorum round when it holds; otherwise they are linearizable reads.
	Lease
	// Stale reads answer from this node's state as it is: fast, possibly
	// behind.
	Stale
)

func (c Consistency) String() string {
	switch c {
	case Lease:
		return "lease"
	case Stale:
		return "stale"
	}
	return "linearizable"
}

// Read answers query from the machine with the given consistency.
//
// A member under a corruption alarm, or one that restarted and has not
// yet compared its state with the other replicas, answers no reads.
func (h *Host) Read(ctx context.Context, c Consistency, query []byte) ([]byte, error) {
	start := time.Now()
	if err := h.servable(); err != nil {
		return nil, err
	}
	if c != Stale {
		idx, err := h.readIndex(ctx, c == Lease)
		// A read the leader lost or did not answer in time (a busy leader,
		// a lost message, a leader change) is asked again while the
		// client still waits: a transient failure becomes latency.
		for err != nil && ctx.Err() == nil && (errors.Is(err, raft.ErrReadTimeout) ||
			errors.Is(err, raft.ErrReadLeadershipLost) || errors.Is(err, raft.ErrReadRefused)) {
			select {
			case <-time.After(h.cfg.TickInterval):
			case <-ctx.Done():
			}
			idx, err = h.readIndex(ctx, c == Lease)
		}
		if err != nil {
			return nil, err
		}
		if err := h.waitApplied(ctx, idx); err != nil {
			return nil, err
		}
		if err := h.servable(); err != nil {
			return nil, err // the alarm went off while the read waited
		}
	}
	out, err := h.m.Query(query)
	h.noteCorrupt(err)
	if err == nil {
		h.metrics.read.WithLabelValues(c.String()).Observe(time.Since(start).Seconds())
	}
	return out, err
}

// readIndex asks the node loop for a read index and waits for it.
func (h *Host) readIndex(ctx context.Context, lease bool) (uint64, error) {
	if h.closing.Load() {
		return 0, ErrStopped
	}
	id := h.readSeq.Add(1)
	r, err := call(h, ctx, h.readWaiters, id, h.readc, readReq{id: id, lease: lease})
	if err != nil {
		return 0, err
	}
	return r.res.Index, r.err
}

// AddLearner adds node id, reachable at addr, as a learner: it records the
// address in the replicated address book, then changes the membership.
// Only the leader does this (others return *NotLeaderError).
//
// A voter cannot join again: AddLearner would demote it (a wiped voter
// restarted with --join once did, leaving the cluster unable to survive a
// failure), so it is refused with ErrAlreadyVoter. A removed member's ID
// is never used again (ErrRemovedID).
func (h *Host) AddLearner(ctx context.Context, id raft.NodeID, addr PeerAddr) error {
	if err := h.leaderOnly(); err != nil {
		return err
	}
	h.peersMu.RLock()
	removed := h.peers[id].Removed
	h.peersMu.RUnlock()
	if removed {
		return fmt.Errorf("%w: node %d was removed", ErrRemovedID, id)
	}
	var voter bool
	if err := h.do(ctx, func() { voter = h.node.Membership().IsVoter(id) }); err != nil {
		return err
	}
	if voter {
		return fmt.Errorf("%w: node %d", ErrAlreadyVoter, id)
	}
	body, _ := json.Marshal(addressChange{ID: id, Addr: addr})
	if _, err := h.proposeEntry(ctx, entryAddress, body); err != nil {
		return err
	}
	return h.changeMembership(ctx, raft.MembershipChange{Type: raft.AddLearner, Node: id})
}

// Promote makes learner id a voter. It refuses (see safeChange) a server
// that is not a learner, has no address, or lags more than
// Config.PromoteMaxLag entries behind the leader.
func (h *Host) Promote(ctx context.Context, id raft.NodeID) error {
	return h.changeMembership(ctx, raft.MembershipChange{Type: raft.AddVoter, Node: id})
}

// Remove removes node id from the cluster and retires its ID: no server
// joins under it again (ErrRemovedID).
//
// If the removal went through but retiring the ID failed (the client saw
// an error), removing it again retires it.
func (h *Host) Remove(ctx context.Context, id raft.NodeID) error {
	err := h.changeMembership(ctx, raft.MembershipChange{Type: raft.RemoveMember, Node: id})
	if errors.Is(err, raft.ErrNotMember) {
		h.peersMu.RLock()
		a, known := h.peers[id]
		h.peersMu.RUnlock()
		if known && !a.Removed {
			err = nil // a member once (it has an address): retire it
		}
	}
	if err != nil {
		return err
	}
	return h.retire(ctx, id)
}

func (h *Host) leaderOnly() error {
	st := h.Status()
	if st.Role != raft.RoleLeader {
		return h.notLeader(st.Leader)
	}
	return nil
}

func (h *Host) changeMembership(ctx context.Context, ch raft.MembershipChange) error {
	var perr error
	wait := make(chan waitResult, 1)
	err := h.do(ctx, func() {
		if err := h.safeChange(ch); err != nil {
			perr = h.clientErr(err)
			return
		}
		idx, term, err := h.node.ProposeMembershipChange(ch)
		if err != nil {
			perr = h.clientErr(err)
			return
		}
		h.waitMu.Lock()
		h.idxWaiters[uint64(idx)] = idxWaiter{term: term, ch: wait}
		h.waitMu.Unlock()
	})
	if err != nil {
		return err
	}
	if perr != nil {
		return perr
	}
	select {
	case r := <-wait:
		if r.err == nil {
			h.log.Info("membership changed", "change", ch.Type.String(), "node", ch.Node, "index", r.res.Index)
		}
		return r.err
	case <-ctx.Done():
		return ctx.Err()
	}
}

// TransferLeadership hands leadership to node to (raft.None: the most
// up-to-date voter) and waits until this node is no longer leader.
func (h *Host) TransferLeadership(ctx context.Context, to raft.NodeID) (raft.NodeID, error) {
	var terr error
	err := h.do(ctx, func() {
		if to == raft.None {
			to, terr = h.node.TransferToBestVoter()
		} else {
			terr = h.node.TransferLeadership(to)
		}
		if terr != nil {
			terr = h.clientErr(terr)
		}
	})
	if err == nil {
		err = terr
	}
	if err != nil {
		return raft.None, err
	}
	for {
		st := h.Status()
		if st.Role != raft.RoleLeader {
			return to, nil
		}
		if st.Transferee == raft.None {
			return raft.None, fmt.Errorf("leadership transfer to %d was abandoned", to)
		}
		select {
		case <-ctx.Done():
			return raft.None, ctx.Err()
		case <-time.After(h.cfg.TickInterval):
		}
	}
}

// Status returns the node's status as of the last loop iteration.
func (h *Host) Status() raft.Status {
	h.statusMu.RLock()
	defer h.statusMu.RUnlock()
	return h.status
}

// Membership returns the membership the node uses now.
func (h *Host) Membership(ctx context.Context) (raft.Membership, error) {
	var m raft.Membership
	err := h.do(ctx, func() { m = h.node.Membership() })
	return m, err
}

// Progress returns the leader's view of each follower (empty elsewhere).
func (h *Host) Progress(ctx context.Context) map[raft.NodeID]raft.Progress {
	out := map[raft.NodeID]raft.Progress{}
	h.do(ctx, func() {
		h.node.ForEachProgress(func(id raft.NodeID, p raft.Progress) { out[id] = p })
	})
	return out
}

// Peers returns a copy of the address book.
func (h *Host) Peers() Peers {
	h.peersMu.RLock()
	defer h.peersMu.RUnlock()
	return h.peers.clone()
}

// ID returns the node's ID.
func (h *Host) ID() raft.NodeID { return h.id }

// SnapshotIndex returns the index of the latest local snapshot.
func (h *Host) SnapshotIndex() uint64 {
	l := h.snaps.list()
	if len(l) == 0 {
		return 0
	}
	return l[len(l)-1]
}

// Close shuts the host down gracefully: a leader first hands leadership to
// the most up-to-date voter (so the cluster does not wait an election
// timeout), then the loop stops, the WAL is flushed, and the machine closed.
func (h *Host) Close(ctx context.Context) error {
	if !h.closing.CompareAndSwap(false, true) {
		return nil
	}
	if h.Status().Role == raft.RoleLeader && !h.noHandOver.Load() {
		h.handOver(ctx)
	}
	close(h.stopc)
	<-h.loopDone
	h.tr.close()
	close(h.storec)
	close(h.applyQuit)
	h.bgWG.Wait()
	err := errors.Join(h.m.Close(), h.wal.Close())
	if err == nil {
		err = markClean(h.cfg.Dir)
	}
	h.log.Info("stopped")
	return err
}

// SkipHandOver makes Close stop without handing leadership over first: for
// the last server of a cluster that is being stopped whole, which has no
// one left to hand over to (the attempt would only time out).
func (h *Host) SkipHandOver() { h.noHandOver.Store(true) }

// handOver transfers leadership to the voter that answered recently, is
// connected, and holds the most of the log, and waits (up to two election
// timeouts) for it to take over.
func (h *Host) handOver(ctx context.Context) {
	var to raft.NodeID
	var best raft.Index
	h.do(ctx, func() {
		m := h.node.Membership()
		h.node.ForEachProgress(func(id raft.NodeID, p raft.Progress) {
			if m.IsVoter(id) && !m.IsWitness(id) && p.RecentActive && h.tr.reachable(id) && (to == raft.None || p.Match > best) {
				to, best = id, p.Match
			}
		})
	})
	if to == raft.None {
		return
	}
	tctx, cancel := context.WithTimeout(ctx, time.Duration(2*h.cfg.ElectionTicks)*h.cfg.TickInterval)
	defer cancel()
	if _, err := h.TransferLeadership(tctx, to); err != nil {
		h.log.Warn("leadership transfer before shutdown failed", "to", to, "err", err)
		return
	}
	h.log.Info("handed leadership over before shutdown", "to", to)
}

func (h *Host) fatal(err error) {
	h.fatalMu.Do(func() {
		h.log.Error("fatal", "err", err)
		if h.cfg.OnFatal != nil {
			h.cfg.OnFatal(err)
			return
		}
		os.Exit(1)
	})
}

// Fresh reports whether the node started with no stored state (a new
// member that joins, or one that bootstrapped a new cluster).
func (h *Host) Fresh() bool { return h.fresh }
