package raft

import (
	"errors"
	"math/rand/v2"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"
	"pgregory.net/rapid"
)

// Behaviour tests for linearizable reads (thesis §6.4): ReadIndex, reads
// forwarded by followers, and lease reads (§6.4.1). docs/reads.md explains
// what a caller does and what each path costs.

// readsAt returns the read results node id emitted so far.
func readsAt(tn *testNet, id NodeID) []ReadResult { return tn.reads[id] }

// errIs compares ReadResult errors with errors.Is in either direction.
var errIs = cmp.Comparer(func(a, b error) bool {
	return a == b || (a != nil && b != nil && (errors.Is(a, b) || errors.Is(b, a)))
})

func wantReads(t *testing.T, tn *testNet, id NodeID, want ...ReadResult) {
	t.Helper()
	if diff := cmp.Diff(want, readsAt(tn, id), errIs, cmpopts.EquateEmpty()); diff != "" {
		t.Errorf("read results of node %d (-want +got):\n%s", id, diff)
	}
}

// leaseCfg enables lease reads (MaxClockDriftTicks defaults to 2 of 10
// election ticks: the lease is 8 ticks).
func leaseCfg(c *Config) { c.EnableLeaseReads = true }

// Thesis §6.4, steps 2-3: the leader records its commit index as the read
// index, then confirms it is still leader by a heartbeat round that a
// majority acknowledges; only then is the read ready. In a five-server
// cluster one follower's acknowledgement is not enough, two are.
func TestReadIndexConfirmedByQuorum(t *testing.T) {
	tn := newTestNet(t, 5, nil)
	tn.campaign(1)
	tn.propose(1, "a")
	tn.deliverAll()
	commit := tn.nodes[1].Status().Commit

	allowed := map[NodeID]bool{}
	tn.drop = func(m Message) bool { return m.Type == MsgHeartbeatResp && !allowed[m.From] }
	if err := tn.nodes[1].ReadIndex(7); err != nil {
		t.Fatal(err)
	}
	tn.deliverAll()
	wantReads(t, tn, 1)

	allowed[2] = true
	tn.tickAll(1)
	wantReads(t, tn, 1)

	allowed[3] = true
	tn.tickAll(1)
	wantReads(t, tn, 1, ReadResult{ID: 7, Index: commit})
}

// Thesis §6.4, step 1: a new leader does not know which entries are
// committed until it commits one of its own term. Here the new leader has
// entry a, committed by the old leader, but not the news that it is
// committed; a read served at its commit index would miss a. It waits for
// its no-op to commit — heartbeats acknowledged by everyone do not help —
// and then uses the no-op's index.
func TestReadIndexNewLeaderWaitsForNoop(t *testing.T) {
	tn := elect3(t)
	var aIdx Index
	tn.drop = func(m Message) bool { return m.From == 1 && m.To == 2 && m.Commit >= aIdx && aIdx > 0 }
	aIdx, _ = tn.propose(1, "a")
	tn.deliverAll()
	if c := tn.nodes[1].Status().Commit; c != aIdx {
		t.Fatalf("old leader commit %d, want %d", c, aIdx)
	}
	if tn.nodes[2].Status().LastIndex != aIdx {
		t.Fatalf("node 2 lacks a")
	}
	if err := tn.nodes[1].TransferLeadership(2); err != nil {
		t.Fatal(err)
	}
	tn.dropTypes[MsgAppResp] = true // the no-op cannot commit
	tn.deliverAll()
	n := tn.nodes[2]
	if st := n.Status(); st.Role != RoleLeader || st.Commit >= aIdx {
		t.Fatalf("node 2: %+v, want leader with commit below %d", st, aIdx)
	}
	if err := n.ReadIndex(1); err != nil {
		t.Fatal(err)
	}
	tn.tickAll(3)
	wantReads(t, tn, 2)

	delete(tn.dropTypes, MsgAppResp)
	tickUntil(tn, 5, "read answered", func() bool { return len(readsAt(tn, 2)) > 0 })
	wantReads(t, tn, 2, ReadResult{ID: 1, Index: aIdx + 1})
}

