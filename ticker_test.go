package raft

import (
	"fmt"
	"math"
	"slices"
	"testing"

	"github.com/google/go-cmp/cmp"
	"pgregory.net/rapid"
)

// tickerWorld is a cluster whose nodes are ticked either one by one with
// Node.Tick or all together by one Ticker; otherwise it is driven by hand
// like testNet: messages wait in a queue, persists wait until acknowledged.
type tickerWorld struct {
	ticker  *Ticker // nil: Node.Tick on each node
	cfg     func(NodeID) Config
	ids     []NodeID
	nodes   map[NodeID]*Node
	storage map[NodeID]*memStorage
	applied map[NodeID]Index
	pending map[NodeID][]Persist
	queue   []Message
	// log is every action and every error, in order, for comparison.
	log []string
}

// fataler is what the worlds need of *testing.T and *rapid.T.
type fataler interface{ Fatal(args ...any) }

func newTickerWorld(t fataler, useTicker bool, ids []NodeID, base Config) *tickerWorld {
	w := &tickerWorld{ids: ids, nodes: map[NodeID]*Node{}, storage: map[NodeID]*memStorage{},
		applied: map[NodeID]Index{}, pending: map[NodeID][]Persist{}}
	if useTicker {
		w.ticker = NewTicker()
	}
	w.cfg = func(id NodeID) Config {
		c := base
		c.ID, c.Seed, c.Ticker = id, 7, w.ticker
		return c
	}
	for _, id := range ids {
		n, err := Bootstrap(w.cfg(id), ids)
		if err != nil {
			t.Fatal(err)
		}
		w.nodes[id], w.storage[id] = n, &memStorage{}
	}
	return w
}

func (w *tickerWorld) note(format string, args ...any) {
	w.log = append(w.log, fmt.Sprintf(format, args...))
}

func (w *tickerWorld) tick() {
	if w.ticker != nil {
		// A node the Ticker does not report ticked must not have gained
		// actions: hosts collect actions from the reported ones only.
		idle := map[NodeID]bool{}
		for _, id := range w.ids {
			idle[id] = !w.nodes[id].HasActions()
		}
		ticked := w.ticker.Tick()
		for _, id := range w.ids {
			if n := w.nodes[id]; idle[id] && n.HasActions() && !slices.Contains(ticked, n) {
				w.note("node %d gained actions from a tick that did not report it", id)
			}
		}
		return
	}
	for _, id := range w.ids {
		w.nodes[id].Tick()
	}
}

// collect takes every node's actions, in ID order, and records them.
func (w *tickerWorld) collect() {
	for _, id := range w.ids {
		n := w.nodes[id]
		for _, a := range n.Actions() {
			w.note("%d: %v", id, a)
			switch a.Kind {
			case ActionPersist:
				w.pending[id] = append(w.pending[id], clonePersist(a.Persist))
			case ActionSend, ActionSendSnapshot:
				w.queue = append(w.queue, cloneMessage(a.Message))
			case ActionApply:
				if a.Apply.Snapshot != nil {
					w.applied[id] = a.Apply.Snapshot.Index
				}
				if k := len(a.Apply.Entries); k > 0 {
					w.applied[id] = a.Apply.Entries[k-1].Index
				}
			}
		}
		w.note("%d: %+v", id, n.Status())
	}
}

func (w *tickerWorld) ack(id NodeID) {
	ps := w.pending[id]
	if len(ps) == 0 {
		return
	}
	for _, p := range ps {
		w.storage[id].apply(p)
	}
	w.pending[id] = nil
	w.note("ack %d: %v", id, w.nodes[id].AckPersist(ps[len(ps)-1].ID))
}

func (w *tickerWorld) restart(t fataler, id NodeID) {
	if w.ticker != nil {
		w.ticker.Remove(w.nodes[id])
	}
	w.pending[id] = nil
	n, err := NewNode(w.cfg(id), w.storage[id].state(w.applied[id]))
	if err != nil {
		t.Fatal(err)
	}
	w.nodes[id] = n
}

// deliverAt steps the queued message at i into its recipient.
func (w *tickerWorld) deliverAt(i int) {
	m := w.queue[i]
	w.queue = slices.Delete(w.queue, i, i+1)
	w.note("step %v: %v", m, w.nodes[m.To].Step(m))
}

