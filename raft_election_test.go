package raft

import (
	"math"
	"slices"
	"testing"

	"github.com/google/go-cmp/cmp"
)

// Behaviour tests for terms (§5.1), leader election (§5.2), pre-vote
// (thesis §9.6) and check-quorum (thesis §6.2).

// §5.1: "If a server receives a request with a stale term number, it
// rejects the request." A stale AppendEntries changes nothing and is
// answered with the current term (Figure 2, AppendEntries rule 1) so that a
// deposed leader learns it was deposed, in every mode.
func TestTermStaleAppendAnswered(t *testing.T) {
	for _, tc := range []struct {
		name    string
		changes []func(*Config)
		answer  bool
	}{
		{"default", nil, true},
		{"pre-vote only", []func(*Config){noCheckQuorum}, true},
		{"check-quorum only", []func(*Config){noPreVote}, true},
		{"classic", []func(*Config){classic}, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			n := restored(t, testCfg(tc.changes...)(1), ids(3), HardState{Term: 5}, 1, 2)
			before := n.Status()
			step(t, n, Message{Type: MsgApp, From: 2, To: 1, Term: 3, Index: 2, LogTerm: 2, Entries: mkEntries(3, 3), Commit: 2})
			acts := syncRun(t, n)
			if diff := cmp.Diff(before, n.Status()); diff != "" {
				t.Errorf("stale MsgApp changed the status (-before +after):\n%s", diff)
			}
			var want []Message
			if tc.answer {
				want = []Message{{Type: MsgAppResp, From: 1, To: 2, Term: 5}}
			}
			if diff := cmp.Diff(want, msgs(acts)); diff != "" {
				t.Errorf("answer (-want +got):\n%s", diff)
			}
			if len(persists(acts)) != 0 {
				t.Errorf("stale MsgApp caused a persist: %v", acts)
			}
		})
	}
}

// §5.1 with thesis §9.6: a stale pre-vote request is rejected with the
// current term, and a stale vote request is never granted.
func TestTermStaleVoteRequestsRejected(t *testing.T) {
	n := restored(t, defaultTestConfig(1), ids(3), HardState{Term: 5}, 1, 2)
	step(t, n, Message{Type: MsgPreVote, From: 2, To: 1, Term: 4, Index: 9, LogTerm: 4})
	got := msgs(syncRun(t, n))
	want := []Message{{Type: MsgPreVoteResp, From: 1, To: 2, Term: 5, Reject: true}}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("stale pre-vote answer (-want +got):\n%s", diff)
	}

	step(t, n, Message{Type: MsgVote, From: 2, To: 1, Term: 4, Index: 9, LogTerm: 4})
	for _, m := range msgs(syncRun(t, n)) {
		if !m.Reject {
			t.Errorf("stale vote request granted: %v", m)
		}
	}
	if st := n.Status(); st.Term != 5 || st.Vote != None {
		t.Errorf("after stale vote request: term %d vote %d, want 5 and none", st.Term, st.Vote)
	}
}

// §5.1: responses from an older term are ignored: a leader does not count
// a stale acknowledgement toward its match index or commit.
func TestTermStaleResponseIgnored(t *testing.T) {
	tn := elect3(t, noCheckQuorum)
	tn.campaign(2)
	leader := tn.nodes[2]
	if st := leader.Status(); st.Role != RoleLeader || st.Term != 2 {
		t.Fatalf("node 2: %+v, want leader of term 2", st)
	}
	tn.isolate(1)
	tn.isolate(3)
	tn.propose(2, "x")
	tn.deliverAll()
	before, _ := leader.Progress(1)
	step(t, leader, Message{Type: MsgAppResp, From: 1, To: 2, Term: 1, Index: leader.Status().LastIndex})
	after, _ := leader.Progress(1)
	if before != after {
		t.Errorf("stale MsgAppResp changed progress: %+v -> %+v", before, after)
	}
	if st := leader.Status(); st.Commit != 2 || st.Role != RoleLeader || st.Term != 2 {
		t.Errorf("commit %d role %v term %d, want 2, leader, 2", st.Commit, st.Role, st.Term)
	}
}

