package raft

import (
	"errors"
	"testing"
)

// Thesis §4.2.1: a new server joins as a non-voting learner and is promoted
// only once it has caught up. CheckMembershipChange refuses to promote a
// server that was never added (the three requests that bricked raftkv:
// promoting unknown IDs made them voters that never answer), a voter, and
// a learner that lags; it accepts the learner once it has caught up.
func TestCheckMembershipChangePromotesOnlyCaughtUpLearners(t *testing.T) {
	tn := elect3(t)
	leader := tn.nodes[1]
	last := leader.Status().LastIndex
	if err := leader.CheckMembershipChange(0, change(AddVoter, 77)); !errors.Is(err, ErrPromoteNonLearner) {
		t.Fatalf("promoting a non-member: %v, want ErrPromoteNonLearner", err)
	}
	if err := leader.CheckMembershipChange(0, change(AddVoter, 2)); !errors.Is(err, ErrAlreadyMember) {
		t.Fatalf("promoting a voter: %v, want ErrAlreadyMember", err)
	}
	tn.join(4, nil) // down
	mustChange(tn, 1, change(AddLearner, 4))
	tn.deliverAll()
	for i := range 3 {
		tn.propose(1, string(rune('a'+i)))
	}
	tn.deliverAll()
	err := leader.CheckMembershipChange(2, change(AddVoter, 4))
	if !errors.Is(err, ErrNotCaughtUp) || !errors.Is(err, ErrMembershipChangeRefused) {
		t.Fatalf("promoting a learner that is down: %v, want ErrNotCaughtUp", err)
	}
	tn.startEmpty(4)
	tickUntil(tn, 10, "learner caught up", func() bool { return leader.CaughtUp(4, 0) })
	if err := leader.CheckMembershipChange(0, change(AddVoter, 4)); err != nil {
		t.Fatalf("promoting a caught-up learner: %v", err)
	}
	if got := leader.Status().LastIndex; got != last+1+3 {
		t.Fatalf("the checks appended entries: last index %d, want %d", got, last+4)
	}
	if err := tn.nodes[2].CheckMembershipChange(0, change(AddVoter, 4)); err == nil {
		t.Fatal("a follower accepted a change")
	}
}

// Thesis §4.4 (availability during changes) and §6.2 (check-quorum): a
// change after which the voters the leader is connected to would not form
// a quorum is refused — it could not even commit. With node 3 cut off,
// removing node 2 would leave voters {1,3} with only the leader connected;
// removing node 3 is fine. Adding a learner never changes the voters. A
// voter that answered in the previous check-quorum round still counts just
// after a new round starts.
func TestCheckMembershipChangeKeepsAConnectedQuorum(t *testing.T) {
	tn := elect3(t)
	leader := tn.nodes[1]
	tn.isolate(3)
	// Two election timeouts: node 3 missed a whole check-quorum round.
	tn.tickAll(2*10 + 1)
	if leader.Status().Role != RoleLeader {
		t.Fatalf("node 1 lost leadership with a quorum connected")
	}
	err := leader.CheckMembershipChange(0, change(RemoveMember, 2))
	if !errors.Is(err, ErrQuorumNotConnected) {
		t.Fatalf("removing a connected voter while another is down: %v, want ErrQuorumNotConnected", err)
	}
	if err := leader.CheckMembershipChange(0, change(RemoveMember, 3)); err != nil {
		t.Fatalf("removing the disconnected voter: %v", err)
	}
	if err := leader.CheckMembershipChange(0, change(AddLearner, 9)); err != nil {
		t.Fatalf("adding a learner: %v", err)
	}
	// Two voters changed at once: both halves of the joint configuration
	// need a connected quorum. {1,2,3} -> {1,3,5,6}, with 5 and 6 caught
	// up, then cut off: the new half has only the leader connected.
	tn.join(5, nil)
	tn.join(6, nil)
	tn.startEmpty(5)
	tn.startEmpty(6)
	mustChange(tn, 1, change(AddLearner, 5))
	tn.deliverAll()
	mustChange(tn, 1, change(AddLearner, 6))
	tn.deliverAll()
	tickUntil(tn, 20, "learners caught up", func() bool { return leader.CaughtUp(5, 0) && leader.CaughtUp(6, 0) })
	tn.isolate(5)
	tn.isolate(6)
	tn.tickAll(2*10 + 1) // a whole check-quorum round without them
	if err := leader.CheckMembershipChange(100, change(RemoveMember, 2), change(AddVoter, 5), change(AddVoter, 6)); !errors.Is(err, ErrQuorumNotConnected) {
		t.Fatalf("joint change to a disconnected new half: %v, want ErrQuorumNotConnected", err)
	}
	// The start of a check-quorum round clears RecentActive; node 2, which
	// answered in the round that just ended, is still connected.
	tn.heal()
	tn.tickAll(10)
	for i := 0; i < 10 && leader.progressOf(2).RecentActive; i++ {
		tn.tick(1, 1) // no delivery: the round's answers have not arrived
	}
	if leader.progressOf(2).RecentActive {
		t.Fatal("no check-quorum round started")
	}
	if err := leader.CheckMembershipChange(0, change(RemoveMember, 3)); err != nil {
		t.Fatalf("just after a check-quorum round began: %v", err)
	}
}

