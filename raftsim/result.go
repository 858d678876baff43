package raftsim

import (
	"fmt"
	"io"
	"os"
	"sort"
	"strings"
	"time"

	"github.com/anishathalye/porcupine"
	"github.com/pureraft/raft"
)

// Result is the outcome of a run.
type Result struct {
	// Scenario is what ran.
	Scenario Scenario
	// Seed is the seed it ran with: with Scenario, it replays the run.
	Seed uint64
	// Violation is the first invariant broken, nil if the run passed.
	Violation *Violation
	// Linearizable is porcupine's verdict on the client history: "ok",
	// "illegal", "unknown" (timed out) or "skipped" (not checked, because
	// of an earlier violation or by option).
	Linearizable string
	// Checks counts the evaluations of each invariant.
	Checks map[Invariant]uint64
	// Stats counts what happened.
	Stats Stats
	// Trace holds the run's events: all of them with Options.FullTrace,
	// otherwise the most recent ones.
	Trace *Trace
	// History is every client operation, in invocation order: what the
	// linearizability check judged.
	History []Operation
	// End is the simulated time the run stopped at.
	End Time
	// LeaderTerms maps each term that had a leader to that leader.
	LeaderTerms map[raft.Term]raft.NodeID

	model porcupine.Model
	ops   []porcupine.Operation
	// logOps are the log view's changes (logview.go), with FullTrace.
	logOps [][]any
	// custom: the run had Options.Workload or Options.WrapNode, which
	// the command line cannot reproduce.
	custom bool
}

// Failed reports whether an invariant was broken.
func (r *Result) Failed() bool { return r.Violation != nil }

// Err returns the violation as an error, or nil.
func (r *Result) Err() error {
	if r.Violation == nil {
		return nil
	}
	return r.Violation
}

// snapshot is the run so far as a Result, without the end-of-run checks:
// what finish starts from, and what a live view draws.
func (s *Sim) snapshot() *Result {
	s.Stats.Steps = s.step
	s.Stats.Elections = len(s.chk.leaders)
	s.Stats.Overwritten, s.Stats.Figure8 = s.chk.overwritten, s.chk.figure8
	s.Stats.Duplicated, s.Stats.Reordered, s.Stats.Late = s.net.Duplicated, s.net.Reordered, s.net.Late
	s.Stats.Ops = len(s.history)
	s.Stats.OpsPending = s.Stats.Ops - s.Stats.OpsDone
	s.Stats.Attempts = 0
	for i := range s.history {
		s.Stats.Attempts += s.history[i].Attempts
	}
	if s.probeDone {
		s.Stats.RecoveryTime = s.recoveredAt - s.healAt
	}
	r := &Result{
		Scenario: s.sc, Seed: s.seed, Stats: s.Stats, Trace: s.trace, History: s.history,
		End: s.now, Checks: s.chk.counts(), LeaderTerms: s.chk.leaders, model: s.model,
		Linearizable: "skipped", custom: s.opts.Workload != nil || s.opts.WrapNode != nil,
		Violation: s.chk.violation,
	}
	if s.logs != nil {
		r.logOps = s.logs.ops
	}
	return r
}

func (s *Sim) finish() *Result {
	r := s.snapshot()
	if s.chk.violation == nil && !s.opts.SkipLinearizability && s.model.Step != nil {
		r.ops = s.porcupineHistory()
		r.Checks[Linearizability] = uint64(len(r.ops))
		r.Linearizable = checkLinearizable(s.model, r.ops, s.opts.LinearizabilityTimeout)
		if r.Linearizable == "illegal" {
			s.chk.fail(Linearizability, 0, "the history of %d client operations is not linearizable", len(r.ops))
			if v := s.chk.violation; v != nil {
				s.record(TraceEvent{Kind: TrViolation, Text: v.Error()})
			}
		}
	} else if s.chk.violation != nil && s.chk.violation.Invariant != Linearizability {
		s.record(TraceEvent{Kind: TrViolation, Node: s.chk.violation.Node, Text: s.chk.violation.Error()})
	}
	r.Violation = s.chk.violation
	return r
}

