package raft

import (
	"errors"
	"fmt"
	"slices"
	"testing"

	"github.com/google/go-cmp/cmp"
)

// Behaviour tests for witnesses (thesis §11.7.2): servers that vote and
// store entries without payloads, never lead, and never change role.

// witnessNet returns a cluster of data voters 1 and 2 and witness 3, led
// by 1, with entry "a" committed everywhere.
func witnessNet(t *testing.T) *testNet { return dataAndWitnessNet(t, 2) }

// dataAndWitnessNet returns a cluster of data voters 1..data, led by 1,
// plus witness data+1, with entry "a" committed everywhere.
func dataAndWitnessNet(t *testing.T, data int) *testNet {
	t.Helper()
	w := NodeID(data + 1)
	tn := newTestNet(t, data, nil)
	tn.campaign(1)
	tn.join(w, nil)
	tn.startEmpty(w)
	mustChange(tn, 1, change(AddWitness, w))
	tn.deliverAll()
	tn.propose(1, "a")
	tn.deliverAll()
	want := Membership{Voters: append(ids(data), w), Witnesses: []NodeID{w}}
	if diff := cmp.Diff(want, tn.nodes[1].Membership()); diff != "" {
		t.Fatalf("membership (-want +got):\n%s", diff)
	}
	return tn
}

// singleDataNet is a cluster of one data voter, node 1 (the leader), and
// one witness, node 2, with an entry committed.
func singleDataNet(t *testing.T) *testNet { return dataAndWitnessNet(t, 1) }

// Thesis §11.7.2 (witnesses): a witness stores every entry but receives
// normal entries without their payloads; it votes and counts toward
// commitment, and never campaigns.
func TestMembershipWitness(t *testing.T) {
	tn := witnessNet(t)
	var sawNormal bool
	for _, e := range tn.storage[3].entries {
		switch e.Type {
		case EntryNormal:
			sawNormal = true
			if e.Data != nil {
				t.Errorf("witness stored entry %d with payload %q", e.Index, e.Data)
			}
		case EntryConfig:
			if len(e.Data) == 0 {
				t.Errorf("witness's configuration entry %d lost its payload", e.Index)
			}
		}
	}
	if !sawNormal {
		t.Fatalf("witness stored no normal entry: %+v", tn.storage[3].entries)
	}
	if got := tn.appliedData(1); !slices.Equal(got, []string{"a"}) {
		t.Fatalf("leader applied %q, want [a]: the witness's copy must not strip the leader's payloads", got)
	}

	// Counts toward commitment: node 2's acknowledgements are lost.
	tn.cut[2][1] = true
	bIdx, _ := tn.propose(1, "b")
	tn.deliverAll()
	if c := tn.nodes[1].Status().Commit; c != bIdx {
		t.Fatalf("commit %d, want %d by leader and witness", c, bIdx)
	}
	tn.heal()

	// Never campaigns.
	if err := tn.nodes[3].Campaign(); err == nil {
		t.Fatalf("witness's Campaign succeeded")
	}
	var fromWitness []Message
	tn.observe = func(m Message) {
		if m.From == 3 && (m.Type == MsgVote || m.Type == MsgPreVote) {
			fromWitness = append(fromWitness, m)
		}
	}
	tn.isolate(1)
	tn.tickAll(100)
	for _, m := range fromWitness {
		t.Errorf("witness campaigned: %v", m)
	}
	if l := tn.leader(); l != 2 {
		t.Errorf("leader %d, want 2 (elected with the witness's vote)", l)
	}
}

