package raft

import (
	"errors"
	"fmt"
	"slices"
	"testing"

	"github.com/google/go-cmp/cmp"
)

// Behaviour tests for log compaction and snapshots (thesis chapter 5, paper
// §7): Compact, the retained tail, InstallSnapshot on the follower, snapshot
// transfers that cannot stall, and restarts from a snapshot.
// docs/snapshots.md explains what a caller does.

// laggingNet returns a synchronous 3-node cluster led by 1 in which node 3
// missed n proposals "0".."n-1" (every one committed by 1 and 2), with the
// link 1->3 still cut.
func laggingNet(t *testing.T, n int, changes ...func(*Config)) *testNet {
	tn := elect3(t, changes...)
	tn.cut[1][3] = true
	for i := range n {
		tn.propose(1, fmt.Sprint(i))
	}
	tn.deliverAll()
	if st := tn.nodes[1].Status(); st.Applied != st.LastIndex {
		t.Fatalf("leader applied %d of %d", st.Applied, st.LastIndex)
	}
	return tn
}

// countSnapshots counts, per target, the ActionSendSnapshot actions node
// from emits from now on.
func countSnapshots(tn *testNet, from NodeID) map[NodeID]int {
	counts := map[NodeID]int{}
	tn.onAction = func(id NodeID, a Action) {
		if id == from && a.Kind == ActionSendSnapshot {
			counts[a.Message.To]++
		}
	}
	return counts
}

func payloads(n int) []string {
	out := make([]string, n)
	for i := range out {
		out[i] = fmt.Sprint(i)
	}
	return out
}

// Thesis §5.1: a server compacts only what its state machine applied, and
// never behind its current snapshot; a refused Compact changes nothing. The
// snapshot's metadata carries the configuration in force at its index, not
// the latest one.
func TestSnapshotCompactErrors(t *testing.T) {
	tn := elect3(t)
	tn.join(4, nil)
	for i := range 3 {
		tn.propose(1, fmt.Sprint(i)) // entries 2..4
	}
	cIdx := mustChange(tn, 1, change(AddLearner, 4)) // entry 5
	tn.propose(1, "x")                               // entry 6
	tn.deliverAll()
	n := tn.nodes[1]
	if st := n.Status(); st.Applied != 6 || cIdx != 5 {
		t.Fatalf("setup: applied %d, config at %d; want 6 and 5", st.Applied, cIdx)
	}

	meta, err := n.Compact(4, 0)
	if err != nil {
		t.Fatal(err)
	}
	want := SnapshotMeta{Index: 4, Term: 1, Membership: Membership{Voters: []NodeID{1, 2, 3}}}
	if diff := cmp.Diff(want, meta); diff != "" {
		t.Errorf("snapshot at 4 (-want +got):\n%s", diff)
	}

	for _, tc := range []struct {
		name  string
		index Index
	}{
		{"beyond applied", 7},
		{"older than the snapshot", 3},
		{"empty log prefix", 0},
	} {
		st, log, snap := n.Status(), logOf(n), *n.snapshotMeta()
		if _, err := n.Compact(tc.index, 0); err == nil {
			t.Errorf("%s: Compact(%d) succeeded", tc.name, tc.index)
		}
		if diff := cmp.Diff(st, n.Status()); diff != "" {
			t.Errorf("%s: refused Compact changed the status (-before +after):\n%s", tc.name, diff)
		}
		if !cmp.Equal(log, logOf(n)) || !cmp.Equal(snap, *n.snapshotMeta()) {
			t.Errorf("%s: refused Compact changed the log or the snapshot", tc.name)
		}
	}

	meta, err = n.Compact(5, 0)
	if err != nil {
		t.Fatal(err)
	}
	want = SnapshotMeta{Index: 5, Term: 1, Membership: Membership{Voters: []NodeID{1, 2, 3}, Learners: []NodeID{4}}}
	if diff := cmp.Diff(want, meta); diff != "" {
		t.Errorf("snapshot at the configuration entry (-want +got):\n%s", diff)
	}
	if st := n.Status(); st.FirstIndex != 6 || st.LastIndex != 6 {
		t.Errorf("log after Compact(5, 0) holds [%d, %d], want [6, 6]", st.FirstIndex, st.LastIndex)
	}
}

