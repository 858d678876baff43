package raft

import (
	"slices"
	"testing"

	"github.com/google/go-cmp/cmp"
)

// Liveness across configurations (issue 18): what keeps a cluster able to
// elect a leader when pre-vote is off. docs/membership.md says which
// failures a user of each mode must expect; these tests pin the ones that
// are bugs to fix, not costs of the mode.

// configEntry is a configuration entry at index in term.
func configEntry(index Index, term Term, m Membership) Entry {
	return Entry{Index: index, Term: term, Type: EntryConfig, Data: encodeMembership(m)}
}

// §5.1 and Figure 2 (RequestVote: "reply false if term < currentTerm",
// and every reply carries currentTerm): a stale vote request is rejected
// with the current term, so the candidate learns it. Before issue 18 it
// was dropped without an answer.
func TestTermStaleVoteRequestAnsweredWithCurrentTerm(t *testing.T) {
	for _, mode := range []struct {
		name string
		cfg  func(*Config)
	}{{"pre-vote off", noPreVote}, {"pre-vote and check-quorum off", classic}} {
		t.Run(mode.name, func(t *testing.T) {
			n := restored(t, testCfg(mode.cfg)(1), ids(3), HardState{Term: 5}, 1, 2)
			step(t, n, Message{Type: MsgVote, From: 2, To: 1, Term: 4, Index: 9, LogTerm: 4})
			got := msgs(syncRun(t, n))
			want := []Message{{Type: MsgVoteResp, From: 1, To: 2, Term: 5, Reject: true}}
			if diff := cmp.Diff(want, got); diff != "" {
				t.Errorf("stale vote request's answer (-want +got):\n%s", diff)
			}
		})
	}
}

// Thesis §4.1 with §5.1, raftsim seeds 610501 and 610551 (issue 18):
// without pre-vote, the servers that keep campaigning (and raising their
// terms) may be ones whose logs are stale — their configuration does not
// even count the one server that can win. Node 3 holds the latest
// configuration (voters 1, 2, 3; 2 a witness) and the longest log, but an
// older term. Node 1, in the stale configuration (voters 1 and witness 2,
// learner 3), loses every election to the witness's longer log and never
// sends node 3 anything; the witness never campaigns. Node 3 must learn
// the newer term from the answers to its own vote requests, or no leader
// is ever elected.
func TestElectionStaleTermCandidateWithLatestConfigurationWins(t *testing.T) {
	for _, mode := range []struct {
		name string
		cfg  func(*Config)
	}{{"pre-vote off", noPreVote}, {"pre-vote and check-quorum off", classic}} {
		t.Run(mode.name, func(t *testing.T) {
			old := Membership{Voters: []NodeID{1, 2}, Learners: []NodeID{3}, Witnesses: []NodeID{2}}
			latest := Membership{Voters: []NodeID{1, 2, 3}, Witnesses: []NodeID{2}}
			withLatest := []Entry{{Index: 1, Term: 1, Type: EntryNoop}, configEntry(2, 2, latest)}
			states := []PersistentState{
				{HardState: HardState{Term: 9}, Snapshot: SnapshotMeta{Membership: old}, Entries: withLatest[:1]},
				{HardState: HardState{Term: 9}, Snapshot: SnapshotMeta{Membership: old}, Entries: withLatest},
				{HardState: HardState{Term: 3}, Snapshot: SnapshotMeta{Membership: old}, Entries: withLatest},
			}
			tn := newTestNetFrom(t, states, testCfg(mode.cfg))
			tickUntil(tn, 500, "node 3 elected", func() bool { return tn.leader() == 3 })
			idx, _ := tn.propose(3, "x")
			tickUntil(tn, 100, "x committed on 1 and 3", committedOn(tn, idx, 1, 3))
			if got := tn.appliedData(1); !slices.Equal(got, []string{"x"}) {
				t.Errorf("node 1 applied %q, want [x]", got)
			}
		})
	}
}
