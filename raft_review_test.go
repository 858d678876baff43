package raft

import (
	"errors"
	"fmt"
	"slices"
	"testing"
)

// Thesis §11.7.2 (witnesses) with §4.3 (joint consensus): a witness removed
// by a joint change stays an outgoing voter until the joint configuration
// is left, and all that time it still holds only payload-less entries. It
// must stay a witness in the joint configuration: never promotable, and
// still sent entries without payloads. Otherwise it could be elected and
// replicate its empty payloads as the committed log.
func TestWitnessRemovedJointlyStaysWitness(t *testing.T) {
	tn := witnessNet(t)
	tn.join(4, nil)
	tn.startEmpty(4)
	if _, _, err := tn.nodes[1].ProposeJointMembershipChange(false, change(RemoveMember, 3), change(AddVoter, 4)); err != nil {
		t.Fatalf("joint change: %v", err)
	}
	tn.deliverAll()
	for _, id := range []NodeID{1, 3} {
		m := tn.nodes[id].Membership()
		if !m.IsJoint() {
			t.Fatalf("node %d membership %+v not joint", id, m)
		}
		if !m.IsWitness(3) {
			t.Errorf("node %d: outgoing voter 3 lost its witness role in %+v", id, m)
		}
	}
	if err := tn.nodes[3].Campaign(); err == nil {
		t.Errorf("the outgoing witness may campaign with a log of payload-less entries")
	}
	tn.propose(1, "b")
	tn.deliverAll()
	for _, e := range tn.storage[3].entries {
		if e.Type == EntryNormal && e.Data != nil {
			t.Errorf("outgoing witness 3 was sent the payload of entry %d", e.Index)
		}
	}
}