// §5.1: "If RPC request or response contains term T > currentTerm: set
// currentTerm = T, convert to follower." The new term is persisted (with
// fsync) before anything else, and the vote is cleared.
func TestTermHigherAdopted(t *testing.T) {
	for _, tc := range []struct {
		name   string
		m      Message
		leader NodeID
	}{
		{"heartbeat", Message{Type: MsgHeartbeat, From: 3, To: 1, Term: 7}, 3},
		{"append", Message{Type: MsgApp, From: 3, To: 1, Term: 7, Index: 2, LogTerm: 2}, 3},
		{"append response", Message{Type: MsgAppResp, From: 3, To: 1, Term: 7, Index: 1}, None},
		{"vote response", Message{Type: MsgVoteResp, From: 3, To: 1, Term: 7, Reject: true}, None},
		{"vote request", Message{Type: MsgVote, From: 3, To: 1, Term: 7, Index: 1, LogTerm: 1}, None},
	} {
		for _, role := range []Role{RoleFollower, RoleCandidate, RoleLeader} {
			t.Run(tc.name+"/"+role.String(), func(t *testing.T) {
				cfg := testCfg(classic)(1)
				n := restored(t, cfg, ids(3), HardState{Term: 4, Vote: 1}, 1, 2)
				switch role {
				case RoleCandidate:
					if err := n.Campaign(); err != nil {
						t.Fatal(err)
					}
				case RoleLeader:
					n.Campaign()
					syncRun(t, n)
					step(t, n, Message{Type: MsgVoteResp, From: 2, To: 1, Term: 5})
				}
				syncRun(t, n)
				if got := n.Status().Role; got != role {
					t.Fatalf("setup: role %v, want %v", got, role)
				}
				step(t, n, tc.m)
				st := n.Status()
				if st.Term != 7 || st.Role != RoleFollower || st.Leader != tc.leader {
					t.Errorf("term %d role %v leader %d, want 7, follower, %d", st.Term, st.Role, st.Leader, tc.leader)
				}
				// The vote is cleared with the new term (the vote request
				// is refused: node 1's log (2, 2) is more up-to-date).
				wantVote := None
				if st.Vote != wantVote {
					t.Errorf("vote %d, want %d", st.Vote, wantVote)
				}
				acts := take(n)
				ps := persists(acts)
				if len(ps) != 1 || !ps[0].HasHardState || ps[0].HardState.Term != 7 || ps[0].HardState.Vote != wantVote || !ps[0].Sync {
					t.Errorf("want one synced persist of term 7, got %v", acts)
				}
			})
		}
	}
}

// §5.2: election timeouts are chosen randomly from [E, 2E) ticks, so that
// split votes are rare; each node draws its own from its seeded PRNG.
func TestElectionTimeoutRandomized(t *testing.T) {
	const e = 10
	seen := map[int]int{}
	for seed := uint64(0); seed < 300; seed++ {
		cfg := Config{ID: NodeID(1 + seed%3), Seed: seed, ElectionTicks: e}
		n, err := Bootstrap(cfg, ids(3))
		if err != nil {
			t.Fatal(err)
		}
		syncRun(t, n)
		ticks := 0
		for n.Status().Role == RoleFollower {
			n.Tick()
			ticks++
			if ticks > 2*e {
				t.Fatalf("seed %d: no election after %d ticks", seed, ticks)
			}
		}
		if ticks < e || ticks >= 2*e {
			t.Errorf("seed %d: election after %d ticks, want in [%d, %d)", seed, ticks, e, 2*e)
		}
		seen[ticks]++
	}
	// 300 draws from 10 values: every value should appear.
	if len(seen) != e {
		t.Errorf("timeouts drawn: %v, want all %d values in [%d, %d)", seen, e, e, 2*e)
	}
}

