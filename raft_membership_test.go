package raft

import (
	"errors"
	"fmt"
	"slices"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"
	"pgregory.net/rapid"
)

// Behaviour tests for membership changes (thesis chapter 4): single-server
// changes (§4.2), joint consensus (§4.3), learners and catching up new
// servers (§4.2.1), removing the leader (§4.2.2), disruptive removed
// servers (§4.2.3) and witnesses (§11.7.2). docs/membership.md explains
// what a caller does; each step there names the test that shows it.

// tickUntil ticks every node of tn (delivering all messages after each
// tick) until cond holds, and fails the test if it does not within limit
// ticks. It returns the number of ticks it took.
func tickUntil(tn *testNet, limit int, what string, cond func() bool) int {
	tn.t.Helper()
	for i := 0; ; i++ {
		if cond() {
			return i
		}
		if i == limit {
			tn.t.Fatalf("after %d ticks: still not %s", limit, what)
		}
		tn.tickAll(1)
	}
}

// change is shorthand for one MembershipChange.
func change(t ChangeType, id NodeID) MembershipChange { return MembershipChange{Type: t, Node: id} }

// mustChange proposes changes on node id and fails the test if refused.
func mustChange(tn *testNet, id NodeID, changes ...MembershipChange) Index {
	tn.t.Helper()
	idx, _, err := tn.nodes[id].ProposeMembershipChange(changes...)
	if err != nil {
		tn.t.Fatalf("node %d ProposeMembershipChange(%v): %v", id, changes, err)
	}
	return idx
}

// committedOn reports whether every node among ids has committed index.
func committedOn(tn *testNet, index Index, ids ...NodeID) func() bool {
	return func() bool {
		for _, id := range ids {
			if n := tn.nodes[id]; n == nil || n.Status().Commit < index {
				return false
			}
		}
		return true
	}
}

// leaderAmong returns a func reporting whether one of ids leads in a term
// above term.
func leaderAmong(tn *testNet, term Term, ids ...NodeID) func() bool {
	return func() bool {
		l := tn.leader()
		return slices.Contains(ids, l) && tn.nodes[l].Status().Term > term
	}
}

// voters returns the sorted voters of m (of both halves if joint).
func sortedIDs(ids []NodeID) []NodeID {
	out := slices.Clone(ids)
	slices.Sort(out)
	return out
}

// Thesis §4.1, §4.2, §4.3: every membership change the node refuses returns
// the error for its reason — wrapping ErrMembershipChangeRefused, or a
// *NotLeaderError, or ErrTransferInProgress — and changes nothing: no entry,
// no new configuration, no action.
func TestMembershipRefusals(t *testing.T) {
	// mixed: voters {1,2,3}, learner 4, witness 5; node 1 leads.
	mixed := func(t *testing.T) (*testNet, NodeID) {
		tn := elect3(t)
		tn.join(4, nil)
		tn.startEmpty(4)
		tn.join(5, nil)
		tn.startEmpty(5)
		mustChange(tn, 1, change(AddLearner, 4))
		tn.deliverAll()
		mustChange(tn, 1, change(AddWitness, 5))
		tn.deliverAll()
		want := Membership{Voters: []NodeID{1, 2, 3, 5}, Learners: []NodeID{4}, Witnesses: []NodeID{5}}
		if diff := cmp.Diff(want, tn.nodes[1].Membership()); diff != "" {
			t.Fatalf("setup membership (-want +got):\n%s", diff)
		}
		return tn, 1
	}
	single := func(t *testing.T) (*testNet, NodeID) {
		tn := newTestNet(t, 1, nil)
		tn.campaign(1)
		return tn, 1
	}
	// oneAndWitness: voters {1, 2} where 2 is a witness.
	oneAndWitness := func(t *testing.T) (*testNet, NodeID) {
		tn, _ := single(t)
		tn.join(2, nil)
		tn.startEmpty(2)
		mustChange(tn, 1, change(AddWitness, 2))
		tn.deliverAll()
		return tn, 1
	}
	pending := func(t *testing.T) (*testNet, NodeID) {
		tn := elect3(t)
		mustChange(tn, 1, change(AddLearner, 4)) // not delivered: uncommitted
		return tn, 1
	}
	jointHeld := func(t *testing.T) (*testNet, NodeID) {
		tn := elect3(t)
		tn.join(4, nil)
		tn.startEmpty(4)
		if _, _, err := tn.nodes[1].ProposeJointMembershipChange(false, change(AddVoter, 4)); err != nil {
			t.Fatal(err)
		}
		tn.deliverAll()
		if m := tn.nodes[1].Membership(); !m.IsJoint() || tn.nodes[1].Status().Commit != tn.nodes[1].Status().LastIndex {
			t.Fatalf("setup: want a committed joint configuration, have %+v", m)
		}
		return tn, 1
	}
	follower := func(t *testing.T) (*testNet, NodeID) { return elect3(t), 2 }
	transferring := func(t *testing.T) (*testNet, NodeID) {
		tn := elect3(t)
		if err := tn.nodes[1].TransferLeadership(2); err != nil {
			t.Fatal(err)
		}
		return tn, 1
	}
	tooBig := func(t *testing.T) (*testNet, NodeID) {
		m := Membership{Voters: []NodeID{1}}
		for id := NodeID(2); id <= MaxMembers; id++ {
			m.Learners = append(m.Learners, id)
		}
		n, err := NewNode(defaultTestConfig(1), PersistentState{Snapshot: SnapshotMeta{Membership: m}})
		if err != nil {
			t.Fatal(err)
		}
		tn := newTestNet(t, 1, nil)
		tn.nodes[1] = n
		tn.campaign(1)
		return tn, 1
	}
	propose := func(changes ...MembershipChange) func(*Node) error {
		return func(n *Node) error { _, _, err := n.ProposeMembershipChange(changes...); return err }
	}
	joint := func(changes ...MembershipChange) func(*Node) error {
		return func(n *Node) error { _, _, err := n.ProposeJointMembershipChange(true, changes...); return err }
	}
	leave := func(n *Node) error { _, _, err := n.LeaveJoint(); return err }

	for _, tc := range []struct {
		name  string
		setup func(*testing.T) (*testNet, NodeID)
		op    func(*Node) error
		want  error
	}{
		{"add existing voter", mixed, propose(change(AddVoter, 2)), ErrAlreadyMember},
		{"add existing learner", mixed, propose(change(AddLearner, 4)), ErrAlreadyMember},
		{"add existing witness", mixed, propose(change(AddWitness, 5)), ErrAlreadyMember},
		{"remove non-member", mixed, propose(change(RemoveMember, 9)), ErrNotMember},
		{"node zero", mixed, propose(change(AddVoter, 0)), ErrMembershipChangeRefused},
		{"unknown change type", mixed, propose(MembershipChange{Type: 9, Node: 6}), ErrMembershipChangeRefused},
		{"no changes", mixed, propose(), ErrEmptyChange},
		{"no changes joint", mixed, joint(), ErrEmptyChange},
		{"leave when not joint", mixed, leave, ErrNotJoint},
		{"promote witness", mixed, propose(change(AddVoter, 5)), ErrWitnessRole},
		{"demote witness", mixed, propose(change(AddLearner, 5)), ErrWitnessRole},
		{"voter as witness", mixed, propose(change(AddWitness, 2)), ErrWitnessRole},
		{"learner as witness", mixed, propose(change(AddWitness, 4)), ErrWitnessRole},
		{"demote in forced joint", mixed, joint(change(AddLearner, 3)), ErrDemoteInJoint},
		{"demote in implied joint", mixed, propose(change(AddLearner, 3), change(AddVoter, 6)), ErrDemoteInJoint},
		{"remove last voter", single, propose(change(RemoveMember, 1)), ErrLastVoter},
		{"demote last voter", single, propose(change(AddLearner, 1)), ErrLastVoter},
		{"leave only a witness", oneAndWitness, propose(change(RemoveMember, 1)), ErrLastVoter},
		{"pending change", pending, propose(change(AddLearner, 5)), ErrChangePending},
		{"pending change, leave", pending, leave, ErrChangePending},
		{"joint not left", jointHeld, propose(change(AddLearner, 5)), ErrJointNotLeft},
		{"joint not left, joint", jointHeld, joint(change(AddLearner, 5)), ErrJointNotLeft},
		{"too many members", tooBig, propose(change(AddLearner, MaxMembers+1)), ErrMembershipTooBig},
		{"not leader", follower, propose(change(AddLearner, 4)), ErrNotLeader},
		{"not leader, leave", follower, leave, ErrNotLeader},
		{"transfer in progress", transferring, propose(change(AddLearner, 4)), ErrTransferInProgress},
	} {
		t.Run(tc.name, func(t *testing.T) {
			tn, id := tc.setup(t)
			n := tn.nodes[id]
			st, mem, log, busy := n.Status(), n.Membership(), logOf(n), n.HasActions()
			err := tc.op(n)
			if !errors.Is(err, tc.want) {
				t.Fatalf("got error %v, want %v", err, tc.want)
			}
			switch {
			case errors.Is(tc.want, ErrNotLeader):
				var nle *NotLeaderError
				if !errors.As(err, &nle) || nle.Leader != 1 {
					t.Errorf("got %v, want a *NotLeaderError naming leader 1", err)
				}
			case errors.Is(tc.want, ErrTransferInProgress):
			case !errors.Is(err, ErrMembershipChangeRefused):
				t.Errorf("%v does not wrap ErrMembershipChangeRefused", err)
			}
			if diff := cmp.Diff(st, n.Status()); diff != "" {
				t.Errorf("refused change altered the status (-before +after):\n%s", diff)
			}
			if diff := cmp.Diff(mem, n.Membership()); diff != "" {
				t.Errorf("refused change altered the membership (-before +after):\n%s", diff)
			}
			if diff := cmp.Diff(log, logOf(n)); diff != "" {
				t.Errorf("refused change altered the log (-before +after):\n%s", diff)
			}
			if n.HasActions() != busy {
				t.Errorf("refused change created actions: %v", n.Actions())
			}
		})
	}
}

