package raft

import (
	"errors"
	"slices"
	"testing"

	"github.com/google/go-cmp/cmp"
)

// Behaviour tests for the persistence contract (Figure 2: "Updated on
// stable storage before responding to RPCs"; thesis §10.2.1 for the
// leader's parallel write) and for restarts.

// Figure 2: a server persists currentTerm and votedFor before responding to
// RequestVote. With an asynchronous caller no vote grant leaves the node
// until the persist carrying the vote is acknowledged — also when the vote
// is the only thing that changed (the term was already current).
func TestPersistVoteGrantWaitsForAck(t *testing.T) {
	for _, tc := range []struct {
		name string
		term Term
	}{
		{"vote in the current term", 5},
		{"vote in a new term", 6},
	} {
		t.Run(tc.name, func(t *testing.T) {
			n := restored(t, defaultTestConfig(1), ids(3), HardState{Term: 5}, 1)
			step(t, n, Message{Type: MsgVote, From: 2, To: 1, Term: tc.term, Index: 1, LogTerm: 1})
			acts := take(n)
			ps := persists(acts)
			if len(ps) != 1 || ps[0].HardState != (HardState{Term: tc.term, Vote: 2}) || !ps[0].Sync {
				t.Fatalf("actions %v, want one synced persist of the vote", acts)
			}
			if got := msgs(acts); len(got) != 0 {
				t.Fatalf("sent %v before the vote was durable", got)
			}
			// The node keeps handling input meanwhile; the grant still waits.
			n.Tick()
			if got := msgs(take(n)); len(got) != 0 {
				t.Fatalf("sent %v before the vote was durable", got)
			}
			if err := n.AckPersist(ps[0].ID); err != nil {
				t.Fatal(err)
			}
			want := []Message{{Type: MsgVoteResp, From: 1, To: 2, Term: tc.term}}
			if diff := cmp.Diff(want, msgs(take(n))); diff != "" {
				t.Errorf("after the ack (-want +got):\n%s", diff)
			}
		})
	}
}

// Figure 2: a candidate's vote for itself counts only once its new term and
// vote are durable (a single-voter cluster shows it: it cannot win before).
func TestPersistSelfVoteWaitsForAck(t *testing.T) {
	n := restored(t, testCfg(noPreVote)(1), ids(1), HardState{Term: 2}, 1)
	n.Campaign()
	acts := take(n)
	ps := persists(acts)
	if st := n.Status(); st.Role != RoleCandidate || len(ps) != 1 || ps[0].HardState.Vote != 1 {
		t.Fatalf("role %v, actions %v; want a candidate persisting its vote", st.Role, acts)
	}
	n.Tick()
	take(n)
	if r := n.Status().Role; r != RoleCandidate {
		t.Fatalf("role %v before its vote was durable, want candidate", r)
	}
	if err := n.AckPersist(ps[0].ID); err != nil {
		t.Fatal(err)
	}
	if r := n.Status().Role; r != RoleLeader {
		t.Errorf("role %v after its vote was durable, want leader", r)
	}
}

// Figure 2 (currentTerm and votedFor are persistent): a candidate that
// wins the votes of a majority of the others still waits until its own new
// term and vote are durable before it leads. Otherwise a crash could erase
// its term; restarted, it could win the same term again (its voters would
// grant their vote to it again) and append different entries at the same
// index and term, breaking Log Matching.
func TestPersistCandidateLeadsOnlyOnceItsTermIsDurable(t *testing.T) {
	n := restored(t, testCfg(noPreVote)(1), ids(3), HardState{Term: 2}, 1)
	n.Campaign()
	ps := persists(take(n))
	if len(ps) != 1 || ps[0].HardState.Term != 3 || ps[0].HardState.Vote != 1 {
		t.Fatalf("persists %v, want the new term and vote", ps)
	}
	step(t, n, Message{Type: MsgVoteResp, From: 2, To: 1, Term: 3})
	step(t, n, Message{Type: MsgVoteResp, From: 3, To: 1, Term: 3})
	acts := take(n)
	if r := n.Status().Role; r != RoleCandidate {
		t.Fatalf("role %v with its term not durable, want candidate", r)
	}
	if got := msgs(acts); len(got) != 0 {
		t.Fatalf("sent %v before its term was durable", got)
	}
	if err := n.AckPersist(ps[0].ID); err != nil {
		t.Fatal(err)
	}
	if r := n.Status().Role; r != RoleLeader {
		t.Errorf("role %v once its term is durable, want leader", r)
	}
}

