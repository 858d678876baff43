package fuzz

import (
	"fmt"
	"os"
)

// The fuzzing engine reports executions only when a worker returns to the
// coordinator, and drops the count of the last stretch when -fuzztime
// ends, so its "execs" figure undercounts, badly for slow targets. For the
// long runs in docs/testing.md every target counts its own executions: with
// PURERAFT_FUZZ_COUNT set to a file name, each worker process appends
// "<target> <pid> <count>" to it every countEvery executions. The largest
// count per (target, pid), summed, is the number of executions (to within
// countEvery per worker process).
var countFile = os.Getenv("PURERAFT_FUZZ_COUNT")

const countEvery = 1000

var execCounts = map[string]uint64{}

// countExec counts one execution of target.
func countExec(target string) {
	if countFile == "" {
		return
	}
	execCounts[target]++
	if c := execCounts[target]; c%countEvery == 0 {
		f, err := os.OpenFile(countFile, os.O_APPEND|os.O_CREATE|os.O_WRONLY, 0o644)
		if err != nil {
			return
		}
		fmt.Fprintf(f, "%s %d %d\n", target, os.Getpid(), c)
		f.Close()
	}
}
