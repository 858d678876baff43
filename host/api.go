package host

// The client and cluster API, and the waiters that answer it.

import (
	"context"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/pureraft/raft"
)

func (g *Group) finish(seq uint64, r waitResult) { g.answer(g.waiters, seq, r) }

func (g *Group) finishRead(id uint64, r waitResult) { g.answer(g.readWaiters, id, r) }

// answer hands r to the waiter registered under id in m, if it still waits.
func (g *Group) answer(m map[uint64]chan waitResult, id uint64, r waitResult) {
	g.waitMu.Lock()
	ch := m[id]
	delete(m, id)
	g.waitMu.Unlock()
	if ch != nil {
		ch <- r
	}
}

// call registers a waiter under id in m, hands req to the node loop on c
// and waits for the answer. Giving up (the context ends, the host stops)
// removes the waiter, so a late answer is dropped.
func call[T any](g *Group, ctx context.Context, m map[uint64]chan waitResult, id uint64, c chan<- T, req T) (waitResult, error) {
	ch := make(chan waitResult, 1)
	g.waitMu.Lock()
	m[id] = ch
	g.waitMu.Unlock()
	giveUp := func(err error) (waitResult, error) {
		g.waitMu.Lock()
		delete(m, id)
		g.waitMu.Unlock()
		return waitResult{}, err
	}
	select {
	case c <- req:
	case <-ctx.Done():
		return giveUp(ctx.Err())
	case <-g.stopc:
		return giveUp(ErrStopped)
	}
	select {
	case r := <-ch:
		return r, nil
	case <-ctx.Done():
		return giveUp(ctx.Err())
	case <-g.stopc:
		return giveUp(ErrStopped)
	}
}

