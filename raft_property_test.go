package raft

import (
	"bytes"
	"errors"
	"fmt"
	"slices"
	"testing"

	"github.com/google/go-cmp/cmp"
	"pgregory.net/rapid"
)

// Property tests. rapid generates the inputs; a failure prints the
// minimised input and the command that replays it (go test -run NAME
// -rapid.seed=N, or the -rapid.failfile it names).

// genConfig draws a configuration for node id, small enough that short
// runs reach elections, batching and flow control.
func genConfig(t *rapid.T, id NodeID) Config {
	msg := rapid.Uint64Range(16, 256).Draw(t, "MaxMsgBytes")
	return Config{
		ID:                 id,
		Seed:               rapid.Uint64().Draw(t, "Seed"),
		ElectionTicks:      rapid.IntRange(2, 8).Draw(t, "ElectionTicks"),
		DisablePreVote:     rapid.Bool().Draw(t, "DisablePreVote"),
		DisableCheckQuorum: rapid.Bool().Draw(t, "DisableCheckQuorum"),
		MaxMsgBytes:        msg,
		MaxInflightMsgs:    rapid.IntRange(1, 4).Draw(t, "MaxInflightMsgs"),
		MaxInflightBytes:   msg * rapid.Uint64Range(1, 4).Draw(t, "inflight factor"),
	}
}

// genMessageFor draws a message to n from one of its peers, shaped to be
// plausible (terms and indexes near n's), and now and then malformed.
func genMessageFor(t *rapid.T, n *Node) Message {
	st := n.Status()
	near := func(label string, v uint64, below, above int) uint64 {
		d := rapid.IntRange(-below, above).Draw(t, label)
		if d < 0 && uint64(-d) > v {
			return 0
		}
		return uint64(int64(v) + int64(d))
	}
	m := Message{
		Type:    MessageType(rapid.IntRange(0, int(msgTypeCount)).Draw(t, "type")),
		From:    NodeID(rapid.IntRange(0, 4).Draw(t, "from")),
		To:      n.ID(),
		Term:    Term(near("term", uint64(st.Term), 1, 2)),
		Index:   Index(near("index", uint64(st.LastIndex), 3, 2)),
		Commit:  Index(near("commit", uint64(st.Commit), 1, 3)),
		Reject:  rapid.Bool().Draw(t, "reject"),
		Context: rapid.Uint64Range(0, 2).Draw(t, "context"),
	}
	if rapid.IntRange(0, 9).Draw(t, "misaddressed") == 0 {
		m.To = NodeID(rapid.IntRange(0, 4).Draw(t, "to"))
	}
	m.LogTerm = Term(rapid.Uint64Range(0, uint64(m.Term)).Draw(t, "logterm"))
	if m.Index == 0 && rapid.IntRange(0, 3).Draw(t, "zero logterm") > 0 {
		m.LogTerm = 0
	}
	if m.Reject {
		m.RejectHint = Index(rapid.Uint64Range(0, uint64(m.Index)).Draw(t, "hint"))
	}
	if m.Type == MsgApp || m.Type == MsgProp {
		prev := m.LogTerm
		for i := range rapid.IntRange(0, 3).Draw(t, "entries") {
			et := Term(rapid.Uint64Range(uint64(prev), uint64(max(prev, m.Term))).Draw(t, "entry term"))
			m.Entries = append(m.Entries, Entry{Index: m.Index + Index(i) + 1, Term: et, Data: []byte{byte(i)}})
			prev = et
		}
	}
	if m.Type == MsgProp {
		m.Term = 0
	}
	return m
}

