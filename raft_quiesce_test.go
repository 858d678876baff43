package raft

import (
	"errors"
	"fmt"
	"slices"
	"testing"
)

// Behaviour tests for quiescence (Config.QuiesceAfterTicks): an idle group
// whose followers hold the whole log stops heartbeating, and its nodes do
// nothing on Tick, until a proposal, a read, a message or Wake. This is an
// extension, not a rule of the thesis; it must keep the thesis's rules
// (§5.2 elections, §6.2 check-quorum, §6.4 reads) intact once awake.

// quietNet returns a 3-node cluster led by 1 with QuiesceAfterTicks set to
// after and every node quiescent.
func quietNet(t *testing.T, after int, changes ...func(*Config)) *testNet {
	t.Helper()
	tn := elect3(t, append(changes, func(c *Config) { c.QuiesceAfterTicks = after })...)
	tickUntil(tn, 10*after+30, "all quiescent", allQuiescent(tn, 1, 2, 3))
	return tn
}

func allQuiescent(tn *testNet, ids ...NodeID) func() bool {
	return func() bool {
		for _, id := range ids {
			if !tn.nodes[id].Quiescent() {
				return false
			}
		}
		return true
	}
}

// An idle leader whose followers have everything goes quiet after exactly
// QuiesceAfterTicks idle ticks and tells them; they go quiet too — also
// when QuiesceAfterTicks exceeds the election timeout, across the leader's
// check-quorum rounds.
func TestQuiesceIdleGroupGoesQuiet(t *testing.T) {
	for _, after := range []int{3, 25} {
		t.Run(fmt.Sprint(after), func(t *testing.T) {
			tn := elect3(t, func(c *Config) { c.QuiesceAfterTicks = after })
			tn.propose(1, "a")
			tn.deliverAll()
			ticks := tickUntil(tn, 100, "leader quiescent", func() bool { return tn.nodes[1].Quiescent() })
			if ticks != after {
				t.Errorf("leader went quiet after %d ticks, want %d", ticks, after)
			}
			if !allQuiescent(tn, 1, 2, 3)() {
				t.Errorf("followers not quiescent with the leader")
			}
			if st := tn.nodes[1].Status(); !st.Quiescent || st.Role != RoleLeader {
				t.Errorf("leader status %+v", st)
			}
		})
	}
}

// A group stays awake while it has work: entries not yet on every
// follower, a follower that does not answer, or a pending read.
func TestQuiesceNotWhileBusy(t *testing.T) {
	t.Run("follower behind", func(t *testing.T) {
		tn := elect3(t, func(c *Config) { c.QuiesceAfterTicks = 3 })
		tn.cut[1][3] = true
		tn.propose(1, "a")
		tn.tickAll(30)
		if tn.nodes[1].Quiescent() {
			t.Errorf("leader quiescent while node 3 lacks an entry")
		}
	})
	t.Run("follower down", func(t *testing.T) {
		// Down for longer than a check-quorum round: the leader has not
		// heard from it since.
		tn := elect3(t, func(c *Config) { c.QuiesceAfterTicks = 15 })
		tn.crash(3)
		tn.tickAll(100)
		if tn.nodes[1].Quiescent() {
			t.Errorf("leader quiescent while node 3 is down")
		}
	})
}

// A quiescent group does nothing on Tick — no action at all — and never
// campaigns, however long it stays quiet.
func TestQuiesceTicksDoNothing(t *testing.T) {
	tn := quietNet(t, 3)
	st := map[NodeID]Status{}
	for _, id := range []NodeID{1, 2, 3} {
		st[id] = tn.nodes[id].Status()
	}
	for range 200 {
		for _, id := range []NodeID{1, 2, 3} {
			n := tn.nodes[id]
			n.Tick()
			if n.HasActions() {
				t.Fatalf("quiescent node %d has actions after a tick: %v", id, n.Actions())
			}
		}
	}
	for _, id := range []NodeID{1, 2, 3} {
		got := tn.nodes[id].Status()
		if got.Role != st[id].Role || got.Term != st[id].Term || !got.Quiescent {
			t.Errorf("node %d: %+v after 200 quiet ticks, was %+v", id, got, st[id])
		}
	}
}