// finishIndex answers a membership change waiting for the entry at e's
// index: committed if the term matches, overwritten otherwise.
func (g *Group) finishIndex(e *raft.Entry) {
	g.waitMu.Lock()
	w, ok := g.idxWaiters[uint64(e.Index)]
	delete(g.idxWaiters, uint64(e.Index))
	g.waitMu.Unlock()
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
// leader by the core. While the group knows no leader it fails at once
// with a *NotLeaderError naming none (no leader may come: a node cut off
// from a quorum); a caller that would rather wait calls WaitLeader first.
//
// A member under a corruption alarm refuses: the result would come from
// its own machine.
func (g *Group) Propose(ctx context.Context, cmd []byte) (Result, error) {
	if r := g.alarm.Load(); r != nil {
		return Result{}, fmt.Errorf("%w: %s", ErrStateCorrupt, *r)
	}
	return g.proposeEntry(ctx, entryCommand, cmd)
}

func (g *Group) proposeEntry(ctx context.Context, kind byte, body []byte) (Result, error) {
	if g.closing.Load() {
		return Result{}, ErrStopped
	}
	start := time.Now()
	seq := g.seq.Add(1)
	data := make([]byte, 0, len(body)+1+2*binary.MaxVarintLen64)
	data = append(data, kind)
	data = binary.AppendUvarint(data, uint64(g.nodeID))
	data = binary.AppendUvarint(data, seq)
	data = append(data, body...)
	r, err := call(g, ctx, g.waiters, seq, g.propc, proposal{data: data, seq: seq})
	if err != nil {
		return Result{}, err
	}
	if r.err == nil {
		g.metrics.proposal.Observe(time.Since(start).Seconds())
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

// Read answers query from the machine with the given consistency. Like
// Propose, a Linearizable or Lease read fails at once while the group
// knows no leader; WaitLeader waits for one.
//
// A member under a corruption alarm, or one that restarted and has not
// yet compared its state with the other replicas, answers no reads.
func (g *Group) Read(ctx context.Context, c Consistency, query []byte) ([]byte, error) {
	start := time.Now()
	if err := g.servable(); err != nil {
		return nil, err
	}
	if c != Stale {
		idx, err := g.readIndex(ctx, c == Lease)
		// A read the leader lost or did not answer in time (a busy leader,
		// a lost message, a leader change) is asked again while the
		// client still waits: a transient failure becomes latency.
		for err != nil && ctx.Err() == nil && (errors.Is(err, raft.ErrReadTimeout) ||
			errors.Is(err, raft.ErrReadLeadershipLost) || errors.Is(err, raft.ErrReadRefused)) {
			select {
			case <-time.After(g.cfg.TickInterval):
			case <-ctx.Done():
			}
			idx, err = g.readIndex(ctx, c == Lease)
		}
		if err != nil {
			return nil, err
		}
		if err := g.waitApplied(ctx, idx); err != nil {
			return nil, err
		}
		if err := g.servable(); err != nil {
			return nil, err // the alarm went off while the read waited
		}
	}
	out, err := g.m.Query(query)
	g.noteCorrupt(err)
	if err == nil {
		g.metrics.read.WithLabelValues(c.String()).Observe(time.Since(start).Seconds())
	}
	return out, err
}

// readIndex asks the node loop for a read index and waits for it.
func (g *Group) readIndex(ctx context.Context, lease bool) (uint64, error) {
	if g.closing.Load() {
		return 0, ErrStopped
	}
	id := g.readSeq.Add(1)
	r, err := call(g, ctx, g.readWaiters, id, g.readc, readReq{id: id, lease: lease})
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
func (g *Group) AddLearner(ctx context.Context, id raft.NodeID, addr PeerAddr) error {
	if err := g.leaderOnly(); err != nil {
		return err
	}
	g.h.peersMu.RLock()
	removed := g.h.peers[id].Removed
	g.h.peersMu.RUnlock()
	if removed {
		return fmt.Errorf("%w: node %d was removed", ErrRemovedID, id)
	}
	var voter bool
	if err := g.do(ctx, func() { voter = g.node.Membership().IsVoter(id) }); err != nil {
		return err
	}
	if voter {
		return fmt.Errorf("%w: node %d", ErrAlreadyVoter, id)
	}
	body, _ := json.Marshal(addressChange{ID: id, Addr: addr})
	if _, err := g.proposeEntry(ctx, entryAddress, body); err != nil {
		return err
	}
	return g.changeMembership(ctx, raft.MembershipChange{Type: raft.AddLearner, Node: id})
}

// Promote makes learner id a voter. It refuses (see safeChange) a server
// that is not a learner, has no address, or lags more than
// Config.PromoteMaxLag entries behind the leader.
func (g *Group) Promote(ctx context.Context, id raft.NodeID) error {
	return g.changeMembership(ctx, raft.MembershipChange{Type: raft.AddVoter, Node: id})
}

// Remove removes node id from the group. If id is then a replica of no
// other group this host holds, its ID is retired as well: no server joins
// under it again (ErrRemovedID), and its certificate no longer opens the
// peer port. A host that still serves other groups keeps its ID.
//
// If the removal went through but retiring the ID failed (the client saw
// an error), removing it again retires it.
//
// A leader asked to remove its own host hands leadership over first and
// answers with a *NotLeaderError naming the new leader, where the caller
// retries. Whether the ID is retired is decided from this host's replicas
// of the other groups, and a host already removed from another group may
// never hear of that removal: only another host's view is current.
func (g *Group) Remove(ctx context.Context, id raft.NodeID) error {
	if id == g.h.id && g.Status().Role == raft.RoleLeader {
		to, err := g.TransferLeadership(ctx, raft.None)
		if err != nil {
			return err
		}
		return g.notLeader(to)
	}
	err := g.changeMembership(ctx, raft.MembershipChange{Type: raft.RemoveMember, Node: id})
	if errors.Is(err, raft.ErrNotMember) {
		g.h.peersMu.RLock()
		a, known := g.h.peers[id]
		g.h.peersMu.RUnlock()
		if known && !a.Removed {
			err = nil // a member once (it has an address): retire it
		}
	}
	if err != nil {
		return err
	}
	if g.h.replicaElsewhere(ctx, id, g.gid) {
		return nil
	}
	return g.retire(ctx, id)
}

func (g *Group) leaderOnly() error {
	st := g.Status()
	if st.Role != raft.RoleLeader {
		return g.notLeader(st.Leader)
	}
	return nil
}

func (g *Group) changeMembership(ctx context.Context, ch raft.MembershipChange) error {
	err := g.proposeChange(ctx, ch)
	if errors.Is(err, raft.ErrConnectivityUnknown) {
		// An idle group is quiescent, and its leader cannot tell which
		// voters are connected: proposeChange woke it; after an election
		// timeout of heartbeats and check-quorum it knows (the core's
		// advice).
		select {
		case <-time.After(time.Duration(g.cfg.ElectionTicks+g.cfg.HeartbeatTicks) * g.cfg.TickInterval):
		case <-ctx.Done():
			return ctx.Err()
		}
		err = g.proposeChange(ctx, ch)
	}
	return err
}

// proposeChange checks and proposes a membership change and waits for it
// to commit. A quiescent node is woken and the change refused with
// raft.ErrConnectivityUnknown: right after waking, the leader's record of
// who answered is an assumption (everyone was told to be silent), not
// evidence; an election timeout later it is.
func (g *Group) proposeChange(ctx context.Context, ch raft.MembershipChange) error {
	var perr error
	wait := make(chan waitResult, 1)
	err := g.do(ctx, func() {
		if g.node.Quiescent() {
			g.node.Wake()
			perr = raft.ErrConnectivityUnknown
			return
		}
		if err := g.safeChange(ch); err != nil {
			perr = g.clientErr(err)
			return
		}
		idx, term, err := g.node.ProposeMembershipChange(ch)
		if err != nil {
			perr = g.clientErr(err)
			return
		}
		g.waitMu.Lock()
		g.idxWaiters[uint64(idx)] = idxWaiter{term: term, ch: wait}
		g.waitMu.Unlock()
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
			g.log.Info("membership changed", "change", ch.Type.String(), "node", ch.Node, "index", r.res.Index)
		}
		return r.err
	case <-ctx.Done():
		return ctx.Err()
	}
}

// TransferLeadership hands leadership to node to (raft.None: the most
// up-to-date voter) and waits until this node is no longer leader.
func (g *Group) TransferLeadership(ctx context.Context, to raft.NodeID) (raft.NodeID, error) {
	var terr error
	var term raft.Term // the node's term when the transfer began
	var since uint64   // the first status published after it began
	err := g.do(ctx, func() {
		if to == raft.None {
			to, terr = g.node.TransferToBestVoter()
		} else {
			terr = g.node.TransferLeadership(to)
		}
		if terr != nil {
			terr = g.clientErr(terr)
		}
		term, since = g.node.Status().Term, g.nextStatusSeq()
	})
	if err == nil {
		err = terr
	}
	if err != nil {
		return raft.None, err
	}
	// Judge only statuses published after the transfer began: one from
	// before it shows no transferee, as an abandoned transfer does (or,
	// on a node elected in the same batch, not yet leader).
	st, err := g.waitPublished(ctx, since, func(st raft.Status) bool {
		return st.Role != raft.RoleLeader || st.Term != term || st.Transferee == raft.None
	})
	switch {
	case err != nil:
		return raft.None, err
	case st.Role == raft.RoleLeader:
		// Abandoned (no transferee any more), or this node was elected
		// again in a later term: it still leads either way.
		return raft.None, fmt.Errorf("leadership transfer to %d was abandoned", to)
	}
	return to, nil
}

// Status returns the node's status as of the last loop iteration.
func (g *Group) Status() raft.Status {
	g.statusMu.RLock()
	defer g.statusMu.RUnlock()
	return g.status
}

// Membership returns the membership the node uses now.
func (g *Group) Membership(ctx context.Context) (raft.Membership, error) {
	var m raft.Membership
	err := g.do(ctx, func() { m = g.node.Membership() })
	return m, err
}

// Progress returns the leader's view of each follower (empty elsewhere).
func (g *Group) Progress(ctx context.Context) map[raft.NodeID]raft.Progress {
	out := map[raft.NodeID]raft.Progress{}
	g.do(ctx, func() {
		g.node.ForEachProgress(func(id raft.NodeID, p raft.Progress) { out[id] = p })
	})
	return out
}

// SnapshotIndex returns the index of the latest local snapshot.
func (g *Group) SnapshotIndex() uint64 {
	l := g.snaps.list()
	if len(l) == 0 {
		return 0
	}
	return l[len(l)-1]
}

// handOver transfers leadership to the voter that answered recently, is
// connected, and holds the most of the log, and waits (up to two election
// timeouts) for it to take over.
func (g *Group) handOver(ctx context.Context) {
	var to raft.NodeID
	var best raft.Index
	g.do(ctx, func() {
		m := g.node.Membership()
		g.node.ForEachProgress(func(id raft.NodeID, p raft.Progress) {
			if m.IsVoter(id) && !m.IsWitness(id) && p.RecentActive && g.h.tr.reachable(id) && (to == raft.None || p.Match > best) {
				to, best = id, p.Match
			}
		})
	})
	if to == raft.None {
		return
	}
	tctx, cancel := context.WithTimeout(ctx, time.Duration(2*g.cfg.ElectionTicks)*g.cfg.TickInterval)
	defer cancel()
	if _, err := g.TransferLeadership(tctx, to); err != nil {
		g.log.Warn("leadership transfer before shutdown failed", "to", to, "err", err)
		return
	}
	g.log.Info("handed leadership over before shutdown", "to", to)
}