// Thesis §4.2.1: "caught up" needs evidence. A learner added to a young
// cluster whose log is shorter than the allowed lag, and that never
// answered, must not be promoted: counted as a voter, it would leave a
// one-voter cluster without a quorum (found by a second review).
func TestCheckMembershipChangeRefusesLearnerNeverHeardFrom(t *testing.T) {
	tn := newTestNet(t, 1, nil)
	tn.campaign(1)
	tn.propose(1, "a")
	tn.deliverAll()
	tn.join(2, nil) // never started
	mustChange(tn, 1, change(AddLearner, 2))
	tn.deliverAll()
	if err := tn.nodes[1].CheckMembershipChange(1000, change(AddVoter, 2)); !errors.Is(err, ErrNotCaughtUp) {
		t.Fatalf("promoting a learner that never answered: %v, want ErrNotCaughtUp", err)
	}
}

// A leader knows which voters are connected only from check-quorum's
// record of who answered. With check-quorum off that record is never
// cleared, and a quiescent leader's is frozen; the check cannot tell a
// dead voter from a live one, so it refuses rather than guess, saying why
// (found by a second review).
func TestCheckMembershipChangeRefusesWithoutConnectivity(t *testing.T) {
	tn := elect3(t, noCheckQuorum)
	if err := tn.nodes[1].CheckMembershipChange(0, change(RemoveMember, 3)); !errors.Is(err, ErrConnectivityUnknown) {
		t.Fatalf("with check-quorum off: %v, want ErrConnectivityUnknown", err)
	}
	q := quietNet(t, 3)
	l := q.leader()
	if !q.nodes[l].Status().Quiescent {
		t.Fatal("the group did not go quiet")
	}
	if err := q.nodes[l].CheckMembershipChange(0, change(AddLearner, 9)); !errors.Is(err, ErrConnectivityUnknown) {
		t.Fatalf("on a quiescent leader: %v, want ErrConnectivityUnknown", err)
	}
}

// CheckMembershipChange runs the validity checks ProposeMembershipChange
// makes: demoting a voter to learner together with another change needs
// a joint configuration, which ProposeMembershipChange refuses
// (ErrDemoteInJoint), so the check must refuse it too.
func TestCheckMembershipChangeMatchesProposeValidity(t *testing.T) {
	tn := elect3(t)
	tn.join(4, nil)
	tn.startEmpty(4)
	mustChange(tn, 1, change(AddLearner, 4))
	tn.deliverAll()
	tickUntil(tn, 10, "learner caught up", func() bool { return tn.nodes[1].CaughtUp(4, 0) })
	chs := []MembershipChange{change(AddLearner, 3), change(AddVoter, 4)}
	checkErr := tn.nodes[1].CheckMembershipChange(0, chs...)
	_, _, proposeErr := tn.nodes[1].ProposeMembershipChange(chs...)
	if (checkErr == nil) != (proposeErr == nil) {
		t.Fatalf("CheckMembershipChange: %v; ProposeMembershipChange: %v", checkErr, proposeErr)
	}
}
