package raftsim

// Per-seed flag mixes. A sweep that runs every seed with the same flags
// never reaches the interactions that need rare combinations — witnesses
// with pre-vote off, membership changes with quiescence, lease reads with
// heavy compaction — which is how issue 18's bugs hid from CI. Mix draws
// each seed its own combination, from the seed alone, so a failure is
// replayed by its seed and the explicit flags the replay line prints.

// Mix returns s with the cluster size, the pre-vote and check-quorum
// switches, and the fault, membership, witness, quiescence, lease-read,
// transfer and compaction rates, and whether a raft.Ticker drives the
// clocks, drawn from seed. Every drawn field has a
// flag, so [Scenario.ReplayCommand] of the result replays it exactly.
func (s Scenario) Mix(seed uint64) Scenario {
	r := NewRand(seed).Stream("mix")
	pick := func(xs ...float64) float64 { return xs[r.Intn(len(xs))] }

	s.Nodes = []int{3, 3, 4, 5, 5}[r.Intn(5)]
	s.Raft.DisablePreVote = r.Chance(0.3)
	s.Raft.DisableCheckQuorum = r.Chance(0.3)
	s.Raft.EnableLeaseReads = !s.Raft.DisableCheckQuorum && r.Chance(0.5)
	s.Raft.DisableProposalForwarding = r.Chance(0.2)
	s.Disk.Sync = r.Chance(0.25)

	// One fault level scales every random fault; a level of 0 leaves a
	// calm run, where only the features act.
	level := pick(0, 0.5, 1, 1, 2)
	f := &s.Faults
	f.Crash, f.Partition, f.OneWay, f.Isolate, f.Flap = 0.004*level, 0.002*level, 0.002*level, 0.002*level, 0.01*level
	s.Network.Drop, s.Network.Duplicate, s.Network.Reorder = 0.02*level, 0.01*level, 0.02*level

	ft := &s.Features
	ft.Membership = pick(0, 0.01, 0.03, 0.05)
	ft.Witness = s.Nodes >= 3 && r.Chance(0.25)
	ft.Transfer = pick(0, 0.003, 0.01)
	ft.Compact = pick(0, 0.02, 0.1)
	s.Raft.QuiesceAfterTicks, ft.Idle = 0, 0
	if r.Chance(0.3) {
		s.Raft.QuiesceAfterTicks = 3 + r.Intn(8)
		ft.Idle = pick(0.01, 0.02, 0.05)
	}
	s.Workload.Reads = ReadMode(r.Intn(int(ReadMixed) + 1))
	// Drawn last so that the draws above, and so every mixed seed's
	// scenario before the Ticker existed, stay as they were.
	s.Raft.Ticker = r.Chance(0.5)
	return s
}
