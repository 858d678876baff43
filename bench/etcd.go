package bench

import (
	"fmt"
	"io"
	"log"

	etcd "go.etcd.io/raft/v3"
	pb "go.etcd.io/raft/v3/raftpb"
)

// etcdLogger discards etcd's log output (elections log at info level);
// pureraft has no logger at all.
var etcdLogger = &etcd.DefaultLogger{Logger: log.New(io.Discard, "", 0)}

func etcdConfig(id uint64, st etcd.Storage) *etcd.Config {
	return &etcd.Config{
		ID:                        id,
		ElectionTick:              ElectionTicks,
		HeartbeatTick:             HeartbeatTicks,
		Storage:                   st,
		MaxSizePerMsg:             MaxMsgBytes,
		MaxInflightMsgs:           MaxInflightMsgs,
		MaxInflightBytes:          MaxInflightBytes,
		MaxUncommittedEntriesSize: MaxUncommittedBytes,
		MaxCommittedSizePerReady:  MaxApplyBytes,
		CheckQuorum:               true,
		PreVote:                   true,
		Logger:                    etcdLogger,
	}
}

// etcdCluster is an etcd-io/raft cluster of voters 1..n driven through
// RawNode with synchronous storage writes (the classic Ready/Advance loop):
// each Ready's hard state and entries go to the node's store (MemoryStorage
// or chunkStorage) before its messages are queued and its committed entries
// applied.
type etcdCluster struct {
	nodes   []*etcd.RawNode
	stores  []etcdStore
	applied []uint64
	compact []uint64 // applied index at each node's last compaction
	conf    pb.ConfState
	start   uint64
	batched bool
	batch   []pb.Entry
	queue   []pb.Message
	next    []pb.Message
	reads   readTally // reads harness only (reads.go)
}

func newEtcdCluster(n int, batched bool, store Store) (*etcdCluster, error) {
	c := &etcdCluster{applied: make([]uint64, n), compact: make([]uint64, n), batched: batched}
	cs := pb.ConfState{}
	for i := range n {
		cs.Voters = append(cs.Voters, uint64(i+1))
	}
	c.conf = cs
	for i := range n {
		st, err := newEtcdStore(store)
		if err != nil {
			return nil, err
		}
		// The usual way to start a new etcd cluster without its Bootstrap
		// helper: a storage whose snapshot at index 1 holds the voters.
		if err := st.ApplySnapshot(pb.Snapshot{Metadata: pb.SnapshotMetadata{Index: 1, Term: 1, ConfState: cs}}); err != nil {
			return nil, err
		}
		rn, err := etcd.NewRawNode(etcdConfig(uint64(i+1), st))
		if err != nil {
			return nil, err
		}
		c.nodes = append(c.nodes, rn)
		c.stores = append(c.stores, st)
		c.applied[i] = 1
	}
	if err := c.nodes[0].Campaign(); err != nil {
		return nil, err
	}
	if err := settle(c, len(c.nodes)); err != nil {
		return nil, err
	}
	st := c.nodes[0].BasicStatus()
	if st.RaftState != etcd.StateLeader {
		return nil, fmt.Errorf("etcd node 1 is %s after campaigning", st.RaftState)
	}
	c.start, _ = c.stores[0].LastIndex()
	if !c.allApplied(0) {
		return nil, fmt.Errorf("etcd cluster did not settle after the election")
	}
	return c, nil
}

func (c *etcdCluster) propose(payloads [][]byte) error {
	if !c.batched {
		for _, p := range payloads {
			if err := c.nodes[0].Propose(p); err != nil {
				return err
			}
		}
		return nil
	}
	// One MsgProp with every payload of the round. etcd copies the entries
	// into its log, so the slice is reused (generous to etcd).
	c.batch = c.batch[:0]
	for _, p := range payloads {
		c.batch = append(c.batch, pb.Entry{Data: p})
	}
	return c.nodes[0].Step(pb.Message{Type: pb.MsgProp, From: 1, Entries: c.batch})
}

func (c *etcdCluster) handle(i int) error {
	rn, st := c.nodes[i], c.stores[i]
	for rn.HasReady() {
		rd := rn.Ready()
		if !etcd.IsEmptySnap(rd.Snapshot) {
			if err := st.ApplySnapshot(rd.Snapshot); err != nil {
				return err
			}
		}
		if !etcd.IsEmptyHardState(rd.HardState) {
			if err := st.SetHardState(rd.HardState); err != nil {
				return err
			}
		}
		if err := st.Append(rd.Entries); err != nil {
			return err
		}
		c.queue = append(c.queue, rd.Messages...)
		if n := len(rd.CommittedEntries); n > 0 {
			c.applied[i] = rd.CommittedEntries[n-1].Index
		}
		if len(rd.ReadStates) > 0 {
			c.readStates(i, rd.ReadStates)
		}
		rn.Advance(rd)
	}
	return c.maybeCompact(i)
}