// Thesis §4.1: "a server always uses the latest configuration in its log,
// regardless of whether the entry is committed." The leader uses a new
// configuration as soon as it appends it, followers as soon as they append
// it, and that configuration decides its own commitment: two of three old
// voters are not a majority of the four new ones.
func TestMembershipEffectiveWhenAppended(t *testing.T) {
	tn := elect3(t)
	tn.join(4, nil) // down
	tn.cut[3][1] = true
	idx := mustChange(tn, 1, change(AddVoter, 4))

	want := []NodeID{1, 2, 3, 4}
	leader := tn.nodes[1]
	if got := sortedIDs(leader.Membership().Voters); !slices.Equal(got, want) {
		t.Fatalf("leader voters right after appending: %v, want %v", got, want)
	}
	if _, ok := leader.Progress(4); !ok {
		t.Fatalf("leader does not track new voter 4 right after appending")
	}

	tn.deliverAll()
	for _, id := range []NodeID{2, 3} {
		n := tn.nodes[id]
		if n.Status().Commit >= idx {
			t.Fatalf("node %d committed the configuration entry %d already", id, idx)
		}
		if got := sortedIDs(n.Membership().Voters); !slices.Equal(got, want) {
			t.Errorf("node %d voters after appending (uncommitted): %v, want %v", id, got, want)
		}
	}
	// Leader and node 2 hold the entry: a majority of {1,2,3}, not of
	// {1,2,3,4}.
	if c := leader.Status().Commit; c >= idx {
		t.Fatalf("leader committed %d with 2 of 4 voters (commit %d)", idx, c)
	}
	if pr, _ := leader.Progress(2); pr.Match < idx {
		t.Fatalf("node 2 match %d, want >= %d", pr.Match, idx)
	}

	tn.heal()
	tickUntil(tn, 2*tn.cfg(1).ElectionTicks, "committed with node 3", committedOn(tn, idx, 1))
}

