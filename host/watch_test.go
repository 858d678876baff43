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
				_, _, changed := g.watchStatus()
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
	// Once the election is over every member names the same leader, and
	// that leader knows itself as one.
	c.await("every member to name one leader", func() bool {
		var lead raft.NodeID
		for _, h := range c.hosts {
			st := g1(h).Status()
			if st.Leader == raft.None || (lead != raft.None && st.Leader != lead) {
				return false
			}
			lead = st.Leader
		}
		return g1(c.hosts[lead]).Status().Role == raft.RoleLeader
	})
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

// heldLoop holds group g's node loop inside one batch of inputs, so that
// inputs queued behind the holding one run together, and the status is
// published only when the batch ends.
type heldLoop struct {
	t        *testing.T
	g        *Group
	ctx      context.Context
	deadline time.Time
	release  func()
}

func holdLoop(t *testing.T, ctx context.Context, g *Group) *heldLoop {
	first, holding := make(chan struct{}), make(chan struct{})
	go g.do(ctx, func() { close(holding); <-first })
	<-holding
	return &heldLoop{t: t, g: g, ctx: ctx, deadline: time.Now().Add(10 * time.Second), release: func() { close(first) }}
}

// until spins until cond holds; a deadline turns a hang into a failure.
func (l *heldLoop) until(what string, cond func() bool) {
	l.t.Helper()
	for !cond() {
		if time.Now().After(l.deadline) {
			l.t.Fatalf("timed out waiting for %s", what)
		}
		runtime.Gosched()
	}
}

// queue starts call, which must queue one input on the loop, and returns
// once that input is queued.
func (l *heldLoop) queue(what string, call func()) {
	l.t.Helper()
	n := len(l.g.opc)
	go call()
	l.until(what+" to be queued", func() bool { return len(l.g.opc) > n })
}

type transferResult struct {
	to  raft.NodeID
	err error
}

// TransferLeadership judges the transfer by statuses published after it
// began. The node loop publishes a status only at the end of a batch of
// inputs, so right after the transfer's own input the published status
// may still be the one from before it — no transferee, still leader,
// which is also what an abandoned transfer looks like. Here the loop is
// held inside the same batch, just after the transfer's input, so that
// stale status is all there is to see until the batch ends.
func TestTransferLeadershipIgnoresStatusFromBeforeIt(t *testing.T) {
	c := newCluster(t, 3, func(cfg *Config) { cfg.CorruptCheckInterval = 0 })
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
	held := holdLoop(t, ctx, g)
	// Forget the channel the awaits above left: the next one made is the
	// transfer's, when it first looks at the status.
	g.statusMu.Lock()
	g.statusPublished = nil
	g.statusMu.Unlock()
	done := make(chan transferResult, 1)
	held.queue("the transfer", func() {
		got, err := g.TransferLeadership(ctx, to)
		done <- transferResult{got, err}
	})
	second := make(chan struct{})
	held.queue("a second hold", func() { g.do(ctx, func() { <-second }) })
	held.release()
	// The transfer's input has run once the second hold is taken; then
	// wait until TransferLeadership has looked at the (stale) status.
	held.until("the batch to take every input", func() bool { return len(g.opc) == 0 })
	held.until("TransferLeadership to look at the status", func() bool {
		g.statusMu.Lock()
		defer g.statusMu.Unlock()
		return g.statusPublished != nil || len(done) > 0
	})
	close(second)
	if r := <-done; r.err != nil || r.to != to {
		t.Fatalf("TransferLeadership = (%d, %v), want (%d, nil): it judged the transfer by the status from before it began", r.to, r.err, to)
	}
}