// A proposal, a read (on the leader or a follower), a message, or Wake
// brings a quiescent group back: the leader resumes heartbeats and the work
// completes.
func TestQuiesceWakes(t *testing.T) {
	for _, tc := range []struct {
		name string
		wake func(t *testing.T, tn *testNet)
		done func(tn *testNet) bool
	}{
		{"proposal on leader", func(t *testing.T, tn *testNet) { tn.propose(1, "x") },
			func(tn *testNet) bool { return slices.Equal(tn.appliedData(3), []string{"x"}) }},
		{"proposal on follower", func(t *testing.T, tn *testNet) { tn.propose(2, "x") },
			func(tn *testNet) bool { return slices.Equal(tn.appliedData(3), []string{"x"}) }},
		{"read on leader", func(t *testing.T, tn *testNet) {
			if err := tn.nodes[1].ReadIndex(1); err != nil {
				t.Fatal(err)
			}
		}, func(tn *testNet) bool { return len(readsAt(tn, 1)) == 1 && readsAt(tn, 1)[0].Err == nil }},
		{"lease read on leader", func(t *testing.T, tn *testNet) {
			if err := tn.nodes[1].LeaseRead(1); err != nil {
				t.Fatal(err)
			}
		}, func(tn *testNet) bool { return len(readsAt(tn, 1)) == 1 && readsAt(tn, 1)[0].Err == nil }},
		{"read on follower", func(t *testing.T, tn *testNet) {
			if err := tn.nodes[3].ReadIndex(1); err != nil {
				t.Fatal(err)
			}
		}, func(tn *testNet) bool { return len(readsAt(tn, 3)) == 1 && readsAt(tn, 3)[0].Err == nil }},
		{"Wake on leader", func(t *testing.T, tn *testNet) { tn.nodes[1].Wake() }, nil},
		{"Wake on follower", func(t *testing.T, tn *testNet) { tn.nodes[2].Wake() }, nil},
		{"message", func(t *testing.T, tn *testNet) {
			step(t, tn.nodes[2], Message{Type: MsgPreVote, From: 3, To: 2, Term: 2, Index: 9, LogTerm: 1})
		}, nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			tn := quietNet(t, 3)
			tc.wake(t, tn)
			tn.deliverAll()
			if tn.nodes[1].Quiescent() {
				t.Fatalf("leader still quiescent")
			}
			var heartbeats int
			tn.observe = func(m Message) {
				if m.Type == MsgHeartbeat {
					heartbeats++
				}
			}
			tn.tickAll(2)
			if heartbeats == 0 {
				t.Errorf("no heartbeats after waking")
			}
			if tc.done != nil {
				tickUntil(tn, 5, "the work done", func() bool { return tc.done(tn) })
			}
			if tn.leader() != 1 {
				t.Errorf("leader %d, want 1 undisturbed", tn.leader())
			}
			tickUntil(tn, 50, "quiet again", allQuiescent(tn, 1, 2, 3))
		})
	}
}

// A heartbeat answer the leader receives after going quiet — sent before
// it went quiet, delayed by the network — does not wake it.
func TestQuiesceLateHeartbeatResponse(t *testing.T) {
	tn := elect3(t, func(c *Config) { c.QuiesceAfterTicks = 3 })
	var last Message
	tn.observe = func(m Message) {
		if m.Type == MsgHeartbeatResp && m.From == 2 {
			last = m
		}
	}
	tickUntil(tn, 50, "all quiescent", allQuiescent(tn, 1, 2, 3))
	if last.Context == 0 {
		t.Fatalf("no heartbeat answer seen")
	}
	leader := tn.nodes[1]
	for range 2 {
		step(t, leader, last)
		if !leader.Quiescent() {
			t.Fatalf("late heartbeat answer (round %d) woke the leader", last.Context)
		}
		if leader.HasActions() {
			t.Fatalf("late heartbeat answer made work: %v", leader.Actions())
		}
	}
	// A late heartbeat reaching a follower does not wake it either, and its
	// answer does not wake the leader.
	hb := Message{Type: MsgHeartbeat, From: 1, To: 3, Term: leader.Status().Term, Commit: leader.Status().Commit, Context: last.Context}
	step(t, tn.nodes[3], hb)
	tn.deliverAll()
	if !allQuiescent(tn, 1, 2, 3)() {
		t.Errorf("a late heartbeat woke the group")
	}
}

