package main

import (
	"bufio"
	"fmt"
	"go/parser"
	"go/token"
	"os"
	"path/filepath"
	"regexp"
	"strings"
)

// Mutant is one planted bug of the catalog: Original, which must occur
// exactly once in File, is replaced by Replacement, and Kill is the test
// command that must then fail.
type Mutant struct {
	ID   string
	Line int // of its "==" header in the catalog, for messages
	// Area is the protocol area, one of areas.
	Area string
	// Rule is the rule of the paper or thesis the mutant breaks.
	Rule string
	// File is relative to the repository root.
	File                  string
	Original, Replacement string
	// Kill is a `go test` command, optionally preceded by NAME=value
	// environment assignments, run from the repository root.
	Kill string
	// Pending names where the test that kills it is being written (a
	// branch): until merged, a survivor is reported, not a failure.
	Pending string
	// Equivalent says why the mutant cannot change behaviour; such a mutant
	// is checked to apply but not run.
	Equivalent string
}

// areas are the protocol areas a mutant may name: every one must have a
// mutant (TestCatalogCoversEveryArea).
var areas = []string{
	"election", "prevote", "term", "replication", "commit", "persist",
	"membership", "learner", "witness", "joint", "snapshot", "readindex", "lease",
	"followerread", "transfer", "quiesce", "flowcontrol", "codec", "ticker",
}

var idPattern = regexp.MustCompile(`^[a-z0-9]+(-[a-z0-9]+)*$`)

// parseCatalog reads a catalog. Its format, one mutant per block:
//
//	== id
//	area: election
//	rule: §5.2 ...
//	file: election.go
//	kill: go test -run 'TestElection' .
//	pending: testgaps                  (optional)
//	equivalent: why it cannot matter   (optional; then kill is optional)
//	-original line, verbatim after the '-'
//	+replacement line, verbatim after the '+'
//
// Several '-' (or '+') lines are joined with newlines. No '+' line means
// the original is deleted. Lines starting with '#' and blank lines outside
// the snippet are ignored.
func parseCatalog(path string) ([]*Mutant, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	var (
		out      []*Mutant
		cur      *Mutant
		orig     []string
		repl     []string
		lineNo   int
		errs     []string
		hasMinus bool
	)
	flush := func() {
		if cur == nil {
			return
		}
		cur.Original = strings.Join(orig, "\n")
		cur.Replacement = strings.Join(repl, "\n")
		if !hasMinus {
			errs = append(errs, fmt.Sprintf("%s:%d: mutant %s has no original ('-') lines", path, cur.Line, cur.ID))
		}
		out = append(out, cur)
		cur, orig, repl, hasMinus = nil, nil, nil, false
	}
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	for sc.Scan() {
		lineNo++
		line := sc.Text()
		switch {
		case strings.HasPrefix(line, "== "):
			flush()
			cur = &Mutant{ID: strings.TrimSpace(line[3:]), Line: lineNo}
		case strings.TrimSpace(line) == "" || strings.HasPrefix(line, "#"):
		case cur == nil:
			errs = append(errs, fmt.Sprintf("%s:%d: text before the first '== id' header", path, lineNo))
		case strings.HasPrefix(line, "-"):
			if len(repl) > 0 {
				errs = append(errs, fmt.Sprintf("%s:%d: '-' line after a '+' line", path, lineNo))
			}
			orig, hasMinus = append(orig, line[1:]), true
		case strings.HasPrefix(line, "+"):
			repl = append(repl, line[1:])
		default:
			key, val, ok := strings.Cut(line, ":")
			val = strings.TrimSpace(val)
			if !ok || val == "" {
				errs = append(errs, fmt.Sprintf("%s:%d: want 'key: value', '-' or '+', got %q", path, lineNo, line))
				continue
			}
			switch key {
			case "area":
				cur.Area = val
			case "rule":
				cur.Rule = val
			case "file":
				cur.File = val
			case "kill":
				cur.Kill = val
			case "pending":
				cur.Pending = val
			case "equivalent":
				cur.Equivalent = val
			default:
				errs = append(errs, fmt.Sprintf("%s:%d: unknown key %q", path, lineNo, key))
			}
		}
	}
	if err := sc.Err(); err != nil {
		return nil, err
	}
	flush()
	if len(errs) > 0 {
		return nil, fmt.Errorf("%s", strings.Join(errs, "\n"))
	}
	return out, nil
}