// loseAt drops the queued message at i.
func (w *tickerWorld) loseAt(i int) { w.queue = slices.Delete(w.queue, i, i+1) }

func (w *tickerWorld) propose(id NodeID, data []byte) {
	i, tm, err := w.nodes[id].Propose(data)
	w.note("propose %d: %d %d %v", id, i, tm, err)
}

// read starts read rid at id, by lease or by ReadIndex.
func (w *tickerWorld) read(id NodeID, rid uint64, lease bool) {
	if lease {
		w.note("lease read %d: %v", id, w.nodes[id].LeaseRead(rid))
	} else {
		w.note("read %d: %v", id, w.nodes[id].ReadIndex(rid))
	}
}

func clonePersist(p Persist) Persist {
	c := p
	c.Entries = append([]Entry(nil), p.Entries...)
	if p.Snapshot != nil {
		s := *p.Snapshot
		c.Snapshot = &s
	}
	return c
}

func cloneMessage(m Message) Message {
	c := m
	c.Entries = append([]Entry(nil), m.Entries...)
	return c
}

// TestTickerMatchesPerNodeTicks checks the Ticker's promise (ticker.go): a
// node it drives does exactly what it would do if Node.Tick were called on
// it once per Ticker.Tick — the same actions at the same ticks, whatever
// else happens to it. Two copies of one cluster get the same random inputs
// (ticks, deliveries, losses, proposals, reads, persists, wake-ups,
// campaigns, transfers, compactions, restarts), one ticked node by node and
// one by a Ticker, and every action, error and status must agree.
func TestTickerMatchesPerNodeTicks(t *testing.T) {
	rapid.Check(t, func(t *rapid.T) {
		size := rapid.IntRange(1, 5).Draw(t, "voters")
		ids := make([]NodeID, size)
		for i := range ids {
			ids[i] = NodeID(i + 1)
		}
		base := Config{
			ElectionTicks:      rapid.IntRange(3, 12).Draw(t, "election"),
			DisablePreVote:     rapid.Bool().Draw(t, "noPreVote"),
			DisableCheckQuorum: rapid.Bool().Draw(t, "noCheckQuorum"),
			QuiesceAfterTicks:  rapid.SampledFrom([]int{0, 0, 4, 20}).Draw(t, "quiesce"),
		}
		base.HeartbeatTicks = rapid.IntRange(1, max(1, base.ElectionTicks/3)).Draw(t, "heartbeat")
		if !base.DisableCheckQuorum {
			base.EnableLeaseReads = rapid.Bool().Draw(t, "lease")
		}
		plain := newTickerWorld(t, false, ids, base)
		ticked := newTickerWorld(t, true, ids, base)
		worlds := []*tickerWorld{plain, ticked}
		node := rapid.SampledFrom(ids)
		steps := rapid.IntRange(1, 120).Draw(t, "steps")
		for step := range steps {
			op := rapid.IntRange(0, 12).Draw(t, "op")
			id := node.Draw(t, "node")
			switch op {
			case 0, 1, 2: // a stretch of ticks, long enough to time out
				k := rapid.IntRange(1, 3*base.ElectionTicks).Draw(t, "ticks")
				// Then one node's status alone: no other call has
				// caught it up with its Ticker.
				look := node.Draw(t, "look")
				for _, w := range worlds {
					for range k {
						w.tick()
					}
					w.note("%d after %d ticks: %+v", look, k, w.nodes[look].Status())
				}
			case 3, 4: // deliver one message
				if len(plain.queue) == 0 {
					continue
				}
				i := rapid.IntRange(0, len(plain.queue)-1).Draw(t, "msg")
				for _, w := range worlds {
					w.deliverAt(i)
				}
			case 5: // lose one message
				if len(plain.queue) == 0 {
					continue
				}
				i := rapid.IntRange(0, len(plain.queue)-1).Draw(t, "lost")
				for _, w := range worlds {
					w.loseAt(i)
				}
			case 6:
				for _, w := range worlds {
					w.ack(id)
				}
			case 7:
				data := []byte{byte(step)}
				for _, w := range worlds {
					w.propose(id, data)
				}
			case 8:
				lease := base.EnableLeaseReads && rapid.Bool().Draw(t, "leaseRead")
				for _, w := range worlds {
					w.read(id, uint64(step), lease)
				}
			case 9:
				// One call at a time, so that each call must reschedule
				// the node by itself.
				switch what, to := rapid.IntRange(0, 3).Draw(t, "call"), node.Draw(t, "to"); what {
				case 0:
					for _, w := range worlds {
						w.nodes[id].Wake()
					}
				case 1:
					for _, w := range worlds {
						w.note("campaign %d: %v", id, w.nodes[id].Campaign())
					}
				case 2:
					for _, w := range worlds {
						w.note("transfer %d to %d: %v", id, to, w.nodes[id].TransferLeadership(to))
					}
				case 3:
					for _, w := range worlds {
						got, err := w.nodes[id].TransferToBestVoter()
						w.note("transfer %d to best: %v %v", id, got, err)
					}
				}
			case 10:
				for _, w := range worlds {
					_, err := w.nodes[id].Compact(w.applied[id], 2)
					w.note("compact %d at %d: %v", id, w.applied[id], err)
				}
			case 11:
				for _, w := range worlds {
					w.restart(t, id)
				}
			case 12: // a round trip: every persist acknowledged, every message delivered
				for _, w := range worlds {
					for _, to := range ids {
						w.ack(to)
					}
					queued := w.queue
					w.queue = nil
					for _, m := range queued {
						w.note("step %v: %v", m, w.nodes[m.To].Step(m))
					}
				}
			}
			// Collecting actions is a method call like any other, and
			// reschedules the node: skip it at times, so that a method
			// that forgets to reschedule shows.
			if step == steps-1 || rapid.Bool().Draw(t, "collect") {
				for _, w := range worlds {
					w.collect()
				}
			}
			if d := cmp.Diff(plain.log, ticked.log); d != "" {
				t.Fatalf("after step %d (op %d on node %d) the ticked cluster differs (-Node.Tick +Ticker):\n%s", step, op, id, d)
			}
		}
		if ticked.ticker.Len() != size {
			t.Fatalf("the Ticker drives %d nodes, want %d", ticked.ticker.Len(), size)
		}
	})
}

