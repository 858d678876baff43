// Command mutate is pureraft's mutation tester. It plants each bug of a
// catalog (mutants/catalog.txt) in the root package, one at a time, runs the
// test command that must catch it, and reports whether it did. A mutant
// that survives is a gap in the tests; a catalog entry whose original code
// no longer occurs is an error, so the catalog cannot rot silently.
//
// The source tree is never modified: each mutant is applied through
// `go test -overlay`, which compiles a replacement file in place of the
// real one, so several mutants can run at once.
//
//	go run ./cmd/mutate                 # the whole catalog, one mutant per CPU (at least 2)
//	go run ./cmd/mutate -run 'quiesce'  # the mutants whose ID matches
//	go run ./cmd/mutate -check          # only check that every mutant applies
//	go run ./cmd/mutate -show ID        # print one mutant and its kill command
//
// It exits 1 if a mutant survives (pending ones excepted), if a mutant
// does not apply, does not build, or if its kill command runs no test.
// See docs/testing.md, "Mutation testing".
package main

import (
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"runtime"
	"strings"
	"time"
)

func main() {
	catalog := flag.String("catalog", "mutants/catalog.txt", "catalog file, relative to the repository root")
	check := flag.Bool("check", false, "only check that every mutant applies; run no test")
	runPat := flag.String("run", "", "run only the mutants whose ID matches this regexp")
	jobs := flag.Int("j", max(2, runtime.NumCPU()), "mutants tested at once")
	timeout := flag.Duration("timeout", 3*time.Minute, "time limit of one kill command (a hang counts as killed)")
	baseline := flag.Bool("baseline", false, "first run every kill command on the unmutated tree: each must pass")
	show := flag.String("show", "", "print the mutant with this ID and exit")
	verbose := flag.Bool("v", false, "print the test output of every mutant, not only of the failures")
	flag.Parse()

	root, err := repoRoot()
	if err != nil {
		fatal(err)
	}
	path := *catalog
	if !filepath.IsAbs(path) {
		path = filepath.Join(root, path)
	}
	ms, err := parseCatalog(path)
	if err != nil {
		fatal(err)
	}
	if errs := validate(root, ms); len(errs) > 0 {
		fatal(fmt.Errorf("the catalog does not apply:\n%s", strings.Join(errs, "\n")))
	}
	if *show != "" {
		for _, m := range ms {
			if m.ID == *show {
				printMutant(m)
				return
			}
		}
		fatal(fmt.Errorf("no mutant %q", *show))
	}
	if *check {
		c := countCatalog(ms)
		fmt.Printf("catalog OK: %d mutants apply (%d pending, %d equivalent)\n", c.total, c.pending, c.equivalent)
		perArea := map[string]int{}
		for _, m := range ms {
			perArea[m.Area]++
		}
		for _, a := range areas {
			fmt.Printf("  %-12s %3d\n", a, perArea[a])
		}
		return
	}
	if *runPat != "" {
		re, err := regexp.Compile(*runPat)
		if err != nil {
			fatal(err)
		}
		var sel []*Mutant
		for _, m := range ms {
			if re.MatchString(m.ID) {
				sel = append(sel, m)
			}
		}
		ms = sel
	}
	r := &runner{root: root, timeout: *timeout, jobs: max(1, *jobs), verbose: *verbose}
	start := time.Now()
	if *baseline {
		if err := r.baseline(ms); err != nil {
			fatal(err)
		}
	}
	results := r.runAll(ms)
	ok := report(os.Stdout, ms, results, *runPat == "")
	fmt.Printf("time: %s\n", time.Since(start).Round(time.Second))
	if !ok {
		os.Exit(1)
	}
}

// repoRoot finds the root module's directory from the working directory up.
func repoRoot() (string, error) {
	dir, err := os.Getwd()
	if err != nil {
		return "", err
	}
	for {
		if b, err := os.ReadFile(filepath.Join(dir, "go.mod")); err == nil &&
			strings.Contains(string(b), "module github.com/pureraft/raft\n") {
			return dir, nil
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			return "", fmt.Errorf("not inside the pureraft repository")
		}
		dir = parent
	}
}

func printMutant(m *Mutant) {
	fmt.Printf("mutant %s (%s)\nrule: %s\nfile: %s\n", m.ID, m.Area, m.Rule, m.File)
	for _, l := range strings.Split(m.Original, "\n") {
		fmt.Printf("- %s\n", l)
	}
	if m.Replacement != "" {
		for _, l := range strings.Split(m.Replacement, "\n") {
			fmt.Printf("+ %s\n", l)
		}
	}
	if m.Kill != "" {
		fmt.Printf("kill: %s\n", m.Kill)
	}
	if m.Pending != "" {
		fmt.Printf("pending: %s\n", m.Pending)
	}
	if m.Equivalent != "" {
		fmt.Printf("equivalent: %s\n", m.Equivalent)
	}
}

func fatal(err error) {
	fmt.Fprintln(os.Stderr, "mutate:", err)
	os.Exit(1)
}
