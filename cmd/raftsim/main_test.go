package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/pureraft/raft/raftsim"
)

func TestRunWritesTimeline(t *testing.T) {
	dir := t.TempDir()
	var out, errs strings.Builder
	code := run([]string{"-scenario", "leader-crash", "-seed", "3", "-ticks=300", "-nodes=3", "-sync", "-out", dir}, &out, &errs)
	if code != 0 {
		t.Fatalf("exit %d\n%s\n%s", code, out.String(), errs.String())
	}
	for _, want := range []string{`scenario "leader-crash", seed 3: 3 nodes`, "synchronous disks", "elections:", "faults injected:", "checks passed:", "linearizability", "PASSED", "HTML timeline:"} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("output lacks %q:\n%s", want, out.String())
		}
	}
	for _, line := range strings.Split(out.String(), "\n") {
		if strings.Contains(line, "checks passed:") && strings.HasSuffix(line, ",") {
			t.Errorf("the checks line ends with a comma: %q", line)
		}
	}
	fi, err := os.Stat(filepath.Join(dir, "leader-crash-seed3-nodes-3-ticks-300-sync.html"))
	if err != nil || fi.Size() < 10000 {
		t.Fatalf("timeline: %v", err)
	}
}

func TestRunFailureReport(t *testing.T) {
	var out, errs strings.Builder
	// No leader can be elected and commit within one tick of healing.
	code := run([]string{"-ticks=5", "-liveness-ticks=1", "-html=false"}, &out, &errs)
	if code != 1 {
		t.Fatalf("exit %d, want 1\n%s", code, out.String())
	}
	for _, want := range []string{"seed 1", "liveness violated", "last 30 trace events", "replay: go run ./cmd/raftsim -scenario default -seed 1 -ticks=5 -liveness-ticks=1"} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("output lacks %q:\n%s", want, out.String())
		}
	}
}

func TestRunManyAndList(t *testing.T) {
	var out, errs strings.Builder
	if code := run([]string{"-seeds=3", "-ticks=200", "-html=false"}, &out, &errs); code != 0 {
		t.Fatalf("exit %d\n%s%s", code, out.String(), errs.String())
	}
	if !strings.Contains(out.String(), "0 of 3 seeds failed") || !strings.Contains(out.String(), "linearizability ok; PASS") {
		t.Fatalf("output:\n%s", out.String())
	}
	out.Reset()
	if code := run([]string{"-list"}, &out, &errs); code != 0 || !strings.Contains(out.String(), "figure8") {
		t.Fatalf("-list: exit %d\n%s", code, out.String())
	}
	// Every named scenario is listed with a line of its own saying what
	// it does.
	for _, name := range raftsim.ScenarioNames() {
		if raftsim.ScenarioSummary(name) == "" || !strings.Contains(out.String(), name+" ") {
			t.Errorf("-list: scenario %s is missing or has no summary", name)
		}
	}
	if code := run([]string{"-scenario", "nope"}, &out, &errs); code != 2 {
		t.Fatalf("unknown scenario: exit %d", code)
	}
}

// The summary of a scenario without faults does not claim any: calm says
// "no faults", the default scenario "ticks of faults".
func TestSummaryNamesFaults(t *testing.T) {
	for scenario, want := range map[string]string{"calm": "200 ticks, no faults", "default": "200 ticks of faults"} {
		var out, errs strings.Builder
		if code := run([]string{"-scenario", scenario, "-ticks=200", "-nodes=3", "-html=false"}, &out, &errs); code != 0 {
			t.Fatalf("%s: exit %d\n%s%s", scenario, code, out.String(), errs.String())
		}
		if !strings.Contains(out.String(), want) {
			t.Errorf("%s: summary lacks %q:\n%s", scenario, want, out.String())
		}
	}
}

// Runs that differ only in a flag write different files (the tour's runs
// with and without check-quorum once overwrote each other's timeline).
func TestOutputNamesCarryFlags(t *testing.T) {
	dir := t.TempDir()
	for _, args := range [][]string{
		{"-scenario", "leader-crash", "-seed", "3", "-ticks=200", "-nodes=3"},
		{"-scenario", "leader-crash", "-seed", "3", "-ticks=200", "-nodes=3", "-no-checkquorum"},
	} {
		var out, errs strings.Builder
		if code := run(append(args, "-out", dir), &out, &errs); code != 0 {
			t.Fatalf("%v: exit %d\n%s%s", args, code, out.String(), errs.String())
		}
	}
	for _, want := range []string{"leader-crash-seed3-nodes-3-ticks-200.html", "leader-crash-seed3-nodes-3-ticks-200-no-checkquorum.html"} {
		if _, err := os.Stat(filepath.Join(dir, want)); err != nil {
			files, _ := filepath.Glob(filepath.Join(dir, "*"))
			t.Errorf("no %s among %v", want, files)
		}
	}
}
