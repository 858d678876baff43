package raftsim

import "fmt"

// Shrunk is the outcome of [Shrink].
type Shrunk struct {
	// Scenario is the smallest scenario found that still fails, with the
	// same seed, the same way.
	Scenario Scenario
	// Result is the failing run of Scenario.
	Result *Result
	// Removed lists the simplifications that kept the failure.
	Removed []string
	// Runs is how many runs the search took.
	Runs int
}

// shrinkStep is one simplification: it changes s and reports whether it
// changed anything.
type shrinkStep struct {
	name  string
	apply func(s *Scenario) bool
}

func zeroF(p *float64) bool {
	if *p == 0 {
		return false
	}
	*p = 0
	return true
}

var shrinkSteps = []shrinkStep{
	{"scripted faults", func(s *Scenario) bool { c := len(s.Schedule) > 0; s.Schedule = nil; return c }},
	{"crashes", func(s *Scenario) bool { return zeroF(&s.Faults.Crash) }},
	{"partitions", func(s *Scenario) bool { return zeroF(&s.Faults.Partition) }},
	{"one-way cuts", func(s *Scenario) bool { return zeroF(&s.Faults.OneWay) }},
	{"isolations", func(s *Scenario) bool { return zeroF(&s.Faults.Isolate) }},
	{"link flaps", func(s *Scenario) bool { return zeroF(&s.Faults.Flap) }},
	{"isolation of new leaders", func(s *Scenario) bool { return zeroF(&s.Faults.IsolateNewLeader) }},
	{"message drops", func(s *Scenario) bool { return zeroF(&s.Network.Drop) }},
	{"duplicates", func(s *Scenario) bool { return zeroF(&s.Network.Duplicate) }},
	{"reordering", func(s *Scenario) bool { return zeroF(&s.Network.Reorder) }},
	{"partial write loss", func(s *Scenario) bool { c := s.Disk.PartialLoss; s.Disk.PartialLoss = false; return c }},
	{"clock skew", func(s *Scenario) bool { return zeroF(&s.TickSkew) }},
	{"asynchronous disks", func(s *Scenario) bool { c := !s.Disk.Sync; s.Disk.Sync = true; return c }},
	{"membership changes", func(s *Scenario) bool { return zeroF(&s.Features.Membership) }},
	{"leadership transfers", func(s *Scenario) bool { return zeroF(&s.Features.Transfer) }},
	{"compaction", func(s *Scenario) bool { return zeroF(&s.Features.Compact) }},
	{"lease reads", func(s *Scenario) bool { c := s.Raft.EnableLeaseReads; s.Raft.EnableLeaseReads = false; return c }},
	{"half the clients", func(s *Scenario) bool {
		if s.Workload.Clients <= 1 {
			return false
		}
		s.Workload.Clients /= 2
		return true
	}},
}

// Shrink searches, with the same seed, for a simpler scenario that still
// breaks the same invariant: it turns off one kind of fault at a time
// (keeping each change that preserves the failure), halves the clients,
// and cuts the run short just after the failure. It stops after budget
// runs. failed must be a failed run of sc with seed.
func Shrink(sc Scenario, seed uint64, opts Options, failed *Result, budget int) Shrunk {
	want := failed.Violation.Invariant
	opts.FullTrace = false
	if want != Linearizability {
		opts.SkipLinearizability = true
	}
	best := Shrunk{Scenario: sc, Result: failed}
	try := func(cand Scenario) bool {
		if best.Runs >= budget {
			return false
		}
		best.Runs++
		r, err := Run(cand, seed, opts)
		if err != nil || r.Violation == nil || r.Violation.Invariant != want {
			return false
		}
		best.Scenario, best.Result = cand, r
		return true
	}
	shorten := func() {
		v := best.Result.Violation
		if v.Invariant == Liveness || v.Invariant == Linearizability {
			return
		}
		if ticks := int(v.Time/Tick) + 1; ticks < best.Scenario.Ticks {
			cand := best.Scenario
			cand.Ticks = ticks
			if try(cand) {
				best.Removed = append(best.Removed, fmt.Sprintf("ticks after %d", ticks))
			}
		}
	}
	shorten()
	for changed := true; changed && best.Runs < budget; {
		changed = false
		for _, st := range shrinkSteps {
			cand := best.Scenario
			cand.Schedule = append([]ScheduledFault(nil), cand.Schedule...)
			if !st.apply(&cand) {
				continue
			}
			if try(cand) {
				best.Removed = append(best.Removed, st.name)
				changed = true
				shorten()
			}
		}
	}
	return best
}