// §5.2: randomised timeouts make split votes rare only if the servers'
// draws are independent. Servers sharing a Seed (the zero value included)
// must not draw the same sequence shifted by a few draws: servers that
// drew equally often would then time out together in every election, and
// in a simulation where all tick in step no election would ever succeed.
func TestElectionTimeoutsIndependentAcrossNodes(t *testing.T) {
	const draws, e = 400, 10
	for _, seed := range []uint64{0, 1, 42, 1 << 63} {
		seqs := map[NodeID][]int{}
		for _, id := range ids(5) {
			n, err := Bootstrap(Config{ID: id, Seed: seed, ElectionTicks: e}, ids(5))
			if err != nil {
				t.Fatal(err)
			}
			for range draws {
				n.resetElectionTimer()
				seqs[id] = append(seqs[id], int(n.randomizedTimeout))
			}
		}
		for _, a := range ids(5) {
			for _, b := range ids(5) {
				for shift := -8; shift <= 8; shift++ {
					if a >= b && shift == 0 {
						continue
					}
					same, total := 0, 0
					for i := 8; i < draws-8; i++ {
						total++
						if seqs[a][i] == seqs[b][i+shift] {
							same++
						}
					}
					// Independent draws agree about once in e.
					if same > total/4 {
						t.Errorf("seed %d: nodes %d and %d draw the same timeout %d times in %d with a shift of %d draws", seed, a, b, same, total, shift)
					}
				}
			}
		}
	}
}

// §5.2: the timeout is redrawn at every election, so a candidate whose
// election failed retries after a new random timeout, not a fixed one.
func TestElectionTimeoutRedrawn(t *testing.T) {
	n, err := Bootstrap(Config{ID: 1, Seed: 7, ElectionTicks: 10, DisablePreVote: true}, ids(3))
	if err != nil {
		t.Fatal(err)
	}
	syncRun(t, n)
	var gaps []int
	ticks := 0
	for term := n.Status().Term; len(gaps) < 20; {
		n.Tick()
		syncRun(t, n)
		ticks++
		if st := n.Status(); st.Term != term {
			term = st.Term
			gaps = append(gaps, ticks)
			ticks = 0
		}
	}
	distinct := map[int]bool{}
	for _, g := range gaps {
		if g < 10 || g >= 20 {
			t.Errorf("candidate retried after %d ticks, want in [10, 20)", g)
		}
		distinct[g] = true
	}
	if len(distinct) < 4 {
		t.Errorf("retry timeouts %v are not randomised", gaps)
	}
}

// §5.2: "Each server will vote for at most one candidate in a given term,
// on a first-come-first-served basis." A repeated request from the same
// candidate is granted again (the answer may have been lost).
func TestElectionOneVotePerTerm(t *testing.T) {
	n := restored(t, defaultTestConfig(1), ids(3), HardState{Term: 1}, 1)
	var got []bool
	for _, from := range []NodeID{2, 3, 2} {
		step(t, n, Message{Type: MsgVote, From: from, To: 1, Term: 2, Index: 1, LogTerm: 1})
		for _, m := range msgs(syncRun(t, n), MsgVoteResp) {
			got = append(got, !m.Reject)
		}
	}
	if diff := cmp.Diff([]bool{true, false, true}, got); diff != "" {
		t.Errorf("grants for 2, 3, 2 (-want +got):\n%s", diff)
	}
	if st := n.Status(); st.Term != 2 || st.Vote != 2 {
		t.Errorf("term %d vote %d, want 2 and 2", st.Term, st.Vote)
	}
}

// §5.2: a node that has seen a leader of the current term does not vote
// for another candidate of that term, even if it never voted.
func TestElectionNoVoteWhenLeaderKnown(t *testing.T) {
	n := restored(t, testCfg(noCheckQuorum)(1), ids(3), HardState{Term: 2}, 1)
	step(t, n, Message{Type: MsgHeartbeat, From: 2, To: 1, Term: 2})
	syncRun(t, n)
	step(t, n, Message{Type: MsgVote, From: 3, To: 1, Term: 2, Index: 1, LogTerm: 1})
	got := msgs(syncRun(t, n), MsgVoteResp)
	if len(got) != 1 || !got[0].Reject {
		t.Errorf("vote for a second candidate of term 2 with leader 2 known: %v", got)
	}
}