// TestPropertyDeterminism: two nodes built from the same config and fed
// the same inputs — ticks, messages (well-formed or not), proposals,
// acknowledgements (right or wrong), campaigns — return the same results
// and emit the same actions, bit for bit.
func TestPropertyDeterminism(t *testing.T) {
	rapid.Check(t, func(t *rapid.T) {
		cfg := genConfig(t, 1)
		a, errA := Bootstrap(cfg, ids(3))
		b, errB := Bootstrap(cfg, ids(3))
		if errA != nil || errB != nil {
			t.Fatalf("bootstrap: %v %v", errA, errB)
		}
		var lastPersist uint64
		same := func(what string, ea, eb error) {
			if fmt.Sprint(ea) != fmt.Sprint(eb) {
				t.Fatalf("%s: results differ: %v vs %v", what, ea, eb)
			}
		}
		steps := rapid.IntRange(1, 150).Draw(t, "steps")
		for i := 0; i < steps; i++ {
			var what string
			switch op := rapid.IntRange(0, 9).Draw(t, "op"); {
			case op <= 2:
				what = "tick"
				a.Tick()
				b.Tick()
			case op <= 5:
				m := genMessageFor(t, a)
				what = "step " + m.String()
				same(what, a.Step(m), b.Step(m))
			case op == 6:
				data := []byte(fmt.Sprintf("p%d", i))
				what = "propose"
				ia, ta, ea := a.Propose(data)
				ib, tb, eb := b.Propose(data)
				if ia != ib || ta != tb {
					t.Fatalf("propose: (%d, %d) vs (%d, %d)", ia, ta, ib, tb)
				}
				same(what, ea, eb)
			case op <= 8:
				id := rapid.Uint64Range(0, lastPersist+1).Draw(t, "ack")
				what = fmt.Sprintf("ack %d", id)
				same(what, a.AckPersist(id), b.AckPersist(id))
			default:
				what = "campaign"
				same(what, a.Campaign(), b.Campaign())
			}
			actsA, actsB := slices.Clone(a.Actions()), slices.Clone(b.Actions())
			if diff := cmp.Diff(actsA, actsB); diff != "" {
				t.Fatalf("after %s, actions differ (-a +b):\n%s", what, diff)
			}
			if diff := cmp.Diff(a.Status(), b.Status()); diff != "" {
				t.Fatalf("after %s, status differs (-a +b):\n%s", what, diff)
			}
			for _, act := range actsA {
				if act.Kind == ActionPersist {
					lastPersist = act.Persist.ID
				}
			}
		}
	})
}

// sim is a cluster run under a generated schedule, checking the Raft
// safety properties after every step.
type sim struct {
	t       *rapid.T
	ids     []NodeID
	cfg     map[NodeID]Config
	sync    map[NodeID]bool // persists written and acknowledged at once
	nodes   map[NodeID]*Node
	store   map[NodeID]*memStorage
	pending map[NodeID][]Persist
	applied map[NodeID][]Entry
	net     []Message
	props   int

	// safety checks the Raft safety properties after every step.
	safety *safetyChecker
	// common is the longest sequence applied by any server; every server's
	// applied sequence must be a prefix of it.
	common []Entry
	// What the faulty part of the run achieved (for coverage checks).
	chaosLeaders, chaosCommitted int
}

func newSim(t *rapid.T) *sim {
	size := rapid.SampledFrom([]int{3, 5}).Draw(t, "cluster size")
	base := genConfig(t, 1)
	s := &sim{
		t: t, ids: ids(size), cfg: map[NodeID]Config{}, sync: map[NodeID]bool{},
		nodes: map[NodeID]*Node{}, store: map[NodeID]*memStorage{}, pending: map[NodeID][]Persist{}, applied: map[NodeID][]Entry{},
		safety: newSafetyChecker(t),
	}
	for _, id := range s.ids {
		c := base
		c.ID = id
		s.cfg[id] = c
		s.sync[id] = rapid.Bool().Draw(t, fmt.Sprintf("sync %d", id))
		n, err := Bootstrap(c, s.ids)
		if err != nil {
			t.Fatalf("bootstrap %d: %v", id, err)
		}
		s.nodes[id] = n
		s.store[id] = &memStorage{}
		// The bootstrap persist is durable before the node starts.
		for _, a := range n.Actions() {
			s.store[id].apply(a.Persist)
			if err := n.AckPersist(a.Persist.ID); err != nil {
				t.Fatal(err)
			}
		}
	}
	return s
}

