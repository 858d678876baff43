package raft

import (
	"testing"
)

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
