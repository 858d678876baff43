// Command compare runs the throughput and idle-group harnesses (and, with
// -reads, the ReadIndex harness) of the bench module for pureraft and
// etcd-io/raft and prints the medians side by side,
// with ratios, as Markdown tables: the throughput harness once per store
// design (both libraries on the same design), followed by the headline
// block that docs/performance.md and docs/comparison.md quote. Run it from the bench directory:
//
//	go run ./cmd/compare
//
// Every configuration is measured -runs times per library, the libraries
// alternating in order, each run in a fresh cluster; the tables show the
// median of each figure.
package main

import (
	"flag"
	"fmt"
	"os"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/pureraft/raft/bench"
)

func main() {
	var (
		runs       = flag.Int("runs", 5, "runs per configuration and library (the median is shown)")
		entries    = flag.Int("n", 100_000, "entries applied per throughput run")
		nodesFlag  = flag.String("nodes", "3,5", "cluster sizes")
		batchFlag  = flag.String("b", "1,64,256", "proposals per round (B)")
		sizeFlag   = flag.String("s", "16,128,1024", "payload bytes (S)")
		groupsFlag = flag.String("g", "1000,10000,100000", "idle groups (G)")
		ticks      = flag.Int("ticks", 50, "ticks measured per idle run")
		skipThru   = flag.Bool("no-throughput", false, "skip the throughput harness")
		skipIdle   = flag.Bool("no-idle", false, "skip the idle-groups harness")
	)
	flag.Parse()
	nodes, batches, sizes, groups := ints(*nodesFlag), ints(*batchFlag), ints(*sizeFlag), ints(*groupsFlag)

	fmt.Printf("CPU: %s; nproc: %d; GOMAXPROCS: %d; %s %s/%s; %s; load average %s\n\n", cpuModel(), runtime.NumCPU(), runtime.GOMAXPROCS(0),
		runtime.Version(), runtime.GOOS, runtime.GOARCH, time.Now().UTC().Format("2006-01-02 15:04 MST"), loadBefore)
	if !*skipThru {
		throughput(*runs, *entries, nodes, batches, sizes)
	}
	if !*skipIdle {
		idle(*runs, *ticks, groups)
	}
	if *floorFlag {
		floor(*runs, *entries, nodes, batches, sizes)
	}
	if *readsFlag {
		reads(*runs, *readsN, nodes, ints(*inFlight))
	}
}

func throughput(runs, entries int, nodes, batches, sizes []int) {
	fmt.Printf("Throughput: N=%d entries applied on every node, median of %d runs, every node compacting every %d applied entries (keeping %d). Ratios are pureraft/etcd: 'ratio' from wall-clock entries/s, 'ratio by CPU time' from entries per second of process CPU time (GC included), which a busy shared machine distorts less. One table per store design; both libraries use the same design in each.\n\n",
		entries, runs, bench.CompactEvery, bench.CompactRetain)
	headline := map[bench.Store][]string{}
	for _, store := range bench.Stores {
		fmt.Printf("Store design: %s\n\n", store.Describe())
		fmt.Println("| nodes | B | S | pureraft entries/s | etcd entries/s | ratio | ratio by CPU time | pureraft allocs/entry | etcd allocs/entry | pureraft B/entry | etcd B/entry | etcd-batched entries/s | ratio |")
		fmt.Println("|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|")
		for _, n := range nodes {
			for _, b := range batches {
				for _, s := range sizes {
					p := bench.ThroughputParams{Nodes: n, Batch: b, Size: s, Entries: entries, Store: store}
					m := measure(runs, p)
					cpuRatio := m.cpuRate[0] / m.cpuRate[1]
					fmt.Printf("| %d | %d | %d | %s | %s | %.2f× | %.2f× | %.3f | %.2f | %.0f | %.0f | %s | %.2f× |\n",
						n, b, s, si(m.rate[0]), si(m.rate[1]), m.rate[0]/m.rate[1], cpuRatio, m.allocs[0], m.allocs[1],
						m.bytes[0], m.bytes[1], si(m.rate[2]), m.rate[0]/m.rate[2])
					headline[store] = append(headline[store], fmt.Sprintf("| %d | %d | %d | %.2f× | %.2f× | %.2f× | %.3f | %.2f | %.0f | %.0f |",
						n, b, s, cpuRatio, m.rate[0]/m.rate[1], m.cpuRate[0]/m.cpuRate[2], m.allocs[0], m.allocs[1], m.bytes[0], m.bytes[1]))
				}
			}
		}
		fmt.Println()
	}
	fmt.Printf("Headline block (paste verbatim into docs/performance.md and docs/comparison.md; bench's TestHeadlineAgrees checks the two copies agree):\n\n")
	fmt.Println(headlineBegin)
	fmt.Printf("Measured %s by `go run ./cmd/compare %s` in bench/ (median of %d runs, N=%d entries applied on every node, every node compacting every %d applied entries keeping %d; load average %s before and %s after the run; %s, %d cores). Ratios are pureraft ÷ etcd-io/raft v3.6.0 measured in the same run, the libraries alternating; both libraries use the store design named above each table.\n",
		time.Now().UTC().Format("2006-01-02"), strings.Join(os.Args[1:], " "), runs, entries, bench.CompactEvery, bench.CompactRetain, loadBefore, loadAvg(), cpuModel(), runtime.NumCPU())
	for _, store := range bench.Stores {
		fmt.Printf("\n**Store design: %s.**\n\n", store.Describe())
		fmt.Println("| nodes | B | S | ratio by CPU time | ratio by wall clock | by CPU time against etcd-batched | pureraft allocs/entry | etcd allocs/entry | pureraft B/entry | etcd B/entry |")
		fmt.Println("|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|")
		for _, row := range headline[store] {
			fmt.Println(row)
		}
	}
	fmt.Println(headlineEnd)
	fmt.Println()
}