// Thesis §6.4: a leader cut off in a minority, deposed without knowing it,
// must not answer a read: the majority may have committed newer writes.
// It answers only when it learns it lost leadership — by check-quorum on
// its own clock, or, without check-quorum, when it hears the newer term —
// and then with ErrReadLeadershipLost.
func TestReadIndexDeposedLeader(t *testing.T) {
	for _, tc := range []struct {
		name    string
		changes []func(*Config)
	}{
		{"check-quorum", nil},
		{"classic", []func(*Config){classic}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			tn := elect3(t, tc.changes...)
			term := tn.nodes[1].Status().Term
			tn.isolate(1)
			if err := tn.nodes[1].ReadIndex(5); err != nil {
				t.Fatal(err)
			}
			for i := 0; !leaderAmong(tn, term, 2, 3)(); i++ {
				if i == 100 {
					t.Fatalf("no leader among 2 and 3")
				}
				tn.tick(2, 1)
				tn.tick(3, 1)
				tn.deliverAll()
			}
			tn.propose(tn.leader(), "x")
			tn.deliverAll()
			wantReads(t, tn, 1)
			if tc.changes == nil {
				tn.tick(1, 2*tn.cfg(1).ElectionTicks)
				tn.deliverAll()
				if st := tn.nodes[1].Status(); st.Role == RoleLeader {
					t.Fatalf("isolated leader did not step down")
				}
			} else {
				tn.tick(1, 100)
				tn.deliverAll()
				wantReads(t, tn, 1) // still leader in its own eyes: still no answer
				tn.heal()
				tn.tickAll(3)
			}
			wantReads(t, tn, 1, ReadResult{ID: 5, Err: ErrReadLeadershipLost})
		})
	}
}

// Thesis §6.4, step 3: heartbeat rounds are numbered, so an old
// acknowledgement — delayed or duplicated by the network — confirms only the
// round it answered, never a read that arrived after that round was sent.
func TestReadIndexOldHeartbeatResponse(t *testing.T) {
	tn := elect3(t)
	var held []Message
	dropAll := false
	tn.drop = func(m Message) bool {
		if m.Type != MsgHeartbeatResp {
			return false
		}
		if m.From == 2 && !dropAll {
			held = append(held, m) // delayed
		}
		return dropAll || m.From == 2
	}
	leader := tn.nodes[1]
	if err := leader.ReadIndex(1); err != nil {
		t.Fatal(err)
	}
	tn.deliverAll()
	commit := leader.Status().Commit
	wantReads(t, tn, 1, ReadResult{ID: 1, Index: commit}) // confirmed by node 3
	if len(held) != 1 {
		t.Fatalf("held %d responses of node 2, want 1", len(held))
	}

	dropAll = true
	if err := leader.ReadIndex(2); err != nil {
		t.Fatal(err)
	}
	tn.deliverAll()
	for range 2 { // delivered late, then duplicated
		step(t, leader, held[0])
		tn.deliverAll()
	}
	wantReads(t, tn, 1, ReadResult{ID: 1, Index: commit})

	dropAll = false
	tn.drop = nil
	tn.tickAll(1)
	wantReads(t, tn, 1, ReadResult{ID: 1, Index: commit}, ReadResult{ID: 2, Index: commit})
}

// Thesis §6.4 (reads served by followers): a follower forwards the read to
// its leader, which confirms it as its own and returns the read index. A
// lost request or answer times out after two election timeouts
// (ErrReadTimeout); a target that is no longer leader refuses
// (ErrReadRefused); with no leader known the call fails at once.
func TestReadIndexFollower(t *testing.T) {
	t.Run("answered", func(t *testing.T) {
		tn := elect3(t)
		tn.propose(1, "a")
		tn.deliverAll()
		var confirmations int
		tn.observe = func(m Message) {
			if m.Type == MsgReadIndex {
				confirmations++
			}
		}
		if err := tn.nodes[2].ReadIndex(11); err != nil {
			t.Fatal(err)
		}
		tn.deliverAll()
		wantReads(t, tn, 2, ReadResult{ID: 11, Index: tn.nodes[1].Status().Commit})
		wantReads(t, tn, 1)
		if confirmations != 1 {
			t.Errorf("%d MsgReadIndex delivered, want 1", confirmations)
		}
	})
	t.Run("timeout", func(t *testing.T) {
		tn := elect3(t)
		tn.dropTypes[MsgReadIndex] = true
		if err := tn.nodes[2].ReadIndex(12); err != nil {
			t.Fatal(err)
		}
		timeout := 2 * tn.cfg(2).ElectionTicks
		tn.tickAll(timeout - 1)
		wantReads(t, tn, 2)
		tn.tickAll(1)
		wantReads(t, tn, 2, ReadResult{ID: 12, Err: ErrReadTimeout})
		if tn.nodes[2].Status().Leader != 1 {
			t.Errorf("the follower lost its leader: the timeout is not a step-down")
		}
	})
	t.Run("refused", func(t *testing.T) {
		tn := elect3(t)
		tn.isolate(1)
		tn.tick(1, 2*tn.cfg(1).ElectionTicks) // check-quorum deposes it
		if st := tn.nodes[1].Status(); st.Role == RoleLeader {
			t.Fatalf("node 1 still leads")
		}
		tn.heal()
		if tn.nodes[2].Status().Leader != 1 {
			t.Fatalf("node 2 no longer believes 1 leads")
		}
		if err := tn.nodes[2].ReadIndex(13); err != nil {
			t.Fatal(err)
		}
		tn.deliverAll()
		wantReads(t, tn, 2, ReadResult{ID: 13, Err: ErrReadRefused})
	})
	t.Run("no leader", func(t *testing.T) {
		tn := newTestNet(t, 3, nil)
		err := tn.nodes[2].ReadIndex(14)
		var nle *NotLeaderError
		if !errors.As(err, &nle) || nle.Leader != None {
			t.Fatalf("ReadIndex with no leader: %v, want *NotLeaderError with no leader", err)
		}
		tn.tickAll(3)
		wantReads(t, tn, 2)
	})
}