// Quiescence trusts the caller to detect failures: a quiescent follower
// whose leader crashed waits forever, since hearing nothing is normal
// when quiet. When the caller learns the leader is gone (a broken
// connection, a failed health check) it calls Wake on the group's
// surviving nodes — on one of them is enough — and they elect a new leader.
func TestQuiesceLeaderGoneNeedsWake(t *testing.T) {
	tn := quietNet(t, 3)
	term := tn.nodes[1].Status().Term
	tn.crash(1)
	tn.tickAll(200)
	for _, id := range []NodeID{2, 3} {
		if st := tn.nodes[id].Status(); !st.Quiescent || st.Leader != 1 || st.Term != term {
			t.Fatalf("node %d: %+v; want quiescent, still following 1", id, st)
		}
	}
	tn.nodes[2].Wake()
	tickUntil(tn, 100, "a new leader", leaderAmong(tn, term, 2, 3))
	l := tn.leader()
	idx, _ := tn.propose(l, "x")
	tickUntil(tn, 5, "x committed", committedOn(tn, idx, 2, 3))
}

// Waking does not bypass the rules: a proposal refused for its size while
// quiescent changes nothing, and a membership change on a quiescent leader
// works (it is a proposal).
func TestQuiesceMembershipChangeWakes(t *testing.T) {
	tn := quietNet(t, 3)
	if _, _, err := tn.nodes[1].Propose(make([]byte, DefaultMaxMsgBytes+1)); !errors.Is(err, ErrEntryTooLarge) {
		t.Fatalf("oversized proposal: %v", err)
	}
	if !tn.nodes[1].Quiescent() {
		t.Errorf("a refused proposal woke the leader")
	}
	tn.join(4, nil)
	tn.startEmpty(4)
	idx := mustChange(tn, 1, change(AddLearner, 4))
	tickUntil(tn, 10, "learner added", committedOn(tn, idx, 1, 2, 3, 4))
}

// Thesis §5.2 (a candidate that wins no election times out and starts a
// new one): Campaign on a quiescent follower must take it out of
// quiescence, or the (pre-)candidate never ticks its election timer and,
// its first requests unanswered, never tries again.
func TestCampaignWakesQuiescentNode(t *testing.T) {
	tn := quietNet(t, 3)
	tn.crash(1)
	if err := tn.nodes[2].Campaign(); err != nil {
		t.Fatalf("Campaign: %v", err)
	}
	tn.dropTypes = map[MessageType]bool{MsgPreVote: true} // the first round is lost
	tn.deliverAll()
	tn.dropTypes = nil
	if tn.nodes[2].Quiescent() {
		t.Errorf("node 2 still quiescent after Campaign")
	}
	tickUntil(tn, 100, "node 2 or 3 elected", leaderAmong(tn, 0, 2, 3))
}

// TestQuiesceMembershipChangeWakesLeaderAfterLostAppends: a membership change
// proposed to a quiescent leader must wake it, as any proposal does
// (docs/reads.md, "Quiescent groups"). Asleep, the leader neither ticks
// nor heartbeats, so when the appends carrying the configuration entry
// are lost nothing ever retransmits them (paper §5.3: the leader retries
// AppendEntries indefinitely) and the change never commits; every later
// change is refused as pending. Both ProposeMembershipChange and
// LeaveJoint. Suspected on reading; raftsim catches it (the quiet
// scenario, seed 1, 3 nodes).
func TestQuiesceMembershipChangeWakesLeaderAfterLostAppends(t *testing.T) {
	for _, leave := range []bool{false, true} {
		t.Run(fmt.Sprintf("leave joint %v", leave), func(t *testing.T) {
			tn := quietNet(t, 3)
			tn.join(4, nil)
			tn.startEmpty(4)
			propose := func() Index { return mustChange(tn, 1, change(AddLearner, 4)) }
			if leave {
				if _, _, err := tn.nodes[1].ProposeJointMembershipChange(false, change(AddLearner, 4)); err != nil {
					t.Fatal(err)
				}
				tn.deliverAll()
				tickUntil(tn, 10*3+30, "all quiescent", allQuiescent(tn, 1, 2, 3))
				propose = func() Index {
					idx, _, err := tn.nodes[1].LeaveJoint()
					if err != nil {
						t.Fatal(err)
					}
					return idx
				}
			}
			tn.dropTypes = map[MessageType]bool{MsgApp: true}
			idx := propose()
			tn.deliverAll()
			tn.dropTypes = nil
			tickUntil(tn, 200, "the change committed", func() bool { return tn.nodes[1].Status().Commit >= idx })
		})
	}
}

