package raftsim

import (
	"fmt"
	"os"
	"reflect"
	"regexp"
	"strconv"
	"strings"
	"testing"

	"github.com/pureraft/raft"
)

// The seed sweep. Every run has every invariant checked on every step and
// the history checked for linearizability at the end. Each seed draws its
// own mix of flags (Scenario.Mix: cluster size, pre-vote, check-quorum,
// fault, membership, witness, quiescence, lease-read, transfer and
// compaction rates), so rare combinations get reached over the runs; a
// failure's replay line spells the mix out as flags. Soak mode:
//
//	RAFTSIM_SEEDS=5000 RAFTSIM_TICKS=5000 go test ./raftsim -run TestSeeds -timeout 0
//
// Other knobs: RAFTSIM_SEED (first seed, default 1), RAFTSIM_SCENARIO
// (a named scenario as the base instead of "default"), RAFTSIM_NODES
// (e.g. "3,5,7": run every seed at each of these sizes instead of the
// drawn one).

func envInt(t testing.TB, name string, def int) int {
	v := os.Getenv(name)
	if v == "" {
		return def
	}
	n, err := strconv.Atoi(v)
	if err != nil || n < 0 {
		t.Fatalf("%s=%q: want a non-negative integer", name, v)
	}
	return n
}

// shortOr returns full, or short under go test -short: the quick tier
// README.md offers, which runs every test with fewer seeds.
func shortOr(full, short int) int {
	if testing.Short() {
		return short
	}
	return full
}

// sweepShards is how many parallel subtests share the seeds: enough to
// keep both cores busy, few enough that each subtest runs many seeds.
const sweepShards = 8

func TestSeeds(t *testing.T) {
	seeds := envInt(t, "RAFTSIM_SEEDS", shortOr(560, 56))
	ticks := envInt(t, "RAFTSIM_TICKS", 2000)
	first := uint64(envInt(t, "RAFTSIM_SEED", 1))
	name := os.Getenv("RAFTSIM_SCENARIO")
	if name == "" {
		name = "default"
	}
	base, ok := ScenarioNamed(name)
	if !ok {
		t.Fatalf("RAFTSIM_SCENARIO=%q: unknown scenario (known: %v)", name, ScenarioNames())
	}
	var sizes []int // nil: the mix draws the size
	if v := os.Getenv("RAFTSIM_NODES"); v != "" {
		for _, f := range strings.Split(v, ",") {
			n, err := strconv.Atoi(strings.TrimSpace(f))
			if err != nil {
				t.Fatalf("RAFTSIM_NODES=%q: %v", v, err)
			}
			sizes = append(sizes, n)
		}
	}
	for shard := 0; shard < sweepShards; shard++ {
		t.Run(fmt.Sprintf("shard=%d", shard), func(t *testing.T) {
			t.Parallel()
			failures := 0
			for seed := first + uint64(shard); seed < first+uint64(seeds); seed += sweepShards {
				for _, sc := range sweepScenarios(base, seed, ticks, sizes) {
					res, err := Run(sc, seed, Options{})
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
			}
		})
	}
}

// sweepScenarios is what TestSeeds runs for seed: base with the seed's
// mix, at the drawn size or at each of sizes.
func sweepScenarios(base Scenario, seed uint64, ticks int, sizes []int) []Scenario {
	sc := base.Mix(seed)
	sc.Ticks = ticks
	if len(sizes) == 0 {
		return []Scenario{sc}
	}
	var out []Scenario
	for _, n := range sizes {
		s := sc
		s.Nodes = n
		s.Features.Witness = s.Features.Witness && n >= 3
		out = append(out, s)
	}
	return out
}

// TestNamedScenarios runs every named scenario, 3 and 5 nodes, on a few
// seeds.
func TestNamedScenarios(t *testing.T) {
	seeds := uint64(envInt(t, "RAFTSIM_NAMED_SEEDS", shortOr(12, 2)))
	for _, name := range ScenarioNames() {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			for seed := uint64(1); seed <= seeds; seed++ {
				sc, _ := ScenarioNamed(name)
				if seed%2 == 0 {
					sc.Nodes = 3
				}
				res, err := Run(sc, seed, Options{})
				if err != nil {
					t.Fatal(err)
				}
				if res.Failed() {
					t.Fatal(res.Report())
				}
				if res.Stats.OpsDone == 0 || res.Stats.MaxCommit == 0 {
					t.Fatalf("seed %d: no progress: %+v", seed, res.Stats)
				}
			}
		})
	}
}

