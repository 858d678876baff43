package raft

import (
	"slices"
	"testing"
)

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
