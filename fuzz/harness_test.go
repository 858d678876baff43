package fuzz

import (
	"fmt"

	"github.com/pureraft/raft"
)

// This file builds the starting points of FuzzStep: a three-node cluster,
// driven by hand with synchronous storage and a perfect network, until node
// 1 is in the role a fuzz input asks for. Everything here is deterministic,
// so two calls with the same arguments build identical nodes (the twins).

// subject is the node under test.
const subject raft.NodeID = 1

var clusterIDs = []raft.NodeID{1, 2, 3}

// fuzzConfig is a node configuration with small limits, so that fuzz
// inputs of a few hundred bytes reach flow control, the uncommitted bytes
// limit and the entry size limit. variant bit 0 disables pre-vote, bit 1
// check-quorum; bit 2 lets an idle leader quiesce.
func fuzzConfig(id raft.NodeID, variant byte) raft.Config {
	return raft.Config{
		ID:                  id,
		Seed:                7,
		ElectionTicks:       5,
		HeartbeatTicks:      1,
		DisablePreVote:      variant&1 != 0,
		DisableCheckQuorum:  variant&2 != 0,
		MaxMsgBytes:         256,
		MaxEntryBytes:       64,
		MaxInflightMsgs:     3,
		MaxInflightBytes:    512,
		MaxUncommittedBytes: 320,
		MaxApplyBytes:       128,
		QuiesceAfterTicks:   int(variant>>2&1) * 3,
	}
}

// store is what one node's persist actions wrote, applied in order.
type store struct {
	// lastID is the ID of the last persist action applied.
	lastID  uint64
	hs      raft.HardState
	snap    raft.SnapshotMeta
	entries []raft.Entry
}

// apply writes p as the Persist contract says: snapshot, entries (deleting
// the stored suffix they overwrite), hard state. It returns an error for a
// persist that leaves a gap or reaches below the snapshot.
func (s *store) apply(p raft.Persist) error {
	if p.Snapshot != nil {
		s.snap = *p.Snapshot
		s.entries = nil
	}
	if len(p.Entries) > 0 {
		first := p.Entries[0].Index
		if first <= s.snap.Index || first > s.lastIndex()+1 {
			return fmt.Errorf("persist of entries from %d onto storage [%d, %d]", first, s.snap.Index+1, s.lastIndex())
		}
		keep := int(first - s.snap.Index - 1)
		s.entries = append(s.entries[:keep:keep], p.Entries...)
	}
	if p.HasHardState {
		s.hs = p.HardState
	}
	s.lastID = p.ID
	return nil
}

func (s *store) lastIndex() raft.Index { return s.snap.Index + raft.Index(len(s.entries)) }

// term returns the stored term at i, if known.
func (s *store) term(i raft.Index) (raft.Term, bool) {
	switch {
	case i == s.snap.Index:
		return s.snap.Term, true
	case i < s.snap.Index || i > s.lastIndex():
		return 0, false
	}
	return s.entries[i-s.snap.Index-1].Term, true
}

// setupCluster is a hand-driven cluster of clusterIDs.
type setupCluster struct {
	nodes map[raft.NodeID]*raft.Node
	store map[raft.NodeID]*store
	queue []raft.Message
	// dropped holds the messages node 1 sent that deliver dropped.
	dropped []raft.Message
}

func newSetupCluster(variant byte) *setupCluster {
	c := &setupCluster{nodes: map[raft.NodeID]*raft.Node{}, store: map[raft.NodeID]*store{}}
	for _, id := range clusterIDs {
		n, err := raft.Bootstrap(fuzzConfig(id, variant), clusterIDs)
		if err != nil {
			panic(err)
		}
		c.nodes[id], c.store[id] = n, &store{}
	}
	c.drainAll()
	return c
}

// drain carries out id's actions: persists are written and acknowledged at
// once, messages queued, applies ignored.
func (c *setupCluster) drain(id raft.NodeID) bool {
	n := c.nodes[id]
	acts := n.Actions()
	for _, a := range acts {
		switch a.Kind {
		case raft.ActionPersist:
			if err := c.store[id].apply(a.Persist); err != nil {
				panic(err)
			}
			if err := n.AckPersist(a.Persist.ID); err != nil {
				panic(err)
			}
		case raft.ActionSend, raft.ActionSendSnapshot:
			c.queue = append(c.queue, a.Message)
		}
	}
	return len(acts) > 0
}

func (c *setupCluster) drainAll() {
	for _, id := range clusterIDs {
		for c.drain(id) {
		}
	}
}

// deliver runs the network until it is quiet, handing over the messages
// keep accepts and dropping the others.
func (c *setupCluster) deliver(keep func(raft.Message) bool) {
	for round := 0; ; round++ {
		if round > 1000 {
			panic("setup cluster did not settle")
		}
		c.drainAll()
		if len(c.queue) == 0 {
			return
		}
		msgs := c.queue
		c.queue = nil
		for _, m := range msgs {
			if keep != nil && !keep(m) {
				if m.From == subject {
					c.dropped = append(c.dropped, m)
				}
				continue
			}
			if err := c.nodes[m.To].Step(m); err != nil {
				panic(fmt.Sprintf("setup: step %v: %v", m, err))
			}
		}
	}
}

func (c *setupCluster) propose(id raft.NodeID, data string) {
	if _, _, err := c.nodes[id].Propose([]byte(data)); err != nil {
		panic(err)
	}
}

// Roles FuzzStep starts node 1 in.
const (
	startFollower = iota
	startPreCandidate
	startCandidate
	startLeader
	startCount
)

// buildSubject returns node 1 of a fresh cluster, in the role start, with
// every action it emitted carried out (persists acknowledged), its storage,
// and the messages it sent last that nobody received.
//
//   - leader: node 1 won term 1 and committed two proposals; a third is
//     appended and sent, its acknowledgements lost.
//   - follower: node 2 leads; node 1 holds two committed proposals and a
//     third, uncommitted one.
//   - pre-candidate / candidate: the follower, after Campaign (and, for a
//     candidate with pre-vote on, one granted pre-vote).
func buildSubject(start int, variant byte) (*raft.Node, *store, []raft.Message) {
	c := newSetupCluster(variant)
	if start == startLeader {
		if err := c.nodes[1].Campaign(); err != nil {
			panic(err)
		}
		c.deliver(nil)
		c.propose(1, "a")
		c.propose(1, "bb")
		c.deliver(nil)
		c.propose(1, "ccc")
		c.drain(1)
		return c.nodes[1], c.store[1], c.queue
	}
	if err := c.nodes[2].Campaign(); err != nil {
		panic(err)
	}
	c.deliver(nil)
	c.propose(2, "a")
	c.propose(2, "bb")
	c.deliver(nil)
	c.propose(2, "ccc")
	c.deliver(func(m raft.Message) bool { return m.From == 2 && m.To == 1 })
	n := c.nodes[1]
	c.queue = nil
	switch start {
	case startPreCandidate, startCandidate:
		if err := n.Campaign(); err != nil {
			panic(err)
		}
		c.drain(1)
		if st := n.Status(); start == startCandidate && st.Role == raft.RolePreCandidate {
			grant := raft.Message{Type: raft.MsgPreVoteResp, From: 2, To: 1, Term: st.Term + 1}
			if err := n.Step(grant); err != nil {
				panic(err)
			}
			c.drain(1)
		}
	}
	sent := c.dropped
	for _, m := range c.queue {
		if m.From == subject {
			sent = append(sent, m)
		}
	}
	return n, c.store[1], sent
}
