package raft

import (
	"errors"
	"math"
	"slices"
	"testing"
)

// HasActions promises to report whether Actions would return anything. While
// a snapshot received from the leader waits to become durable, Actions hands
// out nothing after it (thesis §5.3: the state machine restores the
// snapshot before any later entry, and a node applies only durable state):
// entries that were durable and committed below the snapshot but not yet
// handed out are superseded by it. HasActions must not count them, or a host
// that loops "while HasActions, run Actions" spins until the snapshot's
// persist is acknowledged.
func TestHasActionsFalseWhileSnapshotAwaitsDurability(t *testing.T) {
	st := storedState(ids(3), HardState{Term: 1, Commit: 5}, rep(1, 5))
	st.Applied = 2
	n, err := NewNode(Config{ID: 1, ElectionTicks: 10, HeartbeatTicks: 1}, st)
	if err != nil {
		t.Fatal(err)
	}
	step(t, n, Message{Type: MsgSnap, From: 2, To: 1, Term: 2,
		Snapshot: &SnapshotMeta{Index: 10, Term: 2, Membership: Membership{Voters: ids(3)}}})
	acts := take(n)
	if len(persists(acts)) != 1 || len(applied(acts)) != 0 {
		t.Fatalf("want one persist and nothing applied before it is durable, got %v", acts)
	}
	if n.HasActions() {
		t.Errorf("HasActions true while the snapshot is not durable, but Actions returns %v", take(n))
	}
}

// Leader Completeness (§5.4) with paper §7: a snapshot a correct leader
// sends covers a prefix of its log, which holds every committed entry, and
// terms never decrease along a log; so a snapshot beyond the receiver's
// commit index has a term at least that of the receiver's last committed
// entry. One with a lower term contradicts committed entries, as an append
// conflicting with them does: Step must refuse it and change nothing, not
// replace the committed log with it.
func TestStepRefusesSnapshotContradictingCommittedEntries(t *testing.T) {
	build := func(t *testing.T) *Node {
		n := restored(t, defaultTestConfig(1), ids(3), HardState{Term: 2, Commit: 3}, 1, 1, 2, 2)
		step(t, n, Message{Type: MsgHeartbeat, From: 2, To: 1, Term: 2, Commit: 3})
		syncRun(t, n)
		return n
	}
	n, twin := build(t), build(t)
	m := Message{Type: MsgSnap, From: 3, To: 1, Term: 3,
		Snapshot: &SnapshotMeta{Index: 5, Term: 1, Membership: Membership{Voters: ids(3)}}}
	if err := n.Step(m); !errors.Is(err, ErrInvalidMessage) {
		t.Fatalf("Step(%v) = %v, want an error wrapping ErrInvalidMessage", m, err)
	}
	sameNode(t, twin, n)
}

// §5.1: terms start at 1 and every entry carries the term of the leader
// that created it, so no entry, and no snapshot of a non-empty prefix, has
// term 0; only the empty log before index 1 (Bootstrap's snapshot at index
// 0) does. NewNode must refuse such storage as inconsistent. Accepted, a
// snapshot (5, term 0) never matches the leader's entry 5, which it claims
// is committed, so every append after it is rejected.
func TestNewNodeRefusesTermZeroBeyondIndexZero(t *testing.T) {
	mem := Membership{Voters: ids(3)}
	for _, tc := range []struct {
		name string
		st   PersistentState
	}{
		{"snapshot of index 5 with term 0", PersistentState{HardState: HardState{Term: 2}, Snapshot: SnapshotMeta{Index: 5, Membership: mem}}},
		{"entry with term 0", PersistentState{HardState: HardState{Term: 2}, Snapshot: SnapshotMeta{Membership: mem}, Entries: mkEntries(1, 0, 1, 2)}},
	} {
		if _, err := NewNode(defaultTestConfig(1), tc.st); !errors.Is(err, ErrInvalidState) {
			t.Errorf("%s: NewNode = %v, want an error wrapping ErrInvalidState", tc.name, err)
		}
	}
}

// §5.1: every entry carries the term of the leader that created it, never
// 0. An append whose entries have term 0 (possible after the index-0
// snapshot, whose term is 0) comes from no correct leader; stored, it would
// leave a log NewNode refuses on restart. Step must refuse it and change
// nothing.
func TestStepRefusesEntriesOfTermZero(t *testing.T) {
	build := func(t *testing.T) *Node {
		n, err := Bootstrap(defaultTestConfig(1), ids(3))
		if err != nil {
			t.Fatal(err)
		}
		syncRun(t, n)
		return n
	}
	n, twin := build(t), build(t)
	m := Message{Type: MsgApp, From: 2, To: 1, Term: 1, Index: 0, LogTerm: 0, Entries: mkEntries(1, 0, 1)}
	if err := n.Step(m); !errors.Is(err, ErrInvalidMessage) {
		t.Fatalf("Step(%v) = %v, want an error wrapping ErrInvalidMessage", m, err)
	}
	sameNode(t, twin, n)
}