// Figure 2 (currentTerm is persistent; a candidate increments it before
// sending RequestVote): a candidate's vote requests leave only once its new
// term is durable. A request sent earlier would collect grants that a
// crash, erasing the term, leaves in flight for the restarted server's
// next candidacy in the same term, which may describe a shorter log.
func TestPersistVoteRequestWaitsForAck(t *testing.T) {
	n := restored(t, testCfg(noPreVote)(1), ids(3), HardState{Term: 2}, 1)
	n.Campaign()
	acts := take(n)
	ps := persists(acts)
	if len(ps) != 1 || ps[0].HardState.Term != 3 {
		t.Fatalf("actions %v, want a persist of term 3", acts)
	}
	if got := msgs(acts); len(got) != 0 {
		t.Fatalf("sent %v before term 3 was durable", got)
	}
	if err := n.AckPersist(ps[0].ID); err != nil {
		t.Fatal(err)
	}
	want := []Message{
		{Type: MsgVote, From: 1, To: 2, Term: 3, Index: 1, LogTerm: 1},
		{Type: MsgVote, From: 1, To: 3, Term: 3, Index: 1, LogTerm: 1},
	}
	if diff := cmp.Diff(want, msgs(take(n))); diff != "" {
		t.Errorf("after the ack (-want +got):\n%s", diff)
	}
}

// Figure 2: a follower persists new entries before acknowledging them.
// Neither the first append's answer nor a duplicate's (which adds nothing
// new but refers to the same, not yet durable, entries) leaves before the
// acknowledgement.
func TestPersistAppendResponseWaitsForAck(t *testing.T) {
	n := restored(t, defaultTestConfig(1), ids(3), HardState{Term: 2}, 1)
	app := Message{Type: MsgApp, From: 2, To: 1, Term: 2, Index: 1, LogTerm: 1, Entries: mkEntries(2, 2, 2)}
	step(t, n, app)
	acts := take(n)
	ps := persists(acts)
	if len(ps) != 1 || len(ps[0].Entries) != 2 || !ps[0].Sync {
		t.Fatalf("actions %v, want one synced persist of entries 2..3", acts)
	}
	if got := msgs(acts); len(got) != 0 {
		t.Fatalf("sent %v before the entries were durable", got)
	}
	step(t, n, app) // duplicate
	if got := take(n); len(got) != 0 {
		t.Fatalf("duplicate append: actions %v before the entries were durable", got)
	}
	if err := n.AckPersist(ps[0].ID); err != nil {
		t.Fatal(err)
	}
	want := []Message{
		{Type: MsgAppResp, From: 1, To: 2, Term: 2, Index: 3},
		{Type: MsgAppResp, From: 1, To: 2, Term: 2, Index: 3},
	}
	if diff := cmp.Diff(want, msgs(take(n))); diff != "" {
		t.Errorf("after the ack (-want +got):\n%s", diff)
	}
}

