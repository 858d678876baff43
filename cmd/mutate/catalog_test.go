package main

import (
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
)

// The fast half of mutation testing, run by the normal suite: the catalog
// parses, and every mutant still applies to today's code — its original
// occurs exactly once in its file and the mutated file parses — so a
// refactoring that moves a snippet fails here, not silently in CI's
// mutation step. Running the mutants is `go run ./cmd/mutate`.

func loadCatalog(t *testing.T) (string, []*Mutant) {
	t.Helper()
	root, err := filepath.Abs("../..")
	if err != nil {
		t.Fatal(err)
	}
	ms, err := parseCatalog(filepath.Join(root, "mutants", "catalog.txt"))
	if err != nil {
		t.Fatal(err)
	}
	return root, ms
}

func TestCatalogApplies(t *testing.T) {
	root, ms := loadCatalog(t)
	for _, e := range validate(root, ms) {
		t.Error(e)
	}
	if c := countCatalog(ms); c.total-c.equivalent < 40 {
		t.Errorf("%d non-equivalent mutants, want at least 40", c.total-c.equivalent)
	}
}

// Every protocol area has mutants that are run (not only equivalent ones).
func TestCatalogCoversEveryArea(t *testing.T) {
	_, ms := loadCatalog(t)
	run := map[string]int{}
	for _, m := range ms {
		if m.Equivalent == "" {
			run[m.Area]++
		}
	}
	for _, a := range areas {
		if run[a] == 0 {
			t.Errorf("area %s has no mutant that is run", a)
		}
	}
}

// docs/testing.md quotes the tool's summary line; the quote must match the
// catalog. CI's mutation step fails on any survivor, so a passing CI means
// every mutant neither pending nor equivalent was killed: that is the
// score the doc may claim.
func TestDocsQuoteTheScore(t *testing.T) {
	root, ms := loadCatalog(t)
	doc, err := os.ReadFile(filepath.Join(root, "docs", "testing.md"))
	if err != nil {
		t.Fatal(err)
	}
	c := countCatalog(ms)
	c.killed = c.total - c.equivalent - c.pending
	want := scoreLine(c)
	got := regexp.MustCompile(`(?m)^\s*mutation score: .*$`).FindString(string(doc))
	if strings.TrimSpace(got) != want {
		t.Errorf("docs/testing.md quotes\n\t%s\nthe catalog gives\n\t%s", strings.TrimSpace(got), want)
	}
	// Every equivalent mutant is named in the doc, with its reason there.
	for _, m := range ms {
		if m.Equivalent != "" && !strings.Contains(string(doc), "`"+m.ID+"`") {
			t.Errorf("docs/testing.md does not list equivalent mutant %s", m.ID)
		}
	}
}

func TestSplitKill(t *testing.T) {
	for _, tc := range []struct {
		cmd       string
		env, args []string
		err       bool
	}{
		{cmd: "go test -run 'A|B' .", args: []string{"go", "test", "-run", "A|B", "."}},
		{cmd: "RAFTSIM_SEEDS=50 go test -run 'TestSeeds/nodes=3' ./raftsim",
			env: []string{"RAFTSIM_SEEDS=50"}, args: []string{"go", "test", "-run", "TestSeeds/nodes=3", "./raftsim"}},
		{cmd: "go build .", err: true},
		{cmd: "go test -run 'A .", err: true},
		{cmd: "", err: true},
	} {
		env, args, err := splitKill(tc.cmd)
		if (err != nil) != tc.err {
			t.Errorf("%q: err %v", tc.cmd, err)
			continue
		}
		if !tc.err && (strings.Join(env, "\x00") != strings.Join(tc.env, "\x00") || strings.Join(args, "\x00") != strings.Join(tc.args, "\x00")) {
			t.Errorf("%q: env %q args %q, want %q %q", tc.cmd, env, args, tc.env, tc.args)
		}
	}
}

// classify must tell a killed mutant from one that does not build or runs
// no test: both of those fail a test command too, and counting them as
// killed would hide a rotten catalog.
func TestClassify(t *testing.T) {
	exit := exitError(t)
	for _, tc := range []struct {
		name string
		out  string
		err  error
		want outcome
	}{
		{"pass", "ok  \tgithub.com/pureraft/raft\t0.1s\n", nil, survived},
		{"test fails", "--- FAIL: TestX (0.00s)\nFAIL\n", exit, killed},
		{"panic", "panic: boom\nFAIL\tgithub.com/pureraft/raft\t0.1s\n", exit, killed},
		{"hang", "panic: test timed out after 3m0s\n", exit, killed},
		{"no build", "# github.com/pureraft/raft\n./x.go:1:1: undefined: y\nFAIL\tgithub.com/pureraft/raft [build failed]\n", exit, broken},
		{"no test", "testing: warning: no tests to run\nok  \tgithub.com/pureraft/raft\t0.1s [no tests to run]\n", nil, broken},
	} {
		if got := classify(tc.out, tc.err, false).outcome; got != tc.want {
			t.Errorf("%s: outcome %d, want %d", tc.name, got, tc.want)
		}
	}
}

// exitError returns a real *exec.ExitError, as a failing go test gives.
func exitError(t *testing.T) error {
	t.Helper()
	exe, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(exe, "-test.run=^$", "-test.count=1", "-no-such-flag")
	err = cmd.Run()
	var ee *exec.ExitError
	if !errors.As(err, &ee) {
		t.Fatalf("want an exit error, got %v", err)
	}
	return err
}
