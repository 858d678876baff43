package main

import (
	"encoding/json"
	"flag"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"sort"
	"strings"
	"testing"
)

// Each tour chapter ends with a "Try this": a patch that breaks one rule of
// the core, a command to run, and the output it gives. TestTourTryThis
// applies each patch to the core (with go build -overlay, so the tree is
// never touched), runs the command, condenses its output, and compares it
// with the chapter's ```text block. The prose quotes only what that block
// shows, so a chapter cannot claim an outcome the patch does not produce.
//
// After a change to the core or the simulator moves the outcomes, rewrite
// the blocks with
//
//	go test ./cmd/raftsim -run TestTourTryThis -update-tour
//
// and read the chapters again: the prose must still describe the blocks.

var updateTour = flag.Bool("update-tour", false, "rewrite the tour's Try-this output blocks from fresh runs")

// tryThis is one chapter's experiment, as parsed from its markdown.
type tryThis struct {
	chapter  string
	file     string // the core file the patch changes, relative to the repository
	old, new string // the patch: old must occur exactly once in file
	command  []string
	// expected is the text block's content; [blockStart, blockEnd) its
	// place in the chapter.
	expected             string
	blockStart, blockEnd int
}

const repoRoot = "../.."

func TestTourTryThis(t *testing.T) {
	if testing.Short() {
		t.Skip("builds a patched simulator per chapter; run without -short")
	}
	chapters, err := filepath.Glob(filepath.Join(repoRoot, "docs/tour/0*.md"))
	if err != nil || len(chapters) == 0 {
		t.Fatalf("no tour chapters: %v", err)
	}
	found := 0
	for _, ch := range chapters {
		b, err := os.ReadFile(ch)
		if err != nil {
			t.Fatal(err)
		}
		tt, ok, err := parseTryThis(ch, string(b))
		if err != nil {
			t.Errorf("%s: %v", filepath.Base(ch), err)
			continue
		}
		if !ok {
			continue
		}
		found++
		t.Run(filepath.Base(ch), func(t *testing.T) {
			got := tt.run(t)
			if *updateTour {
				doc := string(b)
				doc = doc[:tt.blockStart] + got + doc[tt.blockEnd:]
				if err := os.WriteFile(ch, []byte(doc), 0o644); err != nil {
					t.Fatal(err)
				}
				return
			}
			if got != tt.expected {
				t.Errorf("with the chapter's patch, %s gives\n%s\nthe chapter shows\n%s\n(rewrite with -update-tour, then check the prose)",
					strings.Join(tt.command, " "), got, tt.expected)
			}
		})
	}
	if found < 5 {
		t.Fatalf("found %d Try-this experiments with a patch, want at least 5", found)
	}
}

// parseTryThis finds the experiment of a chapter: after its "## Try this"
// heading, a ```diff block whose first line names the file ("--- file"),
// then an indented go command, then a ```text block. ok is false when the
// chapter's Try this has no patch.
func parseTryThis(path, doc string) (tt tryThis, ok bool, err error) {
	tt.chapter = path
	i := strings.Index(doc, "\n## Try this")
	if i < 0 {
		return tt, false, nil
	}
	sec := i
	d := strings.Index(doc[sec:], "```diff\n")
	if d < 0 {
		return tt, false, nil
	}
	d += sec + len("```diff\n")
	e := strings.Index(doc[d:], "```")
	if e < 0 {
		return tt, false, fmt.Errorf("unterminated diff block")
	}
	var olds, news []string
	for n, line := range strings.Split(strings.TrimSuffix(doc[d:d+e], "\n"), "\n") {
		switch {
		case n == 0 && strings.HasPrefix(line, "--- "):
			tt.file = strings.TrimPrefix(line, "--- ")
		case n == 0:
			return tt, false, fmt.Errorf("diff block must start with --- FILE")
		case strings.HasPrefix(line, "-"):
			olds = append(olds, line[1:])
		case strings.HasPrefix(line, "+"):
			news = append(news, line[1:])
		default:
			return tt, false, fmt.Errorf("diff line %q is neither - nor +", line)
		}
	}
	tt.old, tt.new = strings.Join(olds, "\n"), strings.Join(news, "\n")
	rest := d + e
	cmd := regexp.MustCompile(`(?m)^    (go (?:run|test) .*)$`).FindStringSubmatchIndex(doc[rest:])
	if cmd == nil {
		return tt, false, fmt.Errorf("no indented go command after the diff")
	}
	fields := strings.Fields(doc[rest+cmd[2] : rest+cmd[3]])
	tt.command = fields
	rest += cmd[1]
	s := strings.Index(doc[rest:], "```text\n")
	if s < 0 {
		return tt, false, fmt.Errorf("no text block after the command")
	}
	tt.blockStart = rest + s + len("```text\n")
	end := strings.Index(doc[tt.blockStart:], "```")
	if end < 0 {
		return tt, false, fmt.Errorf("unterminated text block")
	}
	tt.blockEnd = tt.blockStart + end
	tt.expected = doc[tt.blockStart:tt.blockEnd]
	return tt, true, nil
}

