package raft

import (
	"errors"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

// The behaviour tests of the core, organised by section of the Raft paper
// (Ongaro and Ousterhout, 2014) and of Ongaro's thesis (2014). Each test's
// comment names the rule it checks.
//
//	raft_election_test.go     §5.1 terms, §5.2 election, pre-vote (thesis §9.6), check-quorum (thesis §6.2)
//	raft_liveness_test.go     §5.1, Figure 2: a stale vote request is answered with the current term
//	raft_replication_test.go  §5.3 replication, Figure 7, fast backtracking, flow control, forwarding
//	raft_safety_test.go       §5.4 safety: the election restriction, Figure 8
//	raft_persist_test.go      the persistence contract, restart
//	raft_snapshot_test.go     §7 snapshots and compaction (thesis §5), snapshot transfer
//	raft_membership_test.go   thesis §4: single-server changes, joint consensus (§4.3), learners
//	raft_membership_safety_test.go  thesis §4.2.1, §4.4: CheckMembershipChange refuses a change the cluster could not survive
//	raft_recovery_test.go     recovery from a lost quorum (ForceNewCluster; outside the thesis)
//	raft_witness_test.go      thesis §11.7.2 witnesses
//	raft_reads_test.go        thesis §6.4 ReadIndex, follower reads
//	raft_read_freshness_test.go  thesis §6.4 old answers never serve newer follower reads
//	raft_lease_test.go        thesis §6.4.1 lease-based reads and the followers' promise
//	raft_transfer_test.go     thesis §3.10 leadership transfer
//	raft_quiesce_test.go      quiescence of idle groups
//	raft_malformed_test.go    malformed messages and bytes
//	raft_logging_test.go      the logger's records
//	raft_property_test.go     property tests: determinism and cluster safety
//	raft_test.go              configuration, status and progress
//
// network_test.go holds testNet, the in-memory cluster most tests drive, and
// raft_helpers_test.go the helpers for driving single nodes.

// Config.Validate names the first invalid field of a config, wrapping
// ErrInvalidConfig; NewNode and Bootstrap never build a node from it.
func TestConfigValidate(t *testing.T) {
	for _, tc := range []struct {
		name  string
		cfg   Config
		field string
	}{
		{"zero ID", Config{}, "ID"},
		{"negative ElectionTicks", Config{ID: 1, ElectionTicks: -1}, "ElectionTicks"},
		{"negative HeartbeatTicks", Config{ID: 1, HeartbeatTicks: -1}, "HeartbeatTicks"},
		{"HeartbeatTicks equal to ElectionTicks", Config{ID: 1, ElectionTicks: 3, HeartbeatTicks: 3}, "HeartbeatTicks"},
		{"HeartbeatTicks above the default ElectionTicks", Config{ID: 1, HeartbeatTicks: 11}, "HeartbeatTicks"},
		{"ElectionTicks 1 with the default HeartbeatTicks", Config{ID: 1, ElectionTicks: 1}, "ElectionTicks"},
		{"MaxEntryBytes above MaxMsgBytes", Config{ID: 1, MaxMsgBytes: 100, MaxEntryBytes: 101}, "MaxEntryBytes"},
		{"MaxEntryBytes above the default MaxMsgBytes", Config{ID: 1, MaxEntryBytes: DefaultMaxMsgBytes + 1}, "MaxEntryBytes"},
		{"negative MaxInflightMsgs", Config{ID: 1, MaxInflightMsgs: -1}, "MaxInflightMsgs"},
		{"MaxInflightBytes below MaxMsgBytes", Config{ID: 1, MaxMsgBytes: 100, MaxInflightBytes: 99}, "MaxInflightBytes"},
		{"MaxUncommittedBytes below MaxEntryBytes", Config{ID: 1, MaxEntryBytes: 100, MaxUncommittedBytes: 99}, "MaxUncommittedBytes"},
		{"MaxApplyBytes below MaxEntryBytes", Config{ID: 1, MaxEntryBytes: 100, MaxApplyBytes: 99}, "MaxApplyBytes"},
		{"negative SnapshotTimeoutTicks", Config{ID: 1, SnapshotTimeoutTicks: -1}, "SnapshotTimeoutTicks"},
		{"lease reads without check-quorum", Config{ID: 1, EnableLeaseReads: true, DisableCheckQuorum: true}, "EnableLeaseReads"},
		{"negative MaxClockDriftTicks", Config{ID: 1, MaxClockDriftTicks: -1}, "MaxClockDriftTicks"},
		{"MaxClockDriftTicks equal to ElectionTicks", Config{ID: 1, ElectionTicks: 5, MaxClockDriftTicks: 5}, "MaxClockDriftTicks"},
		{"negative QuiesceAfterTicks", Config{ID: 1, QuiesceAfterTicks: -1}, "QuiesceAfterTicks"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			err := tc.cfg.Validate()
			if !errors.Is(err, ErrInvalidConfig) {
				t.Fatalf("Validate() = %v, want ErrInvalidConfig", err)
			}
			if !strings.Contains(err.Error(), tc.field) {
				t.Errorf("error %q does not name %s", err, tc.field)
			}
			if n, err2 := NewNode(tc.cfg, PersistentState{}); n != nil || !errors.Is(err2, ErrInvalidConfig) {
				t.Errorf("NewNode = %v, %v; want no node and ErrInvalidConfig", n, err2)
			}
			if n, err2 := Bootstrap(tc.cfg, []NodeID{1}); n != nil || err2 == nil {
				t.Errorf("Bootstrap = %v, %v; want no node and an error", n, err2)
			}
		})
	}
}

