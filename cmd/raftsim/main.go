// Command raftsim runs a deterministic simulation of a pureraft cluster
// under faults, checks the Raft safety properties on every step and the
// client history for linearizability, prints a summary and writes an HTML
// timeline of the run.
//
//	go run ./cmd/raftsim                       # the default 5-node scenario with faults, seed 1
//	go run ./cmd/raftsim -scenario figure8 -seed 7
//	go run ./cmd/raftsim -seeds 200 -nodes 3   # many seeds, one line each
//	go run ./cmd/raftsim -seeds 200 -mix       # each seed with its own flags, as CI runs them
//	go run ./cmd/raftsim -list                 # the named scenarios
//	go run ./cmd/raftsim -playground           # a live cluster in your browser, on 127.0.0.1:8040
//
// Every field of the scenario has a flag (-nodes, -drop, -crash, ...; see
// -help). A failing run prints the seed, the broken invariant, the last
// trace events and the command that replays it. See docs/raftsim.md.
package main

import (
	"bufio"
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"github.com/pureraft/raft/raftsim"
)

func main() {
	os.Exit(run(os.Args[1:], os.Stdout, os.Stderr))
}

// scenarioArg finds the -scenario flag before the others are parsed, so
// that they override the named scenario.
func scenarioArg(args []string) string {
	for i, a := range args {
		a = strings.TrimLeft(a, "-")
		if v, ok := strings.CutPrefix(a, "scenario="); ok {
			return v
		}
		if a == "scenario" && i+1 < len(args) {
			return args[i+1]
		}
	}
	if slices.ContainsFunc(args, func(a string) bool { return strings.TrimLeft(a, "-") == "playground" }) {
		return "playground" // a calm 3-node cluster: the faults are yours to make
	}
	return "default"
}