// Thesis §10.2.1: the leader sends its new entries to followers in
// parallel with writing them itself (the appends leave in the same batch
// as the persist, before its acknowledgement), but counts its own log
// toward the commit quorum only up to what it has acknowledged.
func TestPersistLeaderCountsOnlyAckedSelf(t *testing.T) {
	tn := elect3(t)
	tn.async = true
	tn.isolate(3)
	l := tn.nodes[1]
	idx, _ := tn.propose(1, "a")
	acts := take(l)
	if len(persists(acts)) != 1 {
		t.Fatalf("leader actions %v, want a persist of the entry", acts)
	}
	var toFollowers int
	for _, m := range msgs(acts, MsgApp) {
		if len(m.Entries) > 0 && m.Entries[len(m.Entries)-1].Index == idx {
			toFollowers++
		}
	}
	if toFollowers != 2 {
		t.Fatalf("leader sent the entry to %d followers with its own write pending, want 2", toFollowers)
	}
	tn.pending[1] = persists(acts)
	for _, a := range acts {
		if a.Kind == ActionSend {
			tn.queue = append(tn.queue, a.Message)
		}
	}
	// Node 2 stores and acknowledges; the leader has not.
	tn.deliverAll()
	tn.ackAll(2)
	tn.deliverAll()
	if pr, _ := l.Progress(2); pr.Match != idx {
		t.Fatalf("node 2 match %d, want %d", pr.Match, idx)
	}
	if st := l.Status(); st.Commit != idx-1 || st.Stable != idx-1 {
		t.Fatalf("commit %d stable %d with only node 2 durable, want %d %d", st.Commit, st.Stable, idx-1, idx-1)
	}
	tn.ackAll(1)
	if got := l.Status().Commit; got != idx {
		t.Errorf("commit %d after the leader's own ack, want %d", got, idx)
	}
}

// The persistence contract: an acknowledgement of a persist whose entries
// have since been overwritten in memory (a new leader truncated them before
// the write finished) does not mark the new entries at those indexes
// durable; the acknowledgement of the persist that wrote them does.
func TestPersistStaleAckDoesNotAdvanceStable(t *testing.T) {
	n := restored(t, defaultTestConfig(1), ids(3), HardState{Term: 1})
	step(t, n, Message{Type: MsgApp, From: 2, To: 1, Term: 1, Entries: mkEntries(1, 1, 1, 1, 1, 1)})
	p1 := persists(take(n))
	step(t, n, Message{Type: MsgApp, From: 3, To: 1, Term: 2, Index: 2, LogTerm: 1, Entries: mkEntries(3, 2)})
	p2 := persists(take(n))
	if len(p1) != 1 || len(p2) != 1 || p2[0].Entries[0].Index != 3 {
		t.Fatalf("persists %v then %v, want entries 1..5 then 3", p1, p2)
	}
	if err := n.AckPersist(p1[0].ID); err != nil {
		t.Fatal(err)
	}
	if st := n.Status(); st.Stable >= 3 {
		t.Errorf("stale ack of entries 1..5 made stable %d, but entry 3 was overwritten and its new version is not durable", st.Stable)
	}
	if err := n.AckPersist(p2[0].ID); err != nil {
		t.Fatal(err)
	}
	if st := n.Status(); st.Stable != 3 || st.LastIndex != 3 {
		t.Errorf("stable %d last %d after both acks, want 3 3", st.Stable, st.LastIndex)
	}
}

// The persistence contract: AckPersist of an ID never emitted is an error
// wrapping ErrBadAck and changes nothing; repeating or acknowledging an
// older ID is harmless.
func TestPersistAckUnknownID(t *testing.T) {
	build := func() *Node {
		n := restored(t, defaultTestConfig(1), ids(3), HardState{Term: 1})
		step(t, n, Message{Type: MsgApp, From: 2, To: 1, Term: 1, Entries: mkEntries(1, 1, 1)})
		return n
	}
	n, clone := build(), build()
	acts, cacts := take(n), take(clone)
	id := persists(acts)[0].ID
	persists(cacts)
	for _, bad := range []uint64{id + 1, id + 100, ^uint64(0)} {
		if err := n.AckPersist(bad); !errors.Is(err, ErrBadAck) {
			t.Errorf("AckPersist(%d) = %v, want ErrBadAck", bad, err)
		}
	}
	if diff := cmp.Diff(clone.Status(), n.Status()); diff != "" {
		t.Errorf("bad acks changed the status (-want +got):\n%s", diff)
	}
	for _, x := range []*Node{n, clone} {
		if err := x.AckPersist(id); err != nil {
			t.Fatal(err)
		}
	}
	if diff := cmp.Diff(take(clone), take(n)); diff != "" {
		t.Errorf("after bad acks, the node acts differently (-want +got):\n%s", diff)
	}
	for _, again := range []uint64{id, id - 1, 0} {
		if err := n.AckPersist(again); err != nil {
			t.Errorf("AckPersist(%d) again: %v", again, err)
		}
	}
	if acts := take(n); len(acts) != 0 {
		t.Errorf("repeated acks produced %v", acts)
	}
}

