package main

import (
	"flag"
	"fmt"
	"os"
	"strings"

	"github.com/pureraft/raft/bench"
)

var (
	readsFlag = flag.Bool("reads", false, "also run the reads harness (ReadIndex); with -no-throughput -no-idle, only it")
	readsN    = flag.Int("reads-n", 1_000_000, "reads confirmed per reads run (R)")
	inFlight  = flag.String("k", "1,64,1024", "reads kept in flight at the leader (K)")
)

// readRow holds one configuration's medians, per library in readLibs order.
type readRow struct {
	nodes, k                          int
	rate, cpuRate, allocs, bytes, msg [4]float64
}

var readLibs = []bench.Library{bench.Pureraft, bench.Etcd, bench.PureraftBatched, bench.EtcdBatched}

// reads measures every configuration for every library, the libraries
// alternating in order run by run, and prints two tables: ReadIndex called
// once per read, and once per refill (the caller batching).
func reads(runs, n int, nodes, ks []int) {
	var rows []readRow
	for _, nn := range nodes {
		for _, k := range ks {
			p := bench.ReadParams{Nodes: nn, InFlight: k, Reads: n}
			var rate, cpuRate, allocs, bytes, msgs [4][]float64
			for r := range runs {
				for j := range readLibs {
					li := (j + r) % len(readLibs) // alternate the order
					res, err := bench.RunReads(readLibs[li], p)
					if err != nil {
						fmt.Fprintf(os.Stderr, "%s %s: %v\n", readLibs[li], p, err)
						os.Exit(1)
					}
					rate[li] = append(rate[li], res.ReadsPerSec())
					cpuRate[li] = append(cpuRate[li], res.ReadsPerCPUSec())
					allocs[li] = append(allocs[li], res.AllocsPerRead())
					bytes[li] = append(bytes[li], res.BytesPerRead())
					msgs[li] = append(msgs[li], res.MessagesPerRead())
				}
			}
			row := readRow{nodes: nn, k: k}
			for li := range readLibs {
				row.rate[li], row.cpuRate[li] = median(rate[li]), median(cpuRate[li])
				row.allocs[li], row.bytes[li], row.msg[li] = median(allocs[li]), median(bytes[li]), median(msgs[li])
			}
			rows = append(rows, row)
		}
	}

	fmt.Printf("Reads: ReadIndex at the leader with K reads in flight until R=%d are confirmed, no writes; median of %d runs. Ratios are pureraft/etcd: 'ratio' from wall-clock reads/s, 'by CPU' from reads per second of process CPU time (GC included), which a busy shared machine distorts less.\n\n", n, runs)
	fmt.Println("ReadIndex called once per read (each library's per-read API):")
	fmt.Println()
	fmt.Println("| nodes | K | pureraft reads/s | etcd reads/s | ratio | ratio by CPU | pureraft allocs/read | etcd allocs/read | pureraft B/read | etcd B/read | pureraft msgs/read | etcd msgs/read |")
	fmt.Println("|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|")
	for _, r := range rows {
		fmt.Printf("| %d | %d | %s | %s | %.1f× | %.1f× | %.3f | %.2f | %.1f | %.0f | %s | %.0f |\n",
			r.nodes, r.k, si(r.rate[0]), si(r.rate[1]), r.rate[0]/r.rate[1], r.cpuRate[0]/r.cpuRate[1],
			r.allocs[0], r.allocs[1], r.bytes[0], r.bytes[1], msgsPerRead(r.msg[0]), r.msg[1])
	}
	fmt.Println()
	fmt.Println("ReadIndex called once per refill, for all the reads issued together (the caller batches, as etcd's server does); the last column compares pureraft's per-read API with etcd batched by its caller:")
	fmt.Println()
	fmt.Println("| nodes | K | pureraft-batched reads/s | etcd-batched reads/s | ratio | ratio by CPU | pureraft-batched allocs/read | etcd-batched allocs/read | pureraft-batched B/read | etcd-batched B/read | msgs/read (both) | pureraft ÷ etcd-batched by CPU |")
	fmt.Println("|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|")
	for _, r := range rows {
		fmt.Printf("| %d | %d | %s | %s | %.2f× | %.2f× | %.3f | %.3f | %.1f | %.1f | %s | %.2f× |\n",
			r.nodes, r.k, si(r.rate[2]), si(r.rate[3]), r.rate[2]/r.rate[3], r.cpuRate[2]/r.cpuRate[3],
			r.allocs[2], r.allocs[3], r.bytes[2], r.bytes[3], msgsPerRead(r.msg[3]), r.cpuRate[0]/r.cpuRate[3])
	}
	fmt.Println()
}

// msgsPerRead formats messages per read with as many decimals as needed.
func msgsPerRead(v float64) string {
	s := fmt.Sprintf("%.4f", v)
	s = strings.TrimRight(strings.TrimRight(s, "0"), ".")
	return s
}
