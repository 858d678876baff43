package raft

import (
	"slices"
	"testing"

	"github.com/google/go-cmp/cmp"
)

// Behaviour tests for safety (§5.4): the election restriction and the
// commitment rule, with the Figure 8 scenario built step by step.

// §5.4.1: "the voter denies its vote if its own log is more up-to-date than
// that of the candidate": the log whose last entry has the later term is
// more up-to-date; with equal last terms, the longer log is.
func TestSafetyVoteRequiresUpToDateLog(t *testing.T) {
	// The voter's log ends at (3, term 2).
	for _, tc := range []struct {
		name      string
		lastIndex Index
		lastTerm  Term
		grant     bool
	}{
		{"older last term, longer", 9, 1, false},
		{"same last term, shorter", 2, 2, false},
		{"same last term, same length", 3, 2, true},
		{"same last term, longer", 4, 2, true},
		{"later last term, shorter", 1, 3, true},
		{"empty log", 0, 0, false},
	} {
		for _, typ := range []MessageType{MsgVote, MsgPreVote} {
			t.Run(typ.String()+"/"+tc.name, func(t *testing.T) {
				n := restored(t, defaultTestConfig(1), ids(3), HardState{Term: 3}, 1, 1, 2)
				step(t, n, Message{Type: typ, From: 2, To: 1, Term: 4, Index: tc.lastIndex, LogTerm: tc.lastTerm})
				got := msgs(syncRun(t, n), MsgVoteResp, MsgPreVoteResp)
				if len(got) != 1 || got[0].Reject == tc.grant {
					t.Fatalf("answers %v, want one with grant=%t", got, tc.grant)
				}
				wantVote := None
				if tc.grant && typ == MsgVote {
					wantVote = 2
				}
				if v := n.Status().Vote; v != wantVote {
					t.Errorf("vote %d, want %d", v, wantVote)
				}
			})
		}
	}
}

// §5.4.1: a server that missed a committed entry cannot be elected: every
// majority includes a server holding the entry, which denies its vote.
func TestSafetyStaleServerNotElected(t *testing.T) {
	tn := elect3(t, classic)
	tn.isolate(3)
	tn.propose(1, "committed")
	tn.deliverAll()
	if got := tn.nodes[1].Status().Commit; got != 2 {
		t.Fatalf("commit %d, want 2", got)
	}
	tn.crash(1)
	tn.heal()
	tn.campaign(3)
	if st := tn.nodes[3].Status(); st.Role == RoleLeader {
		t.Fatalf("node 3, missing committed entry 2, was elected in term %d", st.Term)
	}
	tn.campaign(2)
	if tn.leader() != 2 {
		t.Fatalf("leader %d, want 2", tn.leader())
	}
	tn.deliverAll()
	if got := dataOf(tn.applied[3]); !cmp.Equal(got, []string{"committed"}) {
		t.Errorf("node 3 applied %q, want [committed]", got)
	}
}

// figure8 builds the states (a) to (c) of Figure 8 of the Raft paper with
// five servers S1..S5 (terms are shifted: the paper's term 2 is term 1
// here, and so on; each leader's no-op entry plays the part of the entries
// the paper's leaders receive from clients):
//
//	(a) S1 leads term 1 and replicates X at index 2 to S2 only.
//	(b) S1 crashes; S5 is elected for term 2 by S3, S4 and itself, and
//	    appends Y (its no-op) at index 2, which reaches no one.
//	(c) S5 crashes; S1 restarts, is elected for term 3 and replicates X to
//	    S3 (and its own no-op at index 3 to S2 only). X, an entry of term 1,
//	    is now on a majority: S1, S2, S3.
//
// If replicateNoopToS3, S1's no-op of term 3 reaches S3 as well.
func figure8(t *testing.T, replicateNoopToS3 bool) *testNet {
	t.Helper()
	// One entry per append, so S3 can be given X without the no-op.
	tn := newTestNet(t, 5, testCfg(classic, func(c *Config) { c.MaxMsgBytes = 16 }))
	tn.campaign(1)

	// (a)
	tn.partition([]NodeID{1, 2}, []NodeID{3, 4, 5})
	if idx, term := tn.propose(1, "X"); idx != 2 || term != 1 {
		t.Fatalf("X proposed at (%d, %d), want (2, 1)", idx, term)
	}
	tn.deliverAll()
	if got := tn.nodes[1].Status().Commit; got != 1 {
		t.Fatalf("(a) S1 commit %d, want 1", got)
	}

	// (b)
	tn.crash(1)
	tn.heal()
	tn.drop = func(m Message) bool {
		return m.From == 5 && (m.Type == MsgApp || m.Type == MsgHeartbeat)
	}
	tn.campaign(5)
	if st := tn.nodes[5].Status(); st.Role != RoleLeader || st.Term != 2 || st.LastIndex != 2 || st.LastTerm != 2 {
		t.Fatalf("(b) S5: %+v, want leader of term 2 with Y at (2, 2)", st)
	}

	// (c)
	tn.crash(5)
	tn.restart(1)
	tn.drop = func(m Message) bool {
		if m.From != 1 {
			return false
		}
		switch m.Type {
		case MsgHeartbeat:
			return true
		case MsgApp:
			switch m.To {
			case 3:
				// Once S3 holds X, hold back the no-op.
				return !replicateNoopToS3 && tn.nodes[3].Status().LastIndex >= 2 &&
					len(m.Entries) > 0 && m.Entries[len(m.Entries)-1].Index > 2
			case 4:
				return true
			}
		}
		return false
	}
	for try := 0; try < 3 && tn.leader() != 1; try++ {
		tn.campaign(1)
	}
	s1 := tn.nodes[1]
	if st := s1.Status(); st.Role != RoleLeader || st.Term != 3 {
		t.Fatalf("(c) S1: %+v, want leader of term 3", st)
	}
	for _, id := range []NodeID{1, 2, 3} {
		if e := tn.nodes[id].log.entry(2); string(e.Data) != "X" || e.Term != 1 {
			t.Fatalf("(c) S%d holds %v at index 2, want X of term 1", id, e)
		}
	}
	return tn
}