// validate checks every mutant against the repository at root: the fields
// are complete, the IDs unique, and each original occurs exactly once in
// its file and the mutated file still parses. It returns one message per
// problem.
func validate(root string, ms []*Mutant) []string {
	var errs []string
	seen := map[string]bool{}
	for _, m := range ms {
		bad := func(format string, args ...any) {
			errs = append(errs, fmt.Sprintf("mutant %s (catalog line %d): %s", m.ID, m.Line, fmt.Sprintf(format, args...)))
		}
		if !idPattern.MatchString(m.ID) {
			bad("ID must be lower-case words joined by '-'")
		}
		if seen[m.ID] {
			bad("duplicate ID")
		}
		seen[m.ID] = true
		if !contains(areas, m.Area) {
			bad("area %q is not one of %v", m.Area, areas)
		}
		if m.Rule == "" {
			bad("no rule: say which rule of the paper or thesis it breaks")
		}
		if m.Equivalent == "" {
			if _, _, err := splitKill(m.Kill); err != nil {
				bad("%v", err)
			}
		} else if m.Pending != "" {
			bad("a mutant cannot be both equivalent and pending")
		}
		if m.Original == m.Replacement {
			bad("replacement equals the original")
		}
		if _, err := m.mutate(root); err != nil {
			bad("%v", err)
		}
	}
	return errs
}

// mutate returns the content of m.File with the mutant applied. It fails
// if the original does not occur exactly once (the catalog has rotted), or
// if the result no longer parses as Go.
func (m *Mutant) mutate(root string) ([]byte, error) {
	if m.File == "" || filepath.IsAbs(m.File) || strings.Contains(m.File, "..") {
		return nil, fmt.Errorf("file %q must be a path inside the repository", m.File)
	}
	src, err := os.ReadFile(filepath.Join(root, m.File))
	if err != nil {
		return nil, err
	}
	switch k := strings.Count(string(src), m.Original); k {
	case 1:
	case 0:
		return nil, fmt.Errorf("original no longer occurs in %s:\n%s", m.File, m.Original)
	default:
		return nil, fmt.Errorf("original occurs %d times in %s, want once (add context):\n%s", k, m.File, m.Original)
	}
	out := strings.Replace(string(src), m.Original, m.Replacement, 1)
	if _, err := parser.ParseFile(token.NewFileSet(), m.File, out, parser.SkipObjectResolution); err != nil {
		return nil, fmt.Errorf("mutated %s does not parse: %v", m.File, err)
	}
	return []byte(out), nil
}

// splitKill splits a kill command into environment assignments and the
// argument list, which must start with "go test". Arguments are separated
// by spaces; single quotes group (no escapes inside).
func splitKill(cmd string) (env, args []string, err error) {
	var words []string
	var b strings.Builder
	inWord, quoted := false, false
	for _, r := range cmd {
		switch {
		case r == '\'':
			quoted, inWord = !quoted, true
		case r == ' ' && !quoted:
			if inWord {
				words = append(words, b.String())
				b.Reset()
				inWord = false
			}
		default:
			b.WriteRune(r)
			inWord = true
		}
	}
	if quoted {
		return nil, nil, fmt.Errorf("kill command %q: unbalanced quote", cmd)
	}
	if inWord {
		words = append(words, b.String())
	}
	for len(words) > 0 && strings.Contains(words[0], "=") {
		env, words = append(env, words[0]), words[1:]
	}
	if len(words) < 3 || words[0] != "go" || words[1] != "test" {
		return nil, nil, fmt.Errorf("kill command %q: want [NAME=value ...] go test [flags] packages", cmd)
	}
	return env, words, nil
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}
