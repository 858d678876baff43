package host

// The host's tick goroutine: one timer for all groups.

import "time"

// quietTickEvery: a quiescent group's goroutine is woken for ticks only
// once in this many. Its node does nothing on a tick but count it (and
// trim buffers now and then), so most wake-ups would be for nothing.
const quietTickEvery = 64

// tickLoop counts a tick for every group each TickInterval, and wakes each
// group's loop to take its ticks: every time for an active group, one
// time in quietTickEvery for a quiescent one.
//
// The count is never dropped, only delivered late: a group's loop takes
// every tick it is owed (catchUpTicks) before it handles any input. A
// node's ticks are its clock, and its leader lease is measured in them
// (raft reads.go: no other leader before leaseStart + the lease length);
// a leader whose clock fell behind real time would believe in a lease
// that has run out — for instance one that woke from quiescence while
// its followers, woken by a lost connection, elected another leader.
func (h *Host) tickLoop() {
	defer h.wg.Done()
	t := time.NewTicker(h.cfg.TickInterval)
	defer t.Stop()
	for n := uint64(1); ; n++ {
		select {
		case <-h.stopc:
			return
		case <-t.C:
		}
		h.ticks.Add(1)
		for _, g := range h.allGroups() {
			g.pendingTicks.Add(1)
			if g.gauges.quiescent.Load() && n%quietTickEvery != 0 {
				continue
			}
			select {
			case g.tickc <- struct{}{}:
			default:
			}
		}
	}
}

// catchUpTicks gives the node every tick it is owed. It runs on the node
// loop before each input, so whatever the node decides, it decides at the
// right time.
func (g *Group) catchUpTicks() {
	for n := g.pendingTicks.Swap(0); n > 0; n-- {
		g.node.Tick()
	}
}
