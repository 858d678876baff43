package raftsim

import (
	"fmt"
	"testing"
)

// TestRuleSweep is the sweep that catches the bug classes of the rule
// checks (rules.go): the reconfig scenario, 3 and 5 nodes, with lease
// reads on every other seed and quiescence on every third (idle
// stretches, failure detectors calling Wake). Each class, planted in the
// core, fails it within these seeds (docs/testing.md, "Bug classes the
// tests must catch"). More seeds: RAFTSIM_RULE_SEEDS=500.
func TestRuleSweep(t *testing.T) {
	seeds := uint64(envInt(t, "RAFTSIM_RULE_SEEDS", 40))
	for _, nodes := range []int{3, 5} {
		for shard := uint64(0); shard < 2; shard++ {
			t.Run(fmt.Sprintf("nodes=%d/shard=%d", nodes, shard), func(t *testing.T) {
				t.Parallel()
				failures := 0
				for seed := 1 + shard; seed <= seeds; seed += 2 {
					res, err := Run(ruleSweepScenario(nodes, seed), seed, Options{})
					if err != nil {
						t.Fatal(err)
					}
					if res.Failed() {
						t.Error(res.Report())
						if failures++; failures == 3 {
							t.Fatal("stopping after 3 failures")
						}
					}
				}
			})
		}
	}
}

// ruleSweepScenario is the scenario TestRuleSweep runs for seed.
func ruleSweepScenario(nodes int, seed uint64) Scenario {
	sc, _ := ScenarioNamed("reconfig")
	sc.Nodes = nodes
	sc.Raft.EnableLeaseReads = seed%2 == 1
	if seed%3 == 0 {
		sc.Raft.QuiesceAfterTicks = 3 + int(seed/3%6)
		sc.Features.Idle = 0.02
	}
	return sc
}
