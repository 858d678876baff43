package raft

import (
	"bytes"
	"fmt"
	"runtime"
	"strings"
	"testing"
)

// safetyChecker holds the Raft safety properties (Figure 3 of the paper)
// over a cluster driven by a test, checked on the nodes' live state after
// every step. Both in-package harnesses use it — testNet (behaviour and
// property tests) and sim (TestPropertyClusterSafety) — so every
// randomised test in this package runs with the same checks as raftsim,
// which cannot be imported here (it imports this package).
//
// Witnesses hold entries without payloads (thesis §11.7.2): their entries
// are compared by index, term and type only.
type safetyChecker struct {
	t failer
	// leaders[term] is the one leader seen in term (Election Safety).
	leaders map[Term]NodeID
	// committed[i] is the entry first seen committed at index i, and
	// seenTerm[i] the term of the server that showed it: a leader of that
	// term or an earlier one committed it.
	committed map[Index]checkedEntry
	seenTerm  map[Index]Term
	// witnesses are the servers ever seen as witnesses.
	witnesses map[NodeID]bool
}

// failer is the part of testing.TB (and of *rapid.T) the checker uses.
type failer interface {
	Helper()
	Fatalf(format string, args ...any)
}

// checkedEntry is an entry as one server holds it.
type checkedEntry struct {
	Entry
	payload bool // false when the server is a witness
}

func newSafetyChecker(t failer) *safetyChecker {
	return &safetyChecker{t: t, leaders: map[Term]NodeID{}, committed: map[Index]checkedEntry{},
		seenTerm: map[Index]Term{}, witnesses: map[NodeID]bool{}}
}

// agree reports whether two servers' copies of an entry are the same
// entry: payloads are compared only when both servers hold them.
func agree(a, b checkedEntry) bool {
	if a.Index != b.Index || a.Term != b.Term || a.Type != b.Type {
		return false
	}
	return !a.payload || !b.payload || bytes.Equal(a.Data, b.Data)
}

func (c *safetyChecker) holds(id NodeID, n *Node, i Index) checkedEntry {
	return checkedEntry{Entry: *n.log.entry(i), payload: !c.witnesses[id]}
}

// check verifies every property on the nodes' current state; nil nodes
// (crashed) are skipped.
func (c *safetyChecker) check(nodes map[NodeID]*Node) {
	c.t.Helper()
	for id, n := range nodes {
		if n != nil && n.members().IsWitness(id) {
			c.witnesses[id] = true
		}
	}
	for id, n := range nodes {
		if n == nil {
			continue
		}
		n.log.checkInvariants(n.pendingApply != nil)
		c.checkCommitted(id, n)
	}
	// Leaders are checked once every server's committed entries are known.
	for id, n := range nodes {
		if n != nil && n.role == RoleLeader {
			c.checkLeader(id, n)
		}
	}
	c.checkLogMatching(nodes)
}

// checkCommitted is State Machine Safety at the log: no two servers hold
// different entries committed at one index.
func (c *safetyChecker) checkCommitted(id NodeID, n *Node) {
	for i := n.log.firstIndex(); i <= n.log.committed; i++ {
		c.noteCommitted(id, n.term, c.holds(id, n, i))
	}
}

// noteCommitted records e as committed at a server of term, failing if
// another entry was seen committed at its index.
func (c *safetyChecker) noteCommitted(id NodeID, term Term, e checkedEntry) {
	c.t.Helper()
	if seen, ok := c.committed[e.Index]; ok {
		if !agree(seen, e) {
			c.t.Fatalf("State Machine Safety: two entries committed at index %d: %v and %v (node %d)", e.Index, seen.Entry, e.Entry, id)
		}
		if !seen.payload && e.payload {
			c.committed[e.Index] = e
		}
		return
	}
	c.committed[e.Index] = e
	c.seenTerm[e.Index] = term
}

// noteApplied checks an entry a server's state machine receives against
// what was seen committed at its index (entries are applied only once
// committed, so it is also recorded as committed).
func (c *safetyChecker) noteApplied(id NodeID, n *Node, e Entry) {
	c.t.Helper()
	c.noteCommitted(id, n.term, checkedEntry{Entry: e, payload: !c.witnesses[id]})
}