// §5.2: when votes split and no candidate wins, the candidates time out
// and a new election in a later term elects exactly one leader.
func TestElectionSplitVoteReelection(t *testing.T) {
	tn := newTestNet(t, 4, testCfg(noPreVote))
	// Nodes 1 and 2 both stand in term 1; 3 hears only 1 and 4 only 2.
	tn.drop = func(m Message) bool {
		return m.Type == MsgVote && ((m.From == 1 && m.To == 4) || (m.From == 2 && m.To == 3))
	}
	tn.nodes[1].Campaign()
	tn.nodes[2].Campaign()
	tn.deliverAll()
	tn.drop = nil
	for _, id := range tn.ids {
		st := tn.nodes[id].Status()
		if st.Term != 1 || st.Role == RoleLeader {
			t.Fatalf("node %d: term %d role %v; want a split vote in term 1", id, st.Term, st.Role)
		}
	}
	if r1, r2 := tn.nodes[1].Status().Role, tn.nodes[2].Status().Role; r1 != RoleCandidate || r2 != RoleCandidate {
		t.Fatalf("roles after split vote: %v %v, want two candidates", r1, r2)
	}
	for i := 0; i < 40 && tn.leader() == None; i++ {
		tn.tickAll(1)
	}
	l := tn.leader()
	if l == None {
		t.Fatal("no leader 40 ticks after a split vote")
	}
	term := tn.nodes[l].Status().Term
	if term < 2 {
		t.Errorf("leader %d in term %d, want a later term than the split one", l, term)
	}
	for _, id := range tn.ids {
		st := tn.nodes[id].Status()
		if st.Term != term || st.Leader != l {
			t.Errorf("node %d: term %d leader %d, want %d and %d", id, st.Term, st.Leader, term, l)
		}
	}
}

// §5.2: "If the AppendEntries RPC is from a leader whose term is at least
// as large as the candidate's current term, then the candidate recognizes
// the leader as legitimate and returns to follower state." The same holds
// for a pre-candidate, and for a heartbeat. The vote cast stays.
func TestCandidateStepsDownOnAppendOfItsTerm(t *testing.T) {
	for _, tc := range []struct {
		name   string
		change func(*Config)
		typ    MessageType
	}{
		{"candidate/append", noPreVote, MsgApp},
		{"candidate/heartbeat", noPreVote, MsgHeartbeat},
		{"pre-candidate/append", nil, MsgApp},
		{"pre-candidate/heartbeat", nil, MsgHeartbeat},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var changes []func(*Config)
			if tc.change != nil {
				changes = append(changes, tc.change)
			}
			n := restored(t, testCfg(changes...)(1), ids(3), HardState{Term: 3}, 1)
			n.Campaign()
			syncRun(t, n)
			st := n.Status()
			wantRole, term := RoleCandidate, Term(4)
			if tc.change == nil {
				wantRole, term = RolePreCandidate, 3
			}
			if st.Role != wantRole || st.Term != term {
				t.Fatalf("setup: role %v term %d, want %v %d", st.Role, st.Term, wantRole, term)
			}
			m := Message{Type: tc.typ, From: 2, To: 1, Term: term}
			if tc.typ == MsgApp {
				m.Index, m.LogTerm = 1, 1
			}
			step(t, n, m)
			st = n.Status()
			if st.Role != RoleFollower || st.Term != term || st.Leader != 2 {
				t.Errorf("role %v term %d leader %d, want follower %d 2", st.Role, st.Term, st.Leader, term)
			}
			if tc.change != nil && st.Vote != 1 {
				t.Errorf("vote %d, want its own vote 1 kept", st.Vote)
			}
		})
	}
}

// §5.2: a candidate that receives votes from a majority becomes leader,
// and at once asserts leadership to every other server and appends a no-op
// entry of its term (§8).
func TestElectionWinnerAppendsNoop(t *testing.T) {
	tn := newTestNet(t, 3, nil)
	tn.campaign(2)
	if tn.leader() != 2 {
		t.Fatalf("leader %d, want 2", tn.leader())
	}
	for _, id := range tn.ids {
		got := tn.applied[id]
		if len(got) != 1 || got[0].Type != EntryNoop || got[0].Index != 1 || got[0].Term != 1 {
			t.Errorf("node %d applied %v, want the no-op (1, 1)", id, got)
		}
	}
}