// Thesis §4.1: "a log entry for a configuration change can be removed (if
// leadership changes); in this case, a server must be prepared to fall back
// to the previous configuration in its log." A configuration entry that
// reached only a minority is truncated by the next leader, and both the old
// leader and the follower that held it fall back to the configuration
// before it.
func TestMembershipConfigRolledBackOnTruncation(t *testing.T) {
	tn := newTestNet(t, 5, nil)
	tn.campaign(1)
	tn.partition([]NodeID{1, 2}, []NodeID{3, 4, 5})
	idx, term, err := tn.nodes[1].ProposeMembershipChange(change(RemoveMember, 5))
	if err != nil {
		t.Fatal(err)
	}
	tn.deliverAll()
	for _, id := range []NodeID{1, 2} {
		if got := sortedIDs(tn.nodes[id].Membership().Voters); !slices.Equal(got, []NodeID{1, 2, 3, 4}) {
			t.Fatalf("node %d voters with the uncommitted removal: %v, want [1 2 3 4]", id, got)
		}
	}

	tickUntil(tn, 100, "a leader among 3, 4, 5", leaderAmong(tn, term, 3, 4, 5))
	newLeader := tn.leader()
	xIdx, xTerm := tn.propose(newLeader, "x")
	if xIdx != idx+1 {
		t.Fatalf("new leader's x at %d, want %d: after its no-op at the truncated index %d", xIdx, idx+1, idx)
	}

	tn.heal()
	tickUntil(tn, 100, "x committed everywhere", committedOn(tn, xIdx, 1, 2, 3, 4, 5))
	for _, id := range []NodeID{1, 2} {
		n := tn.nodes[id]
		if got := sortedIDs(n.Membership().Voters); !slices.Equal(got, ids(5)) {
			t.Errorf("node %d voters after truncation: %v, want the previous configuration %v", id, got, ids(5))
		}
		if e := n.log.entry(idx); e.Term != xTerm || e.Type != EntryNoop {
			t.Errorf("node %d entry %d: %+v, want the new leader's no-op of term %d", id, idx, *e, xTerm)
		}
		if e := n.log.entry(xIdx); e.Term != xTerm || string(e.Data) != "x" {
			t.Errorf("node %d entry %d: %+v, want the new leader's x of term %d", id, xIdx, *e, xTerm)
		}
	}
}

// Thesis §4.2.2: a leader that removes itself keeps managing the cluster
// until the removal commits, but does not count itself in majorities
// meanwhile; then it steps down, never campaigns again, and the remaining
// servers elect a leader among themselves.
func TestMembershipRemoveLeader(t *testing.T) {
	tn := elect3(t)
	tn.cut[3][1] = true // only node 2 acknowledges
	idx := mustChange(tn, 1, change(RemoveMember, 1))
	pIdx, _ := tn.propose(1, "p") // still leading: proposals accepted
	tn.deliverAll()

	leader := tn.nodes[1]
	if st := leader.Status(); st.Role != RoleLeader || st.Commit >= idx {
		t.Fatalf("leader after the removal reached itself and node 2: %+v; want still leader with commit < %d", st, idx)
	}
	if pr, _ := leader.Progress(2); pr.Match < pIdx {
		t.Fatalf("node 2 match %d, want %d", pr.Match, pIdx)
	}
	// Leader 1 and node 2 are a majority of the old configuration, but 1
	// does not count: {2,3} needs both.

	var fromOne []Message
	tn.observe = func(m Message) {
		if m.From == 1 {
			fromOne = append(fromOne, m)
		}
	}
	tn.heal()
	tickUntil(tn, 10, "removal committed", func() bool { return leader.Status().Role != RoleLeader })
	if st := leader.Status(); st.Commit < pIdx {
		t.Fatalf("old leader stepped down with commit %d, want >= %d", st.Commit, pIdx)
	}
	term := leader.Status().Term
	tickUntil(tn, 100, "a new leader among 2, 3", leaderAmong(tn, term-1, 2, 3))
	l := tn.leader()
	if got := tn.nodes[l].Membership().Voters; !slices.Equal(sortedIDs(got), []NodeID{2, 3}) {
		t.Errorf("new leader's voters %v, want [2 3]", got)
	}
	tn.propose(l, "q")
	fromOne = nil
	tn.tickAll(50)
	for _, id := range []NodeID{2, 3} {
		if got := tn.appliedData(id); !slices.Equal(got, []string{"p", "q"}) {
			t.Errorf("node %d applied %q, want [p q]", id, got)
		}
	}
	for _, m := range fromOne {
		t.Errorf("removed node 1 sent %v", m)
	}
	if st := leader.Status(); st.Role != RoleFollower {
		t.Errorf("removed node 1 is %v", st.Role)
	}
}

// Thesis §4.2.2 and §4.3: a leader that leaves through a joint
// configuration (replaced by node 4) keeps leading while it is an outgoing
// voter, leaves the joint configuration itself, and steps down once the
// leave commits; a leader that demotes itself to learner steps down once
// that commits and keeps receiving the log from the new leader.
func TestMembershipLeaderLeavesOtherWays(t *testing.T) {
	for _, tc := range []struct {
		name    string
		changes []MembershipChange
		want    Membership
	}{
		{"replaced through joint", []MembershipChange{change(AddVoter, 4), change(RemoveMember, 1)},
			Membership{Voters: []NodeID{2, 3, 4}}},
		{"demoted to learner", []MembershipChange{change(AddLearner, 1)},
			Membership{Voters: []NodeID{2, 3}, Learners: []NodeID{1}}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			tn := elect3(t)
			tn.join(4, nil)
			tn.startEmpty(4)
			term := tn.nodes[1].Status().Term
			mustChange(tn, 1, tc.changes...)
			tn.deliverAll()
			old := tn.nodes[1]
			if st := old.Status(); st.Role != RoleFollower || st.Commit != st.LastIndex {
				t.Fatalf("old leader after its removal committed: %+v, want a follower", st)
			}
			if diff := cmp.Diff(tc.want, old.Membership()); diff != "" {
				t.Fatalf("old leader's membership (-want +got):\n%s", diff)
			}
			tickUntil(tn, 100, "a new leader", leaderAmong(tn, term, tc.want.Voters...))
			idx, _ := tn.propose(tn.leader(), "x")
			members := append(slices.Clone(tc.want.Voters), tc.want.Learners...)
			tickUntil(tn, 5, "x committed on every member", committedOn(tn, idx, members...))
		})
	}
}

