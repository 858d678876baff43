package main

import (
	"flag"
	"fmt"
	"os"

	"github.com/pureraft/raft/bench"
)

var floorFlag = flag.Bool("floor", false, "also print the floor table: pureraft's CPU per entry split into core alone (store off) and store alone, with the ratio ceiling each store design sets; with -no-throughput -no-idle, only it")

// floorLibs are the four runs of a floor row, alternated run by run:
// pureraft with the store, etcd with the same store design, pureraft's
// core with no store, and the store with no core.
var floorLibs = []string{"pureraft", "etcd", "core alone", "store alone"}

// floor prints, per store design and configuration, the CPU time per
// entry of each of floorLibs (medians) and two ratios: the one measured
// (etcd ÷ pureraft) and the ceiling the store sets (etcd ÷ store alone),
// which no core could pass with that store.
func floor(runs, entries int, nodes, batches, sizes []int) {
	fmt.Printf("Floor: CPU ns per entry over the whole cluster (GC included), median of %d runs of N=%d entries, the four runs of a row alternating. 'core alone' is pureraft with no store (StoreOff); 'store alone' replays the same persists and compactions into the stores with no node (bench.RunStoreAlone). The ceiling is etcd ÷ store alone: the ratio a core costing nothing would reach with that store.\n\n", runs, entries)
	fmt.Println("| store | nodes | B | S | pureraft | core alone | store alone | etcd | ratio (etcd ÷ pureraft) | ceiling (etcd ÷ store alone) |")
	fmt.Println("|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|")
	for _, store := range bench.Stores {
		for _, n := range nodes {
			for _, b := range batches {
				for _, s := range sizes {
					p := bench.ThroughputParams{Nodes: n, Batch: b, Size: s, Entries: entries, Store: store}
					ns := floorRow(runs, p)
					fmt.Printf("| %s | %d | %d | %d | %.0f | %.0f | %.0f | %.0f | %.2f× | %.2f× |\n",
						store, n, b, s, ns[0], ns[2], ns[3], ns[1], ns[1]/ns[0], ns[1]/ns[3])
				}
			}
		}
	}
	fmt.Println()
}

// floorRow returns the median CPU ns per entry of pureraft, etcd, the core
// alone and the store alone, in that order.
func floorRow(runs int, p bench.ThroughputParams) [4]float64 {
	var ns [4][]float64
	for r := range runs {
		for k := range floorLibs {
			li := (k + r) % len(floorLibs) // alternate the order
			res, err := runFloor(li, p)
			if err != nil {
				fmt.Fprintf(os.Stderr, "%s %s: %v\n", floorLibs[li], p, err)
				os.Exit(1)
			}
			ns[li] = append(ns[li], float64(res.CPU.Nanoseconds())/float64(res.Entries))
		}
	}
	var out [4]float64
	for li := range out {
		out[li] = median(ns[li])
	}
	return out
}

func runFloor(li int, p bench.ThroughputParams) (bench.ThroughputResult, error) {
	switch li {
	case 0:
		return bench.RunThroughput(bench.Pureraft, p)
	case 1:
		return bench.RunThroughput(bench.Etcd, p)
	case 2:
		p.Store = bench.StoreOff
		return bench.RunThroughput(bench.Pureraft, p)
	default:
		return bench.RunStoreAlone(p)
	}
}