// Thesis §5.1.3 (and the design's retained tail): Compact(index, retain)
// keeps the last retain entries before index, so a follower lagging no more
// than that catches up with ordinary appends; one entry further behind and
// it needs a snapshot.
func TestSnapshotRetainedTail(t *testing.T) {
	for _, tc := range []struct {
		retain    uint64
		snapshots int
	}{
		{retain: 20, snapshots: 0},
		{retain: 19, snapshots: 1},
	} {
		t.Run(fmt.Sprintf("retain %d", tc.retain), func(t *testing.T) {
			tn := laggingNet(t, 20) // node 3 holds [1, 1]; leader [1, 21]
			if pr, _ := tn.nodes[1].Progress(3); pr.Match != 1 {
				t.Fatalf("node 3 match %d, want 1", pr.Match)
			}
			tn.compact(1, 21, tc.retain)
			if got, want := tn.nodes[1].Status().FirstIndex, 21-Index(tc.retain)+1; got != want {
				t.Fatalf("first index %d, want %d", got, want)
			}
			snaps := countSnapshots(tn, 1)
			tn.heal()
			tickUntil(tn, 20, "node 3 caught up", func() bool { return tn.nodes[3].Status().Applied == 21 })
			if snaps[3] != tc.snapshots {
				t.Errorf("%d snapshots sent to node 3, want %d", snaps[3], tc.snapshots)
			}
			if got := tn.appliedData(3); !slices.Equal(got, payloads(20)) {
				t.Errorf("node 3 applied %q", got)
			}
		})
	}
}

// Paper §7, thesis §5.3: a follower lagging behind the leader's compacted
// log is sent the snapshot (ActionSendSnapshot), installs it — persisted
// first, applied only once durable — and then catches up with the entries
// after it.
func TestSnapshotLaggingFollowerCatchesUp(t *testing.T) {
	tn := laggingNet(t, 5)
	snap := tn.compact(1, 6, 0)
	fIdx, _ := tn.propose(1, "f")
	tn.deliverAll()

	snaps := countSnapshots(tn, 1)
	var kinds []string // node 3's persist and apply actions, per Actions call
	tn.onAction = func(id NodeID, a Action) {
		switch {
		case id == 1 && a.Kind == ActionSendSnapshot:
			snaps[a.Message.To]++
			if a.Message.Snapshot.Index != snap.Index {
				t.Errorf("snapshot sent at %d, want %d", a.Message.Snapshot.Index, snap.Index)
			}
		case id == 3 && a.Kind == ActionPersist && a.Persist.Snapshot != nil:
			kinds = append(kinds, fmt.Sprintf("persist snapshot %d", a.Persist.Snapshot.Index))
		case id == 3 && a.Kind == ActionApply && a.Apply.Snapshot != nil:
			kinds = append(kinds, fmt.Sprintf("apply snapshot %d", a.Apply.Snapshot.Index))
		}
	}
	tn.heal()
	tickUntil(tn, 20, "node 3 applied f", func() bool { return tn.nodes[3].Status().Applied >= fIdx })
	if snaps[3] != 1 {
		t.Errorf("%d snapshots sent to node 3, want 1", snaps[3])
	}
	if diff := cmp.Diff([]string{"persist snapshot 6", "apply snapshot 6"}, kinds); diff != "" {
		t.Errorf("node 3's snapshot actions (-want +got):\n%s", diff)
	}
	if got := tn.appliedData(3); !slices.Equal(got, append(payloads(5), "f")) {
		t.Errorf("node 3 applied %q", got)
	}
	if pr, _ := tn.nodes[1].Progress(3); pr.State != ProgressReplicate || pr.Match != fIdx {
		t.Errorf("leader's progress for 3: %+v, want replicating at %d", pr, fIdx)
	}
	if diff := cmp.Diff(snap, tn.storage[3].snap); diff != "" {
		t.Errorf("node 3's stored snapshot (-want +got):\n%s", diff)
	}
}

// snapFollower returns node 2 of {1,2,3} restarted with entries 1..8 of
// term 1 and commit 3, entries 1..3 applied, hearing from leader 1.
func snapFollower(t *testing.T) *Node {
	n := restored(t, defaultTestConfig(2), ids(3), HardState{Term: 1, Commit: 3}, rep(1, 8)...)
	if got := indexes(applied(syncRun(t, n))); !slices.Equal(got, []Index{1, 2, 3}) {
		t.Fatalf("setup applied %v", got)
	}
	return n
}