// Thesis §4.2.1 and §4.4: growing a one-server cluster. Added as a learner,
// the new server catches up without blocking commitment, and is promoted
// once CaughtUp says so. Added directly as a voter while it is down, it
// stalls every commit (one of two voters is no majority) and, with
// check-quorum, deposes the leader — until it comes up and catches up.
func TestMembershipAddToSingleNode(t *testing.T) {
	t.Run("learner then promotion", func(t *testing.T) {
		tn := newTestNet(t, 1, nil)
		tn.campaign(1)
		tn.join(2, nil) // down
		idx := mustChange(tn, 1, change(AddLearner, 2))
		tn.deliverAll()
		aIdx, _ := tn.propose(1, "a")
		tn.deliverAll()
		leader := tn.nodes[1]
		if c := leader.Status().Commit; c != aIdx || aIdx != idx+1 {
			t.Fatalf("commit %d, want %d: a learner must not hold up commitment", c, aIdx)
		}
		if leader.CaughtUp(2, 1) {
			t.Fatalf("CaughtUp(2) true for a server that is down")
		}
		tn.startEmpty(2)
		tickUntil(tn, 5, "learner caught up", func() bool { return leader.CaughtUp(2, 0) })
		pIdx := mustChange(tn, 1, change(AddVoter, 2))
		tn.deliverAll()
		tickUntil(tn, 5, "promotion committed on both", committedOn(tn, pIdx, 1, 2))
		want := Membership{Voters: []NodeID{1, 2}}
		for _, id := range []NodeID{1, 2} {
			if diff := cmp.Diff(want, tn.nodes[id].Membership()); diff != "" {
				t.Errorf("node %d membership (-want +got):\n%s", id, diff)
			}
		}
		if got := tn.appliedData(2); !slices.Equal(got, []string{"a"}) {
			t.Errorf("node 2 applied %q, want [a]", got)
		}
	})
	t.Run("voter while down", func(t *testing.T) {
		tn := newTestNet(t, 1, nil)
		tn.campaign(1)
		tn.join(2, nil) // down
		idx := mustChange(tn, 1, change(AddVoter, 2))
		aIdx, _ := tn.propose(1, "a")
		tn.deliverAll()
		before := tn.nodes[1].Status().Commit
		if before >= idx {
			t.Fatalf("commit %d: the entry adding a down voter committed", before)
		}
		tn.tickAll(50)
		st := tn.nodes[1].Status()
		if st.Commit != before {
			t.Fatalf("commit moved from %d to %d with one of two voters down", before, st.Commit)
		}
		if st.Role == RoleLeader {
			t.Errorf("node 1 still leads without a quorum (check-quorum should depose it)")
		}
		tn.startEmpty(2)
		tickUntil(tn, 100, "a committed on both", committedOn(tn, aIdx, 1, 2))
		tickUntil(tn, 5, "a applied on node 2", func() bool { return slices.Equal(tn.appliedData(2), []string{"a"}) })
	})
}

// Thesis §4.3: replacing a majority of the voters ({1,2,3} -> {1,4,5})
// needs joint consensus. In the joint configuration every decision needs a
// majority of both halves; with AutoLeave the leader leaves it as soon as it
// commits; without, the cluster stays joint until LeaveJoint.
func TestMembershipJointReplaceMajority(t *testing.T) {
	replace := []MembershipChange{change(AddVoter, 4), change(AddVoter, 5), change(RemoveMember, 2), change(RemoveMember, 3)}
	final := Membership{Voters: []NodeID{1, 4, 5}}

	t.Run("auto leave", func(t *testing.T) {
		tn := elect3(t)
		tn.join(4, nil) // down
		tn.join(5, nil) // down
		idx := mustChange(tn, 1, replace...)
		leader := tn.nodes[1]
		wantJoint := Membership{Voters: []NodeID{1, 4, 5}, OutgoingVoters: []NodeID{1, 2, 3}, AutoLeave: true}
		if diff := cmp.Diff(wantJoint, leader.Membership()); diff != "" {
			t.Fatalf("membership right after the proposal (-want +got):\n%s", diff)
		}
		tn.deliverAll()
		// The old half has a majority (1, 2, 3); the new half has only 1.
		if c := leader.Status().Commit; c >= idx {
			t.Fatalf("joint entry committed (commit %d) without a majority of {1,4,5}", c)
		}
		tn.startEmpty(4)
		tickUntil(tn, 5, "joint and leave committed", func() bool {
			st := leader.Status()
			return !leader.Membership().IsJoint() && st.Commit == st.LastIndex
		})
		if diff := cmp.Diff(final, leader.Membership()); diff != "" {
			t.Errorf("after auto leave (-want +got):\n%s", diff)
		}
		// Two configuration entries: the joint one and the leave.
		var cfgs []Membership
		for _, e := range logOf(leader) {
			if e.Type == EntryConfig {
				m, _ := decodeMembership(e.Data)
				cfgs = append(cfgs, m)
			}
		}
		if diff := cmp.Diff([]Membership{wantJoint, final}, cfgs); diff != "" {
			t.Errorf("configuration entries (-want +got):\n%s", diff)
		}
		tn.startEmpty(5)
		xIdx, _ := tn.propose(1, "x")
		tickUntil(tn, 10, "x committed on 1, 4, 5", committedOn(tn, xIdx, 1, 4, 5))
		tickUntil(tn, 5, "x applied on 5", func() bool { return slices.Equal(tn.appliedData(5), []string{"x"}) })
		if pr, ok := leader.Progress(2); ok {
			t.Errorf("leader still tracks removed node 2: %+v", pr)
		}
	})

	t.Run("explicit leave", func(t *testing.T) {
		tn := elect3(t)
		for _, id := range []NodeID{4, 5} {
			tn.join(id, nil)
			tn.startEmpty(id)
		}
		leader := tn.nodes[1]
		idx, _, err := leader.ProposeJointMembershipChange(false, replace...)
		if err != nil {
			t.Fatal(err)
		}
		tn.deliverAll()
		tn.tickAll(3)
		wantJoint := Membership{Voters: []NodeID{1, 4, 5}, OutgoingVoters: []NodeID{1, 2, 3}}
		if diff := cmp.Diff(wantJoint, leader.Membership()); diff != "" {
			t.Fatalf("membership after the joint entry committed (-want +got):\n%s", diff)
		}
		if st := leader.Status(); st.Commit != idx || st.LastIndex != idx {
			t.Fatalf("status %+v, want the joint entry %d committed and nothing after it", st, idx)
		}
		// Both halves decide: with the old half's acknowledgements lost,
		// the new half alone commits nothing.
		tn.cut[2][1], tn.cut[3][1] = true, true
		xIdx, _ := tn.propose(1, "x")
		tn.deliverAll()
		if c := leader.Status().Commit; c >= xIdx {
			t.Fatalf("x committed (commit %d) by the new half alone", c)
		}
		tn.heal()
		tickUntil(tn, 10, "x committed with both halves", committedOn(tn, xIdx, 1))

		if _, _, err := leader.ProposeMembershipChange(change(AddLearner, 6)); !errors.Is(err, ErrJointNotLeft) {
			t.Fatalf("change in joint configuration: %v, want ErrJointNotLeft", err)
		}
		lIdx, _, err := leader.LeaveJoint()
		if err != nil {
			t.Fatal(err)
		}
		tickUntil(tn, 10, "leave committed", committedOn(tn, lIdx, 1, 4, 5))
		if diff := cmp.Diff(final, leader.Membership()); diff != "" {
			t.Errorf("after LeaveJoint (-want +got):\n%s", diff)
		}
	})

	t.Run("single voter through joint", func(t *testing.T) {
		tn := elect3(t)
		tn.join(4, nil)
		tn.startEmpty(4)
		if _, _, err := tn.nodes[1].ProposeJointMembershipChange(true, change(AddVoter, 4)); err != nil {
			t.Fatal(err)
		}
		want := Membership{Voters: []NodeID{1, 2, 3, 4}, OutgoingVoters: []NodeID{1, 2, 3}, AutoLeave: true}
		if diff := cmp.Diff(want, tn.nodes[1].Membership()); diff != "" {
			t.Fatalf("forced joint change (-want +got):\n%s", diff)
		}
		tickUntil(tn, 10, "joint left", func() bool {
			st := tn.nodes[1].Status()
			return !tn.nodes[1].Membership().IsJoint() && st.Commit == st.LastIndex
		})
	})
}

