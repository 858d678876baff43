package bench

import (
	"fmt"

	raft "github.com/pureraft/raft"
)

func pureConfig(id raft.NodeID) raft.Config {
	return raft.Config{
		ID:                  id,
		Seed:                1,
		ElectionTicks:       ElectionTicks,
		HeartbeatTicks:      HeartbeatTicks,
		MaxMsgBytes:         MaxMsgBytes,
		MaxInflightMsgs:     MaxInflightMsgs,
		MaxInflightBytes:    MaxInflightBytes,
		MaxUncommittedBytes: MaxUncommittedBytes,
		MaxApplyBytes:       MaxApplyBytes,
		// Pre-vote and check-quorum are on by default.
	}
}

// pureCluster is a pureraft cluster of voters 1..n with a synchronous
// caller: every persist is written and acknowledged at once.
type pureCluster struct {
	nodes   []*raft.Node
	stores  []pureLog
	applied []raft.Index
	compact []raft.Index // applied index at each node's last compaction
	start   raft.Index   // leader's last index before the first proposal
	queue   []raft.Message
	next    []raft.Message
	reads   readTally // reads harness only (reads.go)
}

func newPureCluster(n int, store Store) (*pureCluster, error) {
	c := &pureCluster{stores: make([]pureLog, n), applied: make([]raft.Index, n), compact: make([]raft.Index, n)}
	for i := range c.stores {
		st, err := newPureLog(store)
		if err != nil {
			return nil, err
		}
		c.stores[i] = st
	}
	voters := make([]raft.NodeID, n)
	for i := range voters {
		voters[i] = raft.NodeID(i + 1)
	}
	for _, id := range voters {
		node, err := raft.Bootstrap(pureConfig(id), voters)
		if err != nil {
			return nil, err
		}
		c.nodes = append(c.nodes, node)
	}
	if err := c.nodes[0].Campaign(); err != nil {
		return nil, err
	}
	if err := settle(c, len(c.nodes)); err != nil {
		return nil, err
	}
	st := c.nodes[0].Status()
	if st.Role != raft.RoleLeader {
		return nil, fmt.Errorf("node 1 is %s after campaigning", st.Role)
	}
	c.start = st.LastIndex
	if !c.allApplied(0) {
		return nil, fmt.Errorf("cluster did not settle after the election")
	}
	return c, nil
}

func (c *pureCluster) propose(payloads [][]byte) error {
	for _, p := range payloads {
		if _, _, err := c.nodes[0].Propose(p); err != nil {
			return err
		}
	}
	return nil
}

func (c *pureCluster) handle(i int) error {
	node := c.nodes[i]
	for {
		acts := node.Actions()
		if len(acts) == 0 {
			return c.maybeCompact(i)
		}
		for k := range acts {
			a := &acts[k]
			switch a.Kind {
			case raft.ActionPersist:
				if err := c.stores[i].write(&a.Persist); err != nil {
					return err
				}
				if err := node.AckPersist(a.Persist.ID); err != nil {
					return err
				}
			case raft.ActionSend:
				c.queue = append(c.queue, a.Message)
			case raft.ActionApply:
				if n := len(a.Apply.Entries); n > 0 {
					c.applied[i] = a.Apply.Entries[n-1].Index
				}
			case raft.ActionReadReady:
				c.reads.ready(i, a.Read.ID, uint64(a.Read.Index))
			case raft.ActionReadFailed:
				c.reads.fail(i, a.Read.ID)
			default:
				return fmt.Errorf("unexpected action %s", a)
			}
		}
	}
}

// maybeCompact compacts node i's log and store once it has applied
// CompactEvery entries since it last did (see CompactEvery).
func (c *pureCluster) maybeCompact(i int) error {
	if c.applied[i]-c.compact[i] < CompactEvery {
		return nil
	}
	node := c.nodes[i]
	meta, err := node.Compact(c.applied[i], CompactRetain)
	if err != nil {
		return err
	}
	c.stores[i].compact(meta, node.Status().FirstIndex-1)
	c.compact[i] = c.applied[i]
	return nil
}

func (c *pureCluster) deliver() (int, error) {
	c.queue, c.next = c.next[:0], c.queue
	for k := range c.next {
		m := &c.next[k]
		if err := c.nodes[m.To-1].Step(*m); err != nil {
			return 0, fmt.Errorf("node %d: step %v: %w", m.To, m, err)
		}
		*m = raft.Message{} // drop the references to entries
	}
	return len(c.next), nil
}