// TestTickerTouchesOnlyDueNodes checks that the Ticker saves what it exists
// to save: a quiescent group's node is touched about once per
// trimPeriodTicks, an awake follower's about once per election timeout,
// not on every tick.
func TestTickerTouchesOnlyDueNodes(t *testing.T) {
	tk := NewTicker()
	cfg := Config{ID: 1, Ticker: tk, ElectionTicks: 10}
	// A follower of a three-voter group (2 and 3 are elsewhere), so it
	// never wins an election on its own.
	n, err := NewNode(cfg, PersistentState{Snapshot: SnapshotMeta{Membership: Membership{Voters: []NodeID{1, 2, 3}}}})
	if err != nil {
		t.Fatal(err)
	}
	fired := 0
	for range 1000 {
		before := n.ticks
		tk.Tick()
		if n.ticks != before {
			fired++
		}
	}
	// The follower campaigns every 10–19 ticks and is touched for each
	// trim: at most 1000/10 + 1000/64 + 1 ticks of 1000 touch it.
	if limit := 1000/10 + 1000/trimPeriodTicks + 1; fired > limit {
		t.Errorf("the node was touched on %d of 1000 ticks, want at most %d", fired, limit)
	}
	if fired == 0 {
		t.Error("the node was never touched: its elections did not run")
	}
	n.tickerSync()
	if n.ticks != 1000 {
		t.Errorf("after 1000 ticks and a sync the node counted %d", n.ticks)
	}
}

// TestTickerTickOnDrivenNodePanics: calling Node.Tick on a node a Ticker
// drives would count a tick twice, so it is refused loudly; once removed,
// the node is the caller's to tick again.
func TestTickerTickOnDrivenNodePanics(t *testing.T) {
	tk := NewTicker()
	n, err := Bootstrap(Config{ID: 1, Ticker: tk}, []NodeID{1})
	if err != nil {
		t.Fatal(err)
	}
	func() {
		defer func() {
			if recover() == nil {
				t.Error("Node.Tick on a Ticker's node did not panic")
			}
		}()
		n.Tick()
	}()
	tk.Remove(n)
	if tk.Len() != 0 {
		t.Errorf("after Remove the Ticker drives %d nodes", tk.Len())
	}
	n.Tick() // must not panic
	tk.Remove(n)
	if tk.Len() != 0 {
		t.Error("removing a node twice changed the Ticker")
	}
}