// Thesis §4.2.1: learners (non-voting members) receive and apply the log but
// are not counted in majorities, never vote and never campaign; nobody asks
// them for votes.
func TestMembershipLearner(t *testing.T) {
	tn := elect3(t)
	tn.join(4, nil)
	tn.startEmpty(4)
	mustChange(tn, 1, change(AddLearner, 4))
	tn.deliverAll()
	aIdx, _ := tn.propose(1, "a")
	tn.deliverAll()
	if got := tn.appliedData(4); !slices.Equal(got, []string{"a"}) {
		t.Fatalf("learner applied %q, want [a]", got)
	}

	// Not counted: only the learner acknowledges b.
	tn.cut[2][1], tn.cut[3][1] = true, true
	bIdx, _ := tn.propose(1, "b")
	tn.deliverAll()
	if pr, _ := tn.nodes[1].Progress(4); pr.Match != bIdx {
		t.Fatalf("learner match %d, want %d", pr.Match, bIdx)
	}
	if c := tn.nodes[1].Status().Commit; c != aIdx {
		t.Fatalf("commit %d, want %d: the learner's acknowledgement counted", c, aIdx)
	}
	tn.heal()

	learner := tn.nodes[4]
	if err := learner.Campaign(); err == nil {
		t.Fatalf("learner's Campaign succeeded")
	}
	var votes []Message
	tn.observe = func(m Message) {
		if m.Type == MsgVote || m.Type == MsgPreVote || m.Type == MsgVoteResp || m.Type == MsgPreVoteResp {
			if m.From == 4 || m.To == 4 {
				votes = append(votes, m)
			}
		}
	}
	term := tn.nodes[1].Status().Term
	tn.isolate(1)
	tn.cut[1][4], tn.cut[4][1] = false, false // the learner still hears the old leader
	tickUntil(tn, 100, "a leader among 2, 3", leaderAmong(tn, term, 2, 3))
	tn.heal()
	tn.tickAll(30)
	for _, m := range votes {
		t.Errorf("vote traffic involving the learner: %v", m)
	}
	if st := learner.Status(); st.Role != RoleFollower {
		t.Errorf("learner is %v", st.Role)
	}
	if got := tn.appliedData(4); !slices.Equal(got, []string{"a", "b"}) {
		t.Errorf("learner applied %q, want [a b]", got)
	}
}

// Thesis §4.2.1: a learner is promoted once it has caught up; CaughtUp
// measures its lag behind the leader's log, and only the leader answers.
func TestMembershipCaughtUpPromotion(t *testing.T) {
	tn := elect3(t)
	tn.join(4, nil)
	tn.startEmpty(4)
	mustChange(tn, 1, change(AddLearner, 4))
	tn.deliverAll()
	leader := tn.nodes[1]
	if !leader.CaughtUp(4, 0) {
		t.Fatalf("learner not caught up after delivery")
	}
	tn.cut[1][4] = true
	for i := range 5 {
		tn.propose(1, fmt.Sprint(i))
	}
	tn.deliverAll()
	for _, tc := range []struct {
		id     NodeID
		maxLag uint64
		want   bool
	}{
		{4, 4, false}, {4, 5, true}, {4, 0, false}, {2, 0, true}, {1, 0, true}, {9, 100, false},
	} {
		if got := leader.CaughtUp(tc.id, tc.maxLag); got != tc.want {
			t.Errorf("CaughtUp(%d, %d) = %t, want %t", tc.id, tc.maxLag, got, tc.want)
		}
	}
	if tn.nodes[2].CaughtUp(4, 100) {
		t.Errorf("a follower answered CaughtUp")
	}
	tn.heal()
	tickUntil(tn, 10, "learner caught up", func() bool { return leader.CaughtUp(4, 0) })
	idx := mustChange(tn, 1, change(AddVoter, 4))
	tickUntil(tn, 5, "promotion committed", committedOn(tn, idx, 1, 2, 3, 4))
	if !tn.nodes[4].Membership().IsVoter(4) {
		t.Errorf("node 4 does not know it was promoted: %+v", tn.nodes[4].Membership())
	}
}