// drain carries out the actions of every node.
func (s *sim) drain() {
	for _, id := range s.ids {
		n := s.nodes[id]
		for round := 0; round < 10; round++ {
			acts := n.Actions()
			if len(acts) == 0 {
				break
			}
			var acks []uint64
			for _, a := range acts {
				switch a.Kind {
				case ActionPersist:
					if s.sync[id] {
						s.store[id].apply(a.Persist)
						acks = append(acks, a.Persist.ID)
					} else {
						s.pending[id] = append(s.pending[id], a.Persist)
					}
				case ActionSend:
					s.net = append(s.net, a.Message)
				case ActionApply:
					s.apply(id, a.Apply.Entries)
				default:
					s.t.Fatalf("node %d: unexpected action %v", id, a)
				}
			}
			for _, ack := range acks {
				if err := n.AckPersist(ack); err != nil {
					s.t.Fatalf("node %d ack %d: %v", id, ack, err)
				}
			}
		}
	}
}

// apply records entries node id applies: they must continue its applied
// sequence, be durable in its storage, and agree with every other server.
func (s *sim) apply(id NodeID, ents []Entry) {
	for _, e := range ents {
		have := s.applied[id]
		if e.Index != Index(len(have))+1 {
			s.t.Fatalf("node %d applied index %d after %d entries: skipped or applied twice", id, e.Index, len(have))
		}
		st := s.store[id]
		if int(e.Index) > len(st.entries) || st.entries[e.Index-1].Term != e.Term {
			s.t.Fatalf("node %d applied entry (%d, %d) not durable in its storage", id, e.Index, e.Term)
		}
		s.safety.noteApplied(id, s.nodes[id], e)
		if int(e.Index) <= len(s.common) {
			if c := s.common[e.Index-1]; !sameEntry(c, e) {
				s.t.Fatalf("node %d applied %v at %d, another server applied %v", id, e, e.Index, c)
			}
		} else {
			s.common = append(s.common, e)
		}
		s.applied[id] = append(have, e)
	}
}

func sameEntry(a, b Entry) bool {
	return a.Index == b.Index && a.Term == b.Term && a.Type == b.Type && bytes.Equal(a.Data, b.Data)
}

// check verifies the safety properties on the current state.
func (s *sim) check() { s.safety.check(s.nodes) }

// deliver hands message k to its receiver; a duplicate leaves it queued.
func (s *sim) deliver(k int, duplicate bool) {
	m := s.net[k]
	if !duplicate {
		s.net = slices.Delete(s.net, k, k+1)
	}
	s.step(m)
}

// step hands m to its receiver. A correct peer's message is never refused,
// except a forwarded proposal that reaches a node no longer leading.
func (s *sim) step(m Message) {
	err := s.nodes[m.To].Step(m)
	if err == nil {
		return
	}
	var nle *NotLeaderError
	if m.Type == MsgProp && (errors.As(err, &nle) || errors.Is(err, ErrProposalDropped)) {
		return // a forwarded proposal reached a node no longer leading
	}
	s.t.Fatalf("node %d refused %v from a correct peer: %v", m.To, m, err)
}

// ackSome writes node id's first k pending persists and acknowledges the
// last of them.
func (s *sim) ackSome(id NodeID, k int) {
	p := s.pending[id]
	k = min(k, len(p))
	if k == 0 {
		return
	}
	for _, x := range p[:k] {
		s.store[id].apply(x)
	}
	s.pending[id] = p[k:]
	if err := s.nodes[id].AckPersist(p[k-1].ID); err != nil {
		s.t.Fatalf("node %d ack %d: %v", id, p[k-1].ID, err)
	}
}

// crash loses node id's unacknowledged writes and everything in memory,
// and restarts it from storage.
func (s *sim) crash(id NodeID) {
	s.pending[id] = nil
	st := s.store[id].state(Index(len(s.applied[id])))
	n, err := NewNode(s.cfg[id], st)
	if err != nil {
		s.t.Fatalf("restart %d from %+v: %v", id, st, err)
	}
	s.nodes[id] = n
}

func (s *sim) propose(id NodeID) {
	s.props++
	s.nodes[id].Propose([]byte(fmt.Sprintf("p%d", s.props)))
}

// TestPropertyClusterSafety: 3- and 5-node clusters under generated
// schedules — ticks, deliveries in any order, drops, duplications,
// proposals, campaigns, crashes with restarts, and acknowledgements
// delayed arbitrarily — never elect two leaders in one term (Election
// Safety), never commit two different entries at one index (State Machine
// Safety), keep every leader's log complete (Leader Completeness) and logs
// matching (Log Matching), never apply an entry twice or before it is
// durable, and every server's applied sequence is a prefix of one common
// sequence. Once the faults stop, the cluster commits a new entry
// everywhere (liveness).
func TestPropertyClusterSafety(t *testing.T) {
	rapid.Check(t, func(t *rapid.T) { runSchedule(t) })
}