func snapMsg(index Index, term, msgTerm Term, voters ...NodeID) Message {
	return Message{Type: MsgSnap, From: 1, To: 2, Term: msgTerm,
		Snapshot: &SnapshotMeta{Index: index, Term: term, Membership: Membership{Voters: voters}}}
}

// Paper §7 (Figure 13, receiver rule 6 and the commit check): a snapshot
// no newer than the follower's commit index is stale. It changes nothing,
// is not persisted, and is answered with the follower's commit index so
// the leader moves on.
func TestSnapshotStaleIgnoredButAnswered(t *testing.T) {
	for _, index := range []Index{2, 3} {
		n := snapFollower(t)
		log, st := logOf(n), n.Status()
		step(t, n, snapMsg(index, 1, 1, 1, 2, 3, 4))
		acts := syncRun(t, n)
		want := []Message{{Type: MsgAppResp, From: 2, To: 1, Term: 1, Index: 3}}
		if diff := cmp.Diff(want, msgs(acts)); diff != "" {
			t.Errorf("snapshot at %d: answer (-want +got):\n%s", index, diff)
		}
		if len(persists(acts)) != 0 || len(applied(acts)) != 0 {
			t.Errorf("snapshot at %d: stale snapshot persisted or applied something: %v", index, acts)
		}
		if !cmp.Equal(log, logOf(n)) || n.Status().Commit != st.Commit || n.Membership().IsMember(4) {
			t.Errorf("snapshot at %d: stale snapshot changed the log, commit or membership", index)
		}
	}
}

// Paper §7 (Figure 13, receiver rule 6): "If existing log entry has same
// index and term as snapshot's last included entry, retain log entries
// following it." The snapshot only commits up to its index; nothing is
// installed and the entries up to it are applied as entries.
func TestSnapshotMatchingLogKeepsSuffix(t *testing.T) {
	n := snapFollower(t)
	step(t, n, snapMsg(5, 1, 1, 1, 2, 3))
	acts := syncRun(t, n)
	for _, p := range persists(acts) {
		if p.Snapshot != nil || len(p.Entries) > 0 {
			t.Errorf("matching snapshot persisted %s", p.describe())
		}
	}
	if got := indexes(applied(acts)); !slices.Equal(got, []Index{4, 5}) {
		t.Errorf("applied %v, want [4 5]", got)
	}
	for _, a := range acts {
		if a.Kind == ActionApply && a.Apply.Snapshot != nil {
			t.Errorf("matching snapshot applied as a snapshot")
		}
	}
	want := []Message{{Type: MsgAppResp, From: 2, To: 1, Term: 1, Index: 5}}
	if diff := cmp.Diff(want, msgs(acts)); diff != "" {
		t.Errorf("answer (-want +got):\n%s", diff)
	}
	if st := n.Status(); st.FirstIndex != 1 || st.LastIndex != 8 || st.Commit != 5 {
		t.Errorf("status %+v, want log [1, 8] kept and commit 5", st)
	}
}

// Paper §7 (Figure 13, receiver rules 7-8): a snapshot that does not match
// the follower's log replaces all of it, uncommitted entries included. The
// follower persists it first and answers and applies it only once that
// write is acknowledged; the configuration it carries takes effect at once.
func TestSnapshotReplacesUncommittedEntries(t *testing.T) {
	n := snapFollower(t)
	m := snapMsg(6, 2, 2, 1, 2, 3, 4)
	step(t, n, m)
	acts := take(n)
	want := []Action{{Kind: ActionPersist, Persist: Persist{ID: 1, HasHardState: true,
		HardState: HardState{Term: 2, Commit: 6}, Snapshot: m.Snapshot, Sync: true}}}
	if diff := cmp.Diff(want, acts); diff != "" {
		t.Fatalf("actions before the snapshot is durable (-want +got):\n%s", diff)
	}
	if _, err := n.Compact(3, 0); err == nil {
		t.Errorf("Compact succeeded while a received snapshot awaits application")
	}
	if !n.Membership().IsVoter(4) {
		t.Errorf("the snapshot's configuration is not in force: %+v", n.Membership())
	}
	if err := n.AckPersist(1); err != nil {
		t.Fatal(err)
	}
	acts = take(n)
	want = []Action{
		{Kind: ActionSend, Message: Message{Type: MsgAppResp, From: 2, To: 1, Term: 2, Index: 6}},
		{Kind: ActionApply, Apply: Apply{Snapshot: m.Snapshot}},
	}
	if diff := cmp.Diff(want, acts); diff != "" {
		t.Fatalf("actions once durable (-want +got):\n%s", diff)
	}
	if st := n.Status(); st.FirstIndex != 7 || st.LastIndex != 6 || st.Commit != 6 || st.Applied != 6 || st.Stable != 6 {
		t.Errorf("status %+v, want an empty log after snapshot 6, committed and applied", st)
	}
	// The next append continues from the snapshot.
	step(t, n, Message{Type: MsgApp, From: 1, To: 2, Term: 2, Index: 6, LogTerm: 2, Entries: mkEntries(7, 2), Commit: 7})
	if got := indexes(applied(syncRun(t, n))); !slices.Equal(got, []Index{7}) {
		t.Errorf("after the snapshot applied %v, want [7]", got)
	}
}