// The markers around the headline block in the docs (bench's
// TestHeadlineAgrees looks for them).
const (
	headlineBegin = "<!-- begin like-for-like headline: generated by bench/cmd/compare -->"
	headlineEnd   = "<!-- end like-for-like headline -->"
)

// measured holds the medians of one throughput configuration, indexed as
// throughputLibs.
type measured struct{ rate, cpuRate, allocs, bytes [3]float64 }

var throughputLibs = []bench.Library{bench.Pureraft, bench.Etcd, bench.EtcdBatched}

// measure runs p runs times for every library, alternating their order.
func measure(runs int, p bench.ThroughputParams) measured {
	var rate, cpuRate, allocs, bytes [3][]float64
	for r := range runs {
		for k := range throughputLibs {
			li := (k + r) % len(throughputLibs) // alternate the order
			res, err := bench.RunThroughput(throughputLibs[li], p)
			if err != nil {
				fmt.Fprintf(os.Stderr, "%s %s: %v\n", throughputLibs[li], p, err)
				os.Exit(1)
			}
			rate[li] = append(rate[li], res.EntriesPerSec())
			cpuRate[li] = append(cpuRate[li], res.EntriesPerCPUSec())
			allocs[li] = append(allocs[li], res.AllocsPerEntry())
			bytes[li] = append(bytes[li], res.BytesPerEntry())
		}
	}
	var m measured
	for li := range throughputLibs {
		m.rate[li], m.cpuRate[li], m.allocs[li], m.bytes[li] = median(rate[li]), median(cpuRate[li]), median(allocs[li]), median(bytes[li])
	}
	return m
}

// loadBefore is the load average when the command started.
var loadBefore = loadAvg()

// loadAvg returns the 1-, 5- and 15-minute load averages, where known.
func loadAvg() string {
	b, err := os.ReadFile("/proc/loadavg")
	if err != nil {
		return "unknown"
	}
	f := strings.Fields(string(b))
	if len(f) < 3 {
		return "unknown"
	}
	return strings.Join(f[:3], "/")
}