// TestFaultsHappen guards the sweep against testing less than it claims:
// the default scenario injects every kind of fault.
func TestFaultsHappen(t *testing.T) {
	var total Stats
	for seed := uint64(1); seed <= 10; seed++ {
		sc := DefaultScenario()
		sc.Raft.EnableLeaseReads = seed%2 == 1
		res, err := Run(sc, seed, Options{})
		if err != nil || res.Failed() {
			t.Fatalf("seed %d: %v %v", seed, err, res.Report())
		}
		s := res.Stats
		total.Compactions += s.Compactions
		total.SnapshotsSent += s.SnapshotsSent
		total.SnapshotsLost += s.SnapshotsLost
		total.SnapshotsInstalled += s.SnapshotsInstalled
		total.IndexReads += s.IndexReads
		total.LeaseReads += s.LeaseReads
		total.ReadsServed += s.ReadsServed
		total.ReadsFailed += s.ReadsFailed
		total.MembershipChanges += s.MembershipChanges
		total.Transfers += s.Transfers
		total.Campaigns += s.Campaigns
		total.Crashes += s.Crashes
		total.LostWrites += s.LostWrites
		total.SurvivedWrites += s.SurvivedWrites
		total.Partitions += s.Partitions
		total.OneWay += s.OneWay
		total.Isolations += s.Isolations
		total.Flaps += s.Flaps
		total.Dropped += s.Dropped
		total.Duplicated += s.Duplicated
		total.Reordered += s.Reordered
		total.Late += s.Late
		total.ReadIDsReused += s.ReadIDsReused
		total.Timeouts += s.Timeouts
		total.Elections += s.Elections
	}
	for name, n := range map[string]int{
		"crashes": total.Crashes, "lost writes": total.LostWrites, "writes surviving a crash unacknowledged": total.SurvivedWrites,
		"partitions": total.Partitions, "one-way cuts": total.OneWay, "isolations": total.Isolations, "flaps": total.Flaps,
		"drops": total.Dropped, "duplicates": total.Duplicated, "reorderings": total.Reordered, "late messages": total.Late,
		"read IDs reused": total.ReadIDsReused,
		"client timeouts": total.Timeouts, "re-elections": total.Elections - 10,
		"compactions": total.Compactions, "snapshot transfers": total.SnapshotsSent,
		"lost snapshot transfers": total.SnapshotsLost, "snapshot installs": total.SnapshotsInstalled,
		"ReadIndex reads": total.IndexReads, "lease reads": total.LeaseReads, "reads served": total.ReadsServed,
		"failed reads": total.ReadsFailed, "membership changes": total.MembershipChanges,
		"leadership transfers": total.Transfers, "forced campaigns": total.Campaigns,
	} {
		if n == 0 {
			t.Errorf("no %s in 10 runs of the default scenario", name)
		}
	}
}

// TestDeterministic: a seed replays bit for bit.
func TestDeterministic(t *testing.T) {
	for _, name := range []string{"default", "figure8"} {
		sc, _ := ScenarioNamed(name)
		sc.Ticks = 600
		a, _ := Run(sc, 7, Options{FullTrace: true})
		b, _ := Run(sc, 7, Options{FullTrace: true})
		if !reflect.DeepEqual(a.Stats, b.Stats) {
			t.Fatalf("%s: stats differ:\n%+v\n%+v", name, a.Stats, b.Stats)
		}
		ea, eb := a.Trace.Events(), b.Trace.Events()
		if len(ea) != len(eb) {
			t.Fatalf("%s: traces have %d and %d events", name, len(ea), len(eb))
		}
		for i := range ea {
			if ea[i] != eb[i] {
				t.Fatalf("%s: traces differ at event %d:\n%s\n%s", name, i, ea[i], eb[i])
			}
		}
		c, _ := Run(sc, 8, Options{})
		if reflect.DeepEqual(a.Stats, c.Stats) {
			t.Fatalf("%s: seeds 7 and 8 gave identical runs", name)
		}
	}
}

// TestReplayCommand: the flags a failure report prints rebuild the
// scenario exactly.
func TestReplayCommand(t *testing.T) {
	for _, name := range ScenarioNames() {
		sc, _ := ScenarioNamed(name)
		sc.Nodes = 3
		sc.Network.Drop = 0.125
		sc.Network.LatencyMax = 777
		sc.Disk.Sync = true
		sc.Schedule = nil
		cmd := sc.ReplayCommand(99)
		if !strings.HasPrefix(cmd, "go run ./cmd/raftsim -scenario "+name+" -seed 99 ") {
			t.Fatalf("replay command %q", cmd)
		}
		back, _ := ScenarioNamed(name)
		if err := back.ApplyFlagArgs(sc.FlagArgs()); err != nil {
			t.Fatal(err)
		}
		if !reflect.DeepEqual(back, sc) {
			t.Fatalf("%s: flags %v rebuild\n%+v, want\n%+v", name, sc.FlagArgs(), back, sc)
		}
	}
}

