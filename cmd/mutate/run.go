package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"time"
)

// outcome is what happened to one mutant.
type outcome int

const (
	killed outcome = iota
	survived
	broken     // does not build, or the kill command ran no test: a catalog error
	equivalent // not run
)

type result struct {
	outcome outcome
	detail  string // the failing tests, or why the mutant is broken
	output  string
	elapsed time.Duration
}

type runner struct {
	root    string
	timeout time.Duration
	jobs    int
	verbose bool
}

// runAll tests the mutants, r.jobs at a time, printing a line as each ends.
func (r *runner) runAll(ms []*Mutant) []result {
	results := make([]result, len(ms))
	work := make(chan int)
	var mu sync.Mutex
	var wg sync.WaitGroup
	for range r.jobs {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range work {
				res := r.runOne(ms[i])
				results[i] = res
				mu.Lock()
				printResult(os.Stdout, ms[i], res, r.verbose)
				mu.Unlock()
			}
		}()
	}
	for i := range ms {
		work <- i
	}
	close(work)
	wg.Wait()
	return results
}

// runOne plants m through an overlay and runs its kill command.
func (r *runner) runOne(m *Mutant) result {
	if m.Equivalent != "" {
		return result{outcome: equivalent}
	}
	start := time.Now()
	src, err := m.mutate(r.root)
	if err != nil {
		return result{outcome: broken, detail: err.Error()}
	}
	dir, err := os.MkdirTemp("", "mutate-"+m.ID+"-")
	if err != nil {
		return result{outcome: broken, detail: err.Error()}
	}
	defer os.RemoveAll(dir)
	replacement := filepath.Join(dir, filepath.Base(m.File))
	overlay := filepath.Join(dir, "overlay.json")
	ov, _ := json.Marshal(map[string]map[string]string{"Replace": {filepath.Join(r.root, m.File): replacement}})
	if err := os.WriteFile(replacement, src, 0o644); err != nil {
		return result{outcome: broken, detail: err.Error()}
	}
	if err := os.WriteFile(overlay, ov, 0o644); err != nil {
		return result{outcome: broken, detail: err.Error()}
	}
	out, exitErr, timedOut := r.goTest(m.Kill, "-overlay="+overlay)
	res := classify(out, exitErr, timedOut)
	res.elapsed = time.Since(start)
	return res
}

// goTest runs a kill command from the repository root with extra flags
// after "go test": no cached result, no vet (a mutant's code need not be
// tidy), stop at the first failure, and no symbol table or DWARF in the
// test binary (linking is a good part of each mutant's cost; tracebacks
// do not need them).
func (r *runner) goTest(kill string, extra ...string) (string, error, bool) {
	env, args, err := splitKill(kill)
	if err != nil {
		return "", err, false
	}
	flags := append([]string{"-count=1", "-vet=off", "-failfast", "-ldflags=-s -w", fmt.Sprintf("-timeout=%s", r.timeout)}, extra...)
	args = append(append(append([]string{}, args[:2]...), flags...), args[2:]...)
	ctx, cancel := context.WithTimeout(context.Background(), r.timeout+30*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, args[0], args[1:]...)
	cmd.Dir = r.root
	cmd.Env = append(os.Environ(), env...)
	var buf bytes.Buffer
	cmd.Stdout, cmd.Stderr = &buf, &buf
	err = cmd.Run()
	return buf.String(), err, ctx.Err() != nil
}

var failLine = regexp.MustCompile(`(?m)^\s*--- FAIL: (\S+)`)

// classify reads a kill command's result.
func classify(out string, err error, timedOut bool) result {
	switch {
	case strings.Contains(out, "[build failed]") || strings.Contains(out, "[setup failed]"):
		return result{outcome: broken, detail: "the mutant does not build", output: out}
	case timedOut || strings.Contains(out, "panic: test timed out"):
		return result{outcome: killed, detail: "timed out", output: out}
	case err != nil:
		var names []string
		for _, sm := range failLine.FindAllStringSubmatch(out, 3) {
			names = append(names, sm[1])
		}
		if len(names) == 0 {
			if _, isExit := err.(*exec.ExitError); !isExit {
				return result{outcome: broken, detail: err.Error(), output: out}
			}
			names = append(names, "a panic or a failure outside a test")
		}
		return result{outcome: killed, detail: strings.Join(names, ", "), output: out}
	case strings.Contains(out, "no tests to run"):
		return result{outcome: broken, detail: "the kill command runs no test", output: out}
	}
	return result{outcome: survived, output: out}
}