func (c *pureCluster) allApplied(proposed int) bool {
	want := c.start + raft.Index(proposed)
	for _, a := range c.applied {
		if a < want {
			return false
		}
	}
	return true
}

// pureIdle hosts G groups; in each, node 1 (the measured one) follows a
// simulated leader, node 2, of term 1.
//
// With quiesce, every group has Config.QuiesceAfterTicks set, and the
// simulated leader behaves as a pureraft leader with that setting does in
// a group whose followers are caught up: it heartbeats for
// QuiesceAfterTicks ticks, then sends MsgQuiesce (carrying its last index,
// commit index and heartbeat round) and falls silent. Its clock is the
// host's tick passes (passes), not per-group state, so that nothing the
// simulation needs is counted as group memory.
type pureIdle struct {
	nodes   []*raft.Node
	commit  raft.Index
	quiesce bool
	passes  int // tick passes over all groups so far
	// ticker, if set, drives every group's clock (one Ticker.Tick per
	// pass), as a host using a Ticker does.
	ticker *raft.Ticker
}

func newPureIdle(groups int, quiesce, ticker bool) (*pureIdle, error) {
	h := &pureIdle{nodes: make([]*raft.Node, groups), commit: 1, quiesce: quiesce}
	cfg := pureConfig(1)
	if quiesce {
		cfg.QuiesceAfterTicks = QuiesceAfterTicks
	}
	if ticker {
		h.ticker = raft.NewTicker()
		cfg.Ticker = h.ticker
	}
	voters := []raft.NodeID{1, 2, 3}
	for i := range h.nodes {
		// A member of an existing group restarting from a snapshot at
		// index 0 (what Bootstrap persists), then hearing from the leader.
		st := raft.PersistentState{
			HardState: raft.HardState{Term: 1},
			Snapshot:  raft.SnapshotMeta{Membership: raft.Membership{Voters: voters}},
		}
		node, err := raft.NewNode(cfg, st)
		if err != nil {
			return nil, err
		}
		h.nodes[i] = node
		// The leader's first append: its no-op entry, already committed.
		app := raft.Message{Type: raft.MsgApp, From: 2, To: 1, Term: 1, Commit: 1,
			Entries: []raft.Entry{{Index: 1, Term: 1, Type: raft.EntryNoop}}}
		if err := node.Step(app); err != nil {
			return nil, err
		}
		if err := h.handle(i); err != nil {
			return nil, err
		}
	}
	return h, nil
}

func (h *pureIdle) tickAll() {
	h.passes++
	if h.ticker != nil {
		h.ticker.Tick()
		return
	}
	for _, n := range h.nodes {
		n.Tick()
	}
}

func (h *pureIdle) heartbeat(i int) error {
	node := h.nodes[i]
	m := raft.Message{Type: raft.MsgHeartbeat, From: 2, To: 1, Term: 1, Commit: h.commit}
	if h.quiesce {
		// Heartbeats carry the leader's round numbers, and the quiesce
		// notice the last round, as a real leader's do.
		m.Context = uint64(h.passes)
		switch {
		case h.passes > QuiesceAfterTicks:
			return nil // the leader is quiet
		case h.passes == QuiesceAfterTicks:
			m = raft.Message{Type: raft.MsgQuiesce, From: 2, To: 1, Term: 1, Index: 1, Commit: h.commit, Context: uint64(h.passes - 1)}
		}
	}
	if err := node.Step(m); err != nil {
		return err
	}
	return h.handle(i)
}

// handle carries out group i's actions. There is no store to write to:
// the idle groups' durable state is not what is measured, and the node
// keeps its own log in memory. Sends are dropped: the leader is simulated.
func (h *pureIdle) handle(i int) error {
	node := h.nodes[i]
	for {
		acts := node.Actions()
		if len(acts) == 0 {
			return nil
		}
		for k := range acts {
			if a := &acts[k]; a.Kind == raft.ActionPersist {
				if err := node.AckPersist(a.Persist.ID); err != nil {
					return err
				}
			}
		}
	}
}

func (h *pureIdle) check(i int) error {
	st := h.nodes[i].Status()
	if st.Role != raft.RoleFollower || st.Leader != 2 || st.Term != 1 || st.Applied != 1 {
		return fmt.Errorf("pureraft group %d not idle-healthy: %+v", i, st)
	}
	if h.quiesce && h.passes > QuiesceAfterTicks && !st.Quiescent {
		return fmt.Errorf("pureraft group %d is not quiescent after %d ticks: %+v", i, h.passes, st)
	}
	return nil
}