// Thesis §6.4: every read gets exactly one answer — ready or failed, from
// the call itself or in one later action — however the network drops
// messages, partitions the cluster and moves leadership. A ready read's
// index is at least every commit index any server knew when the read was
// issued (it reflects every write committed before it).
func TestPropertyEveryReadOneAnswer(t *testing.T) {
	rapid.Check(t, func(rt *rapid.T) {
		lease := rapid.Bool().Draw(rt, "lease")
		cfg := testCfg()
		if lease {
			cfg = testCfg(leaseCfg)
		}
		tn := newTestNet(rapidTB{t, rt}, 3, cfg)
		rng := rand.New(rand.NewPCG(rapid.Uint64().Draw(rt, "seed"), 1))
		dropPct := rapid.IntRange(0, 40).Draw(rt, "drop %")
		tn.drop = func(Message) bool { return rng.IntN(100) < dropPct }

		type issued struct {
			at     NodeID
			commit Index
		}
		reads := map[uint64]issued{}
		next := uint64(1)
		for range rapid.IntRange(1, 60).Draw(rt, "steps") {
			switch op := rapid.IntRange(0, 6).Draw(rt, "op"); op {
			case 0, 1:
				at := NodeID(rapid.IntRange(1, 3).Draw(rt, "at"))
				var maxCommit Index
				for _, id := range tn.ids {
					maxCommit = max(maxCommit, tn.nodes[id].Status().Commit)
				}
				var err error
				if op == 0 {
					err = tn.nodes[at].ReadIndex(next)
				} else {
					err = tn.nodes[at].LeaseRead(next)
				}
				if err == nil {
					reads[next] = issued{at, maxCommit}
				} else if !errors.Is(err, ErrNotLeader) {
					rt.Fatalf("read %d at %d: %v", next, at, err)
				}
				next++
			case 2, 3:
				tn.tickAll(rapid.IntRange(1, 8).Draw(rt, "ticks"))
			case 4:
				tn.isolate(NodeID(rapid.IntRange(1, 3).Draw(rt, "isolate")))
			case 5:
				tn.heal()
			case 6:
				if l := tn.leader(); l != None {
					tn.propose(l, "w")
				}
			}
			tn.deliverAll()
		}
		tn.drop = nil
		tn.heal()
		tn.tickAll(5 * tn.cfg(1).ElectionTicks)

		answers := map[uint64]int{}
		for id, results := range tn.reads {
			for _, r := range results {
				is, ok := reads[r.ID]
				switch {
				case !ok:
					rt.Fatalf("node %d answered read %d, which was never issued or failed at once", id, r.ID)
				case id != is.at:
					rt.Fatalf("read %d issued at %d answered at %d", r.ID, is.at, id)
				case r.Err == nil && r.Index < is.commit:
					rt.Fatalf("read %d ready at index %d, but %d was committed when it was issued", r.ID, r.Index, is.commit)
				}
				answers[r.ID]++
			}
		}
		for id := range reads {
			if answers[id] != 1 {
				rt.Fatalf("read %d answered %d times, want once", id, answers[id])
			}
		}
	})
}

// Thesis §11.7.2: a witness holds no state machine, so a read index handed
// to its caller could only be served from nothing. ReadIndex and LeaseRead
// on a witness fail at once with ErrWitnessRead and send nothing.
func TestReadOnWitnessRefused(t *testing.T) {
	tn := witnessNet(t)
	w := tn.nodes[3]
	for name, read := range map[string]func(uint64) error{"ReadIndex": w.ReadIndex, "LeaseRead": w.LeaseRead} {
		if err := read(7); !errors.Is(err, ErrWitnessRead) {
			t.Errorf("%s on a witness: %v, want ErrWitnessRead", name, err)
		}
		if sent := msgs(take(w), MsgReadIndex); len(sent) != 0 {
			t.Errorf("%s on a witness sent %v", name, sent)
		}
	}
}