// Thesis §5.3: a snapshot transfer cannot stall a follower forever. A
// failure reported with ReportSnapshot makes the leader send the snapshot
// again (at the next heartbeat answer); an unreported transfer is retried
// after SnapshotTimeoutTicks; while a transfer is under way the leader sends
// no duplicate.
func TestSnapshotTransferNeverStalls(t *testing.T) {
	t.Run("reported failure", func(t *testing.T) {
		tn := laggingNet(t, 5)
		tn.compact(1, 6, 0)
		snaps := countSnapshots(tn, 1)
		tn.drop = func(m Message) bool { return m.Type == MsgSnap } // the data never arrives
		tn.heal()
		tickUntil(tn, 5, "a snapshot sent", func() bool { return snaps[3] == 1 })
		tn.tickAll(10)
		if snaps[3] != 1 {
			t.Fatalf("%d snapshots sent while one is under way, want 1", snaps[3])
		}
		if pr, _ := tn.nodes[1].Progress(3); pr.State != ProgressSnapshot {
			t.Fatalf("progress %+v, want Snapshot", pr)
		}
		tn.nodes[1].ReportSnapshot(3, errors.New("connection reset"))
		if pr, _ := tn.nodes[1].Progress(3); pr.State != ProgressProbe {
			t.Fatalf("progress after a reported failure %+v, want Probe", pr)
		}
		tn.tickAll(1)
		if snaps[3] != 2 {
			t.Fatalf("%d snapshots sent after the failure and a heartbeat, want 2", snaps[3])
		}
		tn.drop = nil
		tn.nodes[1].ReportSnapshot(3, errors.New("connection reset"))
		tickUntil(tn, 5, "node 3 caught up", committedOn(tn, 6, 3))
		if got := tn.appliedData(3); !slices.Equal(got, payloads(5)) {
			t.Errorf("node 3 applied %q", got)
		}
	})
	t.Run("reported success", func(t *testing.T) {
		tn := laggingNet(t, 5)
		tn.compact(1, 6, 0)
		snaps := countSnapshots(tn, 1)
		tn.dropTypes[MsgAppResp] = true // the follower's answer is lost
		tn.heal()
		tickUntil(tn, 5, "a snapshot sent", func() bool { return snaps[3] == 1 })
		if st := tn.nodes[3].Status(); st.Applied != 6 {
			t.Fatalf("node 3 did not install the snapshot: %+v", st)
		}
		delete(tn.dropTypes, MsgAppResp)
		tn.nodes[1].ReportSnapshot(3, nil)
		if pr, _ := tn.nodes[1].Progress(3); pr.State != ProgressProbe || pr.Next != 7 {
			t.Fatalf("progress after a reported success %+v, want probing at 7", pr)
		}
		gIdx, _ := tn.propose(1, "g")
		tickUntil(tn, 5, "g applied on node 3", func() bool { return tn.nodes[3].Status().Applied == gIdx })
		if snaps[3] != 1 {
			t.Errorf("%d snapshots sent, want 1", snaps[3])
		}
	})
	t.Run("unreported", func(t *testing.T) {
		const timeout = 30
		tn := laggingNet(t, 5, func(c *Config) { c.SnapshotTimeoutTicks = timeout })
		tn.compact(1, 6, 0)
		var sentAt []int
		tick := 0
		tn.onAction = func(id NodeID, a Action) {
			if id == 1 && a.Kind == ActionSendSnapshot {
				sentAt = append(sentAt, tick)
			}
		}
		tn.drop = func(m Message) bool { return m.Type == MsgSnap }
		tn.heal()
		for ; len(sentAt) < 3 && tick < 200; tick++ {
			tn.tickAll(1)
		}
		if len(sentAt) != 3 || sentAt[1]-sentAt[0] != timeout || sentAt[2]-sentAt[1] != timeout {
			t.Fatalf("snapshots sent at ticks %v, want three, %d ticks apart", sentAt, timeout)
		}
		tn.drop = nil
		tickUntil(tn, timeout+5, "node 3 caught up", committedOn(tn, 6, 3))
	})
}

