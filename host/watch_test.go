package host

import (
	"context"
	"encoding/binary"
	"errors"
	"reflect"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/pureraft/raft"
)

// await waits until cond holds: it evaluates cond now and again each time
// a group on one of the cluster's hosts publishes a new status, so a test
// waits on the node loops' own events instead of sleeping. cond should
// depend on group statuses (or on what changes with them).
func (c *cluster) await(what string, cond func() bool) {
	c.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	for {
		// Take the change channels before looking, so a change after
		// the look still wakes the wait.
		cases := []reflect.SelectCase{{Dir: reflect.SelectRecv, Chan: reflect.ValueOf(ctx.Done())}}
		for _, h := range c.hosts {
			for _, g := range h.allGroups() {
				_, changed := g.watchStatus()
				cases = append(cases, reflect.SelectCase{Dir: reflect.SelectRecv, Chan: reflect.ValueOf(changed)})
			}
		}
		if cond() {
			return
		}
		if chosen, _, _ := reflect.Select(cases); chosen == 0 {
			c.t.Fatalf("timed out waiting for %s", what)
		}
	}
}

// awaitQuiescent waits until every replica of every group in the cluster
// is quiescent.
func (c *cluster) awaitQuiescent() {
	c.t.Helper()
	c.await("every replica of every group to go quiescent", func() bool {
		for _, h := range c.hosts {
			for _, g := range h.allGroups() {
				if !g.Status().Quiescent {
					return false
				}
			}
		}
		return true
	})
}

// WaitLeader returns, on every member, the leader the election made (§5.2:
// at most one leader per term, and every member learns it from its
// heartbeats), without the caller retrying anything.
func TestWaitLeaderReturnsTheElectedLeader(t *testing.T) {
	c := newCluster(t, 3, nil)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	for _, h := range c.hosts {
		lead, err := g1(h).WaitLeader(ctx)
		if err != nil {
			t.Fatalf("node %d: %v", h.ID(), err)
		}
		if c.hosts[lead] == nil {
			t.Fatalf("node %d: WaitLeader returned %d, not a member", h.ID(), lead)
		}
	}
	lead := c.leader()
	st, err := g1(lead).WaitStatus(ctx, func(st raft.Status) bool { return st.Leader == lead.ID() })
	if err != nil || st.Role != raft.RoleLeader {
		t.Fatalf("the leader's own status: %+v, %v", st, err)
	}
	// Once the cluster is stable every member names the same leader.
	for _, h := range c.hosts {
		if st, err := g1(h).WaitStatus(ctx, func(st raft.Status) bool { return st.Leader == lead.ID() }); err != nil {
			t.Fatalf("node %d never names leader %d (status %+v): %v", h.ID(), lead.ID(), st, err)
		}
	}
}

// WaitStatus refuses a nil condition with a clear error, and gives up with
// the context's error, and with ErrStopped once the group's node loop has
// ended, rather than waiting for ever.
func TestWaitStatusEndsWithContextOrStop(t *testing.T) {
	c := newCluster(t, 1, nil)
	g := g1(c.hosts[1])
	if _, err := g.WaitStatus(context.Background(), nil); err == nil || !strings.Contains(err.Error(), "cond is nil") {
		t.Fatalf("nil condition: err %v, want one naming the nil cond", err)
	}
	never := func(raft.Status) bool { return false }
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, err := g.WaitStatus(ctx, never); !errors.Is(err, context.Canceled) {
		t.Fatalf("cancelled context: err %v, want context.Canceled", err)
	}
	done := make(chan error, 1)
	go func() {
		_, err := g.WaitStatus(context.Background(), never)
		done <- err
	}()
	c.stop(1)
	if err := <-done; !errors.Is(err, ErrStopped) {
		t.Fatalf("stopped group: err %v, want ErrStopped", err)
	}
}

// TransferLeadership returns once the leader has stepped down in favour
// of the target (thesis §3.10), and names it; the target then leads.
func TestTransferLeadershipWaitsForTheHandOver(t *testing.T) {
	c := newCluster(t, 3, nil)
	lead := c.leader()
	to := c.follower(lead).ID()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	c.await("every member to know the leader", func() bool {
		for _, h := range c.hosts {
			if g1(h).Status().Leader != lead.ID() {
				return false
			}
		}
		return true
	})
	got, err := g1(lead).TransferLeadership(ctx, to)
	if err != nil {
		t.Fatal(err)
	}
	if got != to {
		t.Fatalf("TransferLeadership returned %d, want %d", got, to)
	}
	if st := g1(lead).Status(); st.Role == raft.RoleLeader {
		t.Fatalf("old leader still leads after TransferLeadership returned: %+v", st)
	}
	if _, err := g1(c.hosts[to]).WaitStatus(ctx, func(st raft.Status) bool { return st.Role == raft.RoleLeader }); err != nil {
		t.Fatalf("node %d never took over: %v", to, err)
	}
}

