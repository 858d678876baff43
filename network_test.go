package raft

import (
	"errors"
	"fmt"
	"slices"
	"testing"
)

// This file is the small in-memory cluster the behaviour tests drive by
// hand: a storage per node that applies persist actions, a message queue
// with drop, cut and isolate controls, and a record of applied entries.

// memStorage is what a node has made durable.
type memStorage struct {
	hs      HardState
	snap    SnapshotMeta
	entries []Entry
}

// apply writes one persist action the way the contract says: snapshot,
// then entries (deleting any stored suffix they overwrite), then hard state.
func (s *memStorage) apply(p Persist) {
	if p.Snapshot != nil {
		s.snap = *p.Snapshot
		s.entries = nil
	}
	if len(p.Entries) > 0 {
		first := p.Entries[0].Index
		keep := int(first - s.snap.Index - 1)
		if keep < 0 || keep > len(s.entries) {
			panic(fmt.Sprintf("persist entries from %d onto storage [%d, %d]", first, s.snap.Index+1, s.snap.Index+Index(len(s.entries))))
		}
		s.entries = append(slices.Clip(s.entries[:keep]), p.Entries...)
	}
	if p.HasHardState {
		s.hs = p.HardState
	}
}

func (s *memStorage) state(applied Index) PersistentState {
	return PersistentState{HardState: s.hs, Snapshot: s.snap, Entries: slices.Clone(s.entries), Applied: applied}
}

type testNet struct {
	t       testing.TB
	ids     []NodeID
	cfg     func(NodeID) Config
	nodes   map[NodeID]*Node
	storage map[NodeID]*memStorage
	applied map[NodeID][]Entry
	queue   []Message
	// cut[from][to] drops every message on that directed link.
	cut map[NodeID]map[NodeID]bool
	// async: persists wait in pending until ackAll; otherwise they are
	// written and acknowledged at once (the synchronous caller).
	async   bool
	pending map[NodeID][]Persist
	// dropTypes drops every message of these types.
	dropTypes map[MessageType]bool
	// drop, when set, drops every message for which it returns true.
	drop func(Message) bool
	// observe, when set, sees every message as it is delivered.
	observe func(Message)
	// onAction, when set, sees every action of every node before it is
	// carried out.
	onAction func(NodeID, Action)
	// reads records the read results (ActionReadReady and
	// ActionReadFailed) each node emitted, in order.
	reads map[NodeID][]ReadResult
	// safety checks the Raft safety properties after every step.
	safety *safetyChecker
}

func defaultTestConfig(id NodeID) Config {
	return Config{ID: id, Seed: 42, ElectionTicks: 10, HeartbeatTicks: 1}
}

// newTestNet bootstraps a cluster of voters 1..n.
func newTestNet(t testing.TB, n int, cfg func(NodeID) Config) *testNet {
	t.Helper()
	if cfg == nil {
		cfg = defaultTestConfig
	}
	tn := &testNet{
		t: t, cfg: cfg,
		nodes: map[NodeID]*Node{}, storage: map[NodeID]*memStorage{}, applied: map[NodeID][]Entry{},
		cut: map[NodeID]map[NodeID]bool{}, pending: map[NodeID][]Persist{}, dropTypes: map[MessageType]bool{},
		safety: newSafetyChecker(t),
	}
	for i := 1; i <= n; i++ {
		tn.ids = append(tn.ids, NodeID(i))
	}
	for _, id := range tn.ids {
		node, err := Bootstrap(cfg(id), tn.ids)
		if err != nil {
			t.Fatalf("bootstrap %d: %v", id, err)
		}
		tn.nodes[id] = node
		tn.storage[id] = &memStorage{}
		tn.cut[id] = map[NodeID]bool{}
	}
	tn.drainAll()
	return tn
}

