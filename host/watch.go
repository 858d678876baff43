package host

// Waiting on a group's status: the node loop publishes the node's status
// after every batch of inputs (loop.go, publishStatus), and wakes whoever
// waits for it to change, so callers wait for a leader, an applied index
// or the end of a transfer without polling.

import (
	"context"
	"errors"

	"github.com/pureraft/raft"
)

// WaitStatus waits until cond holds for the group's status, as the node
// loop publishes it after every batch of inputs, and returns that status.
// cond is called on the caller's goroutine, once now and once after each
// change. WaitStatus returns ctx's error if ctx ends first, and ErrStopped
// if the group stops.
func (g *Group) WaitStatus(ctx context.Context, cond func(raft.Status) bool) (raft.Status, error) {
	if cond == nil {
		return g.Status(), errNilCondition
	}
	for {
		st, changed := g.watchStatus()
		if cond(st) {
			return st, nil
		}
		select {
		case <-changed:
		case <-ctx.Done():
			return st, ctx.Err()
		case <-g.loopDone:
			return g.Status(), ErrStopped
		}
	}
}

var errNilCondition = errors.New("host: WaitStatus needs a condition (cond is nil)")

// WaitLeader waits until the group knows a leader for its current term
// (itself, perhaps) and returns its ID: what a caller needs before its
// first proposal, instead of retrying on NotLeaderError.
func (g *Group) WaitLeader(ctx context.Context) (raft.NodeID, error) {
	st, err := g.WaitStatus(ctx, func(st raft.Status) bool { return st.Leader != raft.None })
	return st.Leader, err
}

// watchStatus returns the published status and a channel closed when the
// next different status is published. The channel exists only while
// somebody waits, so a loop iteration with no waiter costs nothing.
func (g *Group) watchStatus() (raft.Status, <-chan struct{}) {
	g.statusMu.Lock()
	defer g.statusMu.Unlock()
	if g.statusChanged == nil {
		g.statusChanged = make(chan struct{})
	}
	return g.status, g.statusChanged
}

// setStatus publishes st, waking the waiters if it differs from the last.
// Called by the node loop only.
func (g *Group) setStatus(st raft.Status) {
	g.statusMu.Lock()
	defer g.statusMu.Unlock()
	if st == g.status {
		return
	}
	g.status = st
	if g.statusChanged != nil {
		close(g.statusChanged)
		g.statusChanged = nil
	}
}