// TestTickerElectionCounterSaturates: quiet ticks counted in bulk saturate
// the election counter as single ticks do (TestElectionCounterSaturates).
func TestTickerElectionCounterSaturates(t *testing.T) {
	var n Node
	n.electionElapsed = math.MaxInt32 - 3
	n.quietTicks(10)
	if n.electionElapsed != math.MaxInt32 {
		t.Errorf("electionElapsed = %d after bulk ticks past the limit, want %d", n.electionElapsed, int32(math.MaxInt32))
	}
}

// TestTickerReleasesIdleBuffers: a node driven by a Ticker lets go of its
// scratch buffers within trimPeriodTicks ticks of going idle, as one
// ticked by Node.Tick does (TestIdleBuffersReleased) — without any method
// call to catch it up, since an idle group may see none for hours.
func TestTickerReleasesIdleBuffers(t *testing.T) {
	tk := NewTicker()
	// Quiescent once idle, so that nothing but the buffers' release
	// makes the node due.
	n, err := Bootstrap(Config{ID: 1, Ticker: tk, QuiesceAfterTicks: 2}, []NodeID{1})
	if err != nil {
		t.Fatal(err)
	}
	drain := func() {
		for n.HasActions() {
			for _, a := range n.Actions() {
				if a.Kind == ActionPersist {
					if err := n.AckPersist(a.Persist.ID); err != nil {
						t.Fatal(err)
					}
				}
			}
		}
	}
	for n.Status().Role != RoleLeader {
		tk.Tick()
		drain()
	}
	for i := range 100 {
		if _, _, err := n.Propose([]byte{byte(i)}); err != nil {
			t.Fatal(err)
		}
	}
	drain()
	for !n.Quiescent() {
		tk.Tick()
		drain()
	}
	if n.actions == nil {
		t.Fatal("no action buffer after a burst: the test shows nothing")
	}
	for range trimPeriodTicks {
		tk.Tick()
	}
	if n.actions != nil || n.persist.records != nil {
		t.Errorf("after %d idle ticks the node keeps buffers: actions %d, records %d", trimPeriodTicks, cap(n.actions), cap(n.persist.records))
	}
}

// settle acknowledges every persist and delivers every message until the
// cluster is quiet, ticking once per round, at most rounds times.
func (w *tickerWorld) settle(rounds int) {
	for range rounds {
		w.collect()
		for _, id := range w.ids {
			w.ack(id)
		}
		queued := w.queue
		w.queue = nil
		for _, m := range queued {
			w.note("step %v: %v", m, w.nodes[m.To].Step(m))
		}
		w.tick()
	}
	w.collect()
}

// TestTickerWokenGroupTimesOutOnTime: a quiescent group woken by Wake runs
// its timers from that tick on — the leader heartbeats again, a follower
// left alone campaigns when its election timeout expires (§5.2) — on the
// same ticks whether a Ticker drives it or Node.Tick does, with no other
// call to the nodes in between.
func TestTickerWokenGroupTimesOutOnTime(t *testing.T) {
	for _, woken := range []NodeID{1, 2} {
		t.Run(fmt.Sprintf("wake=%d", woken), func(t *testing.T) {
			ids := []NodeID{1, 2, 3}
			base := Config{ElectionTicks: 10, QuiesceAfterTicks: 4}
			worlds := []*tickerWorld{newTickerWorld(t, false, ids, base), newTickerWorld(t, true, ids, base)}
			for _, w := range worlds {
				w.settle(1)
				w.note("campaign: %v", w.nodes[1].Campaign())
				w.settle(30)
				if !w.nodes[1].Quiescent() || !w.nodes[2].Quiescent() || w.nodes[1].Status().Role != RoleLeader {
					t.Fatalf("the group did not settle into a quiescent one led by 1: %+v", w.nodes[1].Status())
				}
				w.nodes[woken].Wake()
				for range 3 * base.ElectionTicks {
					w.tick()
				}
				w.collect()
			}
			if d := cmp.Diff(worlds[0].log, worlds[1].log); d != "" {
				t.Fatalf("the ticked cluster differs (-Node.Tick +Ticker):\n%s", d)
			}
		})
	}
}