// Config.Validate accepts the zero value of every field but ID (defaults)
// and configurations at the edges of the rules.
func TestConfigValidateAccepts(t *testing.T) {
	for _, cfg := range []Config{
		{ID: 1},
		{ID: ^NodeID(0)},
		{ID: 1, ElectionTicks: 2},
		{ID: 1, ElectionTicks: 5, HeartbeatTicks: 4},
		{ID: 1, MaxMsgBytes: 100, MaxEntryBytes: 100, MaxInflightBytes: 100, MaxUncommittedBytes: 100, MaxApplyBytes: 100},
		{ID: 1, MaxMsgBytes: 1},
		{ID: 1, MaxEntryBytes: 1},
		{ID: 1, DisablePreVote: true, DisableCheckQuorum: true, DisableProposalForwarding: true},
		{ID: 1, EnableLeaseReads: true, ElectionTicks: 5, MaxClockDriftTicks: 4, QuiesceAfterTicks: 1, SnapshotTimeoutTicks: 1},
	} {
		if err := cfg.Validate(); err != nil {
			t.Errorf("Validate(%+v) = %v", cfg, err)
		}
		if _, err := NewNode(cfg, PersistentState{}); err != nil {
			t.Errorf("NewNode(%+v) = %v", cfg, err)
		}
	}
}

// NewNode refuses inconsistent persisted state with ErrInvalidState
// instead of building a node that would misbehave.
func TestNewNodeInvalidState(t *testing.T) {
	m := Membership{Voters: ids(3)}
	for _, tc := range []struct {
		name string
		st   PersistentState
	}{
		{"commit beyond log", PersistentState{HardState: HardState{Term: 1, Commit: 3}, Snapshot: SnapshotMeta{Membership: m}, Entries: mkEntries(1, 1, 1)}},
		{"gap in entries", PersistentState{HardState: HardState{Term: 1}, Snapshot: SnapshotMeta{Membership: m}, Entries: []Entry{{Index: 1, Term: 1}, {Index: 3, Term: 1}}}},
		{"decreasing terms", PersistentState{HardState: HardState{Term: 2}, Snapshot: SnapshotMeta{Membership: m}, Entries: mkEntries(1, 2, 1)}},
		{"term below last entry", PersistentState{HardState: HardState{Term: 1}, Snapshot: SnapshotMeta{Membership: m}, Entries: mkEntries(1, 1, 2)}},
		{"applied beyond log", PersistentState{HardState: HardState{Term: 1, Commit: 1}, Snapshot: SnapshotMeta{Membership: m}, Entries: mkEntries(1, 1), Applied: 2}},
		{"unknown entry type", PersistentState{HardState: HardState{Term: 1}, Snapshot: SnapshotMeta{Membership: m}, Entries: []Entry{{Index: 1, Term: 1, Type: 99}}}},
		{"invalid membership", PersistentState{Snapshot: SnapshotMeta{Membership: Membership{Voters: []NodeID{1, 1}}}}},
		// Every snapshot a cluster takes holds its configuration; only a
		// joining server starts from nothing, at index 0.
		{"snapshot without members", PersistentState{HardState: HardState{Term: 1}, Snapshot: SnapshotMeta{Index: 5, Term: 1}}},
		// Step refuses indexes past maxIndex (last+1 must not wrap); the
		// stored state may not hold them either.
		{"snapshot index past maxIndex", PersistentState{HardState: HardState{Term: 1}, Snapshot: SnapshotMeta{Index: maxIndex + 1, Term: 1, Membership: m}}},
		{"entry index past maxIndex", PersistentState{HardState: HardState{Term: 1}, Snapshot: SnapshotMeta{Index: maxIndex, Term: 1, Membership: m}, Entries: mkEntries(maxIndex+1, 1)}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			n, err := NewNode(Config{ID: 1}, tc.st)
			if n != nil || !errors.Is(err, ErrInvalidState) {
				t.Errorf("NewNode = %v, %v; want no node and ErrInvalidState", n, err)
			}
		})
	}
}