// Thesis §11.7.2: two data servers and a witness tolerate the crash of any
// one of them: the other two elect a leader (never the witness) and keep
// committing, and the crashed server restarts from its storage and catches
// up, with no committed entry lost and none applied twice.
func TestMembershipWitnessClusterToleratesOneCrash(t *testing.T) {
	for _, victim := range []NodeID{1, 2, 3} {
		t.Run(fmt.Sprintf("crash %d", victim), func(t *testing.T) {
			tn := witnessNet(t)
			term := tn.nodes[1].Status().Term
			tn.crash(victim)
			if victim == 1 {
				tickUntil(tn, 100, "node 2 elected", leaderAmong(tn, term, 2))
			}
			l := tn.leader()
			bIdx, _ := tn.propose(l, "b")
			tickUntil(tn, 5, "b committed", committedOn(tn, bIdx, l))
			tn.restart(victim)
			tickUntil(tn, 50, "b committed everywhere", committedOn(tn, bIdx, 1, 2, 3))
			tickUntil(tn, 5, "b applied everywhere", func() bool {
				for _, id := range []NodeID{1, 2, 3} {
					if tn.nodes[id].Status().Applied < bIdx {
						return false
					}
				}
				return true
			})
			for _, id := range []NodeID{1, 2} {
				if got := tn.appliedData(id); !slices.Equal(got, []string{"a", "b"}) {
					t.Errorf("data node %d applied %q, want [a b]", id, got)
				}
			}
			for _, id := range []NodeID{1, 2, 3} {
				for i, e := range tn.applied[id] {
					if e.Index != Index(i+1) {
						t.Fatalf("node %d applied index %d at position %d: skipped or repeated", id, e.Index, i)
					}
				}
			}
			if tn.leader() == 3 {
				t.Errorf("the witness leads")
			}
		})
	}
}

// Thesis §11.7.2 with §5.4.1: an entry committed by the leader and the
// witness alone is not lost when the leader crashes. The other data server
// lacks it, so the witness refuses to elect it (its log is not up to date):
// the cluster waits for the leader to restart, and then the entry reaches
// the other data server.
func TestMembershipWitnessKeepsCommittedEntry(t *testing.T) {
	tn := witnessNet(t)
	tn.cut[1][2] = true
	xIdx, _ := tn.propose(1, "x")
	tn.deliverAll()
	if c := tn.nodes[1].Status().Commit; c != xIdx {
		t.Fatalf("x not committed by leader and witness: commit %d, want %d", c, xIdx)
	}
	tn.heal()
	tn.crash(1)
	tn.tickAll(100)
	if l := tn.leader(); l != None {
		t.Fatalf("node %d elected without the committed entry %d", l, xIdx)
	}
	tn.restart(1)
	tickUntil(tn, 100, "x applied on node 2", func() bool { return slices.Equal(tn.appliedData(2), []string{"a", "x"}) })
}

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

// TestWitnessHoldsOnlyEntriesDurableOnLeader: the leader sends an entry to the
// witness before its own write of it completes (thesis §10.2.1 allows
// that), the witness stores it, and the leader crashes: its copy is lost.
// The witness, whose log is now longer than the only data voter's, refuses
// it its vote (§5.4.1), and a witness never leads (§11.7.2): no leader,
// ever, with every server up. A witness must hold only entries durable on
// a data voter. Found by raftsim: seed 1, 1 node (+ a witness added).
func TestWitnessHoldsOnlyEntriesDurableOnLeader(t *testing.T) {
	tn := singleDataNet(t)
	tn.async = true
	idx, _ := tn.propose(1, "b")
	tn.deliverAll()
	tn.ackAll(2) // whatever the witness was sent is durable there
	tn.deliverAll()
	tn.crash(1) // the leader's own write of idx never completed
	tn.async = false
	tn.restart(1)
	if last := tn.nodes[1].log.lastIndex(); last >= idx {
		t.Fatalf("setup: node 1 kept entry %d (last %d)", idx, last)
	}
	tickUntil(tn, 300, "node 1 elected", leaderAmong(tn, 0, 1))
}