func TestValidate(t *testing.T) {
	for _, name := range ScenarioNames() {
		sc, _ := ScenarioNamed(name)
		if err := sc.Validate(); err != nil {
			t.Errorf("%s: %v", name, err)
		}
	}
	bad := []func(*Scenario){
		func(s *Scenario) { s.Nodes = 0 },
		func(s *Scenario) { s.Nodes = 10 },
		func(s *Scenario) { s.Network.Drop = 1.5 },
		func(s *Scenario) { s.Network.LatencyMin = 0 },
		func(s *Scenario) { s.Disk.DelayMax = -1 },
		func(s *Scenario) { s.Raft.HeartbeatTicks = 20 },
		func(s *Scenario) { s.Workload.Puts, s.Workload.Appends, s.Workload.Gets = 0, 0, 0 },
		func(s *Scenario) { s.Schedule = []ScheduledFault{{Kind: 99}} },
	}
	for i, f := range bad {
		sc := DefaultScenario()
		f(&sc)
		if _, err := Run(sc, 1, Options{}); err == nil {
			t.Errorf("bad scenario %d accepted", i)
		}
	}
}

// TestSingleNode: a one-node cluster commits alone and survives crashes.
func TestSingleNode(t *testing.T) {
	sc := DefaultScenario()
	sc.Nodes = 1
	sc.Faults.MaxDown = 1
	for seed := uint64(1); seed <= 5; seed++ {
		res, err := Run(sc, seed, Options{})
		if err != nil {
			t.Fatal(err)
		}
		if res.Failed() {
			t.Fatal(res.Report())
		}
		if res.Stats.OpsDone == 0 {
			t.Fatalf("seed %d: no operation completed", seed)
		}
	}
}

// TestLargeCluster: 7 and 9 nodes.
func TestLargeCluster(t *testing.T) {
	for _, n := range []int{7, 9} {
		sc := DefaultScenario()
		sc.Nodes, sc.Ticks = n, 1000
		for seed := uint64(1); seed <= 3; seed++ {
			res, err := Run(sc, seed, Options{})
			if err != nil {
				t.Fatal(err)
			}
			if res.Failed() {
				t.Fatal(res.Report())
			}
		}
	}
}

// TestHTML renders a run and checks the page is self-contained.
func TestHTML(t *testing.T) {
	sc := DefaultScenario()
	sc.Ticks = 300
	res, _ := Run(sc, 3, Options{FullTrace: true})
	var b strings.Builder
	if err := WriteHTML(&b, res); err != nil {
		t.Fatal(err)
	}
	page := b.String()
	for _, want := range []string{"<svg", "let D = {", `"msgs":[[`, "node ticks", "replay"} {
		if !strings.Contains(page, want) && !strings.Contains(page, strings.ReplaceAll(want, "<", "\\u003c")) {
			t.Errorf("page lacks %q", want)
		}
	}
	for _, bad := range []string{"http://", "https://", "<link", "src="} {
		if strings.Contains(strings.ReplaceAll(page, `xmlns="http://www.w3.org/2000/svg"`, ""), bad) {
			t.Errorf("page refers to an external resource (%q)", bad)
		}
	}
	var text strings.Builder
	if err := res.Trace.WriteText(&text, false); err != nil || !strings.Contains(text.String(), "deliver") {
		t.Fatalf("text trace: %v", err)
	}
}

// TestFigure8Happens: the figure8 scenario does produce the situation of
// the paper's Figure 8 — entries durable on a majority, never committed,
// overwritten by a later leader — and safety holds through it.
func TestFigure8Happens(t *testing.T) {
	sc, _ := ScenarioNamed("figure8")
	total := 0
	for seed := uint64(1); seed <= 10; seed++ {
		res, err := Run(sc, seed, Options{})
		if err != nil {
			t.Fatal(err)
		}
		if res.Failed() {
			t.Fatal(res.Report())
		}
		total += res.Stats.Figure8
	}
	t.Logf("%d entries durable on a majority were overwritten in 10 runs", total)
	if total == 0 {
		t.Fatal("no Figure 8 situation in 10 runs of the figure8 scenario")
	}
}

