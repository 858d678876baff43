package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
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
	fi, err := os.Stat(filepath.Join(dir, "leader-crash-seed3.html"))
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
	if !strings.Contains(out.String(), "0 of 3 seeds failed") {
		t.Fatalf("output:\n%s", out.String())
	}
	out.Reset()
	if code := run([]string{"-list"}, &out, &errs); code != 0 || !strings.Contains(out.String(), "figure8") {
		t.Fatalf("-list: exit %d\n%s", code, out.String())
	}
	if code := run([]string{"-scenario", "nope"}, &out, &errs); code != 2 {
		t.Fatalf("unknown scenario: exit %d", code)
	}
}