// TestWitnessHoldsOnlyEntriesDurableOnRemainingDataVoter: leader 1 removes itself
// from {1, 2, 3 (witness)} and, before the removal commits, appends an
// entry that reaches the witness but not node 2. Once the removal commits,
// node 1 steps down for good (thesis §4.2.2); node 2, the only data voter
// left, lacks the entry the witness holds, so the witness refuses it its
// vote (§5.4.1) and nobody can ever lead (§11.7.2). The leader's own
// durable copy does not help when it is not a voter: a witness must hold
// only entries durable on a data voter of the configuration.
// Found by raftsim: seed 65, 3 nodes, lease reads.
func TestWitnessHoldsOnlyEntriesDurableOnRemainingDataVoter(t *testing.T) {
	tn := witnessNet(t)
	r := mustChange(tn, 1, change(RemoveMember, 1))
	tn.drain(1)
	x, _ := tn.propose(1, "x")
	tn.drop = func(m Message) bool {
		return m.From == 1 && m.To == 2 && m.Type == MsgApp && len(m.Entries) > 0 && m.Entries[len(m.Entries)-1].Index >= x
	}
	tn.deliverAll()
	if tn.nodes[1].Status().Role == RoleLeader || tn.nodes[2].log.lastIndex() != r {
		t.Fatalf("setup: node 1 role %v, node 2 last index %d; want node 1 stepped down, node 2 ending at the removal %d",
			tn.nodes[1].Status().Role, tn.nodes[2].log.lastIndex(), r)
	}
	tn.drop = nil
	tickUntil(tn, 300, "node 2 elected", leaderAmong(tn, 0, 2))
}

// Witnesses whose role is contested (issue 18). A server's role is the one
// its configuration entries give it: effective when appended, rolled back
// when truncated (thesis §4.1), final once committed. Two leaders of
// different terms may each append a change giving one server a different
// role; neither is committed yet, so either may still win, whichever was
// proposed last. raftsim's host used to run the server in the role of the
// last proposal, and its checker judged the server by it: it reported a
// "data member" holding entries without payloads, and a "witness" leading,
// where the core was right (these tests). The rules the core keeps:
//   - payloads are withheld from a server only once its witness role is
//     committed (thesis §11.7.2 with §4.1: a role not committed may be
//     rolled back and the server added again as a data member);
//   - a server whose own log makes it a witness never campaigns, whatever
//     the configurations before it, with pre-vote and check-quorum off,
//     and across restarts.

// storedPayloads returns the payloads of the normal entries node id stores
// ("<none>" for an entry stored without one).
func storedPayloads(tn *testNet, id NodeID) []string {
	var out []string
	for _, e := range tn.storage[id].entries {
		if e.Type != EntryNormal {
			continue
		}
		if e.Data == nil {
			out = append(out, "<none>")
			continue
		}
		out = append(out, string(e.Data))
	}
	return out
}

// Thesis §4.1 and §11.7.2, raftsim seed 201448 (issue 18): leader 3 of
// term 1, cut off, appends the joint change [RemoveMember 3, AddWitness 4];
// leader 2 of term 2, cut off too, appends [AddVoter 4]. Node 3 then wins
// term 3 with nodes 1 and 4 and commits its change: node 4 is a witness,
// though the last change proposed made it a data voter. Payloads are
// withheld from node 4 only from then on; node 2's change is overwritten,
// so the host that proposed it learns that its proposal failed.
func TestWitnessRoleIsTheCommittedOneNotTheLastProposed(t *testing.T) {
	tn := newTestNet(t, 3, nil)
	for _, id := range []NodeID{4} {
		tn.join(id, nil)
		tn.startEmpty(id)
	}
	tn.campaign(3)
	tn.propose(3, "a")
	tn.deliverAll()

	tn.isolate(3)
	mustChange(tn, 3, change(RemoveMember, 3), change(AddWitness, 4))
	tn.deliverAll()

	// Node 2 wins term 2; its no-op never reaches node 1, and it is cut
	// off before its change [AddVoter 4] reaches anyone.
	tn.drop = func(m Message) bool { return m.From == 2 && m.Type == MsgApp }
	tickUntil(tn, 300, "node 2 elected", leaderAmong(tn, 1, 2))
	tn.isolate(2)
	tn.drop = nil
	voterIdx, voterTerm, err := tn.nodes[2].ProposeMembershipChange(change(AddVoter, 4))
	if err != nil {
		t.Fatalf("node 2 AddVoter 4: %v", err)
	}
	tn.deliverAll()

	// Node 3 comes back and wins with nodes 1 and 4; it commits its joint
	// change, leaves it, and steps down, removed.
	for _, id := range []NodeID{1, 3, 4} {
		for _, other := range []NodeID{1, 3, 4} {
			tn.cut[id][other] = false
		}
	}
	tickUntil(tn, 500, "node 1 leading a configuration with witness 4", func() bool {
		l := tn.leader()
		return l == 1 && tn.nodes[1].Status().Commit >= tn.nodes[1].configs.lastIndex() &&
			!tn.nodes[1].Membership().IsJoint() && tn.nodes[1].Membership().IsWitness(4)
	})
	tn.heal()
	bIdx, _ := tn.propose(1, "b")
	tickUntil(tn, 300, "b committed on 1, 2 and 4", committedOn(tn, bIdx, 1, 2, 4))

	// "a" reached node 4 before its role committed: with its payload.
	// "b" after: without.
	if got, want := storedPayloads(tn, 4), []string{"a", "<none>"}; !slices.Equal(got, want) {
		t.Errorf("node 4 stores payloads %q, want %q", got, want)
	}
	for _, id := range []NodeID{1, 2, 4} {
		if m := tn.nodes[id].Membership(); !m.IsWitness(4) {
			t.Errorf("node %d's configuration %+v: node 4 is not a witness", id, m)
		}
	}
	// Node 2's proposal was overwritten: its fate is observable.
	if got, _ := tn.nodes[2].log.term(voterIdx); got == voterTerm {
		t.Errorf("node 2 still holds its AddVoter 4 entry %d/%d", voterIdx, voterTerm)
	}
	if err := tn.nodes[4].Campaign(); err == nil {
		t.Errorf("witness 4 may campaign")
	}
}

