package main

import (
	"bufio"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestTour runs every raftsim command the guided tour (docs/tour) shows in
// a sh block, so the tour cannot drift from the simulator: each must exit
// 0 (no invariant broken, history linearizable, cluster live). When a
// ```text block follows a sh block, each of its lines must appear in that
// command's output: that is how a chapter quotes what a run prints.
func TestTour(t *testing.T) {
	chapters, err := filepath.Glob("../../docs/tour/*.md")
	if err != nil || len(chapters) == 0 {
		t.Fatalf("no tour chapters found: %v", err)
	}
	count := 0
	for _, ch := range chapters {
		for _, c := range tourCommands(t, ch) {
			count++
			name := filepath.Base(ch) + ": " + strings.Join(c.args, " ")
			t.Run(name, func(t *testing.T) {
				args := append(c.args, "-out", t.TempDir())
				var out strings.Builder
				if code := run(args, &out, io.Discard); code != 0 {
					t.Fatalf("exit %d\n%s", code, out.String())
				}
				for _, line := range c.quoted {
					if !strings.Contains(out.String(), line) {
						t.Errorf("the chapter quotes %q, the run prints:\n%s", line, out.String())
					}
				}
			})
		}
	}
	if count < 8 {
		t.Fatalf("found only %d tour commands; the parser lost some", count)
	}
}

// tourCommand is a raftsim command of the tour and the output lines the
// chapter quotes from it.
type tourCommand struct {
	args   []string
	quoted []string
}

// tourCommands returns each `go run ./cmd/raftsim` line inside a sh block
// of the markdown file, with the lines of a text block that directly
// follows that sh block.
func tourCommands(t *testing.T, path string) []tourCommand {
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var cmds []tourCommand
	inSh, inQuote, afterSh := false, false, false
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		line := strings.TrimSpace(sc.Text())
		switch {
		case line == "```sh":
			inSh = true
		case inSh && line == "```":
			inSh, afterSh = false, true
			continue
		case afterSh && line == "```text":
			inQuote = true
		case inQuote && line == "```":
			inQuote = false
		case inQuote && line != "" && len(cmds) > 0:
			c := &cmds[len(cmds)-1]
			c.quoted = append(c.quoted, line)
		case inSh && strings.HasPrefix(line, "go run ./cmd/raftsim"):
			cmds = append(cmds, tourCommand{args: strings.Fields(strings.TrimPrefix(line, "go run ./cmd/raftsim"))})
		}
		if line != "" {
			afterSh = false
		}
	}
	return cmds
}