// Thesis §5.1 and §5.2 (restart): a server restarted from a snapshot and
// the entries after it — stored entries may begin before the snapshot's
// index when a tail was retained — applies every entry after what its state
// machine already applied, exactly once, and none before.
func TestSnapshotRestart(t *testing.T) {
	snap := SnapshotMeta{Index: 5, Term: 2, Membership: Membership{Voters: ids(3)}}
	for _, tc := range []struct {
		name    string
		first   Index
		applied Index
		commit  Index
		want    []Index
	}{
		{"entries after the snapshot", 6, 7, 10, []Index{8, 9, 10}},
		{"entries from before the snapshot", 3, 7, 10, []Index{8, 9, 10}},
		{"applied zero means the snapshot", 3, 0, 10, []Index{6, 7, 8, 9, 10}},
		{"applied is the snapshot", 6, 5, 10, []Index{6, 7, 8, 9, 10}},
		{"applied beyond the stored commit", 6, 9, 7, nil}, // 10 awaits the leader
		{"commit below the snapshot", 6, 5, 3, nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			st := PersistentState{
				HardState: HardState{Term: 2, Commit: tc.commit},
				Snapshot:  snap,
				Entries:   mkEntries(tc.first, rep(2, int(10-tc.first+1))...),
				Applied:   tc.applied,
			}
			n, err := NewNode(defaultTestConfig(1), st)
			if err != nil {
				t.Fatal(err)
			}
			got := indexes(applied(syncRun(t, n)))
			if !slices.Equal(got, tc.want) {
				t.Errorf("applied %v, want %v", got, tc.want)
			}
			if s := n.Status(); s.FirstIndex != 6 || s.LastIndex != 10 {
				t.Errorf("log [%d, %d], want [6, 10]", s.FirstIndex, s.LastIndex)
			}
		})
	}
}

// Thesis §5.1 and §5.2 in a running cluster: every server compacts, then
// each restarts from its snapshot and the entries stored after it, and the
// cluster carries on; no server applies an entry twice or skips one.
func TestSnapshotRestartInCluster(t *testing.T) {
	tn := elect3(t)
	for i := range 4 {
		tn.propose(1, fmt.Sprint(i))
	}
	tn.deliverAll()
	for _, id := range []NodeID{1, 2, 3} {
		tn.compact(id, tn.nodes[id].Status().Applied-1, 1)
	}
	tn.propose(1, "4")
	tn.deliverAll()
	for i, id := range []NodeID{2, 1, 3} {
		tn.crash(id)
		tn.restart(id)
		tickUntil(tn, 100, "a leader", func() bool { return tn.leader() != None })
		tn.propose(tn.leader(), fmt.Sprint(5+i))
		tn.deliverAll()
	}
	tickUntil(tn, 20, "all applied alike", func() bool {
		a := tn.nodes[1].Status().Applied
		return a == tn.nodes[2].Status().Applied && a == tn.nodes[3].Status().Applied && a == tn.nodes[1].Status().LastIndex
	})
	want := tn.appliedData(1)
	if len(want) != 8 {
		t.Fatalf("node 1 applied %q, want 8 payloads", want)
	}
	for _, id := range []NodeID{1, 2, 3} {
		for i, e := range tn.applied[id] {
			if e.Index != Index(i+1) {
				t.Fatalf("node %d applied index %d at position %d: skipped or repeated", id, e.Index, i)
			}
		}
		if got := tn.appliedData(id); !slices.Equal(got, want) {
			t.Errorf("node %d applied %q, want %q", id, got, want)
		}
	}
}