// baseline runs every distinct kill command on the unmutated tree: a
// mutant only counts as killed if its tests pass without it.
func (r *runner) baseline(ms []*Mutant) error {
	seen := map[string]bool{}
	var failed []string
	for _, m := range ms {
		if m.Equivalent != "" || m.Pending != "" || seen[m.Kill] {
			continue
		}
		seen[m.Kill] = true
		out, err, _ := r.goTest(m.Kill)
		res := classify(out, err, false)
		if res.outcome != survived {
			failed = append(failed, fmt.Sprintf("%s: %s\n%s", m.Kill, res.detail, tail(out, 20)))
		}
	}
	fmt.Printf("baseline: %d kill commands pass on the unmutated tree\n", len(seen)-len(failed))
	if len(failed) > 0 {
		return fmt.Errorf("kill commands that fail without a mutant:\n%s", strings.Join(failed, "\n"))
	}
	return nil
}

func printResult(w io.Writer, m *Mutant, res result, verbose bool) {
	var word string
	switch {
	case res.outcome == equivalent:
		word = "equivalent"
	case res.outcome == broken:
		word = "BROKEN"
	case m.Pending != "" && res.outcome == killed:
		word = "killed (pending mark can go)"
	case m.Pending != "":
		word = "pending"
	case res.outcome == killed:
		word = "killed"
	default:
		word = "SURVIVED"
	}
	fmt.Fprintf(w, "%-10s %-44s %-12s %5.1fs  %s\n", word, m.ID, m.Area, res.elapsed.Seconds(), res.detail)
	if res.outcome == broken || (res.outcome == survived && m.Pending == "") || verbose {
		if res.output != "" {
			fmt.Fprintln(w, indent(tail(res.output, 30)))
		}
	}
}

// counts summarises a catalog or a run.
type counts struct {
	total, equivalent, pending int
	killed, survived, broken   int
	pendingKilled              int
}

func countCatalog(ms []*Mutant) counts {
	var c counts
	for _, m := range ms {
		c.total++
		switch {
		case m.Equivalent != "":
			c.equivalent++
		case m.Pending != "":
			c.pending++
		}
	}
	return c
}

// scoreLine is the summary the tool prints and docs/testing.md quotes
// (TestDocsQuoteTheScore checks the quote against the catalog).
func scoreLine(c counts) string {
	return fmt.Sprintf("mutation score: %d/%d killed, %d survived; %d pending, %d equivalent, %d mutants in the catalog",
		c.killed, c.total-c.equivalent-c.pending, c.survived, c.pending, c.equivalent, c.total)
}

// report prints the summary and reports whether the run passed: no
// survivor outside the pending ones, nothing broken.
func report(w io.Writer, ms []*Mutant, results []result, whole bool) bool {
	c := countCatalog(ms)
	var survivors, brokenIDs []string
	for i, m := range ms {
		res := results[i]
		switch {
		case res.outcome == broken:
			c.broken++
			brokenIDs = append(brokenIDs, m.ID)
		case m.Pending != "":
			if res.outcome == killed {
				c.pendingKilled++
			}
		case res.outcome == killed:
			c.killed++
		case res.outcome == survived:
			c.survived++
			survivors = append(survivors, m.ID)
		}
	}
	if !whole {
		fmt.Fprint(w, "(a subset of the catalog) ")
	}
	fmt.Fprintln(w, scoreLine(c))
	if c.pending > 0 {
		fmt.Fprintf(w, "pending: %d of %d already killed\n", c.pendingKilled, c.pending)
	}
	if len(survivors) > 0 {
		fmt.Fprintf(w, "FAIL: survivors (gaps in the tests): %s\n", strings.Join(survivors, " "))
	}
	if len(brokenIDs) > 0 {
		fmt.Fprintf(w, "FAIL: broken mutants (fix the catalog): %s\n", strings.Join(brokenIDs, " "))
	}
	return len(survivors) == 0 && len(brokenIDs) == 0
}

func tail(s string, lines int) string {
	ls := strings.Split(strings.TrimRight(s, "\n"), "\n")
	if len(ls) > lines {
		ls = ls[len(ls)-lines:]
	}
	return strings.Join(ls, "\n")
}

func indent(s string) string {
	return "    " + strings.ReplaceAll(s, "\n", "\n    ")
}
