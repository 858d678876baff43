package raft

import (
	"errors"
	"slices"
	"testing"

	"github.com/google/go-cmp/cmp"
)

// Recovery from the permanent loss of a quorum (etcd's --force-new-cluster;
// outside the thesis, which assumes a majority survives): the survivor of a
// three-server cluster whose other two are gone for good is rebuilt as a
// single voter. It keeps every entry it holds — the uncommitted "c" too,
// committed by the new configuration entry — elects itself, and grows the
// cluster again from learners.
func TestForceNewClusterRecoversFromOneSurvivor(t *testing.T) {
	tn := elect3(t)
	tn.propose(1, "a")
	tn.propose(1, "b")
	tn.deliverAll()
	tn.crash(2)
	tn.crash(3)
	cIdx, _ := tn.propose(1, "c")
	tn.deliverAll()
	if tn.nodes[1].Status().Commit >= cIdx {
		t.Fatal("c committed without a quorum")
	}
	oldTerm := tn.nodes[1].Status().Term
	tn.crash(1)

	st, p, err := ForceNewCluster(tn.storage[1].state(Index(len(tn.applied[1]))), 1)
	if err != nil {
		t.Fatal(err)
	}
	if p.HardState.Term <= oldTerm || len(p.Entries) != 1 || p.Entries[0].Index != cIdx+1 || !p.Sync {
		t.Fatalf("recovery write %+v: want one configuration entry after %d in a term above %d, synced", p, cIdx, oldTerm)
	}
	tn.storage[1].apply(p)
	node, err := NewNode(tn.cfg(1), st)
	if err != nil {
		t.Fatal(err)
	}
	tn.nodes[1] = node
	if diff := cmp.Diff(Membership{Voters: []NodeID{1}}, node.Membership()); diff != "" {
		t.Fatalf("membership after recovery (-want +got):\n%s", diff)
	}
	tn.campaign(1)
	if tn.leader() != 1 {
		t.Fatal("the survivor did not become leader of its single-voter cluster")
	}
	if got := tn.appliedData(1); !slices.Equal(got, []string{"a", "b", "c"}) {
		t.Fatalf("applied %q, want [a b c]", got)
	}
	// Growing back: a wiped server rejoins as a learner, then is promoted.
	tn.join(2, nil)
	tn.startEmpty(2)
	mustChange(tn, 1, change(AddLearner, 2))
	tn.deliverAll()
	tickUntil(tn, 10, "learner caught up", func() bool { return node.CaughtUp(2, 0) })
	mustChange(tn, 1, change(AddVoter, 2))
	dIdx, _ := tn.propose(1, "d")
	tickUntil(tn, 10, "d committed on both", committedOn(tn, dIdx, 1, 2))
	if got := tn.appliedData(2); !slices.Equal(got, []string{"a", "b", "c", "d"}) {
		t.Fatalf("rejoined server applied %q, want [a b c d]", got)
	}
}

// ForceNewCluster refuses what it cannot recover from: an empty server,
// a witness, node ID 0.
func TestForceNewClusterRefuses(t *testing.T) {
	if _, _, err := ForceNewCluster(PersistentState{}, 1); !errors.Is(err, ErrInvalidState) {
		t.Errorf("empty state: %v, want ErrInvalidState", err)
	}
	w := PersistentState{Snapshot: SnapshotMeta{Membership: Membership{Voters: []NodeID{1, 2, 3}, Witnesses: []NodeID{3}}}}
	if _, _, err := ForceNewCluster(w, 3); !errors.Is(err, ErrInvalidState) {
		t.Errorf("witness: %v, want ErrInvalidState", err)
	}
	if _, _, err := ForceNewCluster(w, None); !errors.Is(err, ErrInvalidState) {
		t.Errorf("node 0: %v, want ErrInvalidState", err)
	}
	// A mistyped ID would found a cluster whose only voter does not exist.
	if _, _, err := ForceNewCluster(w, 9); !errors.Is(err, ErrInvalidState) {
		t.Errorf("a node outside the configuration: %v, want ErrInvalidState", err)
	}
}

// A recovered server keeps the read tokens it reserved (HardState's
// ReadTokenLimit, thesis §6.4 via readtoken.go): recovery must not let it
// reuse a token an answer in flight from the old cluster may carry.
func TestForceNewClusterKeepsReadTokenLimit(t *testing.T) {
	old := storedState(ids(3), HardState{Term: 4, Vote: 2, Commit: 1, ReadTokenLimit: 5 * readTokenBlock}, []Term{1, 2})
	st, p, err := ForceNewCluster(old, 1)
	if err != nil {
		t.Fatal(err)
	}
	if st.HardState.ReadTokenLimit != old.HardState.ReadTokenLimit || p.HardState.ReadTokenLimit != old.HardState.ReadTokenLimit {
		t.Errorf("read token limit after recovery: state %d, write %d, want %d", st.HardState.ReadTokenLimit, p.HardState.ReadTokenLimit, old.HardState.ReadTokenLimit)
	}
}