// run applies the patch through an overlay, runs the command and returns
// its condensed output.
func (tt tryThis) run(t *testing.T) string {
	t.Helper()
	root, err := filepath.Abs(repoRoot)
	if err != nil {
		t.Fatal(err)
	}
	src, err := os.ReadFile(filepath.Join(root, tt.file))
	if err != nil {
		t.Fatal(err)
	}
	if n := strings.Count(string(src), tt.old); n != 1 {
		t.Fatalf("the patch's old text occurs %d times in %s, want once:\n%s", n, tt.file, tt.old)
	}
	dir := t.TempDir()
	patched := filepath.Join(dir, filepath.Base(tt.file))
	if err := os.WriteFile(patched, []byte(strings.Replace(string(src), tt.old, tt.new, 1)), 0o644); err != nil {
		t.Fatal(err)
	}
	overlay := filepath.Join(dir, "overlay.json")
	ov, _ := json.Marshal(map[string]map[string]string{"Replace": {filepath.Join(root, tt.file): patched}})
	if err := os.WriteFile(overlay, ov, 0o644); err != nil {
		t.Fatal(err)
	}
	switch strings.Join(tt.command[:2], " ") {
	case "go run":
		if tt.command[2] != "./cmd/raftsim" {
			t.Fatalf("command %v: only ./cmd/raftsim runs", tt.command)
		}
		bin := filepath.Join(dir, "raftsim")
		build := exec.Command("go", "build", "-overlay", overlay, "-o", bin, "./cmd/raftsim")
		build.Dir = root
		if out, err := build.CombinedOutput(); err != nil {
			t.Fatalf("building the patched simulator: %v\n%s", err, out)
		}
		sim := exec.Command(bin, append(tt.command[3:], "-out", dir)...)
		sim.Dir = dir
		out, _ := sim.Output() // it fails: that is the point
		return condenseSweep(t, string(out))
	case "go test":
		args := append([]string{"test", "-overlay", overlay}, tt.command[2:]...)
		test := exec.Command("go", args...)
		test.Dir = root
		out, _ := test.CombinedOutput()
		return condenseTest(t, string(out))
	}
	t.Fatalf("command %v: want go run or go test", tt.command)
	return ""
}

var (
	sweepSeed    = regexp.MustCompile(`(?m)^seed (\d+): .*; FAIL (.*)$`)
	sweepTotal   = regexp.MustCompile(`(?m)^(\d+ of \d+ seeds failed)`)
	violationAt  = regexp.MustCompile(`^(\S+) violated.*\(step (\d+),`)
	failedTestRe = regexp.MustCompile(`(?m)^--- FAIL: (Test\S+)`)
)

// condenseSweep keeps what a learner compares from a raftsim sweep: how
// many seeds failed, the first failure in full, and each failing seed's
// invariant and step. Timings are left out: they vary.
func condenseSweep(t *testing.T, out string) string {
	total := sweepTotal.FindStringSubmatch(out)
	if total == nil {
		t.Fatalf("no sweep summary in the output:\n%s", out)
	}
	var b strings.Builder
	b.WriteString(total[1] + "\n")
	fails := sweepSeed.FindAllStringSubmatch(out, -1)
	for i, f := range fails {
		if i == 0 {
			fmt.Fprintf(&b, "first: seed %s: %s\n", f[1], f[2])
			b.WriteString("seed  step    invariant\n")
		}
		v := violationAt.FindStringSubmatch(f[2])
		if v == nil {
			fmt.Fprintf(&b, "%-5s %-7s %s\n", f[1], "?", f[2])
			continue
		}
		fmt.Fprintf(&b, "%-5s %-7s %s\n", f[1], v[2], v[1])
	}
	return b.String()
}

// condenseTest keeps the top-level tests that failed, in order of name.
func condenseTest(t *testing.T, out string) string {
	var names []string
	for _, m := range failedTestRe.FindAllStringSubmatch(out, -1) {
		if !strings.Contains(m[1], "/") {
			names = append(names, m[1])
		}
	}
	if len(names) == 0 && !strings.Contains(out, "FAIL") {
		t.Fatalf("the patched tests did not fail:\n%s", out)
	}
	sort.Strings(names)
	var b strings.Builder
	fmt.Fprintf(&b, "%d tests fail:\n", len(names))
	for _, n := range names {
		b.WriteString(n + "\n")
	}
	return b.String()
}