// §5.4.2, Figure 8: "Raft never commits log entries from previous terms by
// counting replicas." In state (c) X is stored on a majority and the
// leader knows it (match indexes S2: 3, S3: 2), yet X is not committed: it
// is from term 1. Rightly so: S5 can still be elected in term 4 (its last
// entry, of term 2, beats X's) and overwrite X everywhere (d). No server
// ever applies X.
func TestSafetyFigure8NoCommitByCountingReplicas(t *testing.T) {
	tn := figure8(t, false)
	s1 := tn.nodes[1]
	p2, _ := s1.Progress(2)
	p3, _ := s1.Progress(3)
	if p2.Match != 3 || p3.Match != 2 {
		t.Fatalf("(c) match S2 %d S3 %d, want 3 and 2", p2.Match, p3.Match)
	}
	if got := s1.Status().Commit; got != 1 {
		t.Fatalf("(c) S1 committed up to %d, want 1: X (term 1) must not commit by counting replicas", got)
	}

	// (d) S1 crashes; S5 restarts and wins term 4 with S3 and S4.
	tn.crash(1)
	tn.drop = nil
	tn.restart(5)
	for try := 0; try < 3 && tn.leader() != 5; try++ {
		tn.campaign(5)
	}
	if st := tn.nodes[5].Status(); st.Role != RoleLeader || st.Term != 4 {
		t.Fatalf("(d) S5: %+v, want leader of term 4", st)
	}
	tn.restart(1)
	tn.tickAll(3)
	want := []Entry{
		{Index: 1, Term: 1, Type: EntryNoop},
		{Index: 2, Term: 2, Type: EntryNoop},
		{Index: 3, Term: 4, Type: EntryNoop},
	}
	for _, id := range tn.ids {
		if diff := cmp.Diff(want, logOf(tn.nodes[id])); diff != "" {
			t.Errorf("(d) S%d log (-want +got):\n%s", id, diff)
		}
		if diff := cmp.Diff(want, tn.applied[id]); diff != "" {
			t.Errorf("(d) S%d applied (-want +got):\n%s", id, diff)
		}
	}
}

// §5.4.2, Figure 8 (e): once the leader of term 3 has an entry of its own
// term on a majority, that entry commits and, by the Log Matching
// property, X before it; S5 can then no longer be elected.
func TestSafetyFigure8CommitThroughCurrentTerm(t *testing.T) {
	tn := figure8(t, true)
	s1 := tn.nodes[1]
	if got := s1.Status().Commit; got != 3 {
		t.Fatalf("(e) S1 commit %d, want 3 (its no-op, and X with it)", got)
	}
	tn.drop = nil
	tn.crash(1)
	tn.restart(5)
	for range 3 {
		tn.campaign(5)
		if tn.nodes[5].Status().Role == RoleLeader {
			t.Fatalf("(e) S5 elected in term %d although X is committed", tn.nodes[5].Status().Term)
		}
	}
	tn.restart(1)
	for i := 0; i < 100 && tn.leader() == None; i++ {
		tn.tickAll(1)
	}
	tn.tickAll(3)
	for _, id := range tn.ids {
		got := dataOf(tn.applied[id])
		if !slices.Equal(got, []string{"X"}) {
			t.Errorf("S%d applied %q, want [X]", id, got)
		}
	}
}