// Thesis §9.6: a partitioned server that rejoins does not disrupt the
// cluster when pre-vote is on: it never bumps its term while it cannot win,
// and after healing the leader and term are unchanged. Without pre-vote
// (and without check-quorum) the same partition makes it bump its term
// every election timeout, and on rejoining it deposes the leader.
func TestPreVotePartitionedNodeDoesNotDisrupt(t *testing.T) {
	for _, tc := range []struct {
		name    string
		changes []func(*Config)
		disrupt bool
	}{
		{"pre-vote and check-quorum", nil, false},
		{"pre-vote only", []func(*Config){noCheckQuorum}, false},
		{"neither", []func(*Config){classic}, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			tn := elect3(t, tc.changes...)
			term := tn.nodes[1].Status().Term
			tn.isolate(3)
			tn.propose(1, "a") // node 3 falls behind
			tn.tickAll(50)
			t3 := tn.nodes[3].Status().Term
			if tc.disrupt && t3 < term+2 {
				t.Errorf("isolated node 3 in term %d after 50 ticks, want it campaigning in ever later terms", t3)
			}
			if !tc.disrupt && t3 != term {
				t.Errorf("isolated node 3 moved from term %d to %d despite pre-vote", term, t3)
			}
			tn.heal()
			tn.tickAll(50)
			l := tn.leader()
			st := tn.nodes[1].Status()
			if tc.disrupt {
				if st.Term <= term {
					t.Errorf("after rejoin: term %d, want the rejoining node to have forced a later term than %d", st.Term, term)
				}
			} else if l != 1 || st.Term != term {
				t.Errorf("after rejoin: leader %d in term %d, want 1 still leading term %d", l, st.Term, term)
			}
			// Either way the cluster ends with one leader and node 3 caught up.
			if l == None {
				t.Fatal("no leader after healing")
			}
			if got := dataOf(tn.applied[3]); !cmp.Equal(got, []string{"a"}) {
				t.Errorf("node 3 applied %q, want [a]", got)
			}
		})
	}
}

// Thesis §9.6: a pre-vote grant changes neither side's term or vote, and
// a pre-candidate moves to a real election only after a majority of
// pre-vote grants.
func TestPreVoteChangesNoTerm(t *testing.T) {
	n := restored(t, defaultTestConfig(1), ids(3), HardState{Term: 3, Vote: 2}, 1)
	step(t, n, Message{Type: MsgPreVote, From: 3, To: 1, Term: 4, Index: 1, LogTerm: 1})
	got := msgs(syncRun(t, n))
	want := []Message{{Type: MsgPreVoteResp, From: 1, To: 3, Term: 4}}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("pre-vote answer (-want +got):\n%s", diff)
	}
	if st := n.Status(); st.Term != 3 || st.Vote != 2 || st.Role != RoleFollower {
		t.Errorf("after granting a pre-vote: term %d vote %d role %v, want 3 2 follower", st.Term, st.Vote, st.Role)
	}

	c := restored(t, defaultTestConfig(1), ids(3), HardState{Term: 3}, 1)
	c.Campaign()
	acts := syncRun(t, c)
	if st := c.Status(); st.Role != RolePreCandidate || st.Term != 3 {
		t.Fatalf("pre-candidate: role %v term %d, want pre-candidate in term 3", st.Role, st.Term)
	}
	for _, m := range msgs(acts) {
		if m.Type != MsgPreVote || m.Term != 4 {
			t.Errorf("pre-candidate sent %v, want pre-votes for term 4", m)
		}
	}
	step(t, c, Message{Type: MsgPreVoteResp, From: 2, To: 1, Term: 4})
	syncRun(t, c)
	if st := c.Status(); st.Role != RoleCandidate || st.Term != 4 || st.Vote != 1 {
		t.Errorf("after a pre-vote majority: role %v term %d vote %d, want candidate 4 1", st.Role, st.Term, st.Vote)
	}
}

// Thesis §6.2: a leader that does not hear from a quorum for an election
// timeout steps down, so clients stuck with it learn to look elsewhere. The
// check runs once per election timeout over the answers received since the
// previous one; cut off just after a check (and just after the quorum last
// answered), the leader passes the next check on those answers and fails
// the one after: it steps down exactly two election timeouts after the
// cut, and never before one.
func TestCheckQuorumLeaderStepsDown(t *testing.T) {
	tn := elect3(t)
	const e = 10
	// One full round with the quorum answering: the check passes and
	// starts a new round, which the answers to this tick's heartbeats
	// already count toward.
	tn.tickAll(e)
	if tn.leader() != 1 {
		t.Fatalf("leader %d after a healthy round, want 1", tn.leader())
	}
	tn.isolate(1)
	for i := 1; i < 2*e; i++ {
		tn.tick(1, 1)
		tn.deliverAll()
		if r := tn.nodes[1].Status().Role; r != RoleLeader {
			t.Fatalf("leader stepped down %d ticks after the cut, want %d", i, 2*e)
		}
	}
	tn.tick(1, 1)
	if st := tn.nodes[1].Status(); st.Role != RoleFollower || st.Leader != None {
		t.Errorf("%d ticks after the cut: role %v leader %d, want follower with no leader", 2*e, st.Role, st.Leader)
	}
}