// Thesis §4.1 and §11.7.2, raftsim seeds 420527 and 640296 (issue 18),
// with pre-vote and check-quorum off: leader 1, cut off, appends
// [AddVoter 4]; leader 2 then appends [AddWitness 4], which reaches no one.
// Node 1's branch wins: node 4 is a data voter. It was never a witness in
// a committed configuration, so it holds every payload, and it may lead.
func TestWitnessRoleNeverCommittedLeavesADataVoter(t *testing.T) {
	tn := newTestNet(t, 3, testCfg(classic))
	tn.join(4, nil)
	tn.campaign(1)
	tn.propose(1, "a")
	tn.deliverAll()

	tn.isolate(1)
	mustChange(tn, 1, change(AddVoter, 4))
	tn.deliverAll()
	// Node 2 wins term 2; its no-op reaches no one.
	tn.drop = func(m Message) bool { return m.From == 2 && m.Type == MsgApp }
	tn.campaign(2)
	if tn.leader() != 2 {
		t.Fatalf("leader %d, want 2", tn.leader())
	}
	tn.isolate(2)
	tn.drop = nil
	witnessIdx, witnessTerm, err := tn.nodes[2].ProposeMembershipChange(change(AddWitness, 4))
	if err != nil {
		t.Fatalf("node 2 AddWitness 4: %v", err)
	}
	tn.deliverAll()

	// Node 1 wins term 3 with nodes 3 and 4 (3 of its 4 voters).
	tn.startEmpty(4)
	tn.heal()
	tn.isolate(2)
	tickUntil(tn, 300, "node 1 elected again", leaderAmong(tn, 2, 1))
	tn.heal()
	bIdx, _ := tn.propose(1, "b")
	tickUntil(tn, 300, "b committed everywhere", committedOn(tn, bIdx, 1, 2, 3, 4))
	if got, _ := tn.nodes[2].log.term(witnessIdx); got == witnessTerm {
		t.Errorf("node 2 still holds its AddWitness 4 entry %d/%d", witnessIdx, witnessTerm)
	}
	if got, want := storedPayloads(tn, 4), []string{"a", "b"}; !slices.Equal(got, want) {
		t.Errorf("data voter 4 stores payloads %q, want %q", got, want)
	}
	m := tn.nodes[4].Membership()
	if !m.IsVoter(4) || m.IsWitness(4) {
		t.Fatalf("node 4's configuration %+v: want a data voter", m)
	}
	tn.isolate(1)
	tn.campaign(4)
	if tn.leader() != 4 {
		t.Errorf("data voter 4 did not win: leader %d", tn.leader())
	}
}