// Thesis §6.4 (follower reads): a follower asks its leader for the read
// index, and only the leader can vouch that the index is current. An
// answer to a forwarded read from any other server of the term — no
// correct one sends it — must not complete the read with its index.
func TestReadIndexFollowerAnsweredOnlyByLeader(t *testing.T) {
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

// Thesis §4.2.2: a leader that a not-yet-committed configuration removes
// keeps managing the cluster but does not count itself in that
// configuration's majorities — reads included (§6.4: the read index is
// confirmed by a heartbeat round acknowledged by a majority). With only
// node 2 answering, {2,3} has no majority, though 1 and 2 would be one of
// the old configuration; once 3 answers too the read is served.
func TestReadIndexOnLeaderBeingRemovedDoesNotCountItself(t *testing.T) {
	tn := elect3(t)
	tn.propose(1, "a")
	tn.deliverAll()
	tn.cut[3][1] = true // only node 2 acknowledges
	mustChange(tn, 1, change(RemoveMember, 1))
	tn.deliverAll()
	n := tn.nodes[1]
	if n.Status().Role != RoleLeader || n.Membership().IsVoter(1) {
		t.Fatalf("want 1 leading a configuration without it: %+v %+v", n.Status(), n.Membership())
	}
	if err := n.ReadIndex(9); err != nil {
		t.Fatal(err)
	}
	tn.deliverAll()
	tn.tickAll(1)
	wantReads(t, tn, 1)
	tn.heal()
	tn.tickAll(1)
	if rs := tn.reads[1]; len(rs) != 1 || rs[0].ID != 9 {
		t.Fatalf("reads on 1 after healing: %+v, want read 9 answered", rs)
	}
}

// Thesis §6.4, step 3: the heartbeat round that confirms a read must start
// after the read arrived. A round already in flight may be answered by
// followers that have since moved on — a newer leader may have committed
// writes the read must see — so its acknowledgements vouch for nothing
// about the read, even when they arrive after it.
func TestReadIndexWaitsForARoundStartedAfterIt(t *testing.T) {
	tn := elect3(t)
	leader := tn.nodes[1]
	var held []Message
	tn.drop = func(m Message) bool {
		if m.Type == MsgHeartbeatResp && m.To == 1 {
			held = append(held, m)
			return true
		}
		return false
	}
	tn.tick(1, 1) // a heartbeat round; its answers are held
	tn.deliverAll()
	if len(held) != 2 {
		t.Fatalf("setup: held %d heartbeat answers, want 2", len(held))
	}
	tn.drop = func(m Message) bool { return m.Type == MsgHeartbeat } // the read's own round is lost
	if err := leader.ReadIndex(1); err != nil {
		t.Fatal(err)
	}
	tn.deliverAll()
	for _, m := range held {
		step(t, leader, m)
	}
	tn.deliverAll()
	wantReads(t, tn, 1)
	tn.drop = nil
	tn.tickAll(1)
	wantReads(t, tn, 1, ReadResult{ID: 1, Index: leader.Status().Commit})
}

// Thesis §6.4 step 3: a read is confirmed by a heartbeat round sent after
// it was issued. Answers to the round already in flight when the read
// arrived prove only that the leader led when that round was sent, which
// may be before a newer leader committed writes the read must see.
func TestReadIndexNotConfirmedByEarlierRound(t *testing.T) {
	tn := elect3(t)
	leader := tn.nodes[1]
	var held []Message
	tn.drop = func(m Message) bool {
		if m.Type == MsgHeartbeatResp {
			held = append(held, m)
			return true
		}
		return false
	}
	tn.tick(1, 1) // a heartbeat round goes out; its answers are held
	tn.deliverAll()
	earlier := held
	held = nil
	if len(earlier) != 2 {
		t.Fatalf("setup: held %d heartbeat answers, want 2", len(earlier))
	}
	if err := leader.ReadIndex(1); err != nil {
		t.Fatal(err)
	}
	tn.deliverAll() // the read's own round; its answers are held too
	for _, m := range earlier {
		step(t, leader, m)
	}
	tn.deliverAll()
	wantReads(t, tn, 1)
	tn.drop = nil
	for _, m := range held {
		step(t, leader, m)
	}
	tn.deliverAll()
	wantReads(t, tn, 1, ReadResult{ID: 1, Index: leader.Status().Commit})
}