// Thesis §4.2.3: a server removed from the cluster that never learns of its
// removal times out and campaigns. With pre-vote (its log is behind, so no
// one would vote for it) or check-quorum (voters that hear a leader ignore
// it), it cannot disrupt: the cluster's term does not change. The classic
// protocol, with neither, is disrupted — the control that shows the test
// can tell.
func TestMembershipRemovedServerCannotDisrupt(t *testing.T) {
	for _, tc := range []struct {
		name      string
		changes   []func(*Config)
		disrupted bool
	}{
		{"pre-vote and check-quorum", nil, false},
		{"pre-vote only", []func(*Config){noCheckQuorum}, false},
		{"check-quorum only", []func(*Config){noPreVote}, false},
		{"classic", []func(*Config){classic}, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			tn := elect3(t, tc.changes...)
			tn.isolate(3)
			idx := mustChange(tn, 1, change(RemoveMember, 3))
			tn.propose(1, "x")
			tn.deliverAll()
			if c := tn.nodes[1].Status().Commit; c < idx {
				t.Fatalf("removal not committed by {1,2}: commit %d", c)
			}
			tn.heal()
			campaigns := 0
			tn.observe = func(m Message) {
				if m.From == 3 && (m.Type == MsgVote || m.Type == MsgPreVote) {
					campaigns++
				}
			}
			term := tn.nodes[1].Status().Term
			tn.tickAll(100)
			if campaigns == 0 {
				t.Fatalf("removed node 3 never campaigned: the test shows nothing")
			}
			t1, t2 := tn.nodes[1].Status().Term, tn.nodes[2].Status().Term
			if got := t1 != term || t2 != term; got != tc.disrupted {
				t.Errorf("terms of 1 and 2 went from %d to %d and %d; disrupted %t, want %t", term, t1, t2, got, tc.disrupted)
			}
			if !tc.disrupted && tn.leader() != 1 {
				t.Errorf("leader is %d, want 1 undisturbed", tn.leader())
			}
		})
	}
}

// Thesis §4.1: at most one configuration change may be uncommitted. That
// includes one a new leader inherits: it may not propose another until the
// inherited one commits, which happens with its first entry of its term.
func TestMembershipInheritedUncommittedChange(t *testing.T) {
	tn := elect3(t)
	tn.join(4, nil)
	tn.startEmpty(4)
	tn.cut[2][1], tn.cut[3][1] = true, true
	idx := mustChange(tn, 1, change(AddLearner, 4))
	tn.deliverAll()
	if c := tn.nodes[2].Status().Commit; c >= idx {
		t.Fatalf("node 2 committed the change")
	}
	term := tn.nodes[1].Status().Term
	tn.heal()
	tn.isolate(1)
	tn.dropTypes[MsgAppResp] = true // the new leader's no-op cannot commit
	tickUntil(tn, 100, "a leader among 2, 3", leaderAmong(tn, term, 2, 3))
	l := tn.nodes[tn.leader()]
	if !l.Membership().IsMember(4) {
		t.Fatalf("new leader does not use the inherited configuration: %+v", l.Membership())
	}
	if _, ok := l.Progress(4); !ok {
		t.Errorf("new leader does not track inherited learner 4")
	}
	if _, _, err := l.ProposeMembershipChange(change(AddLearner, 5)); !errors.Is(err, ErrChangePending) {
		t.Fatalf("change with an inherited uncommitted one: %v, want ErrChangePending", err)
	}
	delete(tn.dropTypes, MsgAppResp)
	tickUntil(tn, 10, "inherited change committed", func() bool { return l.Status().Commit > idx })
	if _, _, err := l.ProposeMembershipChange(change(AddLearner, 5)); err != nil {
		t.Fatalf("change after the inherited one committed: %v", err)
	}
}

// isQuorum reports whether the servers in set (a bit per ID) form a quorum
// of m: a majority of Voters and, if joint, a majority of OutgoingVoters.
func isQuorum(m Membership, set uint64) bool {
	majority := func(voters []NodeID) bool {
		n := 0
		for _, id := range voters {
			if set&(1<<id) != 0 {
				n++
			}
		}
		return n > len(voters)/2
	}
	return majority(m.Voters) && (len(m.OutgoingVoters) == 0 || majority(m.OutgoingVoters))
}

// quorumsOverlap reports whether every quorum of a intersects every quorum
// of b: equivalently, no quorum of a leaves a quorum of b in its
// complement. IDs must be below 64.
func quorumsOverlap(a, b Membership) bool {
	var universe uint64
	for _, m := range []Membership{a, b} {
		for _, id := range append(slices.Clone(m.Voters), m.OutgoingVoters...) {
			universe |= 1 << id
		}
	}
	// Enumerate the subsets of universe.
	for s := universe; ; s = (s - 1) & universe {
		if isQuorum(a, s) && isQuorum(b, universe&^s) {
			return false
		}
		if s == 0 {
			return true
		}
	}
}

// rapidTB lets testNet report through a rapid.T, so that failures shrink.
type rapidTB struct {
	testing.TB
	rt *rapid.T
}

func (r rapidTB) Fatalf(format string, args ...any) { r.rt.Fatalf(format, args...) }
func (r rapidTB) Fatal(args ...any)                 { r.rt.Fatal(args...) }
func (r rapidTB) Errorf(format string, args ...any) { r.rt.Errorf(format, args...) }
func (r rapidTB) Helper()                           {}

