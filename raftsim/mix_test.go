package raftsim

import (
	"reflect"
	"strings"
	"testing"
)

// TestMixReplays: a mixed scenario is valid, and the replay command a
// failure prints rebuilds it exactly, with no -mix flag.
func TestMixReplays(t *testing.T) {
	for _, name := range []string{"default", "figure8"} {
		base, _ := ScenarioNamed(name)
		for seed := uint64(1); seed <= 200; seed++ {
			sc := base.Mix(seed)
			if err := sc.Validate(); err != nil {
				t.Fatalf("%s seed %d: %v", name, seed, err)
			}
			cmd := sc.ReplayCommand(seed)
			args := strings.Fields(cmd)[7:] // after "go run ./cmd/raftsim -scenario NAME -seed N"
			again, _ := ScenarioNamed(name)
			if err := again.ApplyFlagArgs(args); err != nil {
				t.Fatalf("%s: %v", cmd, err)
			}
			if !reflect.DeepEqual(again, sc) {
				t.Fatalf("%s rebuilds\n%+v\nwant\n%+v", cmd, again, sc)
			}
		}
	}
}

// TestMixVaries: over a CI sweep's seeds, every drawn switch takes both
// values and the sizes and rates several.
func TestMixVaries(t *testing.T) {
	seen := map[string]map[any]bool{}
	note := func(k string, v any) {
		if seen[k] == nil {
			seen[k] = map[any]bool{}
		}
		seen[k][v] = true
	}
	for seed := uint64(1); seed <= 200; seed++ {
		sc := DefaultScenario().Mix(seed)
		note("nodes", sc.Nodes)
		note("prevote", sc.Raft.DisablePreVote)
		note("checkquorum", sc.Raft.DisableCheckQuorum)
		note("pv+cq off", sc.Raft.DisablePreVote && sc.Raft.DisableCheckQuorum)
		note("lease", sc.Raft.EnableLeaseReads)
		note("crash", sc.Faults.Crash)
		note("membership", sc.Features.Membership)
		note("witness", sc.Features.Witness)
		note("quiesce", sc.Raft.QuiesceAfterTicks > 0)
		note("transfer", sc.Features.Transfer)
		note("compact", sc.Features.Compact)
		note("witness+no prevote+membership", sc.Features.Witness && sc.Raft.DisablePreVote && sc.Features.Membership > 0)
	}
	for k, vs := range seen {
		if len(vs) < 2 {
			t.Errorf("%s takes only %v over 200 seeds", k, vs)
		}
	}
}

// TestLeaversShutDownOnlyWithoutPreVoteAndCheckQuorum: raftsim stops the
// servers outside the configuration at healing exactly in the mode where
// docs/membership.md makes that the operator's duty (pre-vote and
// check-quorum both off), and requires liveness after it.
func TestLeaversShutDownOnlyWithoutPreVoteAndCheckQuorum(t *testing.T) {
	for _, mode := range []struct {
		noPreVote, noCheckQuorum bool
	}{{false, false}, {true, false}, {false, true}, {true, true}} {
		stopped := 0
		for seed := uint64(1); seed <= 6; seed++ {
			sc := short("churn")
			sc.Nodes = 3
			sc.Raft.DisablePreVote, sc.Raft.DisableCheckQuorum = mode.noPreVote, mode.noCheckQuorum
			sc.Raft.EnableLeaseReads = sc.Raft.EnableLeaseReads && !mode.noCheckQuorum
			res, err := Run(sc, seed, Options{})
			if err != nil {
				t.Fatal(err)
			}
			if res.Failed() {
				t.Fatalf("%+v seed %d:\n%s", mode, seed, res.Report())
			}
			stopped += res.Stats.ShutDown
		}
		if both := mode.noPreVote && mode.noCheckQuorum; both != (stopped > 0) {
			t.Errorf("pre-vote off %v, check-quorum off %v: %d servers shut down at healing", mode.noPreVote, mode.noCheckQuorum, stopped)
		}
	}
}
