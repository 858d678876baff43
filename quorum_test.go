package raft

import (
	"math/rand/v2"
	"testing"
)

// TestQuorumIndexIsTheMajorityIndex checks the commit rule's quorum (§5.3:
// an entry is committed once stored on a majority) against its definition,
// for every voter count up to MaxMembers — the small clusters' counting
// path and the large ones' sorting path alike: at least a majority of the
// voters acknowledged the returned index, and fewer than a majority
// acknowledged anything above it.
func TestQuorumIndexIsTheMajorityIndex(t *testing.T) {
	const seed = 16
	rng := rand.New(rand.NewPCG(seed, 2))
	for n := 1; n <= MaxMembers; n++ {
		for trial := range 200 {
			voters := make([]NodeID, n)
			acked := make(map[NodeID]Index, n)
			spread := 1 + rng.IntN(2*n) // small spreads make ties
			for i := range voters {
				voters[i] = NodeID(i + 1)
				acked[voters[i]] = Index(rng.IntN(spread))
			}
			got := quorumIndex(voters, func(id NodeID) Index { return acked[id] })
			atOrAbove := func(x Index) int {
				c := 0
				for _, a := range acked {
					if a >= x {
						c++
					}
				}
				return c
			}
			if need := n/2 + 1; atOrAbove(got) < need || atOrAbove(got+1) >= need {
				t.Fatalf("seed %d, %d voters, trial %d: acked %v: quorum index %d is not the highest index a majority holds", seed, n, trial, acked, got)
			}
		}
	}
}

// TestQuorumIndexEmptyVoterSet: an empty half of a configuration places no
// constraint on a joint quorum (thesis §4.3 applies only to joint ones).
func TestQuorumIndexEmptyVoterSet(t *testing.T) {
	if got := quorumIndex(nil, func(NodeID) Index { return 0 }); got != ^Index(0) {
		t.Fatalf("empty voter set: %d, want the maximum index", got)
	}
}