// Thesis §4.2 and §4.3 (safety of membership changes): random sequences of
// changes proposed through a real leader — single-server, several at once
// (joint, left automatically), explicitly joint, explicit leaves, learners
// and witnesses, the leader removing itself — keep every two consecutive
// configurations of the committed log overlapping: any quorum of one
// intersects any quorum of the next, a joint configuration's quorums
// holding a majority of both halves. Refusals are allowed; a cluster that
// can no longer elect a leader fails the test.
func TestPropertyMembershipQuorumOverlap(t *testing.T) {
	// The check itself can tell: replacing two of three voters at once
	// has disjoint quorums ({2,3} and {4,5}).
	if quorumsOverlap(Membership{Voters: []NodeID{1, 2, 3}}, Membership{Voters: []NodeID{1, 4, 5}}) {
		t.Fatalf("quorumsOverlap misses a direct replacement of two voters")
	}
	if !quorumsOverlap(Membership{Voters: []NodeID{1, 2, 3}}, Membership{Voters: []NodeID{1, 4, 5}, OutgoingVoters: []NodeID{1, 2, 3}}) {
		t.Fatalf("quorumsOverlap rejects entering a joint configuration")
	}
	const maxID = 6
	rapid.Check(t, func(rt *rapid.T) {
		tn := newTestNet(rapidTB{t, rt}, 3, nil)
		for id := NodeID(4); id <= maxID; id++ {
			tn.join(id, nil)
			tn.startEmpty(id)
		}
		tn.campaign(1)
		genChange := rapid.Custom(func(rt *rapid.T) MembershipChange {
			return MembershipChange{
				Type: rapid.SampledFrom([]ChangeType{AddVoter, AddLearner, RemoveMember, AddWitness}).Draw(rt, "type"),
				Node: NodeID(rapid.IntRange(1, maxID).Draw(rt, "node")),
			}
		})
		accepted := 0
		for range rapid.IntRange(1, 30).Draw(rt, "steps") {
			l := tn.nodes[tn.leader()]
			var err error
			switch op := rapid.IntRange(0, 4).Draw(rt, "op"); op {
			case 0, 1:
				_, _, err = l.ProposeMembershipChange(rapid.SliceOfN(genChange, 1, 3).Draw(rt, "changes")...)
			case 2, 3:
				_, _, err = l.ProposeJointMembershipChange(op == 2, rapid.SliceOfN(genChange, 1, 3).Draw(rt, "changes")...)
			case 4:
				_, _, err = l.LeaveJoint()
			}
			if err != nil {
				if !errors.Is(err, ErrMembershipChangeRefused) {
					rt.Fatalf("unexpected refusal: %v", err)
				}
				continue
			}
			accepted++
			if m := l.Membership(); m.IsJoint() && m.AutoLeave {
				accepted++ // and its automatic leave
			}
			tickUntil(tn, 200, "settled", func() bool {
				id := tn.leader()
				if id == None {
					return false
				}
				n := tn.nodes[id]
				return n.configs.lastIndex() <= n.log.committed && !(n.members().IsJoint() && n.members().AutoLeave)
			})
		}
		l := tn.nodes[tn.leader()]
		cfgs := []Membership{{Voters: []NodeID{1, 2, 3}}}
		for _, e := range logOf(l) {
			if e.Type == EntryConfig && e.Index <= l.log.committed {
				m, err := decodeMembership(e.Data)
				if err != nil {
					rt.Fatalf("entry %d: %v", e.Index, err)
				}
				cfgs = append(cfgs, m)
			}
		}
		if len(cfgs) != accepted+1 {
			rt.Fatalf("%d configurations committed for %d accepted changes: %+v", len(cfgs)-1, accepted, cfgs)
		}
		for i := 1; i < len(cfgs); i++ {
			if !quorumsOverlap(cfgs[i-1], cfgs[i]) {
				rt.Fatalf("configurations %d and %d have disjoint quorums:\n%+v\n%+v", i-1, i, cfgs[i-1], cfgs[i])
			}
		}
		rt.Logf("%d configurations: %v", len(cfgs), cfgs)
	})
}

// Thesis §4.3: a leader that finds the joint configuration committed
// appends C_new itself. Configuration entries are the node's own, bounded by
// MaxMembers, not proposals: a new leader whose MaxEntryBytes is smaller
// than the C_new entry (servers may run with different limits) must still
// leave the joint configuration — not refuse, and not panic.
func TestAutoLeaveIgnoresMaxEntryBytes(t *testing.T) {
	const big = NodeID(1 << 62) // a long varint makes C_new exceed 16 bytes
	cfg := func(id NodeID) Config {
		c := defaultTestConfig(id)
		if id != 1 {
			c.MaxMsgBytes, c.MaxEntryBytes = 16, 16
		}
		return c
	}
	tn := newTestNet(t, 3, cfg)
	tn.campaign(1)
	tn.join(big, nil)
	tn.startEmpty(big)
	joint := mustChange(tn, 1, change(AddVoter, big), change(RemoveMember, 3))
	// Node 1 commits the joint entry and appends C_new, which never leaves it.
	tn.drop = func(m Message) bool {
		return m.From == 1 && (len(m.Entries) > 0 && m.Entries[len(m.Entries)-1].Index > joint || m.Snapshot != nil && m.Snapshot.Index > joint)
	}
	tn.deliverAll()
	if last := tn.nodes[1].Status().LastIndex; last != joint+1 {
		t.Fatalf("node 1's last index %d, want the C_new entry at %d", last, joint+1)
	}
	tn.drop = nil
	tn.isolate(1)
	tn.tickAll(60)
	lead := tn.leader()
	if lead == None || lead == 1 {
		t.Fatalf("no new leader among 2, 3 and %d (leader %d)", big, lead)
	}
	tn.tickAll(5)
	want := Membership{Voters: []NodeID{1, 2, big}}
	if diff := cmp.Diff(want, tn.nodes[lead].Membership(), cmpopts.EquateEmpty()); diff != "" {
		t.Fatalf("leader %d did not leave the joint configuration (-want +got):\n%s", lead, diff)
	}
}

// TestMembershipRemovedLeaderCampaignsToFinishJointLeave: leader 1 replaces itself
// through a joint configuration (old {1,3}, new {2,3}) and, once the joint
// configuration commits, appends the leave entry {2,3} — which reaches no
// one before node 1 loses leadership (it restarts). Nodes 2 and 3, still
// joint, need node 1's vote for the old half, and node 1 rightly refuses
// it: its log is longer. Node 1 must therefore be able to campaign while
// the configuration that removes it is uncommitted (thesis §4.2.2: it
// manages the cluster until then); otherwise no leader is ever elected.
// Found by raftsim: seed 265, 3 nodes, lease reads.
func TestMembershipRemovedLeaderCampaignsToFinishJointLeave(t *testing.T) {
	tn := elect3(t)
	mustChange(tn, 1, change(RemoveMember, 2))
	tn.deliverAll()
	jIdx, _, err := tn.nodes[1].ProposeJointMembershipChange(true, change(RemoveMember, 1), change(AddVoter, 2))
	if err != nil {
		t.Fatal(err)
	}
	// The leave entry (jIdx+1) never leaves node 1.
	tn.drop = func(m Message) bool {
		return m.From == 1 && m.Type == MsgApp && len(m.Entries) > 0 && m.Entries[len(m.Entries)-1].Index > jIdx
	}
	tn.deliverAll()
	if m := tn.nodes[1].Membership(); m.IsJoint() || tn.nodes[1].log.lastIndex() != jIdx+1 {
		t.Fatalf("node 1: membership %+v, last index %d; want the leave entry at %d appended", m, tn.nodes[1].log.lastIndex(), jIdx+1)
	}
	for _, id := range []NodeID{2, 3} {
		if m := tn.nodes[id].Membership(); !m.IsJoint() {
			t.Fatalf("node %d: membership %+v, want still joint", id, m)
		}
	}
	tn.crash(1)
	tn.restart(1)
	tn.drop = nil
	tickUntil(tn, 300, "a leader elected", func() bool { return tn.leader() != None })
	tickUntil(tn, 300, "the leave entry committed everywhere", func() bool {
		for _, id := range []NodeID{2, 3} {
			if n := tn.nodes[id]; n.Membership().IsJoint() || n.log.committed < jIdx+1 {
				return false
			}
		}
		return true
	})
}

