package raft

import (
	"fmt"
	"slices"
	"testing"
)

// Helpers shared by the behaviour tests (raft_*_test.go). They drive single
// nodes by hand; network_test.go's testNet drives whole clusters.

// testCfg returns a config function: defaultTestConfig changed by each of
// changes.
func testCfg(changes ...func(*Config)) func(NodeID) Config {
	return func(id NodeID) Config {
		c := defaultTestConfig(id)
		for _, f := range changes {
			f(&c)
		}
		return c
	}
}

func noPreVote(c *Config)     { c.DisablePreVote = true }
func noCheckQuorum(c *Config) { c.DisableCheckQuorum = true }

// classic turns off both pre-vote and check-quorum: the protocol of the
// Raft paper, where terms alone decide.
func classic(c *Config) { noPreVote(c); noCheckQuorum(c) }

// ids returns 1..n.
func ids(n int) []NodeID {
	out := make([]NodeID, n)
	for i := range out {
		out[i] = NodeID(i + 1)
	}
	return out
}

// mkEntries returns entries first, first+1, ... with the given terms. Each
// payload names its index and term, so two logs agree on a payload exactly
// when they agree on the term (the Log Matching property, §5.3).
func mkEntries(first Index, terms ...Term) []Entry {
	out := make([]Entry, len(terms))
	for i, t := range terms {
		idx := first + Index(i)
		out[i] = Entry{Index: idx, Term: t, Data: []byte(fmt.Sprintf("%d/%d", idx, t))}
	}
	return out
}

// rep returns n copies of term t followed by rest.
func rep(t Term, n int, rest ...Term) []Term {
	out := make([]Term, 0, n+len(rest))
	for range n {
		out = append(out, t)
	}
	return append(out, rest...)
}

// storedState is what a server that ran before has in storage: a cluster of
// voters, hard state hs and a log from index 1 with the given terms.
func storedState(voters []NodeID, hs HardState, terms []Term) PersistentState {
	return PersistentState{
		HardState: hs,
		Snapshot:  SnapshotMeta{Membership: Membership{Voters: slices.Clone(voters)}},
		Entries:   mkEntries(1, terms...),
	}
}

// restored builds node cfg.ID restarted from storedState(voters, hs, terms).
func restored(t testing.TB, cfg Config, voters []NodeID, hs HardState, terms ...Term) *Node {
	t.Helper()
	n, err := NewNode(cfg, storedState(voters, hs, terms))
	if err != nil {
		t.Fatalf("NewNode: %v", err)
	}
	return n
}

// newTestNetFrom builds a cluster of len(states) voters in which node i+1
// restarts from states[i], as if the cluster had run before.
func newTestNetFrom(t testing.TB, states []PersistentState, cfg func(NodeID) Config) *testNet {
	t.Helper()
	tn := newTestNet(t, len(states), cfg)
	for i, st := range states {
		id := NodeID(i + 1)
		tn.storage[id] = &memStorage{hs: st.HardState, snap: st.Snapshot, entries: slices.Clone(st.Entries)}
		tn.applied[id] = nil
		tn.restart(id)
	}
	return tn
}

// take returns a copy of n.Actions() and acknowledges nothing.
func take(n *Node) []Action { return slices.Clone(n.Actions()) }

// syncRun plays a synchronous caller: it collects n's actions, acknowledges
// each persist at once, and repeats until n has nothing more to do. It
// returns every action seen, in order.
func syncRun(t testing.TB, n *Node) []Action {
	t.Helper()
	var all []Action
	for round := 0; ; round++ {
		if round > 100 {
			t.Fatalf("node %d never ran out of actions", n.ID())
		}
		acts := take(n)
		if len(acts) == 0 {
			return all
		}
		all = append(all, acts...)
		for _, a := range acts {
			if a.Kind == ActionPersist {
				if err := n.AckPersist(a.Persist.ID); err != nil {
					t.Fatalf("AckPersist(%d): %v", a.Persist.ID, err)
				}
			}
		}
	}
}

// msgs returns the messages sent among acts, only those of the given types
// if any are given.
func msgs(acts []Action, types ...MessageType) []Message {
	var out []Message
	for _, a := range acts {
		if a.Kind == ActionSend && (len(types) == 0 || slices.Contains(types, a.Message.Type)) {
			out = append(out, a.Message)
		}
	}
	return out
}

// persists returns the persist actions among acts.
func persists(acts []Action) []Persist {
	var out []Persist
	for _, a := range acts {
		if a.Kind == ActionPersist {
			out = append(out, a.Persist)
		}
	}
	return out
}

// applied returns the entries applied by acts, in order.
func applied(acts []Action) []Entry {
	var out []Entry
	for _, a := range acts {
		if a.Kind == ActionApply {
			out = append(out, a.Apply.Entries...)
		}
	}
	return out
}

// logOf returns the entries n holds in memory.
func logOf(n *Node) []Entry {
	var out []Entry
	for _, c := range n.log.chunks {
		out = append(out, c...)
	}
	return slices.Clip(out)
}

// terms returns the terms of ents.
func terms(ents []Entry) []Term {
	out := make([]Term, len(ents))
	for i := range ents {
		out[i] = ents[i].Term
	}
	return out
}

// indexes returns the indexes of ents.
func indexes(ents []Entry) []Index {
	out := make([]Index, len(ents))
	for i := range ents {
		out[i] = ents[i].Index
	}
	return out
}

// step calls n.Step and fails the test on error.
func step(t testing.TB, n *Node, m Message) {
	t.Helper()
	if err := n.Step(m); err != nil {
		t.Fatalf("node %d Step(%v): %v", n.ID(), m, err)
	}
}

// elect3 returns a synchronous 3-node cluster with node 1 elected and its
// no-op entry applied everywhere.
func elect3(t testing.TB, changes ...func(*Config)) *testNet {
	t.Helper()
	tn := newTestNet(t, 3, testCfg(changes...))
	tn.campaign(1)
	if tn.leader() != 1 {
		t.Fatalf("node 1 not elected")
	}
	return tn
}

// dataOf returns the payloads of the normal entries among ents.
func dataOf(ents []Entry) []string {
	var out []string
	for _, e := range ents {
		if e.Type == EntryNormal {
			out = append(out, string(e.Data))
		}
	}
	return out
}