// A quiescent follower's leader speaks again — a heartbeat of a round
// after the one it went quiet on, here because the leader was woken — so
// the group is awake: the follower must wake too and run its election
// timer (§5.2), or, if that leader then crashes, it waits forever for a
// Wake the caller has no reason to call (its transport saw the leader
// alive).
func TestQuiesceNewHeartbeatRoundWakesFollower(t *testing.T) {
	tn := quietNet(t, 3)
	tn.nodes[1].Wake()
	tn.deliverAll()
	for _, id := range []NodeID{2, 3} {
		if tn.nodes[id].Quiescent() {
			t.Errorf("follower %d still quiescent after its leader's new heartbeat round", id)
		}
	}
	term := tn.nodes[1].Status().Term
	tn.crash(1)
	tickUntil(tn, 100, "a new leader among 2, 3", leaderAmong(tn, term, 2, 3))
}

// Quiescence (docs/design.md): the leader goes quiet only once every
// member was sent the commit index. A leader that went quiet between
// committing an entry and passing its commit index on would send that
// append after its notice, waking its followers while it stays silent.
func TestQuiesceOnlyOnceCommitIndexSent(t *testing.T) {
	tn := quietNet(t, 1)
	l := tn.nodes[1]
	idx, _ := tn.propose(1, "x")
	tn.drain(1)
	for len(tn.queue) > 0 { // the followers store and acknowledge; the leader acts on nothing yet
		q := tn.queue
		tn.queue = nil
		for _, m := range q {
			tn.deliver(m)
		}
		for tn.drain(2) || tn.drain(3) {
		}
	}
	if st := l.Status(); st.Commit != idx {
		t.Fatalf("setup: want %d committed at the leader: %+v", idx, st)
	}
	l.Tick()
	if l.Quiescent() {
		t.Fatalf("leader went quiet before its followers were sent commit index %d", idx)
	}
	tickUntil(tn, 30, "all quiescent", allQuiescent(tn, 1, 2, 3))
	for _, id := range []NodeID{2, 3} {
		if got := tn.nodes[id].Status().Commit; got != idx {
			t.Errorf("node %d quiet with commit %d, want %d", id, got, idx)
		}
	}
}

// Quiescence (docs/design.md): only a follower that holds exactly the log
// the notice describes goes quiet. The transport may duplicate or delay a
// MsgQuiesce: arriving after the group woke and the follower stored newer
// entries, it must not silence the follower.
func TestQuiesceStaleNoticeIgnored(t *testing.T) {
	tn := quietNet(t, 3)
	l, f := tn.nodes[1], tn.nodes[2]
	st := l.Status()
	notice := Message{Type: MsgQuiesce, From: 1, To: 2, Term: st.Term, Index: st.LastIndex, Commit: st.Commit, Context: l.readRound}
	tn.propose(1, "x")
	tn.drop = func(m Message) bool { return m.To != 2 || m.Type == MsgQuiesce }
	tn.deliverAll() // only node 2 stores the new entry; nothing commits
	if fs := f.Status(); f.Quiescent() || fs.LastIndex != st.LastIndex+1 || fs.Commit != st.Commit {
		t.Fatalf("setup: want node 2 awake with one uncommitted entry more: %+v", fs)
	}
	step(t, f, notice)
	if f.Quiescent() {
		t.Errorf("a late quiesce notice for index %d silenced a follower holding %d", notice.Index, f.Status().LastIndex)
	}
}
