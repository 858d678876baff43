package host

// Waiting on a group's status: the node loop publishes the node's status
// after every batch of inputs (loop.go, publishStatus), numbers each
// publication, and wakes whoever waits, so callers wait for a leader, an
// applied index or the end of a transfer without polling.

import (
	"context"
	"errors"

	"github.com/pureraft/raft"
)

// WaitStatus waits until cond holds for the group's status, as the node
// loop publishes it after every batch of inputs, and returns that status.
// cond is called on the caller's goroutine, once now and again after the
// loop publishes (statuses published while the caller was not looking
// are skipped: only the latest is seen). WaitStatus returns ctx's error
// if ctx ends first, and ErrStopped if the group stops.
func (g *Group) WaitStatus(ctx context.Context, cond func(raft.Status) bool) (raft.Status, error) {
	if cond == nil {
		return g.Status(), errNilCondition
	}
	return g.waitPublished(ctx, 0, cond)
}

var errNilCondition = errors.New("host: WaitStatus needs a condition (cond is nil)")

// WaitLeader waits until the group knows a leader for its current term
// (itself, perhaps) and returns its ID: what a caller needs before its
// first proposal, instead of retrying on NotLeaderError.
func (g *Group) WaitLeader(ctx context.Context) (raft.NodeID, error) {
	st, err := g.WaitStatus(ctx, func(st raft.Status) bool { return st.Leader != raft.None })
	return st.Leader, err
}

// waitPublished is WaitStatus, looking only at statuses published as
// number since or later: a caller that changed the node on its loop
// judges the outcome by what was published after the change, never by a
// status from before it.
func (g *Group) waitPublished(ctx context.Context, since uint64, cond func(raft.Status) bool) (raft.Status, error) {
	for {
		st, seq, published := g.watchStatus()
		if seq >= since && cond(st) {
			return st, nil
		}
		select {
		case <-published:
		case <-ctx.Done():
			return st, ctx.Err()
		case <-g.loopDone:
			return g.Status(), ErrStopped
		}
	}
}

// watchStatus returns the published status, its number, and a channel
// closed when the loop next publishes. The channel exists only while
// somebody waits, so a loop iteration with no waiter costs nothing.
func (g *Group) watchStatus() (raft.Status, uint64, <-chan struct{}) {
	g.statusMu.Lock()
	defer g.statusMu.Unlock()
	if g.statusPublished == nil {
		g.statusPublished = make(chan struct{})
	}
	return g.status, g.statusSeq, g.statusPublished
}

// nextStatusSeq returns the number the loop's next publication will
// carry. Called on the node loop.
func (g *Group) nextStatusSeq() uint64 {
	g.statusMu.RLock()
	defer g.statusMu.RUnlock()
	return g.statusSeq + 1
}

// setStatus publishes st as the next numbered status and wakes the
// waiters. Called by the node loop only.
func (g *Group) setStatus(st raft.Status) {
	g.statusMu.Lock()
	defer g.statusMu.Unlock()
	g.status = st
	g.statusSeq++
	if g.statusPublished != nil {
		close(g.statusPublished)
		g.statusPublished = nil
	}
}