// Thesis §11.7.2 with §4.1, pre-vote and check-quorum off: a server that
// its own log makes a witness never campaigns — while the AddWitness entry
// is uncommitted, after it was truncated (the server is then in no
// configuration), after it was added again and committed, after a
// restart, and while an uncommitted entry removes it.
func TestWitnessNeverCampaignsWhateverItsConfigurationHistory(t *testing.T) {
	tn := newTestNet(t, 3, testCfg(classic))
	tn.join(4, nil)
	tn.startEmpty(4)
	var campaigns []Message
	tn.observe = func(m Message) {
		if m.From == 4 && (m.Type == MsgVote || m.Type == MsgPreVote) {
			campaigns = append(campaigns, m)
		}
	}
	quiet := func(stage string) {
		t.Helper()
		if err := tn.nodes[4].Campaign(); err == nil {
			t.Errorf("%s: node 4's Campaign succeeded", stage)
		}
		tn.tick(4, 200)
		tn.deliverAll()
		if len(campaigns) > 0 {
			t.Fatalf("%s: node 4 campaigned: %v", stage, campaigns)
		}
	}
	tn.campaign(1)
	tn.propose(1, "a")
	tn.deliverAll()

	// Appended, not committed: only node 4 acknowledges.
	tn.cut[1][2], tn.cut[1][3] = true, true
	mustChange(tn, 1, change(AddWitness, 4))
	tn.deliverAll()
	if !tn.nodes[4].Membership().IsWitness(4) {
		t.Fatalf("node 4 did not receive its AddWitness entry")
	}
	tn.cut[4][1], tn.cut[4][2], tn.cut[4][3] = true, true, true
	quiet("role appended, not committed")

	// Node 2 leads a term in which the entry never existed: node 4 is in
	// no configuration of the cluster, but its own log still makes it a
	// witness.
	tn.heal()
	tn.isolate(1)
	tn.isolate(4)
	tn.campaign(2)
	tn.propose(2, "b")
	tn.deliverAll()
	quiet("role appended, then lost by the cluster")

	// Added again and committed, then restarted.
	tn.heal()
	tn.isolate(1)
	witnessIdx := mustChange(tn, 2, change(AddWitness, 4))
	tn.deliverAll()
	if e := tn.nodes[4].log.entry(3); e.Term != 2 {
		t.Fatalf("node 4's entry 3 has term %d: its first witness entry was not truncated", e.Term)
	}
	if e := tn.nodes[4].log.entry(witnessIdx); e.Type != EntryConfig || !tn.nodes[4].Membership().IsWitness(4) {
		t.Fatalf("node 4 did not receive its second AddWitness entry")
	}
	cIdx, _ := tn.propose(2, "c")
	tickUntil(tn, 100, "c committed on 2, 3 and 4", committedOn(tn, cIdx, 2, 3, 4))
	tn.crash(4)
	tn.restart(4)
	tn.isolate(4)
	quiet("role committed, restarted")

	// Removed by an entry not yet committed (a leader stops sending to a
	// member once it appends its removal, so the witness's log holding it
	// is built here): a voter removed so may still campaign (thesis
	// §4.2.2), a witness never.
	removed, err := NewNode(testCfg(classic)(4), PersistentState{
		HardState: HardState{Term: 3, Commit: 1},
		Snapshot:  SnapshotMeta{Membership: Membership{Voters: ids(3)}},
		Entries: []Entry{
			{Index: 1, Term: 3, Type: EntryConfig, Data: encodeMembership(Membership{Voters: ids(4), Witnesses: []NodeID{4}})},
			{Index: 2, Term: 3, Type: EntryConfig, Data: encodeMembership(Membership{Voters: ids(3)})},
		},
	})
	if err != nil {
		t.Fatal(err)
	}
	if err := removed.Campaign(); err == nil {
		t.Errorf("witness removed by an uncommitted entry: Campaign succeeded")
	}
	for range 200 {
		removed.Tick()
	}
	if got := msgs(syncRun(t, removed), MsgVote, MsgPreVote); len(got) > 0 {
		t.Errorf("witness removed by an uncommitted entry campaigned: %v", got)
	}
}
