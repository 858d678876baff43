package raftsim

import (
	"reflect"
	"testing"

	"github.com/google/go-cmp/cmp"
)

// TestTickerRunsMatchNodeTickRuns checks raft.Ticker's promise end to end:
// a node driven by a Ticker behaves exactly as one ticked by Node.Tick. The
// same mixed seeds run both ways, with faults, restarts, membership changes,
// reads, transfers, quiescence and compaction as the mix draws them, and
// must produce the same run: the same client history at the same times, the
// same statistics (messages, elections, commits, restarts) and the same
// leaders. Every invariant is checked in both runs, as in TestSeeds.
func TestTickerRunsMatchNodeTickRuns(t *testing.T) {
	seeds := uint64(shortOr(16, 4))
	base, _ := ScenarioNamed("default")
	for seed := uint64(1); seed <= seeds; seed++ {
		sc := base.Mix(seed)
		sc.Ticks = 1500
		var results [2]*Result
		for i, ticker := range []bool{false, true} {
			sc.Raft.Ticker = ticker
			res, err := Run(sc, seed, Options{})
			if err != nil {
				t.Fatal(err)
			}
			if res.Failed() || res.Linearizable != "ok" {
				t.Fatalf("seed %d, ticker %v: linearizable %q\n%s", seed, ticker, res.Linearizable, res.Report())
			}
			results[i] = res
		}
		plain, ticked := results[0], results[1]
		if d := cmp.Diff(plain.Stats, ticked.Stats); d != "" {
			t.Errorf("seed %d: statistics differ (-Node.Tick +Ticker):\n%s", seed, d)
		}
		if len(plain.History) != len(ticked.History) {
			t.Errorf("seed %d: client histories of %d and %d operations", seed, len(plain.History), len(ticked.History))
		}
		for i := range min(len(plain.History), len(ticked.History)) {
			if a, b := plain.History[i], ticked.History[i]; !reflect.DeepEqual(a, b) {
				t.Errorf("seed %d: operation %d differs:\nNode.Tick: %+v\nTicker:    %+v", seed, i, a, b)
				break
			}
		}
		if d := cmp.Diff(plain.LeaderTerms, ticked.LeaderTerms); d != "" {
			t.Errorf("seed %d: leaders differ (-Node.Tick +Ticker):\n%s", seed, d)
		}
		if plain.End != ticked.End {
			t.Errorf("seed %d: the runs ended at %v and %v", seed, plain.End, ticked.End)
		}
	}
}
