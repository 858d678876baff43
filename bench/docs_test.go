package bench

import (
	"math"
	"os"
	"regexp"
	"strconv"
	"strings"
	"testing"
)

// TestIdleFiguresAgree keeps the idle-group figures of docs/comparison.md
// and docs/performance.md from disagreeing again (they once quoted 1,656 B
// and 992 B for the same thing): comparison.md's idle rows must quote the
// 1,000/10,000/100,000-group rows of performance.md's latest idle table, and
// the heap per group they quote must be what RunIdle measures now, within
// the few per cent the garbage collector's bookkeeping varies.
func TestIdleFiguresAgree(t *testing.T) {
	comparison := readDoc(t, "../docs/comparison.md")
	performance := readDoc(t, "../docs/performance.md")
	latest := performance[strings.Index(performance, "## Latest: idle groups"):]
	type row struct{ heap, etcdHeap, cpu, etcdCPU, beatRatio string }
	table := map[string]row{}
	re := regexp.MustCompile(`(?m)^\| (1000|10000|100000) \| (\d+) B \| (\d+) B \| [\d.]+× \| [\d.]+ \| [\d.]+ \| [\d.]+× \| ([\d.]+) \| ([\d.]+) \| \d+ \| \d+ \| ([\d.]+×) \|`)
	for _, m := range re.FindAllStringSubmatch(latest, 3) {
		table[m[1]] = row{m[2], m[3], m[4], m[5], m[6]}
	}
	if len(table) != 3 {
		t.Fatalf("performance.md's latest idle table: found rows %v, want 1000, 10000, 100000", table)
	}
	small, mid, big := table["1000"], table["10000"], table["100000"]
	for _, want := range []string{
		"| heap per idle follower group | " + small.heap + " B against " + small.etcdHeap + " B",
		"| " + small.cpu + " / " + mid.cpu + " / " + big.cpu + " ns against " + small.etcdCPU + " / " + mid.etcdCPU + " / " + big.etcdCPU + " ns |",
		"| " + small.beatRatio + " / " + mid.beatRatio + " / " + big.beatRatio + " faster",
	} {
		if !strings.Contains(comparison, want) {
			t.Errorf("docs/comparison.md does not quote performance.md's latest idle table: want %q", want)
		}
	}
	for lib, quoted := range map[Library]string{Pureraft: small.heap, Etcd: small.etcdHeap} {
		res, err := RunIdle(lib, IdleParams{Groups: 1000, Ticks: 1})
		if err != nil {
			t.Fatal(err)
		}
		q, _ := strconv.ParseFloat(quoted, 64)
		if math.Abs(res.HeapPerGroup-q) > 0.08*q {
			t.Errorf("%s: the docs quote %s B per idle group, RunIdle measures %.0f B", lib, quoted, res.HeapPerGroup)
		}
	}
}

func readDoc(t *testing.T, path string) string {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}