// Log indexes only grow by one per entry (§5.3), so no real log comes near
// 2^64; but index arithmetic wraps there. A snapshot ending at the largest
// index is well formed, yet once installed the node's next index wraps to
// 0: elected, it appended its no-op at index 0 and reported a last index
// of 0 under a commit index of 2^64-1. Step must refuse indexes no log
// reaches, in snapshots and appends alike, and change nothing.
func TestStepRefusesIndexesThatWouldWrap(t *testing.T) {
	build := func(t *testing.T) *Node {
		n, err := Bootstrap(defaultTestConfig(1), ids(3))
		if err != nil {
			t.Fatal(err)
		}
		syncRun(t, n)
		return n
	}
	const top = Index(math.MaxUint64)
	for _, m := range []Message{
		{Type: MsgSnap, From: 2, To: 1, Term: 1, Snapshot: &SnapshotMeta{Index: top, Term: 1, Membership: Membership{Voters: ids(3)}}},
		{Type: MsgApp, From: 2, To: 1, Term: 1, Index: top - 1, LogTerm: 1, Entries: []Entry{{Index: top, Term: 1}}},
	} {
		n, twin := build(t), build(t)
		if err := n.Step(m); !errors.Is(err, ErrInvalidMessage) {
			t.Errorf("Step(%v) = %v, want an error wrapping ErrInvalidMessage", m, err)
			continue
		}
		sameNode(t, twin, n)
	}
}

// Figure 2, AppendEntries receiver rule 1: "Reply false if term <
// currentTerm", the reply carrying currentTerm so that a deposed leader
// updates itself (§5.1). Classic mode (no pre-vote, no check-quorum) is the
// paper's protocol, yet it ignored stale appends, counting on the node with
// the newer term to depose the leader by campaigning. A node that cannot
// campaign never does: here a learner whose term a disruptive removed
// server raised (thesis §4.2.3). The leader went on sending it appends of
// its old term, which it ignored, and it never received another entry.
// (Found by a raftsim sweep: -seed 20390 -nodes 3 -no-prevote
// -no-checkquorum -membership 0.05 -compact 0.3 -retain 2 -disk-min 0.5
// -disk-max 3, where a removed voter being re-added stalled the leader.)
func TestClassicStaleLeaderLearnsTermFromNodeThatCannotCampaign(t *testing.T) {
	tn := elect3(t, classic)
	tn.join(4, nil)
	tn.startEmpty(4)
	mustChange(tn, 1, change(AddLearner, 4))
	tn.deliverAll()
	tickUntil(tn, 50, "learner 4 caught up", committedOn(tn, tn.nodes[1].Status().LastIndex, 4))
	// A removed server's vote request reaches only the learner.
	last := tn.nodes[4].Status()
	tn.deliver(Message{Type: MsgVote, From: 5, To: 4, Term: last.Term + 5, Index: last.LastIndex, LogTerm: last.LastTerm})
	tn.deliverAll()
	tn.propose(tn.leader(), "x")
	tn.deliverAll()
	tickUntil(tn, 200, "learner 4 applied x", func() bool { return slices.Contains(tn.appliedData(4), "x") })
}

// Thesis §9.6: a pre-candidate becomes a candidate only if a majority would
// vote for it in the next term, now. A pre-vote grant carries the term it
// was asked for (handleVoteRequest), so one of the pre-candidate's own term
// answers an earlier round, asked before that term began: the voter may
// since have found a leader of that term. Counting it could let a node
// disrupt a healthy leader with grants a duplicating or delaying network
// kept from an old round.
func TestStalePreVoteGrantNotCounted(t *testing.T) {
	n := restored(t, defaultTestConfig(1), ids(3), HardState{Term: 5}, 1, 2)
	if err := n.Campaign(); err != nil {
		t.Fatal(err)
	}
	syncRun(t, n)
	if st := n.Status(); st.Role != RolePreCandidate || st.Term != 5 {
		t.Fatalf("want a pre-candidate of term 5, got %v of term %d", st.Role, st.Term)
	}
	// Grants of term 5: answers to a pre-vote for term 5, asked at term 4.
	step(t, n, Message{Type: MsgPreVoteResp, From: 2, To: 1, Term: 5})
	step(t, n, Message{Type: MsgPreVoteResp, From: 3, To: 1, Term: 5})
	syncRun(t, n)
	if st := n.Status(); st.Role != RolePreCandidate || st.Term != 5 {
		t.Errorf("stale pre-vote grants made node 1 a %v of term %d", st.Role, st.Term)
	}
}

// Thesis §6.4 (follower reads): a follower asks its leader for the read
// index, and only the leader can vouch that the index is current. An
// answer to a forwarded read from any other server of the term — no
// correct one sends it — must not complete the read with its index.
func TestForwardedReadAnsweredOnlyByLeader(t *testing.T) {
	n := malformedFollower(t)
	if err := n.ReadIndex(7); err != nil {
		t.Fatal(err)
	}
	fwd := msgs(syncRun(t, n), MsgReadIndex)
	if len(fwd) != 1 {
		t.Fatalf("read 7 forwarded %d times, want once", len(fwd))
	}
	token := fwd[0].Context
	step(t, n, Message{Type: MsgReadIndexResp, From: 3, To: 1, Term: 2, Context: token, Index: 1})
	for _, a := range syncRun(t, n) {
		if a.Kind == ActionReadReady || a.Kind == ActionReadFailed {
			t.Errorf("read 7 completed by node 3, not the leader 2: %+v", a)
		}
	}
	step(t, n, Message{Type: MsgReadIndexResp, From: 2, To: 1, Term: 2, Context: token, Index: 3})
	var got []ReadResult
	for _, a := range syncRun(t, n) {
		if a.Kind == ActionReadReady {
			got = append(got, a.Read)
		}
	}
	if len(got) != 1 || got[0] != (ReadResult{ID: 7, Index: 3}) {
		t.Errorf("leader's answer: got %+v, want read 7 ready at index 3", got)
	}
}
