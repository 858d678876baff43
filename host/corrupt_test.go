package host

import (
	"slices"
	"testing"

	"github.com/pureraft/raft"
)

// A member judges itself against the hashes the others report at the
// same index (etcd's corruption check, per member): it is fine only if a
// strict majority of the answers, its own included, share its hash; a tie
// raises the alarm on both sides (safety first), peers that cannot answer
// do not count, and a peer whose own check failed counts as differing.
func TestJudgeHashes(t *testing.T) {
	ok := func(id raft.NodeID, sum uint64) hashAnswer { return hashAnswer{id, hashOK, sum} }
	for _, tc := range []struct {
		name    string
		answers []hashAnswer
		verdict string
		differ  []raft.NodeID
	}{
		{"all agree", []hashAnswer{ok(2, 7), ok(3, 7)}, "ok", nil},
		{"no other member", nil, "ok", nil},
		{"nobody could answer", []hashAnswer{{2, hashUnknown, 0}, {3, hashUnknown, 0}}, "ok", nil},
		{"one peer differs", []hashAnswer{ok(2, 7), ok(3, 9)}, "peer_mismatch", []raft.NodeID{3}},
		{"this member differs", []hashAnswer{ok(2, 9), ok(3, 9)}, "mismatch", []raft.NodeID{2, 3}},
		{"tie", []hashAnswer{ok(2, 9), {3, hashUnknown, 0}}, "mismatch", []raft.NodeID{2}},
		{"every hash different", []hashAnswer{ok(2, 8), ok(3, 9)}, "mismatch", []raft.NodeID{2, 3}},
		{"a peer's own check failed", []hashAnswer{ok(2, 7), {3, hashBad, 0}}, "peer_mismatch", []raft.NodeID{3}},
		{"five members, two differ", []hashAnswer{ok(2, 7), ok(3, 7), ok(4, 8), ok(5, 9)}, "peer_mismatch", []raft.NodeID{4, 5}},
	} {
		verdict, differ := judgeHashes(7, tc.answers)
		if verdict != tc.verdict || !slices.Equal(differ, tc.differ) {
			t.Errorf("%s: %s %v, want %s %v", tc.name, verdict, differ, tc.verdict, tc.differ)
		}
	}
}