// TransferLeadership judges the transfer by statuses published after it
// began. The node loop publishes a status only at the end of a batch of
// inputs, so right after the transfer's own input the published status
// may still be the one from before it — no transferee, still leader,
// which is also what an abandoned transfer looks like. Here the loop is
// held inside the same batch, just after the transfer's input, so that
// stale status is all there is to see until the batch ends.
func TestTransferLeadershipIgnoresStatusFromBeforeIt(t *testing.T) {
	c := newCluster(t, 3, nil)
	lead := c.leader()
	to := c.follower(lead).ID()
	g := g1(lead)
	c.await("every member to know the leader", func() bool {
		for _, h := range c.hosts {
			if g1(h).Status().Leader != lead.ID() {
				return false
			}
		}
		return true
	})
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	// Hold the loop in one input, queue the transfer behind it, then a
	// second hold behind the transfer: the loop takes all three in one
	// batch, and the status stays unpublished while the second holds.
	first, second := make(chan struct{}), make(chan struct{})
	holding := make(chan struct{})
	go g.do(ctx, func() { close(holding); <-first })
	<-holding
	// Forget the channel the awaits above left: the next one made is the
	// transfer's, when it first looks at the status.
	g.statusMu.Lock()
	g.statusChanged = nil
	g.statusMu.Unlock()
	type result struct {
		to  raft.NodeID
		err error
	}
	done := make(chan result, 1)
	go func() {
		got, err := g.TransferLeadership(ctx, to)
		done <- result{got, err}
	}()
	for len(g.opc) < 1 { // the transfer's input is queued
		runtime.Gosched()
	}
	go g.do(ctx, func() { <-second })
	for len(g.opc) < 2 {
		runtime.Gosched()
	}
	close(first)
	// The transfer's input has run once the second hold is taken; then
	// wait until TransferLeadership has looked at the (stale) status.
	for len(g.opc) > 0 {
		runtime.Gosched()
	}
	for looked := false; !looked && len(done) == 0; runtime.Gosched() {
		g.statusMu.Lock()
		looked = g.statusChanged != nil
		g.statusMu.Unlock()
	}
	close(second)
	if r := <-done; r.err != nil || r.to != to {
		t.Fatalf("TransferLeadership = (%d, %v), want (%d, nil): it judged the transfer by the status from before it began", r.to, r.err, to)
	}
}

// A linearizable or lease read made while the group knows no leader (here
// before the first election) waits for one and is served, instead of
// failing with "no leader known" while the client's deadline allows the
// wait; the read index still comes from the leader (thesis §6.4).
func TestReadDuringElectionWaitsForLeader(t *testing.T) {
	for _, c := range []Consistency{Linearizable, Lease} {
		cl := newCluster(t, 3, nil)
		h := cl.hosts[1]
		if st := g1(h).Status(); st.Leader != raft.None {
			t.Skipf("a leader (%d) was known before the read: nothing to check", st.Leader)
		}
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		out, err := g1(h).Read(ctx, c, nil)
		cancel()
		if err != nil {
			t.Fatalf("%s read before the first election: %v", c, err)
		}
		if len(out) != 8 {
			t.Fatalf("%s read returned %x", c, out)
		}
	}
}

// A proposal made while the group knows no leader (before the first
// election) is refused by the node without being appended or forwarded,
// so the host makes it again once a leader is known, and it commits once:
// the caller sees one result, and the counter adds the value once.
func TestProposeDuringElectionWaitsForLeader(t *testing.T) {
	c := newCluster(t, 3, nil)
	h := c.hosts[2]
	if st := g1(h).Status(); st.Leader != raft.None {
		t.Skipf("a leader (%d) was known before the proposal: nothing to check", st.Leader)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	res, err := g1(h).Propose(ctx, binary.BigEndian.AppendUint64(nil, 5))
	if err != nil {
		t.Fatalf("proposal before the first election: %v", err)
	}
	if got := binary.BigEndian.Uint64(res.Data); got != 5 {
		t.Fatalf("sum after one proposal of 5: %d", got)
	}
	for _, h := range c.hosts {
		gwait(t, g1(h), 5)
	}
}
