package raftsim

import "github.com/pureraft/raft"

// simNetwork is the simulated transport between nodes: one directed link per
// ordered pair, each with its own base latency, plus the faults of the
// scenario. It decides when (and whether, and how many times) a message
// arrives; the cluster schedules the deliveries.
//
// A link is down if a partition cuts it or it is flapping. Both are checked
// when a message is sent and again when it would arrive, so a partition
// also swallows the messages in flight.
type simNetwork struct {
	n     int
	opts  NetworkOptions
	rng   *Rand
	links []link // n*n, index (from-1)*n + (to-1)
	// healthy: after the final healing the network stops dropping,
	// duplicating and reordering (latencies stay).
	healthy bool

	// Duplicated, Reordered and Late count messages copied, held back
	// and held back past timeouts.
	Duplicated, Reordered, Late int
}

type link struct {
	base Time
	// cut: a partition (symmetric, one-way or isolation) cuts this link.
	cut bool
	// flapUntil: the link is down until this time (flapping).
	flapUntil Time
	// lastArrival keeps the link FIFO for messages not reordered.
	lastArrival Time
}

func newNetwork(n int, opts NetworkOptions, rng *Rand) *simNetwork {
	nw := &simNetwork{n: n, opts: opts, rng: rng, links: make([]link, n*n)}
	for i := range nw.links {
		nw.links[i].base = Time(rng.Range(int64(opts.LatencyMin), int64(opts.LatencyMax)))
	}
	return nw
}

func (nw *simNetwork) link(from, to raft.NodeID) *link {
	return &nw.links[int(from-1)*nw.n+int(to-1)]
}

// Up reports whether messages can pass from one node to another at now.
func (nw *simNetwork) Up(from, to raft.NodeID, now Time) bool {
	l := nw.link(from, to)
	return !l.cut && now >= l.flapUntil
}

// dropReason says why a message sent at now is lost, or "" if it is not.
func (nw *simNetwork) dropReason(from, to raft.NodeID, now Time) string {
	if !nw.Up(from, to, now) {
		return "link down"
	}
	if !nw.healthy && nw.rng.Chance(nw.opts.Drop) {
		return "random drop"
	}
	return ""
}

// arrivals returns when the copies of a message sent at now arrive: one
// normally, two if duplicated. reordered reports a held-back copy.
func (nw *simNetwork) arrivals(from, to raft.NodeID, now Time) (at [2]Time, copies int, reordered bool) {
	l := nw.link(from, to)
	copies = 1
	if !nw.healthy && nw.rng.Chance(nw.opts.Duplicate) {
		copies = 2
		nw.Duplicated++
	}
	for c := 0; c < copies; c++ {
		t := now + l.base + Time(nw.rng.Range(0, int64(nw.opts.Jitter)))
		if !nw.healthy && nw.rng.Chance(nw.opts.Late) {
			// Very late: whoever waits for it has likely given up.
			t += 1 + Time(nw.rng.Range(0, int64(nw.opts.LateDelay)))
			reordered = true
			nw.Late++
		} else if !nw.healthy && nw.rng.Chance(nw.opts.Reorder) {
			// Held back: later messages on the link overtake it.
			t += 1 + Time(nw.rng.Range(0, int64(nw.opts.ReorderDelay)))
			reordered = true
			nw.Reordered++
		} else {
			t = max(t, l.lastArrival) // FIFO among the others
			l.lastArrival = t
		}
		at[c] = t
	}
	return at, copies, reordered
}

// setCut sets the partition state of one directed link.
func (nw *simNetwork) setCut(from, to raft.NodeID, cut bool) { nw.link(from, to).cut = cut }

// flap takes a link down until until.
func (nw *simNetwork) flap(from, to raft.NodeID, until Time) {
	l := nw.link(from, to)
	l.flapUntil = max(l.flapUntil, until)
}

// healPartitions clears every partition cut (flapping links stay down
// until their time is up).
func (nw *simNetwork) healPartitions() {
	for i := range nw.links {
		nw.links[i].cut = false
	}
}

// healAll ends every network fault for good.
func (nw *simNetwork) healAll() {
	nw.healPartitions()
	for i := range nw.links {
		nw.links[i].flapUntil = 0
	}
	nw.healthy = true
}