// runSchedule runs one generated schedule and the fault-free tail after it
// and returns the cluster.
func runSchedule(t *rapid.T) *sim {
	s := newSim(t)
	node := rapid.SampledFrom(s.ids)
	// rapid favours small numbers: the commonest operations come first.
	steps := rapid.IntRange(300, 2000).Draw(t, "steps")
	for i := 0; i < steps; i++ {
		op := rapid.IntRange(0, 99).Draw(t, "op")
		switch {
		case op < 35:
			if len(s.net) > 0 {
				s.deliver(rapid.IntRange(0, len(s.net)-1).Draw(t, "deliver"), false)
			}
		case op < 60:
			s.nodes[node.Draw(t, "tick")].Tick()
		case op < 75:
			s.ackSome(node.Draw(t, "ack"), rapid.IntRange(1, 3).Draw(t, "ack count"))
		case op < 85:
			s.propose(node.Draw(t, "propose"))
		case op < 92:
			if len(s.net) > 0 {
				k := rapid.IntRange(0, len(s.net)-1).Draw(t, "drop")
				s.net = slices.Delete(s.net, k, k+1)
			}
		case op < 95:
			if len(s.net) > 0 {
				s.deliver(rapid.IntRange(0, len(s.net)-1).Draw(t, "duplicate"), true)
			}
		case op < 97:
			for _, id := range s.ids {
				s.nodes[id].Tick()
			}
		case op < 99:
			s.crash(node.Draw(t, "crash"))
		default:
			s.nodes[node.Draw(t, "campaign")].Campaign()
		}
		s.drain()
		s.check()
	}
	s.chaosLeaders, s.chaosCommitted = len(s.safety.leaders), len(s.safety.committed)

	// Liveness: no more faults, and the network and disks are fast
	// compared with the election timeout (§5.6's timing requirement):
	// between two ticks every write is acknowledged and every message
	// delivered, until the cluster is quiet.
	proposedAt := -1000
	for round := 0; round < 1000; round++ {
		s.settle()
		for _, id := range s.ids {
			s.nodes[id].Tick()
		}
		s.drain()
		s.check()
		if l := s.leaderNow(); l != None && round-proposedAt > 50 {
			s.nodes[l].Propose([]byte("final"))
			proposedAt = round
		}
		if s.allApplied("final") {
			return s
		}
	}
	for _, id := range s.ids {
		t.Logf("node %d: %+v", id, s.nodes[id].Status())
	}
	t.Fatalf("no entry committed everywhere within 1000 fault-free rounds")
	return nil
}

// settle acknowledges every write and delivers every message, in order,
// until nothing is left to do.
func (s *sim) settle() {
	for hop := 0; hop < 5000; hop++ {
		for _, id := range s.ids {
			s.ackSome(id, len(s.pending[id]))
		}
		s.drain()
		if len(s.net) == 0 {
			return
		}
		queued := s.net
		s.net = nil
		for _, m := range queued {
			if hop >= 4990 {
				s.t.Logf("hop %d: %v", hop, m)
			}
			s.step(m)
		}
		s.drain()
		s.check()
	}
	for _, id := range s.ids {
		s.t.Logf("node %d: %+v", id, s.nodes[id].Status())
		s.nodes[id].ForEachProgress(func(p NodeID, pr Progress) { s.t.Logf("  progress %d: %+v", p, pr) })
	}
	s.t.Fatalf("the cluster does not settle")
}

// leaderNow returns the leader of the highest term, or None.
func (s *sim) leaderNow() NodeID {
	var best NodeID
	var term Term
	for _, id := range s.ids {
		if n := s.nodes[id]; n.role == RoleLeader && n.term >= term {
			best, term = id, n.term
		}
	}
	return best
}

func (s *sim) allApplied(data string) bool {
	for _, id := range s.ids {
		found := false
		for _, e := range s.applied[id] {
			if string(e.Data) == data {
				found = true
				break
			}
		}
		if !found {
			return false
		}
	}
	return true
}