// A transfer that is abandoned in the very batch it began — here its
// target is down and an election timeout of ticks runs in the same batch
// (thesis §3.10: the leader gives up after an election timeout) — never
// shows a transferee in any published status. TransferLeadership must
// still return, saying the transfer was abandoned, rather than wait for a
// transferee to appear until its context ends.
func TestTransferLeadershipAbandonedInItsOwnBatch(t *testing.T) {
	c := newCluster(t, 3, func(cfg *Config) { cfg.CorruptCheckInterval = 0 })
	lead := c.leader()
	to := c.follower(lead).ID()
	g := g1(lead)
	// Settle first, so that the leader has heard from both followers and
	// the third member keeps its quorum through the ticks below.
	add(t, lead, 1)
	for _, h := range c.hosts {
		gwait(t, g1(h), 1)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	held := holdLoop(t, ctx, g)
	c.stop(to)
	done := make(chan transferResult, 1)
	held.queue("the transfer", func() {
		got, err := g.TransferLeadership(ctx, to)
		done <- transferResult{got, err}
	})
	held.queue("an election timeout of ticks", func() {
		g.do(ctx, func() {
			for range lead.cfg.ElectionTicks + 1 {
				g.node.Tick()
			}
		})
	})
	held.release()
	r := <-done
	switch {
	case errors.Is(r.err, context.DeadlineExceeded):
		t.Fatalf("TransferLeadership waited until its context ended for a transfer abandoned in its own batch")
	case r.err == nil && g.Status().Role == raft.RoleLeader:
		t.Fatalf("TransferLeadership reported success, but node %d still leads", lead.ID())
	case r.err != nil && !strings.Contains(r.err.Error(), "abandoned"):
		t.Fatalf("TransferLeadership: %v, want the transfer reported abandoned", r.err)
	}
}

// waitingForLeader waits until WaitLeader, running on another goroutine
// and reporting on done, waits on g's status; it fails if WaitLeader
// returned instead, as no leader can be elected yet.
func waitingForLeader(t *testing.T, g *Group, done chan error) {
	t.Helper()
	for deadline := time.Now().Add(10 * time.Second); ; runtime.Gosched() {
		g.statusMu.Lock()
		waiting := g.statusPublished != nil
		g.statusMu.Unlock()
		switch {
		case waiting:
			return
		case len(done) > 0:
			t.Fatalf("WaitLeader returned while no leader could be elected: %v", <-done)
		case time.Now().After(deadline):
			t.Fatal("WaitLeader neither returned nor waited")
		}
	}
}

// While a group knows no leader (here one host of three is up, so none
// can be elected), a proposal and a linearizable or lease read fail at
// once with a NotLeaderError naming none — a node cut off from a quorum
// must not keep its clients waiting — and change nothing: the refused
// proposal is never applied. WaitLeader waits for the election instead,
// and the same calls then succeed (§5.2: a leader is elected once a
// majority is up).
func TestNoLeaderFailsAtOnceAndWaitLeaderWaits(t *testing.T) {
	c, startRest := newPartialCluster(t, 3, 1, func(cfg *Config) { cfg.CorruptCheckInterval = 0 })
	g := g1(c.hosts[1])
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	var nl *NotLeaderError
	if _, err := g.Propose(ctx, binary.BigEndian.AppendUint64(nil, 5)); !errors.As(err, &nl) || nl.Leader != raft.None {
		t.Fatalf("proposal with no leader: %v, want a NotLeaderError naming none", err)
	}
	for _, cons := range []Consistency{Linearizable, Lease} {
		if _, err := g.Read(ctx, cons, nil); !errors.As(err, &nl) || nl.Leader != raft.None {
			t.Fatalf("%s read with no leader: %v, want a NotLeaderError naming none", cons, err)
		}
	}
	done := make(chan error, 1)
	go func() {
		_, err := g.WaitLeader(ctx)
		done <- err
	}()
	waitingForLeader(t, g, done)
	startRest()
	if err := <-done; err != nil {
		t.Fatalf("WaitLeader: %v", err)
	}
	res, err := g.Propose(ctx, binary.BigEndian.AppendUint64(nil, 7))
	if err != nil {
		t.Fatalf("proposal once a leader is known: %v", err)
	}
	// Only the proposal made with a leader counts: the refused one was
	// never appended.
	if got := binary.BigEndian.Uint64(res.Data); got != 7 {
		t.Fatalf("sum after a refused 5 and an accepted 7: %d, want 7", got)
	}
	for _, cons := range []Consistency{Linearizable, Lease} {
		if out, err := g.Read(ctx, cons, nil); err != nil || binary.BigEndian.Uint64(out) != 7 {
			t.Fatalf("%s read once a leader is known: %x, %v", cons, out, err)
		}
	}
}