// Thesis §4.2.1 with §5.3: a brand-new server with an empty log, added
// after the leader compacted its log, catches up by snapshot and then by
// entries; it learns its own membership from the entry after the snapshot.
func TestSnapshotNewServerJoins(t *testing.T) {
	tn := elect3(t)
	for i := range 5 {
		tn.propose(1, fmt.Sprint(i))
	}
	tn.deliverAll()
	tn.compact(1, 6, 0)
	snaps := countSnapshots(tn, 1)
	tn.join(4, nil)
	tn.startEmpty(4)
	idx := mustChange(tn, 1, change(AddLearner, 4))
	tickUntil(tn, 10, "node 4 caught up", committedOn(tn, idx, 4))
	if snaps[4] != 1 {
		t.Errorf("%d snapshots sent to the new server, want 1", snaps[4])
	}
	if got := tn.appliedData(4); !slices.Equal(got, payloads(5)) {
		t.Errorf("node 4 applied %q", got)
	}
	want := Membership{Voters: []NodeID{1, 2, 3}, Learners: []NodeID{4}}
	if diff := cmp.Diff(want, tn.nodes[4].Membership()); diff != "" {
		t.Errorf("node 4's membership (-want +got):\n%s", diff)
	}
	if st := tn.nodes[4].Status(); st.FirstIndex != 7 {
		t.Errorf("node 4's log starts at %d, want 7 (after the snapshot)", st.FirstIndex)
	}
}

// Thesis §11.7.2 with §5.3: a witness keeps no state machine, so a lagging
// witness is sent the snapshot's metadata alone, as an ordinary message
// (ActionSend), never an ActionSendSnapshot with data to ship.
func TestSnapshotWitnessGetsMetadataOnly(t *testing.T) {
	tn := witnessNet(t)
	tn.cut[1][3] = true
	for i := range 3 {
		tn.propose(1, fmt.Sprint(i))
	}
	tn.deliverAll()
	last := tn.nodes[1].Status().LastIndex
	tn.compact(1, last, 0)
	var plain, shipped int
	tn.onAction = func(id NodeID, a Action) {
		if id == 1 && a.Message.To == 3 && a.Message.Type == MsgSnap {
			switch a.Kind {
			case ActionSend:
				plain++
			case ActionSendSnapshot:
				shipped++
			}
		}
	}
	tn.heal()
	tickUntil(tn, 10, "witness caught up", committedOn(tn, last, 3))
	if plain != 1 || shipped != 0 {
		t.Errorf("witness was sent %d metadata-only and %d full snapshots, want 1 and 0", plain, shipped)
	}
}

