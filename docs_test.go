package raft

import (
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
)

// TestDocListingsCompile keeps the docs honest: every ```go listing in
// docs/ and README.md must appear, line for line (ignoring indentation), in a Go source
// file of the repository that the test suite compiles.
func TestDocListingsCompile(t *testing.T) {
	docs, _ := filepath.Glob("docs/*.md")
	tour, _ := filepath.Glob("docs/tour/*.md")
	tour = append(tour, "README.md")
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

// TestReadmeQuorumTable checks each row of README.md's failure table on a
// real cluster (§5.2, §5.3: a leader needs a majority of votes to be
// elected and of copies to commit): with N voters and the row's number of
// failures, a proposal commits; with one failure more, it does not.
func TestReadmeQuorumTable(t *testing.T) {
	b, err := os.ReadFile("README.md")
	if err != nil {
		t.Fatal(err)
	}
	row := regexp.MustCompile(`(?m)^\| (\d+) \| (\d+) \| (\d+) \|$`)
	rows := row.FindAllStringSubmatch(string(b), -1)
	if len(rows) < 5 {
		t.Fatalf("README.md has %d rows in its quorum table, want at least 5", len(rows))
	}
	for _, r := range rows {
		n, _ := strconv.Atoi(r[1])
		majority, _ := strconv.Atoi(r[2])
		failures, _ := strconv.Atoi(r[3])
		if majority != n/2+1 || failures != n-majority {
			t.Errorf("row %q: %d voters have a majority of %d and survive %d failures", r[0], n, n/2+1, n-(n/2+1))
			continue
		}
		if got := commitsWithFailures(t, n, failures); !got {
			t.Errorf("%d voters with %d failed: the proposal did not commit", n, failures)
		}
		if failures+1 < n && commitsWithFailures(t, n, failures+1) {
			t.Errorf("%d voters with %d failed: the proposal committed without a majority", n, failures+1)
		}
	}
}

// commitsWithFailures elects node 1 of n voters, cuts off the last failed
// ones, and reports whether a proposal then commits.
func commitsWithFailures(t *testing.T, n, failed int) bool {
	tn := newTestNet(t, n, nil)
	tn.campaign(1)
	if tn.leader() != 1 {
		t.Fatalf("%d voters: node 1 not elected", n)
	}
	for i := 0; i < failed; i++ {
		tn.isolate(NodeID(n - i))
	}
	idx, _ := tn.propose(1, "x")
	tn.deliverAll()
	return tn.nodes[1].Status().Commit >= idx
}

// TestEmbeddingOutputMatchesExample: the output docs/embedding.md shows
// for its three-node program is the Output the example test checks.
func TestEmbeddingOutputMatchesExample(t *testing.T) {
	doc, err := os.ReadFile("docs/embedding.md")
	if err != nil {
		t.Fatal(err)
	}
	src, err := os.ReadFile("example_messages_test.go")
	if err != nil {
		t.Fatal(err)
	}
	section := string(doc)[strings.Index(string(doc), "## 2b."):]
	i := strings.Index(section, "```text\n")
	if i < 0 {
		t.Fatal("docs/embedding.md section 2b has no text block")
	}
	shown := section[i+len("```text\n"):]
	shown = shown[:strings.Index(shown, "```")]
	_, output, ok := strings.Cut(string(src), "// Output:\n")
	if !ok {
		t.Fatal("example_messages_test.go has no Output")
	}
	var want strings.Builder
	for _, line := range strings.Split(output, "\n") {
		line = strings.TrimSpace(line)
		if !strings.HasPrefix(line, "//") {
			break
		}
		want.WriteString(strings.TrimPrefix(strings.TrimPrefix(line, "//"), " ") + "\n")
	}
	if normalize(shown) != normalize(want.String()) {
		t.Errorf("docs/embedding.md shows:\n%s\nthe example prints:\n%s", shown, want.String())
	}
}
