package raft

import "math"

// This file lets a host tick many groups without touching each of them on
// every tick.
//
// Node.Tick touches one cache line of its Node. A host of 100,000 groups
// that ticks each of them walks 100,000 lines spread over the heap: each is
// a cache miss, and the tick of an idle group costs what a miss costs
// (docs/performance.md, "Idle ticks at scale"). Yet on most ticks an idle
// follower does nothing but count: its election timer is far from firing,
// and a quiescent group does not even do that.
//
// A Ticker keeps, for each node it drives, the tick at which the node next
// has something to do (its due tick) in one dense array, and on each tick
// touches only the nodes that are due. The ticks in between are quiet: they
// only advance the node's counters, and the node catches up on them, all at
// once, the next time it is used (any method call) or due. A node so driven
// behaves exactly as if Tick had been called on it once per Ticker.Tick —
// the same actions, in the same order, at the same ticks — which
// TestTickerMatchesPerNodeTicks checks against random inputs.
//
// A node's due tick is recomputed after every call that can change what its
// ticks would do (role, quiescence, pending forwarded reads, the election
// timer, its configuration), so it is never late. It may be early — a
// heartbeat restarted the timer after the due tick was computed — in which
// case the node is touched, finds nothing to do, and is rescheduled.

// Ticker drives the clocks of many nodes (Config.Ticker): one Tick call
// ticks every node built with it. It is not safe for concurrent use, and
// neither are its nodes while it ticks: use a Ticker and its nodes from one
// goroutine (a host with several goroutines gives each its own Ticker).
type Ticker struct {
	// now counts Tick calls.
	now uint64
	// due[s] is the tick at which the node in slot s must be ticked for
	// real; noDue for a free slot. Tick reads only this array.
	due []uint64
	// synced[s] is the tick the node in slot s has caught up to.
	synced []uint64
	nodes  []*Node
	free   []uint32
	// ticked is what the last Tick returned.
	ticked []*Node
	// configs is shared by the nodes of this Ticker as sharedConfigs is
	// by the others (config.go).
	configs configCache
}

const (
	// noDue marks a free slot: never due.
	noDue = math.MaxUint64
	// noSlot is a node's slot when no Ticker drives it.
	noSlot = math.MaxUint32
)

// NewTicker returns a Ticker that drives no node yet; pass it in
// Config.Ticker to the nodes it is to drive.
func NewTicker() *Ticker { return &Ticker{} }

// Tick advances the clock of every node built with this Ticker by one tick,
// as one call of Node.Tick on each would, but touches only the nodes that
// have something to do on this tick. It returns those nodes: the only ones
// this tick may have given actions, so a host collects actions from them
// rather than asking every node (HasActions would touch each). The slice
// is the Ticker's, valid until the next Tick.
func (t *Ticker) Tick() []*Node {
	t.now++
	now := t.now
	t.ticked = t.ticked[:0]
	for s, d := range t.due {
		if d <= now {
			t.ticked = append(t.ticked, t.nodes[s])
			t.fire(uint32(s))
		}
	}
	return t.ticked
}

// Len reports how many nodes the Ticker drives.
func (t *Ticker) Len() int { return len(t.nodes) - len(t.free) }

// Remove stops driving n: its clock stands still from then on unless the
// caller ticks it with Node.Tick, which Remove allows again. Call it when a
// group's node is discarded (a group removed from the host, a node replaced
// at restart), or the Ticker keeps the node alive and ticks it. Removing a
// node the Ticker does not drive does nothing.
func (t *Ticker) Remove(n *Node) {
	s := n.tickerSlot
	if n.cfg.Ticker != t || s == noSlot {
		return
	}
	t.catchUp(n)
	t.nodes[s] = nil
	t.due[s] = noDue
	t.free = append(t.free, s)
	n.tickerSlot = noSlot
}

// add starts driving n, whose clock starts at this tick.
func (t *Ticker) add(n *Node) {
	var s uint32
	if k := len(t.free); k > 0 {
		s = t.free[k-1]
		t.free = t.free[:k-1]
	} else {
		// uint64: on a 32-bit platform noSlot overflows int.
		if uint64(len(t.nodes)) >= noSlot {
			panic("raft: a Ticker drives at most 2^32-1 nodes")
		}
		s = uint32(len(t.nodes))
		t.nodes = append(t.nodes, nil)
		t.due = append(t.due, 0)
		t.synced = append(t.synced, 0)
	}
	t.nodes[s] = n
	t.synced[s] = t.now
	n.tickerSlot = s
	t.reschedule(n)
}

// fire ticks the node in slot s for real: the quiet ticks before this one
// first, then this one, as Node.Tick. The node counts as caught up before
// its tick runs, so nothing the tick does sees the tick as still owed.
func (t *Ticker) fire(s uint32) {
	n := t.nodes[s]
	if k := t.now - 1 - t.synced[s]; k > 0 {
		n.quietTicks(k)
	}
	t.synced[s] = t.now
	n.tick()
	t.reschedule(n)
}

// catchUp brings n's clock up to the Ticker's: the ticks it has not seen
// are all quiet ones.
func (t *Ticker) catchUp(n *Node) {
	if s := n.tickerSlot; s != noSlot {
		t.catchUpSlot(n, s)
	}
}

func (t *Ticker) catchUpSlot(n *Node, s uint32) {
	if k := t.now - t.synced[s]; k > 0 {
		n.quietTicks(k)
		t.synced[s] = t.now
	}
}

// reschedule records when n is next due, after anything that may have
// changed it.
func (t *Ticker) reschedule(n *Node) {
	if s := n.tickerSlot; s != noSlot {
		t.due[s] = t.now + n.ticksUntilDue()
	}
}

// ticksUntilDue returns k ≥ 1 such that the next k-1 ticks of n would only
// count (quietTicks) and the k-th may do more. It mirrors Tick: keep the
// two in step.
func (n *Node) ticksUntilDue() uint64 {
	// Tick releases idle buffers when ticks reaches a multiple of
	// trimPeriodTicks.
	trim := trimPeriodTicks - n.ticks%trimPeriodTicks
	switch {
	case n.quiescent:
		return trim
	case n.role == RoleLeader, n.reads != nil && len(n.reads.forwarded) > 0:
		return 1
	case !n.promotable():
		// The election timer counts but never fires.
		return trim
	}
	// tickElection fires on the tick that brings electionElapsed to
	// randomizedTimeout.
	if left := int64(n.randomizedTimeout) - int64(n.electionElapsed); left > 1 {
		return min(trim, uint64(left))
	}
	return 1
}

// quietTicks applies k ticks that ticksUntilDue promised would only count:
// what Tick would have done on each of them, all at once. None of them
// releases buffers: ticksUntilDue makes every tick that reaches a multiple
// of trimPeriodTicks due.
func (n *Node) quietTicks(k uint64) {
	n.ticks += k
	if n.quiescent {
		return
	}
	n.electionElapsed = int32(min(int64(n.electionElapsed)+int64(k), math.MaxInt32))
}

// tickerSync brings a node driven by a Ticker up to the Ticker's clock;
// every method that reads or changes the node's state calls it first. It
// costs one load and a predictable branch on a node no Ticker drives.
func (n *Node) tickerSync() {
	if t := n.cfg.Ticker; t != nil {
		t.catchUp(n)
	}
}

// tickerReschedule records, after a method changed the node's state, when
// its Ticker must next tick it.
func (n *Node) tickerReschedule() {
	if t := n.cfg.Ticker; t != nil {
		t.reschedule(n)
	}
}