// TestWitnessesHappen: witnesses are bootstrapped and added by the
// membership churn, and clients asking them are turned away.
func TestWitnessesHappen(t *testing.T) {
	var total Stats
	boot := 0
	for seed := uint64(1); seed <= 8; seed++ {
		sc := DefaultScenario()
		sc.Nodes, sc.Ticks = 3, 1000
		sc.Features.Witness = seed%2 == 0
		if sc.Features.Witness {
			boot++
		}
		res, err := Run(sc, seed, Options{})
		if err != nil || res.Failed() {
			t.Fatalf("seed %d: %v %v", seed, err, res.Report())
		}
		total.Witnesses += res.Stats.Witnesses
		total.WitnessRefusals += res.Stats.WitnessRefusals
	}
	t.Logf("%d witnesses (%d bootstrapped), %d client operations turned away", total.Witnesses, boot, total.WitnessRefusals)
	if total.Witnesses <= boot || total.WitnessRefusals == 0 {
		t.Fatalf("%d witnesses (%d bootstrapped), %d refusals: witnesses are not exercised", total.Witnesses, boot, total.WitnessRefusals)
	}
}

// TestQuiescenceHappens: in the quiet scenario groups go quiet, and the
// hosts' failure detectors wake quiescent nodes.
func TestQuiescenceHappens(t *testing.T) {
	var total Stats
	for seed := uint64(1); seed <= 4; seed++ {
		sc, _ := ScenarioNamed("quiet")
		sc.Ticks = 1000
		res, err := Run(sc, seed, Options{})
		if err != nil || res.Failed() {
			t.Fatalf("seed %d: %v %v", seed, err, res.Report())
		}
		total.IdleStretches += res.Stats.IdleStretches
		total.Quiesced += res.Stats.Quiesced
		total.Detections += res.Stats.Detections
		total.Wakes += res.Stats.Wakes
	}
	t.Logf("%d idle stretches, %d nodes quiesced, %d failures detected, %d waking a quiescent node", total.IdleStretches, total.Quiesced, total.Detections, total.Wakes)
	if total.IdleStretches == 0 || total.Quiesced == 0 || total.Detections == 0 || total.Wakes == 0 {
		t.Fatalf("quiescence not exercised: %+v", total)
	}
}

// TestTimelineLegendColoursDistinct: every kind the timeline's legend names
// has a colour of its own (pre-vote answers once shared the network fault's
// purple), and the help text names the colours the legend uses for votes
// and pre-votes.
func TestTimelineLegendColoursDistinct(t *testing.T) {
	legend := regexp.MustCompile(`(?s)const legend = \[(.*?)\];`).FindStringSubmatch(htmlPageSource)
	if legend == nil {
		t.Fatal("no legend in the page template")
	}
	colours := map[string]string{}
	msgColor := map[string]string{}
	for _, m := range regexp.MustCompile(`(\d):"(#[0-9a-f]{6})"`).FindAllStringSubmatch(htmlPageSource, -1) {
		msgColor[m[1]] = m[2]
	}
	for _, e := range regexp.MustCompile(`\["([^"]+)", (?:msgColor\((\d)\)|roleFill\[\d\]|"(#[0-9a-f]{6})")\]`).FindAllStringSubmatch(legend[1], -1) {
		c := e[3]
		if e[2] != "" {
			c = msgColor[e[2]]
		}
		if c == "" {
			continue // a role fill: checked by the role palette
		}
		if other, dup := colours[c]; dup {
			t.Errorf("legend: %q and %q share the colour %s", other, e[1], c)
		}
		colours[c] = e[1]
	}
	if len(colours) < 10 {
		t.Fatalf("parsed %d legend colours, want at least 10: %v", len(colours), colours)
	}
	for _, want := range []string{"orange: votes", "teal: pre-votes"} {
		if !strings.Contains(htmlPageSource, want) {
			t.Errorf("the help text lacks %q", want)
		}
	}
}

// TestTimelineSparesNotFollowersFromStart: a spare is outside the cluster
// until it is added; the timeline draws its lane from the moment it first
// hears of a leader, not as a follower from tick 0.
func TestTimelineSparesNotFollowersFromStart(t *testing.T) {
	sc, _ := ScenarioNamed("membership")
	res, err := Run(sc, 1, Options{FullTrace: true})
	if err != nil || res.Failed() {
		t.Fatalf("%v %v", err, res.Violation)
	}
	tl := buildTimeline(res)
	drawn := 0
	for _, r := range tl.Roles {
		n, start := r[0].(raft.NodeID), r[1].(Time)
		if int(n) > sc.Nodes {
			drawn++
			if start == 0 {
				t.Errorf("spare %d drawn as a %v from tick 0", n, r[3])
			}
		}
	}
	if drawn == 0 {
		t.Error("no spare was ever drawn: the scenario added none")
	}
}
