package kv

import (
	"fmt"
	"testing"

	"github.com/pureraft/raft/host"
)

// The key-to-group map is part of the on-disk format: a cluster founded
// with G groups must find every key where it was written, after restarts
// and upgrades. These values pin it; keys spread over every group.
func TestGroupOfStableAndSpread(t *testing.T) {
	groups := []host.GroupID{1, 2, 3, 4, 5, 6, 7, 8}
	if got := GroupOf("hello", groups); got != 4 {
		t.Fatalf(`GroupOf("hello") = %d, want 4: the map from keys to groups changed, and stored keys would be lost`, got)
	}
	count := map[host.GroupID]int{}
	for i := range 8000 {
		count[GroupOf(fmt.Sprintf("key-%d", i), groups)]++
	}
	for _, g := range groups {
		if count[g] < 800 || count[g] > 1200 {
			t.Fatalf("group %d got %d of 8000 keys: %v", g, count[g], count)
		}
	}
	if got := GroupOf("anything", []host.GroupID{1}); got != 1 {
		t.Fatalf("one group: %d", got)
	}
}