func idle(runs, ticks int, groups []int) {
	libs := []bench.Library{bench.Pureraft, bench.Etcd, bench.PureraftQuiescent, bench.PureraftTicker, bench.PureraftTickerQuiescent}
	type figures struct{ heap, tick, tickCPU, beat, allocs [5][]float64 }
	results := make([]figures, len(groups))
	for gi, g := range groups {
		f := &results[gi]
		for r := range runs {
			for k := range libs {
				li := (k + r) % len(libs) // alternate the order
				res, err := bench.RunIdle(libs[li], bench.IdleParams{Groups: g, Ticks: ticks})
				if err != nil {
					fmt.Fprintf(os.Stderr, "%s G=%d: %v\n", libs[li], g, err)
					os.Exit(1)
				}
				f.heap[li] = append(f.heap[li], res.HeapPerGroup)
				f.tick[li] = append(f.tick[li], res.TickNs)
				f.tickCPU[li] = append(f.tickCPU[li], res.TickCPUNs)
				f.beat[li] = append(f.beat[li], res.HeartbeatNs)
				f.allocs[li] = append(f.allocs[li], res.AllocsPerBeat)
			}
		}
	}

	fmt.Printf("Idle groups: the host is a follower in G three-voter groups whose leader only sends heartbeats (one per tick); median of %d runs, %d ticks each. Ratios are etcd/pureraft (higher is better for pureraft).\n\n", runs, ticks)
	fmt.Println("| G | pureraft heap/group | etcd heap/group | ratio | pureraft ns/tick | etcd ns/tick | ratio | pureraft CPU ns/tick | etcd CPU ns/tick | pureraft ns/heartbeat | etcd ns/heartbeat | ratio | pureraft allocs/heartbeat | etcd allocs/heartbeat |")
	fmt.Println("|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|")
	for gi, g := range groups {
		f := &results[gi]
		ph, eh := median(f.heap[0]), median(f.heap[1])
		pt, et := median(f.tick[0]), median(f.tick[1])
		pb, eb := median(f.beat[0]), median(f.beat[1])
		fmt.Printf("| %d | %.0f B | %.0f B | %.1f× | %.1f | %.1f | %.1f× | %.1f | %.1f | %.0f | %.0f | %.1f× | %.3f | %.2f |\n",
			g, ph, eh, eh/ph, pt, et, et/pt, median(f.tickCPU[0]), median(f.tickCPU[1]), pb, eb, eb/pb, median(f.allocs[0]), median(f.allocs[1]))
	}
	fmt.Println()

	fmt.Printf("Idle groups with quiescence (pureraft only; measured in the same runs as the table above, the five variants alternating): every group has QuiesceAfterTicks = %d; after that many heartbeats the simulated leader sends MsgQuiesce and then nothing, so the measured ticks run on quiescent followers. Ratios are against the table above (higher is better for quiescence).\n\n", bench.QuiesceAfterTicks)
	fmt.Println("| G | quiescent heap/group | vs pureraft | vs etcd | quiescent ns/tick | vs pureraft | vs etcd | quiescent CPU ns/tick | vs pureraft CPU | vs etcd CPU |")
	fmt.Println("|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|")
	for gi, g := range groups {
		f := &results[gi]
		qh, qt, qc := median(f.heap[2]), median(f.tick[2]), median(f.tickCPU[2])
		fmt.Printf("| %d | %.0f B | %.1f× | %.1f× | %.1f | %.1f× | %.1f× | %.1f | %.1f× | %.1f× |\n",
			g, qh, median(f.heap[0])/qh, median(f.heap[1])/qh, qt, median(f.tick[0])/qt, median(f.tick[1])/qt,
			qc, median(f.tickCPU[0])/qc, median(f.tickCPU[1])/qc)
	}
	fmt.Println()

	fmt.Println("Idle groups ticked by a raft.Ticker (pureraft only; same runs): one Ticker.Tick per tick for all G groups instead of a Node.Tick call per group; it touches only the groups with something to do on that tick (ticker.go). Ratios are against the per-group Node.Tick loop of the tables above, without and with quiescence (higher is better for the Ticker).")
	fmt.Println()
	fmt.Println("| G | Ticker heap/group | Ticker CPU ns/tick | vs Node.Tick CPU | vs etcd CPU | Ticker+quiescence heap/group | Ticker+quiescence CPU ns/tick | vs quiescent Node.Tick CPU |")
	fmt.Println("|---:|---:|---:|---:|---:|---:|---:|---:|")
	for gi, g := range groups {
		f := &results[gi]
		tc, qc := median(f.tickCPU[3]), median(f.tickCPU[4])
		fmt.Printf("| %d | %.0f B | %.1f | %.1f× | %.1f× | %.0f B | %.1f | %.1f× |\n",
			g, median(f.heap[3]), tc, median(f.tickCPU[0])/tc, median(f.tickCPU[1])/tc,
			median(f.heap[4]), qc, median(f.tickCPU[2])/qc)
	}
	fmt.Println()
}

func median(xs []float64) float64 {
	s := slices.Clone(xs)
	slices.Sort(s)
	if len(s)%2 == 1 {
		return s[len(s)/2]
	}
	return (s[len(s)/2-1] + s[len(s)/2]) / 2
}

// si formats a rate with an SI suffix.
func si(v float64) string {
	switch {
	case v >= 1e6:
		return fmt.Sprintf("%.2fM", v/1e6)
	case v >= 1e3:
		return fmt.Sprintf("%.0fk", v/1e3)
	}
	return fmt.Sprintf("%.0f", v)
}

func ints(s string) []int {
	var out []int
	for _, f := range strings.Split(s, ",") {
		v, err := strconv.Atoi(strings.TrimSpace(f))
		if err != nil || v <= 0 {
			fmt.Fprintf(os.Stderr, "bad number %q in %q\n", f, s)
			os.Exit(2)
		}
		out = append(out, v)
	}
	return out
}

// cpuModel reads the CPU model name from /proc/cpuinfo where there is one.
func cpuModel() string {
	b, err := os.ReadFile("/proc/cpuinfo")
	if err != nil {
		return "unknown CPU"
	}
	for _, line := range strings.Split(string(b), "\n") {
		if k, v, ok := strings.Cut(line, ":"); ok && strings.TrimSpace(k) == "model name" {
			return strings.TrimSpace(v)
		}
	}
	return "unknown CPU"
}
