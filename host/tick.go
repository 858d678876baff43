package host

// The host's tick goroutine: one timer for all groups.

import "time"

// quietTickEvery: a quiescent group gets one tick in this many. Its node
// does nothing on a tick but count it (and trim buffers now and then), so
// most ticks would only wake its goroutine for nothing; anything that
// matters to it (a message, a proposal, a read, a peer lost) reaches it
// through its other inputs and wakes it.
const quietTickEvery = 64

// tickLoop ticks every group once per TickInterval, and quiescent groups
// once per quietTickEvery intervals. A tick is dropped, not queued, when a
// group's loop has not taken the previous one yet: a busy group falls
// behind in time rather than piling up ticks.
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
		for _, g := range h.allGroups() {
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