// The persistence contract: apply actions never include entries not yet
// durable locally, even when they are known committed (a follower told the
// commit index along with the entries).
func TestPersistApplyWaitsForDurability(t *testing.T) {
	n := restored(t, defaultTestConfig(1), ids(3), HardState{Term: 1})
	step(t, n, Message{Type: MsgApp, From: 2, To: 1, Term: 1, Entries: mkEntries(1, 1, 1, 1), Commit: 3})
	acts := take(n)
	if st := n.Status(); st.Commit != 3 || st.Stable != 0 {
		t.Fatalf("commit %d stable %d, want 3 0", st.Commit, st.Stable)
	}
	if got := applied(acts); len(got) != 0 {
		t.Fatalf("applied %v before it was durable", got)
	}
	p := persists(acts)
	if err := n.AckPersist(p[0].ID); err != nil {
		t.Fatal(err)
	}
	if got := indexes(applied(take(n))); !slices.Equal(got, []Index{1, 2, 3}) {
		t.Errorf("applied %v after the ack, want [1 2 3]", got)
	}
}

// The persistence contract, end to end on a leader: with its own write
// pending it neither commits nor applies, even once every follower has
// the entry durably (in a single-voter cluster it has no one else).
func TestPersistSingleNodeAsync(t *testing.T) {
	n, err := Bootstrap(defaultTestConfig(1), ids(1))
	if err != nil {
		t.Fatal(err)
	}
	syncRun(t, n)
	n.Campaign()
	syncRun(t, n)
	idx, _, err := n.Propose([]byte("a"))
	if err != nil {
		t.Fatal(err)
	}
	acts := take(n)
	if st := n.Status(); st.Commit == idx || len(applied(acts)) != 0 {
		t.Fatalf("commit %d, applied %v with the write pending", st.Commit, applied(acts))
	}
	if err := n.AckPersist(persists(acts)[0].ID); err != nil {
		t.Fatal(err)
	}
	if got := dataOf(applied(take(n))); !slices.Equal(got, []string{"a"}) {
		t.Errorf("applied %q after the ack, want [a]", got)
	}
}

// Restart (Figure 2's persistent state): a server that crashes and
// restarts from storage loses no committed entry and applies nothing
// twice; the cluster goes on. Done for a follower and for the leader.
func TestRestartNoCommittedEntryLostNothingAppliedTwice(t *testing.T) {
	tn := elect3(t)
	for _, d := range []string{"a", "b"} {
		tn.propose(1, d)
	}
	tn.deliverAll()
	tn.crash(2)
	tn.propose(1, "c")
	tn.deliverAll()
	tn.restart(2)
	if st := tn.nodes[2].Status(); st.Commit != 3 || st.Applied != 3 || st.LastIndex != 3 {
		t.Fatalf("restarted node 2: %+v, want commit, applied and last index 3", st)
	}
	tn.tickAll(2)
	tn.crash(1)
	tn.restart(1)
	for i := 0; i < 100 && tn.leader() == None; i++ {
		tn.tickAll(1)
	}
	l := tn.leader()
	if l == None {
		t.Fatal("no leader after the old leader restarted")
	}
	tn.propose(l, "d")
	tn.deliverAll()
	tn.tickAll(2)
	for _, id := range tn.ids {
		if got := dataOf(tn.applied[id]); !slices.Equal(got, []string{"a", "b", "c", "d"}) {
			t.Errorf("node %d applied %q, want [a b c d]", id, got)
		}
		for i, e := range tn.applied[id] {
			if e.Index != Index(i+1) {
				t.Errorf("node %d applied index %d in position %d: applied twice or skipped", id, e.Index, i+1)
				break
			}
		}
	}
}

