package host

// The host's tick goroutine: one timer for all groups.

import (
	"sync"
	"time"
)

// tickLoop counts ticks for every group each TickInterval, and wakes the
// loop of each group that is awake (not quiescent) to take them. A
// quiescent group's node does nothing on a tick but count it, so its
// goroutine is not woken at all, and the tick goroutine does not even
// touch it: with 10,000 mostly idle groups per host, visiting each on
// every tick cost a cache miss per group and most of the host's idle CPU
// (docs/host.md, "Idle groups").
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
	for {
		select {
		case <-h.stopc:
			return
		case <-t.C:
		}
		h.ticks.Add(1)
		for _, g := range h.awakeGroups() {
			select {
			case g.tickc <- struct{}{}:
			default:
			}
		}
	}
}

// catchUpTicks gives the node every tick it is owed: every tick the host
// counted since the node last caught up. It runs on the node loop before
// each input, so whatever the node decides, it decides at the right time.
func (g *Group) catchUpTicks() {
	for now := g.h.ticks.Load(); g.tickedTo < now; g.tickedTo++ {
		g.node.Tick()
	}
}

// noteQuiescence keeps the host's set of awake groups in step with the
// node, after the node loop handled its inputs. A group that went quiet
// stays in the set for trimTicks more ticks, so that its node releases the
// buffers of its last busy moment (raft buffers.go does that every 64
// ticks) before the ticks stop coming.
func (g *Group) noteQuiescence(quiescent bool) {
	switch {
	case !quiescent:
		g.quietFrom = 0
		if g.quiet {
			g.quiet = false
			g.h.setAwake(g, true)
		}
	case g.quiet:
	case g.quietFrom == 0:
		g.quietFrom = g.tickedTo + 1
	case g.tickedTo+1-g.quietFrom >= trimTicks:
		g.quiet = true
		g.h.setAwake(g, false)
	}
}

// trimTicks is the core's buffer-release period (raft buffers.go).
const trimTicks = 64

// awakeSet is the groups the tick goroutine wakes on every tick.
type awakeSet struct {
	mu     sync.Mutex
	groups map[*Group]struct{}
	dirty  bool
	// list is the tick goroutine's copy, rebuilt when the set changed.
	list []*Group
}

func (h *Host) setAwake(g *Group, awake bool) {
	s := &h.awake
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.groups == nil {
		s.groups = map[*Group]struct{}{}
	}
	if awake {
		s.groups[g] = struct{}{}
	} else {
		delete(s.groups, g)
	}
	s.dirty = true
}

// awakeGroups returns the awake groups; only the tick goroutine calls it,
// so it reuses one slice.
func (h *Host) awakeGroups() []*Group {
	s := &h.awake
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.dirty {
		s.list = s.list[:0]
		for g := range s.groups {
			s.list = append(s.list, g)
		}
		s.dirty = false
	}
	return s.list
}

// awakeCount is how many groups the tick goroutine wakes.
func (h *Host) awakeCount() int {
	h.awake.mu.Lock()
	defer h.awake.mu.Unlock()
	return len(h.awake.groups)
}