// Status reports the node's state exactly: role, term, vote, leader and
// the log's indexes, on leader and follower.
func TestStatusValues(t *testing.T) {
	tn := elect3(t)
	tn.isolate(3)
	tn.propose(1, "a")
	tn.propose(1, "b")
	tn.deliverAll()
	tn.tickAll(3)
	want := map[NodeID]Status{
		1: {ID: 1, Role: RoleLeader, Term: 1, Vote: 1, Leader: 1, Commit: 3, Applied: 3, Stable: 3, FirstIndex: 1, LastIndex: 3, LastTerm: 1, ElectionElapsed: 3},
		2: {ID: 2, Role: RoleFollower, Term: 1, Vote: 1, Leader: 1, Commit: 3, Applied: 3, Stable: 3, FirstIndex: 1, LastIndex: 3, LastTerm: 1},
		3: {ID: 3, Role: RoleFollower, Term: 1, Vote: 1, Leader: 1, Commit: 1, Applied: 1, Stable: 1, FirstIndex: 1, LastIndex: 1, LastTerm: 1, ElectionElapsed: 3},
	}
	for _, id := range tn.ids {
		if diff := cmp.Diff(want[id], tn.nodes[id].Status()); diff != "" {
			t.Errorf("node %d status (-want +got):\n%s", id, diff)
		}
	}
}

// Progress reports the leader's view of each follower (Figure 2's
// nextIndex and matchIndex, and the flow-control state); it exists only on
// the leader and only for other members.
func TestProgressValues(t *testing.T) {
	tn := elect3(t)
	tn.isolate(3)
	tn.propose(1, "a")
	tn.propose(1, "b")
	tn.deliverAll()
	l := tn.nodes[1]
	got := map[NodeID]Progress{}
	var order []NodeID
	l.ForEachProgress(func(id NodeID, p Progress) {
		got[id] = p
		order = append(order, id)
	})
	want := map[NodeID]Progress{
		// Node 2 acknowledged everything, including the empty append that
		// told it the new commit index.
		2: {Match: 3, Next: 4, State: ProgressReplicate, RecentActive: true},
		// Node 3 acknowledged the no-op, then its link was cut: the append
		// carrying entries 2 and 3, and the empty one carrying the commit
		// index, are in flight.
		3: {Match: 1, Next: 4, State: ProgressReplicate, RecentActive: true, Inflight: 2, InflightBytes: 2 * (1 + entryOverhead)},
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("progress (-want +got):\n%s", diff)
	}
	if !cmp.Equal(order, []NodeID{2, 3}) {
		t.Errorf("ForEachProgress order %v, want [2 3]", order)
	}
	if p, ok := l.Progress(2); !ok || p != want[2] {
		t.Errorf("Progress(2) = %+v, %t", p, ok)
	}
	for _, id := range []NodeID{1, 4} {
		if _, ok := l.Progress(id); ok {
			t.Errorf("Progress(%d) exists on the leader", id)
		}
	}
	if _, ok := tn.nodes[2].Progress(3); ok {
		t.Error("Progress exists on a follower")
	}
	called := false
	tn.nodes[2].ForEachProgress(func(NodeID, Progress) { called = true })
	if called {
		t.Error("ForEachProgress called on a follower")
	}
}

// Status does not allocate, so hosts may poll it for thousands of groups.
func TestStatusAllocationFree(t *testing.T) {
	tn := elect3(t)
	tn.propose(1, "a")
	tn.deliverAll()
	for _, id := range tn.ids {
		n := tn.nodes[id]
		var st Status
		if allocs := testing.AllocsPerRun(100, func() { st = n.Status() }); allocs != 0 {
			t.Errorf("node %d: Status allocates %.1f times", id, allocs)
		}
		_ = st
		if allocs := testing.AllocsPerRun(100, func() { n.Progress(2) }); allocs != 0 {
			t.Errorf("node %d: Progress allocates %.1f times", id, allocs)
		}
	}
}

// The string forms used in logs and traces name every role, state, kind
// and type, and fall back to a number for unknown values.
func TestStringers(t *testing.T) {
	for _, tc := range []struct{ got, want string }{
		{RoleFollower.String(), "Follower"},
		{RolePreCandidate.String(), "PreCandidate"},
		{RoleCandidate.String(), "Candidate"},
		{RoleLeader.String(), "Leader"},
		{Role(9).String(), "Role(9)"},
		{ProgressProbe.String(), "Probe"},
		{ProgressReplicate.String(), "Replicate"},
		{ProgressState(9).String(), "ProgressState(9)"},
		{ActionPersist.String(), "Persist"},
		{ActionSend.String(), "Send"},
		{ActionApply.String(), "Apply"},
		{ActionKind(0).String(), "ActionKind(0)"},
		{EntryNormal.String(), "Normal"},
		{EntryNoop.String(), "Noop"},
		{EntryType(200).String(), "EntryType(200)"},
		{MsgApp.String(), "MsgApp"},
		{MsgPreVoteResp.String(), "MsgPreVoteResp"},
		{MessageType(0).String(), "MessageType(0)"},
		{MessageType(200).String(), "MessageType(200)"},
	} {
		if tc.got != tc.want {
			t.Errorf("got %q, want %q", tc.got, tc.want)
		}
	}
}