// checkLinearizable runs porcupine: "ok", "illegal" or "unknown" (timed
// out).
func checkLinearizable(model porcupine.Model, ops []porcupine.Operation, timeout time.Duration) string {
	switch porcupine.CheckOperationsTimeout(model, ops, timeout) {
	case porcupine.Ok:
		return "ok"
	case porcupine.Illegal:
		return "illegal"
	}
	return "unknown"
}

// WriteLinearizationHTML writes porcupine's visualization of the client
// history (most useful when it is not linearizable) to path.
func (r *Result) WriteLinearizationHTML(path string) error {
	if r.ops == nil {
		return fmt.Errorf("raftsim: the history was not checked")
	}
	_, info := porcupine.CheckOperationsVerbose(r.model, r.ops, 0)
	f, err := os.Create(path)
	if err != nil {
		return err
	}
	if err := porcupine.Visualize(r.model, info, f); err != nil {
		f.Close()
		return err
	}
	return f.Close()
}

// TailLen is how many trace events a failure report shows.
const TailLen = 30

// Report describes a failed run: the seed, the broken invariant, the last
// trace events and the command that replays it. It is empty for a passing
// run.
func (r *Result) Report() string {
	if r.Violation == nil {
		return ""
	}
	var b strings.Builder
	fmt.Fprintf(&b, "raftsim: seed %d, scenario %q: %v\n", r.Seed, r.Scenario.Name, r.Violation)
	fmt.Fprintf(&b, "last %d trace events (of %d; ticks omitted):\n", TailLen, r.Trace.Total())
	for _, e := range r.Trace.Tail(TailLen) {
		fmt.Fprintf(&b, "  %s\n", e)
	}
	if r.custom {
		// The command line knows only the built-in workload and nodes.
		fmt.Fprintf(&b, "replay: raftsim.Run(scenario, %d, options) with this scenario and the same Options (Workload, WrapNode); the command line replays the scenario with the built-in workload only: %s\n",
			r.Seed, r.Scenario.ReplayCommand(r.Seed))
		return b.String()
	}
	fmt.Fprintf(&b, "replay: %s\n", r.Scenario.ReplayCommand(r.Seed))
	return b.String()
}