// Restart (Figure 2: votedFor is persistent): a server that voted and
// restarted remembers its vote and does not vote for another candidate in
// the same term.
func TestRestartRemembersVote(t *testing.T) {
	tn := newTestNet(t, 3, testCfg(noPreVote))
	step(t, tn.nodes[1], Message{Type: MsgVote, From: 2, To: 1, Term: 1})
	tn.drain(1)
	tn.queue = nil
	tn.crash(1)
	tn.restart(1)
	n := tn.nodes[1]
	if st := n.Status(); st.Term != 1 || st.Vote != 2 {
		t.Fatalf("restarted: term %d vote %d, want 1 2", st.Term, st.Vote)
	}
	step(t, n, Message{Type: MsgVote, From: 3, To: 1, Term: 1})
	got := msgs(syncRun(t, n), MsgVoteResp)
	if len(got) != 1 || !got[0].Reject {
		t.Errorf("answer to a second candidate of term 1 after restart: %v, want a rejection", got)
	}
}

// Restart with an asynchronous caller: a crash loses every write not yet
// acknowledged. The leader never counted such entries, so nothing committed
// is lost, and the restarted follower catches up.
func TestRestartLosesOnlyUnackedWrites(t *testing.T) {
	tn := elect3(t)
	tn.async = true
	tn.propose(1, "a")
	tn.deliverAll()
	tn.ackAll(1)
	tn.deliverAll() // nodes 2 and 3 hold "a" in memory, not durably
	before, _ := tn.nodes[1].Progress(2)
	if before.Match != 1 {
		t.Fatalf("node 2 match %d before any ack, want 1", before.Match)
	}
	tn.crash(2)
	tn.restart(2)
	if st := tn.nodes[2].Status(); st.LastIndex != 1 {
		t.Fatalf("restarted node 2 holds up to %d, want 1: the write of entry 2 was never acknowledged", st.LastIndex)
	}
	if got := tn.nodes[1].Status().Commit; got != 1 {
		t.Fatalf("leader commit %d, want 1", got)
	}
	tn.async = false
	tn.ackAll(3)
	tn.tickAll(5)
	for _, id := range tn.ids {
		if got := dataOf(tn.applied[id]); !slices.Equal(got, []string{"a"}) {
			t.Errorf("node %d applied %q, want [a]", id, got)
		}
	}
}

// Restart with an asynchronous caller: a follower may apply entries whose
// commit index it has not yet persisted (the commit index is persisted
// lazily, and losing it is harmless). After a crash it restarts with an
// applied index beyond its stored commit index, applying nothing twice.
func TestRestartAppliedBeyondStoredCommit(t *testing.T) {
	tn := elect3(t)
	tn.propose(1, "a")
	tn.deliverAll()
	tn.async = true
	tn.propose(1, "b")
	tn.deliverAll()
	for _, id := range tn.ids {
		tn.ackAll(id)
	}
	tn.deliverAll() // the leader commits "b" and tells the followers
	if got := dataOf(tn.applied[2]); !slices.Equal(got, []string{"a", "b"}) {
		t.Fatalf("node 2 applied %q, want [a b]", got)
	}
	if c := tn.storage[2].hs.Commit; c >= 3 {
		t.Fatalf("node 2 stored commit %d: the scenario needs it not yet persisted", c)
	}
	tn.crash(2)
	tn.async = false
	tn.restart(2)
	if st := tn.nodes[2].Status(); st.Applied != 3 || st.Commit < 3 {
		t.Fatalf("restarted node 2: applied %d commit %d, want 3 and at least 3", st.Applied, st.Commit)
	}
	tn.propose(1, "c")
	tn.deliverAll()
	if got := dataOf(tn.applied[2]); !slices.Equal(got, []string{"a", "b", "c"}) {
		t.Errorf("node 2 applied %q, want [a b c]", got)
	}
}