// The node keeps only the latest snapshot's index and term and reads its
// configuration from the configuration history. With a retained tail the
// history's base is older than the snapshot, and configuration entries lie
// between the two: the metadata Compact returns, the one sent to a lagging
// member and the one persisted on restart must still carry the
// configuration in force at the snapshot's index.
func TestSnapshotConfigurationAtItsIndex(t *testing.T) {
	tn := elect3(t)
	tn.propose(1, "a")
	c1 := mustChange(tn, 1, change(AddLearner, 4))
	tn.deliverAll()
	atC1 := tn.nodes[1].Membership()
	idx, _ := tn.propose(1, "b")
	c2 := mustChange(tn, 1, change(AddLearner, 5))
	tn.propose(1, "c")
	tn.deliverAll()
	if !(c1 < idx && idx < c2) {
		t.Fatalf("indexes: config %d, entry %d, config %d", c1, idx, c2)
	}

	// Snapshot between the two changes, retaining entries back past the
	// first: the configuration at the snapshot is the first change's.
	meta := tn.compact(1, idx, uint64(idx-c1+1))
	if st := tn.nodes[1].Status(); st.FirstIndex > c1 {
		t.Fatalf("retained tail starts at %d, want at or before %d", st.FirstIndex, c1)
	}
	if !cmp.Equal(meta.Membership, atC1) {
		t.Fatalf("Compact returned membership %+v, want %+v", meta.Membership, atC1)
	}
	if got := *tn.nodes[1].snapshotMeta(); got.Index != idx || !cmp.Equal(got.Membership, atC1) {
		t.Fatalf("snapshot metadata %+v, want index %d, membership %+v", got, idx, atC1)
	}
	// The caller's copy is its own.
	meta.Membership.Voters[0] = 99
	if got := tn.nodes[1].snapshotMeta().Membership; got.Voters[0] == 99 {
		t.Fatal("Compact's result shares the node's configuration")
	}

	// A member that needs the snapshot is sent that configuration.
	var sent []*SnapshotMeta
	tn.observe = func(m Message) {
		if m.Type == MsgSnap {
			sent = append(sent, m.Snapshot)
		}
	}
	tn.crash(3)
	tn.propose(1, "d")
	tn.deliverAll()
	tn.compact(1, tn.nodes[1].Status().Applied, 0)
	tn.startEmpty(3)
	tn.tickAll(5)
	if len(sent) == 0 {
		t.Fatal("no snapshot sent to the emptied member")
	}
	if want := tn.nodes[1].Membership(); !cmp.Equal(sent[0].Membership, want) {
		t.Fatalf("snapshot sent with membership %+v, want %+v", sent[0].Membership, want)
	}
	if got := tn.appliedData(3); len(got) == 0 {
		t.Fatalf("member 3 applied nothing after the snapshot")
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

// TestNewServerCompactsBeforeKnowingConfiguration: the initial
// configuration lives in the bootstrap snapshot at index 0, which is never
// sent: a server added later receives the log from index 1 and learns no
// configuration before the entry that adds it. Applying committed entries
// below that entry and compacting there, it must not produce a snapshot
// claiming an empty configuration (thesis §5.1: a snapshot records the
// latest configuration as of its last index): as leader later, it would
// send that snapshot to a lagging follower, which rejects it as invalid
// and can never catch up. Found by raftsim: the quiet scenario, seed
// 110460, 3 nodes, lease reads.
func TestNewServerCompactsBeforeKnowingConfiguration(t *testing.T) {
	tn := elect3(t)
	for _, d := range []string{"a", "b", "c"} {
		tn.propose(1, d)
	}
	tn.deliverAll()
	tn.join(4, nil)
	tn.startEmpty(4)
	tn.cut[1][2], tn.cut[1][3] = true, true // the change cannot commit
	j := mustChange(tn, 1, change(AddVoter, 4))
	tn.deliverAll()
	st := tn.nodes[4].Status()
	if st.LastIndex != j || st.Applied == 0 || st.Applied >= j {
		t.Fatalf("setup: node 4 last %d applied %d; want the change %d appended, entries before it applied", st.LastIndex, st.Applied, j)
	}
	meta, err := tn.nodes[4].Compact(st.Applied, 0)
	if err == nil {
		if verr := meta.Membership.Validate(); verr != nil {
			t.Fatalf("node 4 compacted to %d with a snapshot whose configuration is invalid (%v): %+v", st.Applied, verr, meta.Membership)
		}
	}
}

// Thesis §5.1: a snapshot captures the state machine, so only applied
// entries may be compacted. An entry that is committed but not yet handed
// out for application is not in the state machine: compacting it away
// would lose it.
func TestSnapshotCompactCommittedButUnapplied(t *testing.T) {
	tn := elect3(t)
	n := tn.nodes[1]
	idx, _ := tn.propose(1, "x")
	tn.drain(1)
	for len(tn.queue) > 0 { // the followers answer; the leader steps them but hands out nothing
		q := tn.queue
		tn.queue = nil
		for _, m := range q {
			tn.deliver(m)
		}
		for tn.drain(2) || tn.drain(3) {
		}
	}
	if st := n.Status(); st.Commit != idx || st.Applied >= idx {
		t.Fatalf("setup: want %d committed and not applied: %+v", idx, st)
	}
	if _, err := n.Compact(idx, 0); err == nil {
		t.Errorf("Compact(%d) succeeded with the entry committed but not applied", idx)
	}
}

// Paper §7: a snapshot records the index and term of the last entry it
// replaces, which is what the consistency check of the next append
// compares against. Compacting to an entry of an older term than the
// log's last records that older term.
func TestSnapshotMetaTermOfItsIndex(t *testing.T) {
	hs := HardState{Term: 2, Commit: 4}
	tn := newTestNetFrom(t, []PersistentState{
		storedState(ids(3), hs, []Term{1, 1, 2, 2}),
		storedState(ids(3), hs, []Term{1, 1, 2, 2}),
		storedState(ids(3), hs, []Term{1, 1, 2, 2}),
	}, nil)
	tn.drainAll()
	meta := tn.compact(1, 2, 0)
	if meta.Index != 2 || meta.Term != 1 {
		t.Fatalf("snapshot at index 2 of a log with terms [1 1 2 2]: %+v, want term 1", meta)
	}
	if term, ok := tn.nodes[1].log.term(2); !ok || term != 1 {
		t.Errorf("after compaction the log gives term %d (known %t) at the boundary, want 1", term, ok)
	}
}
