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
// 0 (no invariant broken, history linearizable, cluster live).
func TestTour(t *testing.T) {
	chapters, err := filepath.Glob("../../docs/tour/*.md")
	if err != nil || len(chapters) == 0 {
		t.Fatalf("no tour chapters found: %v", err)
	}
	count := 0
	for _, ch := range chapters {
		for _, args := range tourCommands(t, ch) {
			count++
			name := filepath.Base(ch) + ": " + strings.Join(args, " ")
			t.Run(name, func(t *testing.T) {
				args := append(args, "-out", t.TempDir())
				var out strings.Builder
				if code := run(args, &out, io.Discard); code != 0 {
					t.Fatalf("exit %d\n%s", code, out.String())
				}
			})
		}
	}
	if count < 8 {
		t.Fatalf("found only %d tour commands; the parser lost some", count)
	}
}

// tourCommands returns the arguments of each `go run ./cmd/raftsim` line
// inside a sh block of the markdown file.
func tourCommands(t *testing.T, path string) [][]string {
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var cmds [][]string
	inSh := false
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		line := strings.TrimSpace(sc.Text())
		switch {
		case line == "```sh":
			inSh = true
		case strings.HasPrefix(line, "```"):
			inSh = false
		case inSh && strings.HasPrefix(line, "go run ./cmd/raftsim"):
			cmds = append(cmds, strings.Fields(strings.TrimPrefix(line, "go run ./cmd/raftsim")))
		}
	}
	return cmds
}