// drain collects one node's actions and carries them out.
func (tn *testNet) drain(id NodeID) bool {
	node := tn.nodes[id]
	if node == nil {
		return false
	}
	acts := node.Actions()
	for _, a := range acts {
		if tn.onAction != nil {
			tn.onAction(id, a)
		}
		switch a.Kind {
		case ActionReadReady, ActionReadFailed:
			if tn.reads == nil {
				tn.reads = map[NodeID][]ReadResult{}
			}
			tn.reads[id] = append(tn.reads[id], a.Read)
		case ActionPersist:
			if tn.async {
				tn.pending[id] = append(tn.pending[id], a.Persist)
				continue
			}
			tn.storage[id].apply(a.Persist)
			if err := node.AckPersist(a.Persist.ID); err != nil {
				tn.t.Fatalf("node %d ack %d: %v", id, a.Persist.ID, err)
			}
		case ActionSend:
			tn.queue = append(tn.queue, a.Message)
		case ActionSendSnapshot:
			// The snapshot's data travels with the message here; the
			// receiver's state machine is the applied entries up to it.
			tn.queue = append(tn.queue, a.Message)
		case ActionApply:
			if s := a.Apply.Snapshot; s != nil {
				tn.applied[id] = tn.snapshotState(s.Index)
			}
			for _, e := range a.Apply.Entries {
				tn.safety.noteApplied(id, node, e)
			}
			tn.applied[id] = append(tn.applied[id], a.Apply.Entries...)
		}
	}
	tn.safety.check(tn.nodes)
	return len(acts) > 0
}

// snapshotState returns the applied entries up to index of any node that
// applied that far: the state a snapshot at index carries.
func (tn *testNet) snapshotState(index Index) []Entry {
	for _, id := range tn.ids {
		if a := tn.applied[id]; Index(len(a)) >= index && (len(a) == 0 || a[0].Index == 1) {
			return append([]Entry(nil), a[:index]...)
		}
	}
	tn.t.Fatalf("no node applied up to snapshot index %d", index)
	return nil
}

// ackAll writes and acknowledges every pending persist of node id (async).
func (tn *testNet) ackAll(id NodeID) {
	for _, p := range tn.pending[id] {
		tn.storage[id].apply(p)
		if err := tn.nodes[id].AckPersist(p.ID); err != nil {
			tn.t.Fatalf("node %d ack %d: %v", id, p.ID, err)
		}
	}
	tn.pending[id] = nil
}

func (tn *testNet) drainAll() bool {
	any := false
	for _, id := range tn.ids {
		for tn.drain(id) {
			any = true
		}
	}
	return any
}

// deliverAll runs the cluster until no node has work and no message is in
// flight (bounded, so a livelock fails the test instead of hanging).
func (tn *testNet) deliverAll() {
	for round := 0; ; round++ {
		if round > 10000 {
			tn.t.Fatalf("network did not settle")
		}
		tn.drainAll()
		if len(tn.queue) == 0 {
			return
		}
		msgs := tn.queue
		tn.queue = nil
		for _, m := range msgs {
			tn.deliver(m)
		}
	}
}

// deliver hands m to its receiver unless the link is cut.
func (tn *testNet) deliver(m Message) {
	if tn.cut[m.From][m.To] || tn.dropTypes[m.Type] || (tn.drop != nil && tn.drop(m)) {
		return
	}
	node := tn.nodes[m.To]
	if node == nil {
		return
	}
	if tn.observe != nil {
		tn.observe(m)
	}
	// A late message from a server removed from the configuration is
	// refused with ErrUnknownPeer; that is expected, not a failure.
	if err := node.Step(m); err != nil && !errors.Is(err, ErrUnknownPeer) {
		tn.t.Fatalf("node %d step %v: %v", m.To, m, err)
	}
	tn.safety.check(tn.nodes)
}

func (tn *testNet) tick(id NodeID, n int) {
	for range n {
		tn.nodes[id].Tick()
	}
}

func (tn *testNet) tickAll(n int) {
	for range n {
		for _, id := range tn.ids {
			if tn.nodes[id] != nil {
				tn.nodes[id].Tick()
			}
		}
		tn.deliverAll()
	}
}

