package raft

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestDocListingsCompile keeps the docs honest: every ```go listing in
// docs/ must appear, line for line (ignoring indentation), in a Go source
// file of the repository that the test suite compiles.
func TestDocListingsCompile(t *testing.T) {
	docs, _ := filepath.Glob("docs/*.md")
	tour, _ := filepath.Glob("docs/tour/*.md")
	var sources []string
	filepath.WalkDir(".", func(path string, d os.DirEntry, err error) error {
		if err == nil && !d.IsDir() && strings.HasSuffix(path, ".go") && !strings.HasPrefix(path, "docs") {
			b, _ := os.ReadFile(path)
			sources = append(sources, normalize(string(b)))
		}
		return nil
	})
	checked := 0
	for _, doc := range append(docs, tour...) {
		b, err := os.ReadFile(doc)
		if err != nil {
			t.Fatal(err)
		}
		for i, listing := range goListings(string(b)) {
			checked++
			want := normalize(listing)
			found := false
			for _, src := range sources {
				if strings.Contains(src, want) {
					found = true
					break
				}
			}
			if !found {
				t.Errorf("%s: Go listing %d is not an excerpt of any compiled file:\n%s", doc, i+1, listing)
			}
		}
	}
	if checked == 0 {
		t.Fatal("no Go listings found in docs/")
	}
}

// goListings returns the bodies of the ```go blocks of a markdown text.
func goListings(md string) []string {
	var out []string
	for {
		i := strings.Index(md, "```go\n")
		if i < 0 {
			return out
		}
		md = md[i+len("```go\n"):]
		j := strings.Index(md, "```")
		if j < 0 {
			return out
		}
		out = append(out, md[:j])
		md = md[j:]
	}
}

// normalize trims every line and drops blank ones.
func normalize(s string) string {
	var b strings.Builder
	for _, line := range strings.Split(s, "\n") {
		if line = strings.TrimSpace(line); line != "" {
			b.WriteString(line)
			b.WriteByte('\n')
		}
	}
	return b.String()
}