// Restart (thesis §3.8, Leader Completeness §5.4): a candidate that crashes
// before its new term and the entries its vote requests describe are
// durable restarts in the older term with a shorter log. Campaigning again,
// it reaches the same term; it must not win it with grants its earlier
// incarnation collected for a longer log, or it would overwrite a committed
// entry. (Found by TestPropertyClusterSafety.)
func TestRestartCandidateCannotReuseGrantsOfLostTerm(t *testing.T) {
	// Without check-quorum, so that nodes 1 and 2 hear node 3 out.
	tn := newTestNet(t, 3, testCfg(classic))
	tn.campaign(2)
	tn.async = true
	idx, _ := tn.propose(2, "x")
	tn.deliverAll()
	tn.ackAll(1)
	tn.ackAll(2)
	tn.deliverAll()
	if got := tn.nodes[2].Status().Commit; got != idx {
		t.Fatalf("leader commit %d, want %d: x durable on 1 and 2", got, idx)
	}
	// Node 3 holds x in memory only, and stands for term 2.
	tn.nodes[3].Campaign()
	tn.deliverAll()
	tn.ackAll(1)
	tn.ackAll(2)
	tn.drainAll()
	// Crash: x and term 2 were never durable on node 3.
	tn.crash(3)
	tn.restart(3)
	if st := tn.nodes[3].Status(); st.Term != 1 || st.LastIndex != idx-1 {
		t.Fatalf("restarted node 3: %+v, want term 1 without x", st)
	}
	tn.nodes[3].Campaign()
	tn.ackAll(3)
	tn.async = false
	tn.deliverAll()
	if st := tn.nodes[3].Status(); st.Role == RoleLeader {
		t.Fatalf("node 3 leads term %d without committed entry %d", st.Term, idx)
	}
	for i := 0; i < 200 && len(tn.applied[3]) < int(idx); i++ {
		tn.tickAll(1)
	}
	want := tn.applied[2][:idx] // what the leader of term 1 applied: the no-op and x
	for _, id := range tn.ids {
		got := tn.applied[id]
		if len(got) < int(idx) {
			t.Errorf("node %d applied %d entries, want at least %d", id, len(got), idx)
			continue
		}
		if diff := cmp.Diff(want, got[:idx]); diff != "" {
			t.Errorf("node %d applied (-leader of term 1 +node %d):\n%s", id, id, diff)
		}
	}
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

// The persistence contract (Figure 2: entries are on stable storage before
// they are acknowledged or applied): a persist acknowledgement vouches for
// the entries that persist wrote, not for whatever now sits at the same
// indexes. P1 writes entries 1..3 of term 1; before it is acknowledged a
// term-2 leader overwrites entries 2..3 (P2), and says they are committed.
// Acknowledging P1 alone makes entry 1 durable and nothing after it: the
// term-2 entries must not become stable, be acknowledged to the leader
// (which would count them toward commitment), or be applied.
func TestPersistOldAckDoesNotVouchForOverwrittenEntries(t *testing.T) {
	n := restored(t, defaultTestConfig(1), ids(3), HardState{Term: 1})
	step(t, n, Message{Type: MsgApp, From: 2, To: 1, Term: 1, Entries: mkEntries(1, 1, 1, 1)})
	p1 := persists(take(n))
	step(t, n, Message{Type: MsgApp, From: 3, To: 1, Term: 2, Index: 1, LogTerm: 1, Commit: 3, Entries: mkEntries(2, 2, 2)})
	p2 := persists(take(n))
	if len(p1) != 1 || len(p2) != 1 || p2[0].Entries[0].Index != 2 || p2[0].Entries[len(p2[0].Entries)-1].Index != 3 {
		t.Fatalf("persists %v then %v, want entries 1..3 then 2..3", p1, p2)
	}
	if err := n.AckPersist(p1[0].ID); err != nil {
		t.Fatal(err)
	}
	acts := take(n)
	if st := n.Status(); st.Stable > 1 || st.Applied > 1 {
		t.Errorf("after the old acknowledgement: stable %d applied %d, want at most 1: entries 2..3 of term 2 are not durable", st.Stable, st.Applied)
	}
	for _, e := range applied(acts) {
		if e.Index > 1 {
			t.Errorf("applied entry %d (term %d) before its write completed", e.Index, e.Term)
		}
	}
	// (The answer to leader 2's append is due: P1 wrote what it vouches
	// for, entries 1..3 of term 1, and a network may delay any answer.)
	for _, m := range msgs(acts, MsgAppResp) {
		if m.To == 3 && !m.Reject && m.Index > 1 {
			t.Errorf("acknowledged index %d to leader 3 before its write completed", m.Index)
		}
	}
	if err := n.AckPersist(p2[0].ID); err != nil {
		t.Fatal(err)
	}
	acts = take(n)
	if st := n.Status(); st.Stable != 3 || st.Applied != 3 {
		t.Errorf("after both acknowledgements: stable %d applied %d, want 3 3", st.Stable, st.Applied)
	}
	if got := msgs(acts, MsgAppResp); len(got) == 0 || got[len(got)-1].To != 3 || got[len(got)-1].Index != 3 {
		t.Errorf("after both acknowledgements, append answers %v, want one acknowledging 3", got)
	}
}

// Thesis §4.1: a server uses the latest configuration in its log, whether
// or not it is committed, and §5.1 restarts a server from its stable
// state: NewNode must rebuild the configuration from the configuration
// entries after the snapshot, not take the snapshot's. Otherwise a
// restarted server counts votes and commitment with a configuration it
// already left.
func TestRestartRebuildsConfigurationFromLog(t *testing.T) {
	for _, tc := range []struct {
		name   string
		commit bool
		joint  bool
	}{
		{"committed change", true, false},
		{"uncommitted change", false, false},
		{"joint configuration", true, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			tn := elect3(t)
			tn.join(4, nil)
			tn.startEmpty(4)
			if !tc.commit {
				tn.cut[1][3] = true // only 2 gets the change: no majority of {1,2,3,4}
				tn.cut[1][4] = true
			}
			var idx Index
			if tc.joint {
				var err error
				idx, _, err = tn.nodes[1].ProposeJointMembershipChange(false, change(AddVoter, 4), change(RemoveMember, 3))
				if err != nil {
					t.Fatal(err)
				}
			} else {
				idx = mustChange(tn, 1, change(AddVoter, 4))
			}
			tn.deliverAll()
			if got := tn.nodes[2].Status().Commit >= idx; got != tc.commit {
				t.Fatalf("setup: change %d committed on node 2: %v, want %v", idx, got, tc.commit)
			}
			want := tn.nodes[2].Membership()
			tn.crash(2)
			tn.restart(2)
			if diff := cmp.Diff(want, tn.nodes[2].Membership()); diff != "" {
				t.Errorf("membership after restart (-want +got):\n%s", diff)
			}
		})
	}
}