// campaign makes id start an election and runs the network to completion.
func (tn *testNet) campaign(id NodeID) {
	tn.t.Helper()
	if err := tn.nodes[id].Campaign(); err != nil {
		tn.t.Fatalf("campaign %d: %v", id, err)
	}
	tn.deliverAll()
}

// isolate cuts every link to and from id.
func (tn *testNet) isolate(id NodeID) {
	for _, other := range tn.ids {
		if other != id {
			tn.cut[id][other] = true
			tn.cut[other][id] = true
		}
	}
}

// heal restores every link.
func (tn *testNet) heal() {
	for _, id := range tn.ids {
		tn.cut[id] = map[NodeID]bool{}
	}
}

// partition cuts every link between the two groups.
func (tn *testNet) partition(a, b []NodeID) {
	for _, x := range a {
		for _, y := range b {
			tn.cut[x][y] = true
			tn.cut[y][x] = true
		}
	}
}

// crash drops the node and everything it had not persisted.
func (tn *testNet) crash(id NodeID) {
	tn.nodes[id] = nil
	tn.pending[id] = nil
}

// restart rebuilds the node from its storage, as applied so far.
func (tn *testNet) restart(id NodeID) {
	tn.t.Helper()
	node, err := NewNode(tn.cfg(id), tn.storage[id].state(Index(len(tn.applied[id]))))
	if err != nil {
		tn.t.Fatalf("restart %d: %v", id, err)
	}
	tn.nodes[id] = node
}

// propose proposes data at id and fails the test on error.
func (tn *testNet) propose(id NodeID, data string) (Index, Term) {
	tn.t.Helper()
	idx, term, err := tn.nodes[id].Propose([]byte(data))
	if err != nil {
		tn.t.Fatalf("propose at %d: %v", id, err)
	}
	return idx, term
}

// leader returns the unique leader of the highest term, or None.
func (tn *testNet) leader() NodeID {
	var best NodeID
	var bestTerm Term
	for _, id := range tn.ids {
		n := tn.nodes[id]
		if n != nil && n.role == RoleLeader && n.term >= bestTerm {
			best, bestTerm = id, n.term
		}
	}
	return best
}

// appliedData returns the payloads of node id's applied normal entries.
func (tn *testNet) appliedData(id NodeID) []string {
	var out []string
	for _, e := range tn.applied[id] {
		if e.Type == EntryNormal {
			out = append(out, string(e.Data))
		}
	}
	return out
}

// join adds server id to the network with empty storage, as a server that
// is in no configuration yet: node is its Node, or nil while it is down
// (see startEmpty).
func (tn *testNet) join(id NodeID, node *Node) {
	if !slices.Contains(tn.ids, id) {
		tn.ids = append(tn.ids, id)
	}
	tn.nodes[id] = node
	tn.storage[id] = &memStorage{}
	tn.applied[id] = nil
	tn.cut[id] = map[NodeID]bool{}
	for _, other := range tn.ids {
		if tn.cut[other] == nil {
			tn.cut[other] = map[NodeID]bool{}
		}
	}
}

// startEmpty starts server id as a brand-new server with nothing stored,
// waiting to hear from a leader (joining an existing cluster).
func (tn *testNet) startEmpty(id NodeID) {
	tn.t.Helper()
	node, err := NewNode(tn.cfg(id), PersistentState{})
	if err != nil {
		tn.t.Fatalf("start %d: %v", id, err)
	}
	tn.nodes[id] = node
}

// compact has node id snapshot its state machine at index and compact its
// log, retaining retain entries, and stores the snapshot the way a caller
// would: the snapshot replaces the stored entries it covers.
func (tn *testNet) compact(id NodeID, index Index, retain uint64) SnapshotMeta {
	tn.t.Helper()
	meta, err := tn.nodes[id].Compact(index, retain)
	if err != nil {
		tn.t.Fatalf("node %d Compact(%d, %d): %v", id, index, retain, err)
	}
	s := tn.storage[id]
	var keep []Entry
	for _, e := range s.entries {
		if e.Index > meta.Index {
			keep = append(keep, e)
		}
	}
	s.snap, s.entries = meta, keep
	return meta
}