func run(args []string, stdout, stderr io.Writer) int {
	name := scenarioArg(args)
	sc, ok := raftsim.ScenarioNamed(name)
	if !ok {
		fmt.Fprintf(stderr, "raftsim: unknown scenario %q (known: %s)\n", name, strings.Join(raftsim.ScenarioNames(), ", "))
		return 2
	}
	fs := flag.NewFlagSet("raftsim", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.String("scenario", "default", "named scenario: "+strings.Join(raftsim.ScenarioNames(), ", "))
	seed := fs.Uint64("seed", 1, "seed of the (first) run")
	seeds := fs.Int("seeds", 1, "run this many consecutive seeds from -seed, one summary line each")
	out := fs.String("out", "raftsim-out", "directory for the HTML timeline and other files")
	html := fs.Bool("html", true, "write the HTML timeline (single-seed runs and the first failure)")
	trace := fs.Bool("trace", false, "print the whole text trace (ticks omitted)")
	shrink := fs.Bool("shrink", false, "on failure, search for a simpler failing scenario with the same seed")
	list := fs.Bool("list", false, "list the named scenarios and exit")
	play := fs.Bool("playground", false, "serve a live playground on -addr: the cluster runs in your browser, and you crash, restart, isolate and heal nodes by clicking")
	addr := fs.String("addr", "127.0.0.1:8040", "loopback address of the playground")
	linTimeout := fs.Duration("lin-timeout", time.Minute, "wall-clock bound of the linearizability check (0: none)")
	mix := fs.Bool("mix", false, "draw each seed's own flags from the seed, as the CI sweep does: node count, pre-vote, check-quorum, fault, membership, witness, quiescence, lease-read, transfer and compaction rates (they replace the flags given; a failure's replay line spells them out)")
	sc.RegisterFlags(fs)
	fs.Usage = func() {
		fmt.Fprintf(stderr, "usage: raftsim [flags]\n\nRuns a deterministic simulation of a pureraft cluster. Flags:\n")
		fs.PrintDefaults()
	}
	if err := fs.Parse(args); err != nil {
		if err == flag.ErrHelp {
			return 0
		}
		return 2
	}
	if fs.NArg() > 0 {
		fmt.Fprintf(stderr, "raftsim: unexpected arguments: %s\n", strings.Join(fs.Args(), " "))
		return 2
	}
	if *list {
		for _, n := range raftsim.ScenarioNames() {
			fmt.Fprintf(stdout, "%-26s %s\n", n, raftsim.ScenarioSummary(n))
		}
		fmt.Fprintln(stdout, "Every scenario runs 5 nodes for 2000 ticks unless -nodes or -ticks say otherwise; docs/raftsim.md has the details.")
		return 0
	}
	if err := sc.Validate(); err != nil {
		fmt.Fprintln(stderr, err)
		return 2
	}
	if *play {
		return playground(*addr, sc, *seed, stdout, stderr)
	}
	opts := raftsim.Options{LinearizabilityTimeout: *linTimeout}
	if *seeds > 1 {
		return runMany(sc, *seed, *seeds, *mix, opts, *out, *html, *shrink, stdout, stderr)
	}
	if *mix {
		sc = sc.Mix(*seed)
	}
	opts.FullTrace = *html || *trace
	start := time.Now()
	res, err := raftsim.Run(sc, *seed, opts)
	if err != nil {
		fmt.Fprintln(stderr, err)
		return 2
	}
	elapsed := time.Since(start)
	if *trace {
		w := bufio.NewWriter(stdout)
		res.Trace.WriteText(w, false)
		w.Flush()
	}
	res.WriteSummary(stdout)
	fmt.Fprintf(stdout, "  wall clock: %v (%.0f node ticks/s)\n", elapsed.Round(time.Millisecond), float64(res.Stats.NodeTicks)/elapsed.Seconds())
	if *html {
		writeFiles(res, *out, stdout, stderr)
	}
	if res.Failed() {
		fmt.Fprint(stdout, "\n"+res.Report())
		if *shrink {
			doShrink(sc, *seed, opts, res, stdout)
		}
		return 1
	}
	return 0
}

func runMany(base raftsim.Scenario, first uint64, n int, mix bool, opts raftsim.Options, out string, html, shrink bool, stdout, stderr io.Writer) int {
	failed := 0
	start := time.Now()
	var ticks uint64
	for seed := first; seed < first+uint64(n); seed++ {
		sc := base
		if mix {
			sc = base.Mix(seed)
		}
		res, err := raftsim.Run(sc, seed, opts)
		if err != nil {
			fmt.Fprintln(stderr, err)
			return 2
		}
		ticks += res.Stats.NodeTicks
		verdict := "PASS"
		if res.Failed() {
			verdict = "FAIL " + res.Violation.Error()
		}
		fmt.Fprintf(stdout, "seed %d: %d elections, commit %d, %d ops, %d crashes, linearizability %s; %s\n",
			seed, res.Stats.Elections, res.Stats.MaxCommit, res.Stats.OpsDone, res.Stats.Crashes, res.Linearizable, verdict)
		if res.Failed() {
			failed++
			if failed == 1 {
				fmt.Fprint(stdout, res.Report())
				if html {
					full := opts
					full.FullTrace = true
					if again, err := raftsim.Run(sc, seed, full); err == nil {
						writeFiles(again, out, stdout, stderr)
					}
				}
				if shrink {
					doShrink(sc, seed, opts, res, stdout)
				}
			}
		}
	}
	el := time.Since(start)
	fmt.Fprintf(stdout, "%d of %d seeds failed (%v, %d node ticks, %.0f node ticks/s)\n", failed, n, el.Round(time.Millisecond), ticks, float64(ticks)/el.Seconds())
	if failed > 0 {
		return 1
	}
	return 0
}

func doShrink(sc raftsim.Scenario, seed uint64, opts raftsim.Options, res *raftsim.Result, stdout io.Writer) {
	fmt.Fprintln(stdout, "shrinking...")
	s := raftsim.Shrink(sc, seed, opts, res, 60)
	if len(s.Removed) == 0 {
		fmt.Fprintf(stdout, "no simpler failing scenario found (%d runs)\n", s.Runs)
		return
	}
	fmt.Fprintf(stdout, "still fails without: %s (%d runs)\n%v\nreplay: %s\n",
		strings.Join(s.Removed, ", "), s.Runs, s.Result.Violation, s.Scenario.ReplayCommand(seed))
}

// outputName names a run's files after its scenario, seed and non-default
// flags, so that runs that differ only in a flag (the tour's with and
// without check-quorum) do not overwrite each other.
func outputName(res *raftsim.Result) string {
	name := fmt.Sprintf("%s-seed%d", res.Scenario.Name, res.Seed)
	for _, arg := range res.Scenario.FlagArgs() {
		flag, value, _ := strings.Cut(strings.TrimPrefix(arg, "-"), "=")
		switch value {
		case "true":
			name += "-" + flag
		case "false":
			name += "-no-" + flag
		default:
			name += "-" + flag + "-" + value
		}
	}
	return strings.Map(func(r rune) rune {
		if r == '/' || r == ' ' || r == '\\' {
			return '_'
		}
		return r
	}, name)
}

func writeFiles(res *raftsim.Result, out string, stdout, stderr io.Writer) {
	if err := os.MkdirAll(out, 0o755); err != nil {
		fmt.Fprintln(stderr, err)
		return
	}
	base := filepath.Join(out, outputName(res))
	f, err := os.Create(base + ".html")
	if err == nil {
		err = raftsim.WriteHTML(f, res)
		if cerr := f.Close(); err == nil {
			err = cerr
		}
	}
	if err != nil {
		fmt.Fprintln(stderr, "raftsim: writing the timeline:", err)
	} else {
		fmt.Fprintf(stdout, "HTML timeline: %s (open it in a browser)\n", base+".html")
	}
	if res.Violation != nil && res.Violation.Invariant == raftsim.Linearizability {
		if err := res.WriteLinearizationHTML(base + "-porcupine.html"); err != nil {
			fmt.Fprintln(stderr, "raftsim: writing the porcupine visualization:", err)
		} else {
			fmt.Fprintf(stdout, "porcupine visualization of the history: %s\n", base+"-porcupine.html")
		}
	}
}
