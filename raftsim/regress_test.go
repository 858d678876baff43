package raftsim

import (
	"strings"
	"testing"
)

// regressions are seeds that once failed, each with the flags of the run
// that found it (as `go run ./cmd/raftsim` takes them). TestRegressions
// replays every one; each must pass.
var regressions = []struct {
	why   string
	seeds []uint64
	args  string
}{
	// Issue 18. A witness role is the committed configuration's, not the
	// last proposal's: the host converted a witness whose AddWitness was
	// merely not committed yet, and the checker judged roles by the last
	// proposal (TestWitnessRoleIsTheCommittedOneNotTheLastProposed).
	{"issue 18: witness role decided by the committed entry", []uint64{200871, 201448},
		"-nodes 3 -membership 0.05 -lease-reads -quiesce 10 -idle 0.02"},
	{"issue 18: shrunk seed 201448", []uint64{201448},
		"-nodes=3 -ticks=61 -skew=0 -drop=0 -dup=0 -reorder=0 -sync=true -partial-loss=false -crash=0 -partition=0 -oneway=0 -isolate=0 -flap=0 -clients=1 -compact=0 -membership=0.05 -transfer=0 -quiesce=0 -idle=0"},
	{"issue 18: payloads withheld from a witness with compaction", []uint64{410131},
		"-nodes 5 -membership 0.05 -witness -compact 0.1"},
	{"issue 18: payloads withheld from a witness with quiescence", []uint64{450784},
		"-nodes 5 -membership 0.05 -quiesce 5 -idle 0.05 -witness"},
	{"issue 18: a data voter whose AddWitness was overwritten leads", []uint64{420043, 420292, 420527, 420875},
		"-nodes 3 -no-prevote -no-checkquorum -membership 0.03"},
	{"issue 18: shrunk seed 420527", []uint64{420527},
		"-nodes=3 -ticks=716 -no-prevote=true -no-checkquorum=true -oneway=0 -membership=0.03 -transfer=0"},
	{"issue 18: the same with pre-vote and check-quorum on", []uint64{640296},
		"-nodes 5 -no-forwarding -membership 0.03 -reads 1"},
	{"issue 18: figure 8 with membership changes", []uint64{660273, 660616},
		"-scenario figure8 -membership 0.03"},
	// Issue 18, liveness without pre-vote: a stale vote request went
	// unanswered, so the one server that could win never learnt the
	// newer term (TestElectionStaleTermCandidateWithLatestConfigurationWins).
	{"issue 18: stale-term candidate holding the latest configuration", []uint64{610501, 610551},
		"-nodes 5 -no-prevote -membership 0.03"},
	{"issue 18: the same with check-quorum off", []uint64{630310, 630458},
		"-nodes 3 -no-prevote -no-checkquorum"},
}

// regressionScenario builds the scenario args describe: -scenario picks
// the base, the other flags change it.
func regressionScenario(t *testing.T, args string) Scenario {
	t.Helper()
	name := "default"
	var rest []string
	fields := strings.Fields(args)
	for i := 0; i < len(fields); i++ {
		if fields[i] == "-scenario" && i+1 < len(fields) {
			name = fields[i+1]
			i++
			continue
		}
		rest = append(rest, fields[i])
	}
	sc, ok := ScenarioNamed(name)
	if !ok {
		t.Fatalf("unknown scenario %q", name)
	}
	if err := sc.ApplyFlagArgs(rest); err != nil {
		t.Fatalf("flags %q: %v", args, err)
	}
	return sc
}

func TestRegressions(t *testing.T) {
	for _, r := range regressions {
		sc := regressionScenario(t, r.args)
		for _, seed := range r.seeds {
			res, err := Run(sc, seed, Options{})
			if err != nil {
				t.Fatalf("%s, seed %d: %v", r.why, seed, err)
			}
			if res.Failed() {
				t.Errorf("%s, seed %d:\n%s", r.why, seed, res.Report())
			}
		}
	}
}