// Thesis §6.2: with check-quorum off, a leader cut from its quorum keeps
// leading (the classic paper's behaviour).
func TestCheckQuorumOffLeaderStays(t *testing.T) {
	tn := elect3(t, noCheckQuorum)
	tn.isolate(1)
	tn.tick(1, 100)
	if r := tn.nodes[1].Status().Role; r != RoleLeader {
		t.Errorf("role %v, want leader", r)
	}
}

// Thesis §6.2 (and §4.2.3): a follower that heard from a live leader
// within the election timeout ignores a vote request of a higher term: it
// neither answers, nor adopts the term, nor votes.
func TestCheckQuorumFollowerIgnoresVoteInLease(t *testing.T) {
	for _, typ := range []MessageType{MsgVote, MsgPreVote} {
		t.Run(typ.String(), func(t *testing.T) {
			tn := elect3(t)
			f := tn.nodes[2]
			term := f.Status().Term
			step(t, f, Message{Type: typ, From: 3, To: 2, Term: term + 1, Index: 9, LogTerm: term})
			acts := take(f)
			if len(acts) != 0 {
				t.Errorf("follower in lease answered a %v: %v", typ, acts)
			}
			if st := f.Status(); st.Term != term || st.Vote != 1 || st.Leader != 1 {
				t.Errorf("term %d vote %d leader %d, want %d 1 1", st.Term, st.Vote, st.Leader, term)
			}
			// Once the lease has run out (no leader for an election
			// timeout), the same request is heard.
			tn.isolate(2)
			tn.tick(2, 10)
			step(t, f, Message{Type: typ, From: 3, To: 2, Term: term + 1, Index: 9, LogTerm: term})
			got := msgs(syncRun(t, f), MsgVoteResp, MsgPreVoteResp)
			if len(got) != 1 || got[0].Reject {
				t.Errorf("after the lease: answers %v, want one grant", got)
			}
		})
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
func TestTermClassicStaleLeaderLearnsTermFromNodeThatCannotCampaign(t *testing.T) {
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
func TestPreVoteStaleGrantNotCounted(t *testing.T) {
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

// Thesis §6.2 with §4.3: in a joint configuration a leader must hear from
// a majority of each half within an election timeout, or step down. Here
// the old half {1,2,3} answers but the new half {1,4,5} does not.
func TestCheckQuorumJointNeedsBothHalves(t *testing.T) {
	tn := newTestNet(t, 5, nil)
	tn.campaign(1)
	n := tn.nodes[1]
	if _, _, err := n.ProposeMembershipChange(change(RemoveMember, 4)); err != nil {
		t.Fatal(err)
	}
	tn.deliverAll()
	if _, _, err := n.ProposeMembershipChange(change(RemoveMember, 5)); err != nil {
		t.Fatal(err)
	}
	tn.deliverAll()
	// Voters {1,2,3}; replace 2 and 3 by 4 and 5 through a joint
	// configuration that is never left (4 and 5 are cut off at once).
	tn.cut[4][1], tn.cut[5][1] = true, true
	if _, _, err := n.ProposeJointMembershipChange(false, change(AddVoter, 4), change(AddVoter, 5), change(RemoveMember, 2), change(RemoveMember, 3)); err != nil {
		t.Fatal(err)
	}
	tn.deliverAll()
	if !n.Membership().IsJoint() {
		t.Fatalf("want a joint configuration: %+v", n.Membership())
	}
	tn.tickAll(3 * 10)
	if st := n.Status(); st.Role == RoleLeader {
		t.Errorf("leader kept leading with no majority of the new half {1,4,5} for three election timeouts: %+v", st)
	}
}

// Thesis §4.3 and §6.2: in a joint configuration a leader needs a quorum of
// each half, for check-quorum as for everything else. With the whole
// incoming half answering and the outgoing half silent, it steps down.
func TestCheckQuorumJointNeedsOutgoingHalf(t *testing.T) {
	tn := newTestNet(t, 5, nil)
	tn.campaign(1)
	n := tn.nodes[1]
	for _, id := range []NodeID{4, 5} {
		if _, _, err := n.ProposeMembershipChange(MembershipChange{Type: RemoveMember, Node: id}); err != nil {
			t.Fatal(err)
		}
		tn.deliverAll()
	}
	// Voters {1,2,3}; move to {1,4,5} through a joint configuration that
	// is never left, then silence the outgoing voters 2 and 3.
	if _, _, err := n.ProposeJointMembershipChange(false,
		MembershipChange{Type: AddVoter, Node: 4}, MembershipChange{Type: AddVoter, Node: 5},
		MembershipChange{Type: RemoveMember, Node: 2}, MembershipChange{Type: RemoveMember, Node: 3}); err != nil {
		t.Fatal(err)
	}
	tn.deliverAll()
	if m := n.Membership(); !m.IsJoint() || n.Status().Commit < n.configs.lastIndex() {
		t.Fatalf("setup: want a committed joint configuration: %+v", m)
	}
	tn.cut[2][1], tn.cut[3][1] = true, true
	tn.tickAll(3 * 10)
	if st := n.Status(); st.Role == RoleLeader {
		t.Errorf("leader kept leading with no majority of the outgoing half {1,2,3} for three election timeouts: %+v", st)
	}
}

// §5.2, Figure 2 with §5.1: a grant binds its voter for the term, so it
// counts whatever the voter answered before. Without pre-vote a candidate
// that campaigns twice (terms t and t+1) can receive, from one voter, the
// rejection of its stale term-t request — answered at term t+1, so the
// candidate learns the current term (the liveness fix of issue 18) —
// before that voter's grant of its term-t+1 request. Counting only the
// first answer would drop the grant and leave a candidate that holds a
// majority without leadership (found by a second review).
func TestElectionGrantCountsAfterStaleRejection(t *testing.T) {
	tn := newTestNet(t, 3, testCfg(classic))
	tn.crash(3)
	take := func() []Message { q := tn.queue; tn.queue = nil; return q }
	to2 := func(ms []Message) Message {
		for _, m := range ms {
			if m.To == 2 && m.Type == MsgVote {
				return m
			}
		}
		t.Fatalf("no vote request to node 2 in %v", ms)
		return Message{}
	}
	if err := tn.nodes[1].Campaign(); err != nil {
		t.Fatal(err)
	}
	for tn.drain(1) {
	}
	first := to2(take())
	if err := tn.nodes[1].Campaign(); err != nil {
		t.Fatal(err)
	}
	for tn.drain(1) {
	}
	second := to2(take())
	if second.Term != first.Term+1 {
		t.Fatalf("second campaign at term %d, want %d", second.Term, first.Term+1)
	}
	step(t, tn.nodes[2], second)
	for tn.drain(2) {
	}
	grant := take()
	step(t, tn.nodes[2], first)
	for tn.drain(2) {
	}
	rejection := take()
	if len(grant) != 1 || grant[0].Reject || len(rejection) != 1 || !rejection[0].Reject || rejection[0].Term != second.Term {
		t.Fatalf("node 2 answered %v then %v, want a grant then a rejection at term %d", grant, rejection, second.Term)
	}
	step(t, tn.nodes[1], rejection[0])
	step(t, tn.nodes[1], grant[0])
	for tn.drain(1) {
	}
	if st := tn.nodes[1].Status(); st.Role != RoleLeader {
		t.Fatalf("node 1 holds its own and node 2's grant of term %d but is %v", second.Term, st.Role)
	}
}

// The election counter of a node that never campaigns (a learner, a
// witness, a removed voter) keeps counting while no leader is heard; it
// must saturate, not wrap: a wrapped, negative count would read as a
// leader heard a moment ago, and the node would refuse votes (check-quorum
// stickiness, thesis §6.2) for another 2^31 ticks (found by a second
// review; the counter is 32 bits wide to keep the Node small).
func TestElectionCounterSaturates(t *testing.T) {
	tn := witnessNet(t)
	w := tn.nodes[3]
	w.electionElapsed = math.MaxInt32 - 2
	tn.tick(3, 5)
	if got := w.Status().ElectionElapsed; got != math.MaxInt32 {
		t.Fatalf("election counter is %d after counting past its limit, want it held at %d", got, math.MaxInt32)
	}
}