// WriteSummary writes a human-readable summary of the run.
func (r *Result) WriteSummary(w io.Writer) {
	s := &r.Stats
	sc := &r.Scenario
	disk := "asynchronous"
	if sc.Disk.Sync {
		disk = "synchronous"
	}
	faults := "ticks of faults"
	if sc.faultFree() {
		faults = "ticks, no faults"
	}
	fmt.Fprintf(w, "scenario %q, seed %d: %d nodes, %d %s, %s disks, %d clients\n",
		sc.Name, r.Seed, sc.Nodes, sc.Ticks, faults, disk, sc.Workload.Clients)
	fmt.Fprintf(w, "  simulated %s ticks in %d steps (%d node ticks)\n", r.End, s.Steps, s.NodeTicks)
	fmt.Fprintf(w, "  elections: %d terms had a leader (highest term %d)", s.Elections, s.MaxTerm)
	if len(r.LeaderTerms) > 0 {
		terms := make([]raft.Term, 0, len(r.LeaderTerms))
		for t := range r.LeaderTerms {
			terms = append(terms, t)
		}
		sort.Slice(terms, func(i, j int) bool { return terms[i] < terms[j] })
		var parts []string
		for i, t := range terms {
			if i == 12 {
				parts = append(parts, "...")
				break
			}
			parts = append(parts, fmt.Sprintf("t%d:n%d", t, r.LeaderTerms[t]))
		}
		fmt.Fprintf(w, " [%s]", strings.Join(parts, " "))
	}
	fmt.Fprintln(w)
	fmt.Fprintf(w, "  commits: highest commit index %d, %d entries applied across nodes; %d uncommitted entries overwritten by later leaders, %d of them after reaching a majority (Figure 8)\n",
		s.MaxCommit, s.Applied, s.Overwritten, s.Figure8)
	fmt.Fprintf(w, "  clients: %d operations, %d completed, %d never answered; %d attempts, %d timeouts\n",
		s.Ops, s.OpsDone, s.OpsPending, s.Attempts, s.Timeouts)
	fmt.Fprintf(w, "  faults injected: %d crashes (%d writes lost, %d unacknowledged writes survived), %d restarts,\n",
		s.Crashes, s.LostWrites, s.SurvivedWrites, s.Restarts)
	fmt.Fprintf(w, "    %d partitions, %d one-way cuts, %d isolations, %d link flaps\n", s.Partitions, s.OneWay, s.Isolations, s.Flaps)
	fmt.Fprintf(w, "  network: %d messages sent, %d delivered, %d dropped, %d duplicated, %d held back (%d past timeouts); %d forwarded proposals refused\n",
		s.Sent, s.Delivered, s.Dropped, s.Duplicated, s.Reordered, s.Late, s.RefusedForwards)
	fmt.Fprintf(w, "  disks: %d persists, %d writes made durable\n", s.Persists, s.DiskWrites)
	fmt.Fprintf(w, "  features: %d compactions, %d snapshot transfers (%d lost, %d installed); reads: %d ReadIndex, %d lease, %d served, %d failed; %d membership changes (%d refused), %d leadership transfers, %d forced campaigns\n",
		s.Compactions, s.SnapshotsSent, s.SnapshotsLost, s.SnapshotsInstalled, s.IndexReads, s.LeaseReads, s.ReadsServed, s.ReadsFailed,
		s.MembershipChanges, s.MembershipRefused, s.Transfers, s.Campaigns)
	fmt.Fprintf(w, "  witnesses: %d started, %d client operations turned away; %d whose role never committed added back as data members\n",
		s.Witnesses, s.WitnessRefusals, s.WitnessesConverted)
	if sc.Raft.QuiesceAfterTicks > 0 {
		fmt.Fprintf(w, "  quiescence (after %d idle ticks): %d idle stretches, %d nodes went quiet; failure detectors noticed %d faults, %d waking a quiescent node\n",
			sc.Raft.QuiesceAfterTicks, s.IdleStretches, s.Quiesced, s.Detections, s.Wakes)
	}
	if r.Violation == nil {
		fmt.Fprintf(w, "  checks passed:")
	} else {
		fmt.Fprintf(w, "  checks evaluated:")
	}
	sep := " "
	for _, inv := range Invariants() {
		if inv == Linearizability || inv == Liveness {
			continue
		}
		fmt.Fprintf(w, "%s%s %d", sep, inv, r.Checks[inv])
		sep = ", "
	}
	fmt.Fprintln(w)
	if s.ShutDown > 0 {
		fmt.Fprintf(w, "  at healing: %d servers outside the configuration shut down (pre-vote and check-quorum off, thesis §4.2.3)\n", s.ShutDown)
	}
	if s.RecoveryTime >= 0 {
		fmt.Fprintf(w, "  liveness: after healing, a new entry committed within %s ticks (bound %d)\n", s.RecoveryTime, sc.LivenessTicks)
	} else {
		fmt.Fprintf(w, "  liveness: not established\n")
	}
	fmt.Fprintf(w, "  linearizability (porcupine, %d operations): %s\n", r.Checks[Linearizability], r.Linearizable)
	if r.Violation != nil {
		fmt.Fprintf(w, "FAILED: %v\n", r.Violation)
	} else {
		fmt.Fprintf(w, "PASSED: every invariant held\n")
	}
}