// Thesis §4.2.1: a learner (a non-voting member) never campaigns: it has
// no vote to give itself and its election could make a leader of a server
// the configuration does not count. Only a voter that a configuration
// entry not yet known committed removes may campaign (thesis §4.2.2); a
// learner holding such an entry must not. Here the leader crashes after an
// uncommitted change reached learner 4 only: 4's log is the longest, so
// voters 2 and 3 would elect it if it asked.
func TestMembershipLearnerNeverCampaigns(t *testing.T) {
	tn := elect3(t)
	tn.join(4, nil)
	tn.startEmpty(4)
	mustChange(tn, 1, change(AddLearner, 4))
	tn.deliverAll()
	tn.join(5, nil) // never started
	tn.cut[1][2], tn.cut[1][3] = true, true
	idx := mustChange(tn, 1, change(AddLearner, 5))
	tn.deliverAll()
	if st := tn.nodes[4].Status(); st.LastIndex != idx || st.Commit >= idx {
		t.Fatalf("setup: learner 4 %+v; want the change %d appended, not committed", st, idx)
	}
	tn.crash(1)
	tn.heal()
	// Only 4's clock runs: it is first to time out.
	for i := 0; i < 30; i++ {
		tn.tick(4, 1)
		tn.deliverAll()
		if st := tn.nodes[4].Status(); st.Role != RoleFollower {
			t.Fatalf("tick %d: learner 4 is %v in term %d", i, st.Role, st.Term)
		}
	}
	tickUntil(tn, 100, "2 or 3 elected", leaderAmong(tn, 0, 2, 3))
}

// Thesis §4.3: the leader leaves a joint configuration — appends C_new —
// only once C_old,new is committed; before that a leader of C_old alone
// could still be elected, and C_new must not take effect while it can.
// Here an entry before C_old,new commits while C_old,new itself has
// reached no follower: the leader must not take that commit for the
// joint configuration's.
func TestMembershipJointLeftOnlyOnceCommitted(t *testing.T) {
	tn := elect3(t)
	tn.join(4, nil)
	tn.startEmpty(4)
	tn.async = true
	x, _ := tn.propose(1, "x")
	tn.deliverAll() // x reaches 2 and 3; nobody's write of it completes
	j := x + 1
	tn.drop = func(m Message) bool {
		return m.From == 1 && m.Type == MsgApp && len(m.Entries) > 0 && m.Entries[len(m.Entries)-1].Index >= j
	}
	if got, _, err := tn.nodes[1].ProposeJointMembershipChange(true, change(AddVoter, 4), change(RemoveMember, 3)); err != nil || got != j {
		t.Fatalf("joint change at %d, %v; want %d", got, err, j)
	}
	tn.deliverAll()
	for _, id := range []NodeID{1, 2, 3, 4} {
		tn.ackAll(id)
	}
	tn.deliverAll()
	leader := tn.nodes[1]
	if st := leader.Status(); st.Commit != x {
		t.Fatalf("setup: leader commit %d, want %d (x, below the joint entry %d)", st.Commit, x, j)
	}
	if st, m := leader.Status(), leader.Membership(); !m.IsJoint() || st.LastIndex != j {
		t.Fatalf("leader left the joint configuration %d before it committed: membership %+v, last index %d", j, m, st.LastIndex)
	}
	tn.drop, tn.async = nil, false
	tickUntil(tn, 50, "the leave committed", func() bool {
		return !leader.Membership().IsJoint() && leader.Status().Commit == leader.Status().LastIndex
	})
}

// Thesis §4.2.2: a leader that removes itself manages the cluster until
// the configuration without it is committed, and steps down only then. An
// earlier entry committing is no reason to: here x, before the removal,
// commits while the removal has reached no follower.
func TestMembershipRemovedLeaderStepsDownOnlyOnceRemovalCommits(t *testing.T) {
	tn := elect3(t)
	tn.async = true
	x, _ := tn.propose(1, "x")
	tn.deliverAll()
	r := x + 1
	tn.drop = func(m Message) bool {
		return m.From == 1 && m.Type == MsgApp && len(m.Entries) > 0 && m.Entries[len(m.Entries)-1].Index >= r
	}
	if got := mustChange(tn, 1, change(RemoveMember, 1)); got != r {
		t.Fatalf("removal at %d, want %d", got, r)
	}
	tn.deliverAll()
	for _, id := range []NodeID{1, 2, 3} {
		tn.ackAll(id)
	}
	tn.deliverAll()
	leader := tn.nodes[1]
	if st := leader.Status(); st.Commit != x || st.Role != RoleLeader {
		t.Fatalf("leader %+v after x (%d) committed and its removal (%d) did not; want still leader with commit %d", st, x, r, x)
	}
	tn.drop, tn.async = nil, false
	tickUntil(tn, 50, "the removal committed and the leader stepped down", func() bool {
		return leader.Status().Commit >= r && leader.Status().Role == RoleFollower
	})
}

// Thesis §4.3: in a joint configuration an election needs a majority of
// C_old and a majority of C_new. Here C_old is {1,2,3} and C_new {1,4,5};
// with 1 down and {2,3} cut off from {4,5}, node 4 holds a majority of
// C_new only and must not win; nor can 2 or 3, with C_old only.
func TestMembershipJointElectionNeedsBothHalves(t *testing.T) {
	tn := elect3(t)
	for _, id := range []NodeID{4, 5} {
		tn.join(id, nil)
		tn.startEmpty(id)
	}
	j, _, err := tn.nodes[1].ProposeJointMembershipChange(false,
		change(AddVoter, 4), change(AddVoter, 5), change(RemoveMember, 2), change(RemoveMember, 3))
	if err != nil {
		t.Fatal(err)
	}
	tn.deliverAll()
	tickUntil(tn, 10, "the joint configuration committed everywhere", committedOn(tn, j, 1, 2, 3, 4, 5))
	tn.crash(1)
	tn.partition([]NodeID{2, 3}, []NodeID{4, 5})
	for i := 0; i < 200; i++ {
		tn.tickAll(1)
		if l := tn.leader(); l != None {
			t.Fatalf("tick %d: node %d elected with one half of the joint configuration", i, l)
		}
	}
	tn.heal()
	tickUntil(tn, 200, "a leader elected by both halves", func() bool { return tn.leader() != None })
}