// checkLeader is Election Safety (one leader per term) and Leader
// Completeness (a leader holds every entry committed in an earlier term).
func (c *safetyChecker) checkLeader(id NodeID, n *Node) {
	c.t.Helper()
	if l, ok := c.leaders[n.term]; ok && l != id {
		c.t.Fatalf("Election Safety: two leaders in term %d: %d and %d", n.term, l, id)
	}
	c.leaders[n.term] = id
	for i, seen := range c.seenTerm {
		if seen >= n.term || i <= n.log.snapIndex {
			continue // compacted entries were committed, so they are held
		}
		if t, ok := n.log.term(i); !ok || t != c.committed[i].Term {
			c.t.Fatalf("Leader Completeness: leader %d of term %d lacks entry %d (term %d), committed by term %d",
				id, n.term, i, c.committed[i].Term, seen)
		}
	}
}

// checkLogMatching is the Log Matching property: two logs holding an entry
// with the same index and term are identical up to that index (over the
// indexes both still hold).
func (c *safetyChecker) checkLogMatching(nodes map[NodeID]*Node) {
	c.t.Helper()
	for a, na := range nodes {
		for b, nb := range nodes {
			if na == nil || nb == nil || a >= b {
				continue
			}
			lo := max(na.log.firstIndex(), nb.log.firstIndex())
			k := min(na.log.lastIndex(), nb.log.lastIndex())
			for k >= lo && na.log.entry(k).Term != nb.log.entry(k).Term {
				k--
			}
			for i := lo; i <= k; i++ {
				if ea, eb := c.holds(a, na, i), c.holds(b, nb, i); !agree(ea, eb) {
					c.t.Fatalf("Log Matching: nodes %d and %d agree on (%d, %d) but differ at %d: %v vs %v",
						a, b, k, na.log.entry(k).Term, i, ea.Entry, eb.Entry)
				}
			}
		}
	}
}

// String summarises what the checker has seen, for failure messages.
func (c *safetyChecker) String() string {
	return fmt.Sprintf("%d terms with a leader, %d indexes committed", len(c.leaders), len(c.committed))
}

// fatalRecorder is a testing.TB whose Fatalf records the message and ends
// the goroutine, so a test can see the checker fail.
type fatalRecorder struct {
	testing.TB
	msg string
}

func (f *fatalRecorder) Fatalf(format string, args ...any) {
	f.msg = fmt.Sprintf(format, args...)
	runtime.Goexit()
}
func (f *fatalRecorder) Helper() {}

// checkerVerdict runs one check of nodes on a fresh checker and returns its
// failure message ("" when it passed).
func checkerVerdict(t *testing.T, nodes map[NodeID]*Node) string {
	rec := &fatalRecorder{TB: t}
	done := make(chan struct{})
	go func() {
		defer close(done)
		newSafetyChecker(rec).check(nodes)
	}()
	<-done
	return rec.msg
}

// The checker that guards every randomised test must be able to fail: each
// Figure 3 property, broken by hand, is reported by name.
func TestSafetyCheckerCatchesEachViolation(t *testing.T) {
	voters := ids(3)
	node := func(id NodeID, commit Index, term Term, terms ...Term) *Node {
		return restored(t, testCfg()(id), voters, HardState{Term: term, Commit: commit}, terms...)
	}
	leader := func(n *Node) *Node { n.role = RoleLeader; return n }
	cases := []struct {
		name  string
		nodes map[NodeID]*Node
		want  string
	}{
		{"consistent", map[NodeID]*Node{1: node(1, 2, 2, 1, 2), 2: node(2, 1, 2, 1, 2, 2)}, ""},
		{"two leaders", map[NodeID]*Node{1: leader(node(1, 0, 3, 1)), 2: leader(node(2, 0, 3, 1))}, "Election Safety"},
		{"two committed", map[NodeID]*Node{1: node(1, 2, 2, 1, 1), 2: node(2, 2, 2, 1, 2)}, "State Machine Safety"},
		{"leader lacks", map[NodeID]*Node{1: node(1, 2, 1, 1, 1), 2: leader(node(2, 0, 2, 1))}, "Leader Completeness"},
		{"logs differ", map[NodeID]*Node{1: node(1, 0, 3, 1, 1, 3), 2: node(2, 0, 3, 1, 2, 3)}, "Log Matching"},
	}
	for _, c := range cases {
		got := checkerVerdict(t, c.nodes)
		if (c.want == "") != (got == "") || !strings.Contains(got, c.want) {
			t.Errorf("%s: checker said %q, want a report of %q", c.name, got, c.want)
		}
	}
}