// Figure 2 ("persist before responding"): each response waits for the
// persist that holds the state it vouches for, not merely for an earlier
// one. A follower that wrote two appends in two persists acknowledges the
// second append only once the second persist is durable.
func TestPersistEachResponseWaitsForItsOwnPersist(t *testing.T) {
	n := restored(t, defaultTestConfig(2), ids(3), HardState{Term: 1}, 1)
	step(t, n, Message{Type: MsgApp, From: 1, To: 2, Term: 1, Index: 1, LogTerm: 1, Entries: mkEntries(2, 1), Commit: 1})
	p1 := persists(take(n))
	step(t, n, Message{Type: MsgApp, From: 1, To: 2, Term: 1, Index: 2, LogTerm: 1, Entries: mkEntries(3, 1), Commit: 1})
	p2 := persists(take(n))
	if len(p1) != 1 || len(p2) != 1 {
		t.Fatalf("setup: want one persist per append, got %v and %v", p1, p2)
	}
	if err := n.AckPersist(p1[0].ID); err != nil {
		t.Fatal(err)
	}
	got := msgs(take(n), MsgAppResp)
	if len(got) != 1 || got[0].Index != 2 {
		t.Fatalf("after the first persist is durable, sent %v; want only the acknowledgement of index 2", got)
	}
	if err := n.AckPersist(p2[0].ID); err != nil {
		t.Fatal(err)
	}
	if got := msgs(take(n), MsgAppResp); len(got) != 1 || got[0].Index != 3 {
		t.Fatalf("after the second persist is durable, sent %v; want the acknowledgement of index 3", got)
	}
}