// Thesis §11.7.2: a witness cannot change role, not even by removing and
// re-adding it in one change: its log has no payloads, so as a data voter
// or learner it would serve and replicate empty commands.
func TestWitnessCannotBeReaddedInOneChange(t *testing.T) {
	tn := witnessNet(t)
	for _, ct := range []ChangeType{AddVoter, AddLearner} {
		_, _, err := tn.nodes[1].ProposeMembershipChange(change(RemoveMember, 3), change(ct, 3))
		if !errors.Is(err, ErrWitnessRole) {
			t.Errorf("remove and %v of witness 3 in one change: err %v, want ErrWitnessRole", ct, err)
		}
	}
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

// Thesis §4.1 (a configuration takes effect when appended and is rolled
// back if its entry is truncated) with §11.7.2 (witnesses get no payloads):
// a server proposed as a witness in an entry that never commits is, after
// the rollback, no witness and no member. Nothing stops adding it later as
// a data voter, and the leader then keeps whatever its log matches by
// term. So no payload may be withheld from a server until its witness
// role is committed, or the payload-less copies it took outlive the role.
func TestWitnessRoleRolledBackLeavesNoPayloadlessEntries(t *testing.T) {
	tn := newTestNet(t, 3, nil)
	tn.campaign(1)
	tn.propose(1, "a")
	tn.deliverAll()
	tn.join(4, nil)
	tn.startEmpty(4)
	tn.cut[1][2], tn.cut[1][3] = true, true // the change cannot commit
	mustChange(tn, 1, change(AddWitness, 4))
	tn.deliverAll()
	if got := len(tn.storage[4].entries); got == 0 {
		t.Fatalf("node 4 received nothing")
	}

	// Node 1 is deposed; the new leader never had the witness entry.
	tn.crash(1)
	tickUntil(tn, 200, "node 2 or 3 elected", leaderAmong(tn, 1, 2, 3))
	l := tn.leader()
	mustChange(tn, l, change(AddVoter, 4))
	tickUntil(tn, 200, "node 4 caught up", func() bool {
		return tn.nodes[4].Status().Applied == tn.nodes[l].Status().Applied && tn.nodes[4].Membership().IsVoter(4)
	})
	if got, want := tn.appliedData(4), tn.appliedData(l); !slices.Equal(got, want) {
		t.Errorf("data voter 4 applied %q, leader %d applied %q", got, l, want)
	}
	for _, e := range tn.storage[4].entries {
		if e.Type == EntryNormal && e.Data == nil {
			t.Errorf("data voter 4 stores entry %d without its payload", e.Index)
		}
	}
}

// Thesis §5.1 (restart from a snapshot): a server whose state machine is
// older than its durable snapshot — it crashed after persisting a snapshot
// received from the leader (§5.3, InstallSnapshot) but before applying it —
// must be handed that snapshot to apply before the entries after it. The
// entries between what it applied and the snapshot are compacted away;
// skipping straight to the entries after the snapshot loses them.
func TestRestartWithStateMachineOlderThanSnapshot(t *testing.T) {
	snap := SnapshotMeta{Index: 5, Term: 2, Membership: Membership{Voters: ids(3)}}
	n, err := NewNode(defaultTestConfig(1), PersistentState{
		HardState: HardState{Term: 2, Commit: 8},
		Snapshot:  snap,
		Entries:   mkEntries(6, 2, 2, 2),
		Applied:   3,
	})
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, a := range syncRun(t, n) {
		if a.Kind != ActionApply {
			continue
		}
		if s := a.Apply.Snapshot; s != nil {
			got = append(got, fmt.Sprintf("snapshot %d", s.Index))
		}
		for _, e := range a.Apply.Entries {
			got = append(got, fmt.Sprint(e.Index))
		}
	}
	if want := []string{"snapshot 5", "6", "7", "8"}; !slices.Equal(got, want) {
		t.Errorf("applied %q, want %q", got, want)
	}
}

// Thesis §6.4.1 (leases): a follower that acknowledged the leader's
// heartbeat promises not to help elect another leader for an election
// timeout, and the leader serves reads from that promise without messages.
// The follower's own vote is part of the promise: Campaign on it — like a
// restart, which the node already guards against — must not start an
// election that another voter out of the lease can complete while the
// lease still holds, or the old leader serves stale lease reads while the
// new one commits writes.
func TestCampaignRespectsLeaderLease(t *testing.T) {
	tn, l := leaseNet(t)
	var a, b NodeID
	for _, id := range []NodeID{1, 2, 3} {
		if id != l {
			if a == None {
				a = id
			} else {
				b = id
			}
		}
	}
	// b loses the leader and, after an election timeout, its own lease;
	// a keeps acknowledging, so the leader keeps its lease.
	tn.cut[l][b], tn.cut[b][l] = true, true
	tn.tickAll(2 * tn.nodes[l].cfg.ElectionTicks)
	if !tn.nodes[l].Status().LeaseHeld {
		t.Fatalf("setup: leader %d lost its lease", l)
	}
	// The leader is cut off too, still holding its lease.
	tn.isolate(l)
	err := tn.nodes[a].Campaign()
	tn.deliverAll()
	if !tn.nodes[l].Status().LeaseHeld {
		t.Fatalf("setup: leader %d lost its lease", l)
	}
	for _, id := range []NodeID{a, b} {
		if tn.nodes[id].Status().Role == RoleLeader {
			t.Errorf("node %d elected (Campaign err %v) while leader %d holds its lease", id, err, l)
		}
	}
}

// Thesis §6.4.1 with §5.1: the promise a follower makes by acknowledging
// a leader's heartbeat — no vote for another leader for an election
// timeout — must survive the follower adopting a newer term from a message
// that names no leader. Here a stale heartbeat the follower sent as an old
// leader is answered, much later, by a server that campaigned alone to a
// high term (pre-vote off); the answer's term must not wipe out the
// follower's promise to the current leader, which is serving lease reads.
func TestLeasePromiseSurvivesTermChange(t *testing.T) {
	tn := newTestNet(t, 3, testCfg(leaseCfg, noPreVote))
	tickUntil(tn, 100, "a leader holding its lease", func() bool {
		l := tn.leader()
		return l != None && tn.nodes[l].Status().LeaseHeld
	})
	f := tn.leader()
	var l, x NodeID
	for _, id := range []NodeID{1, 2, 3} {
		if id != f {
			if l == None {
				l = id
			} else {
				x = id
			}
		}
	}
	// A heartbeat from f, leader now, to x is delayed in the network.
	var stale *Message
	tn.drop = func(m Message) bool {
		if stale == nil && m.From == f && m.To == x && m.Type == MsgHeartbeat {
			stale = &m
			return true
		}
		return false
	}
	tickUntil(tn, 10, "a heartbeat from f to x held back", func() bool { return stale != nil })
	tn.drop = nil

	// f hands leadership to l and follows it, acknowledging l's
	// heartbeats: l holds a lease. x, up to date, is then cut off and
	// campaigns alone to higher terms.
	if err := tn.nodes[f].TransferLeadership(l); err != nil {
		t.Fatal(err)
	}
	tn.deliverAll()
	tn.isolate(x)
	tickUntil(tn, 100, "l leading with a lease, x in a higher term", func() bool {
		return tn.leader() == l && tn.nodes[l].Status().LeaseHeld && tn.nodes[x].Status().Term > tn.nodes[l].Status().Term
	})

	// f's answers stop reaching l; x hears the stale heartbeat, answers
	// with its term, and campaigns at once.
	tn.heal()
	tn.cut[f][l] = true
	tn.cut[x][l], tn.cut[l][x] = true, true
	tn.deliver(*stale)
	tn.deliverAll()
	err := tn.nodes[x].Campaign()
	tn.deliverAll()
	if !tn.nodes[l].Status().LeaseHeld || tn.nodes[l].Status().Role != RoleLeader {
		t.Fatalf("setup: l no longer holds its lease")
	}
	if tn.nodes[x].Status().Role == RoleLeader {
		t.Errorf("x elected (Campaign err %v) with f's vote while l holds the lease f acknowledged", err)
	}
}