// maybeCompact snapshots node i at its applied index and compacts its
// store once it has applied CompactEvery entries since it last did (see
// CompactEvery); etcd reads its log from the store, so this compacts its log.
func (c *etcdCluster) maybeCompact(i int) error {
	applied := c.applied[i]
	if applied-c.compact[i] < CompactEvery {
		return nil
	}
	st := c.stores[i]
	if _, err := st.CreateSnapshot(applied, &c.conf, nil); err != nil {
		return err
	}
	if err := st.Compact(applied - CompactRetain); err != nil {
		return err
	}
	c.compact[i] = applied
	return nil
}

func (c *etcdCluster) deliver() (int, error) {
	c.queue, c.next = c.next[:0], c.queue
	for k := range c.next {
		m := &c.next[k]
		if err := c.nodes[m.To-1].Step(*m); err != nil {
			return 0, fmt.Errorf("etcd node %d: step %s: %w", m.To, m.Type, err)
		}
		*m = pb.Message{}
	}
	return len(c.next), nil
}

func (c *etcdCluster) allApplied(proposed int) bool {
	want := c.start + uint64(proposed)
	for _, a := range c.applied {
		if a < want {
			return false
		}
	}
	return true
}

// etcdIdle hosts G groups; in each, node 1 (the measured one) follows a
// simulated leader, node 2, of term 1. Each group is a RawNode and the
// MemoryStorage etcd reads its log from.
type etcdIdle struct {
	nodes  []*etcd.RawNode
	stores []*etcd.MemoryStorage
	commit uint64
}

func newEtcdIdle(groups int) (*etcdIdle, error) {
	h := &etcdIdle{nodes: make([]*etcd.RawNode, groups), stores: make([]*etcd.MemoryStorage, groups), commit: 2}
	cs := pb.ConfState{Voters: []uint64{1, 2, 3}}
	for i := range h.nodes {
		st := etcd.NewMemoryStorage()
		if err := st.ApplySnapshot(pb.Snapshot{Metadata: pb.SnapshotMetadata{Index: 1, Term: 1, ConfState: cs}}); err != nil {
			return nil, err
		}
		if err := st.SetHardState(pb.HardState{Term: 1, Commit: 1}); err != nil {
			return nil, err
		}
		rn, err := etcd.NewRawNode(etcdConfig(1, st))
		if err != nil {
			return nil, err
		}
		h.nodes[i], h.stores[i] = rn, st
		// The leader's first append: its empty entry, already committed.
		app := pb.Message{Type: pb.MsgApp, From: 2, To: 1, Term: 1, Index: 1, LogTerm: 1, Commit: 2,
			Entries: []pb.Entry{{Index: 2, Term: 1}}}
		if err := rn.Step(app); err != nil {
			return nil, err
		}
		if err := h.handle(i); err != nil {
			return nil, err
		}
	}
	return h, nil
}

func (h *etcdIdle) tickAll() {
	for _, n := range h.nodes {
		n.Tick()
	}
}

func (h *etcdIdle) heartbeat(i int) error {
	m := pb.Message{Type: pb.MsgHeartbeat, From: 2, To: 1, Term: 1, Commit: h.commit}
	if err := h.nodes[i].Step(m); err != nil {
		return err
	}
	return h.handle(i)
}

// handle runs group i's Ready loop. Entries and hard state go to its
// MemoryStorage (etcd reads its log from there); messages are dropped:
// the leader is simulated.
func (h *etcdIdle) handle(i int) error {
	rn, st := h.nodes[i], h.stores[i]
	for rn.HasReady() {
		rd := rn.Ready()
		if !etcd.IsEmptyHardState(rd.HardState) {
			if err := st.SetHardState(rd.HardState); err != nil {
				return err
			}
		}
		if err := st.Append(rd.Entries); err != nil {
			return err
		}
		rn.Advance(rd)
	}
	return nil
}

func (h *etcdIdle) check(i int) error {
	st := h.nodes[i].BasicStatus()
	if st.RaftState != etcd.StateFollower || st.Lead != 2 || st.Term != 1 || st.Applied != 2 {
		return fmt.Errorf("etcd group %d not idle-healthy: %+v", i, st)
	}
	return nil
}
