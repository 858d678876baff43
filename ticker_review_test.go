package raft

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"testing"

	"github.com/google/go-cmp/cmp"
	"pgregory.net/rapid"
)

// This file widens TestTickerMatchesPerNodeTicks to what it leaves out:
// membership changes (learners, witnesses, removals, joint
// configurations), nodes that join empty, snapshot reports, the read-only
// calls (which catch a node up but do not reschedule it), nodes taken off
// their Ticker and ticked by hand, and Remove called with a foreign Ticker.

// newReviewWorld is a tickerWorld whose first voters nodes are bootstrapped
// and whose others join empty, to be added by membership changes.
func newReviewWorld(t fataler, useTicker bool, ids []NodeID, voters int, base Config) *tickerWorld {
	w := newTickerWorld(t, useTicker, ids[:voters], base)
	w.ids = ids
	for _, id := range ids[voters:] {
		n, err := NewNode(w.cfg(id), PersistentState{})
		if err != nil {
			t.Fatal(err)
		}
		w.nodes[id], w.storage[id] = n, &memStorage{}
	}
	return w
}

// TestTickerMatchesPerNodeTicksWithMembership is
// TestTickerMatchesPerNodeTicks with membership changes and the calls it
// does not make: a node's ticks do different things as it becomes a
// learner, a witness, a removed voter or a voter again (promotable), and a
// Ticker must reschedule it at each such change.
func TestTickerMatchesPerNodeTicksWithMembership(t *testing.T) {
	rapid.Check(t, func(t *rapid.T) {
		size := rapid.IntRange(2, 5).Draw(t, "nodes")
		voters := rapid.IntRange(1, size).Draw(t, "voters")
		ids := make([]NodeID, size)
		for i := range ids {
			ids[i] = NodeID(i + 1)
		}
		base := Config{
			ElectionTicks:             rapid.IntRange(3, 12).Draw(t, "election"),
			DisablePreVote:            rapid.Bool().Draw(t, "noPreVote"),
			DisableCheckQuorum:        rapid.Bool().Draw(t, "noCheckQuorum"),
			DisableProposalForwarding: rapid.Bool().Draw(t, "noForwarding"),
			QuiesceAfterTicks:         rapid.SampledFrom([]int{0, 0, 4, 20}).Draw(t, "quiesce"),
		}
		base.HeartbeatTicks = rapid.IntRange(1, max(1, base.ElectionTicks/3)).Draw(t, "heartbeat")
		if !base.DisableCheckQuorum {
			base.EnableLeaseReads = rapid.Bool().Draw(t, "lease")
			if base.EnableLeaseReads {
				base.MaxClockDriftTicks = rapid.IntRange(0, base.ElectionTicks-1).Draw(t, "drift")
			}
		}
		plain := newReviewWorld(t, false, ids, voters, base)
		ticked := newReviewWorld(t, true, ids, voters, base)
		worlds := []*tickerWorld{plain, ticked}
		// manual: nodes of the ticked world taken off its Ticker and ticked
		// by hand from then on.
		manual := map[NodeID]bool{}
		tick := func(w *tickerWorld) {
			if w.ticker == nil {
				w.tick()
				return
			}
			w.ticker.Tick()
			for _, id := range w.ids {
				if manual[id] {
					w.nodes[id].Tick()
				}
			}
		}
		node := rapid.SampledFrom(ids)
		steps := rapid.IntRange(1, 150).Draw(t, "steps")
		for step := range steps {
			op := rapid.IntRange(0, 16).Draw(t, "op")
			id := node.Draw(t, "node")
			switch op {
			case 0, 1, 2:
				k := rapid.IntRange(1, 3*base.ElectionTicks).Draw(t, "ticks")
				look := node.Draw(t, "look")
				for _, w := range worlds {
					for range k {
						tick(w)
					}
					// HasActions alone catches nothing up: it must
					// agree anyway.
					w.note("%d after %d ticks: has actions %v", look, k, w.nodes[look].HasActions())
					w.note("%d: %+v", look, w.nodes[look].Status())
				}
			case 3, 4:
				if len(plain.queue) == 0 {
					continue
				}
				i := rapid.IntRange(0, len(plain.queue)-1).Draw(t, "msg")
				for _, w := range worlds {
					w.deliverAt(i)
				}
			case 5:
				for _, w := range worlds {
					w.ack(id)
				}
			case 6:
				data := []byte{byte(step)}
				for _, w := range worlds {
					w.propose(id, data)
				}
			case 7:
				lease := base.EnableLeaseReads && rapid.Bool().Draw(t, "leaseRead")
				for _, w := range worlds {
					w.read(id, uint64(step), lease)
				}
			case 8, 9: // a membership change, single or joint
				typ := ChangeType(rapid.IntRange(int(AddVoter), int(AddWitness)).Draw(t, "change"))
				who := node.Draw(t, "who")
				joint := op == 9
				auto := rapid.Bool().Draw(t, "auto")
				for _, w := range worlds {
					var i Index
					var tm Term
					var err error
					if joint {
						i, tm, err = w.nodes[id].ProposeJointMembershipChange(auto, MembershipChange{Type: typ, Node: who})
					} else {
						i, tm, err = w.nodes[id].ProposeMembershipChange(MembershipChange{Type: typ, Node: who})
					}
					w.note("change %d %v %d joint %v: %d %d %v", id, typ, who, joint, i, tm, err)
				}
			case 10:
				for _, w := range worlds {
					i, tm, err := w.nodes[id].LeaveJoint()
					w.note("leave joint %d: %d %d %v", id, i, tm, err)
				}
			case 11: // the read-only calls, each alone
				to := node.Draw(t, "of")
				switch rapid.IntRange(0, 4).Draw(t, "getter") {
				case 0:
					for _, w := range worlds {
						w.note("caught up %d %d: %v", id, to, w.nodes[id].CaughtUp(to, 1))
					}
				case 1:
					for _, w := range worlds {
						w.note("check %d: %v", id, w.nodes[id].CheckMembershipChange(1, MembershipChange{Type: RemoveMember, Node: to}))
					}
				case 2:
					for _, w := range worlds {
						p, ok := w.nodes[id].Progress(to)
						w.note("progress %d %d: %+v %v", id, to, p, ok)
					}
				case 3:
					for _, w := range worlds {
						w.nodes[id].ForEachProgress(func(o NodeID, p Progress) { w.note("progress %d %d: %+v", id, o, p) })
					}
				case 4:
					for _, w := range worlds {
						w.note("membership %d: %+v quiescent %v", id, w.nodes[id].Membership(), w.nodes[id].Quiescent())
					}
				}
			case 12:
				to := node.Draw(t, "snapTo")
				fail := rapid.Bool().Draw(t, "snapFail")
				for _, w := range worlds {
					var err error
					if fail {
						err = errSnapshotFailedForTest
					}
					w.nodes[id].ReportSnapshot(to, err)
				}
			case 13:
				for _, w := range worlds {
					_, err := w.nodes[id].Compact(w.applied[id], 1)
					w.note("compact %d at %d: %v", id, w.applied[id], err)
				}
			case 14:
				for _, w := range worlds {
					if w.ticker != nil && manual[id] {
						// Restarted: the new node is the Ticker's again.
						delete(manual, id)
					}
					w.restart(t, id)
				}
			case 15: // take a node off its Ticker: the caller ticks it
				if manual[id] {
					continue
				}
				manual[id] = true
				NewTicker().Remove(ticked.nodes[id]) // not its Ticker: nothing
				ticked.ticker.Remove(ticked.nodes[id])
			case 16:
				what, to := rapid.IntRange(0, 3).Draw(t, "call"), node.Draw(t, "to")
				for _, w := range worlds {
					switch what {
					case 0:
						w.nodes[id].Wake()
					case 1:
						w.note("campaign %d: %v", id, w.nodes[id].Campaign())
					case 2:
						w.note("transfer %d to %d: %v", id, to, w.nodes[id].TransferLeadership(to))
					case 3:
						got, err := w.nodes[id].TransferToBestVoter()
						w.note("transfer %d to best: %v %v", id, got, err)
					}
				}
			}
			if step == steps-1 || rapid.Bool().Draw(t, "collect") {
				for _, w := range worlds {
					w.collect()
				}
			}
			if d := cmp.Diff(plain.log, ticked.log); d != "" {
				t.Fatalf("after step %d (op %d on node %d) the ticked cluster differs (-Node.Tick +Ticker):\n%s", step, op, id, d)
			}
		}
		if want := size - len(manual); ticked.ticker.Len() != want {
			t.Fatalf("the Ticker drives %d nodes, want %d", ticked.ticker.Len(), want)
		}
	})
}

// errSnapshotFailedForTest is a failed snapshot transfer's report.
var errSnapshotFailedForTest = errors.New("connection reset")

// TestTickerEachCallReschedules: every call that can make a node's ticks do
// more — waking a quiescent node (a proposal, a read, a membership change,
// a transfer, a campaign), or giving a learner a forwarded read to expire —
// must reschedule the node by itself: here it is the only call between
// stretches of ticks, and the node must then act on the same ticks as one
// ticked by Node.Tick (heartbeats and check-quorum §5.2 and thesis §6.2,
// the election timer §5.2, the forwarded read's deadline thesis §6.4).
func TestTickerEachCallReschedules(t *testing.T) {
	const election = 10
	// quiet: node 1 leads 1, 2, 3 and the group is quiescent; in a joint
	// configuration (3 leaving) if joint.
	quiet := func(joint bool) func(t *testing.T, w *tickerWorld) {
		return func(t *testing.T, w *tickerWorld) {
			w.settle(1)
			w.note("campaign: %v", w.nodes[1].Campaign())
			w.settle(30)
			if joint {
				_, _, err := w.nodes[1].ProposeJointMembershipChange(false, MembershipChange{Type: RemoveMember, Node: 3})
				w.note("joint: %v", err)
				w.settle(30)
			}
			if !w.nodes[1].Quiescent() || !w.nodes[2].Quiescent() || w.nodes[1].Status().Role != RoleLeader {
				t.Fatalf("the group did not settle into a quiescent one led by 1: %+v", w.nodes[1].Status())
			}
		}
	}
	// learner: node 1 leads voters 1 and 2; 3 is an awake learner.
	learner := func(t *testing.T, w *tickerWorld) {
		w.settle(1)
		w.note("campaign: %v", w.nodes[1].Campaign())
		w.settle(30)
		_, _, err := w.nodes[1].ProposeMembershipChange(MembershipChange{Type: AddLearner, Node: 3})
		w.note("add learner: %v", err)
		w.settle(30)
		if m := w.nodes[3].Membership(); !m.IsMember(3) || m.IsVoter(3) || w.nodes[3].Status().Leader != 1 {
			t.Fatalf("3 is not a learner that knows its leader: %+v", w.nodes[3].Status())
		}
		// Just past a buffer release, which makes any node due: the
		// learner is not due again for trimPeriodTicks, long after the
		// forwarded read's deadline.
		for w.nodes[3].Status(); w.nodes[3].ticks%trimPeriodTicks != 1; w.nodes[3].Status() {
			w.tick()
		}
	}
	cases := []struct {
		name   string
		quiesc bool
		setup  func(*testing.T, *tickerWorld)
		who    NodeID
		call   func(*Node) string
	}{
		{"propose at leader", true, quiet(false), 1, func(n *Node) string { _, _, err := n.Propose([]byte("x")); return fmt.Sprint(err) }},
		{"propose at follower", true, quiet(false), 2, func(n *Node) string { _, _, err := n.Propose([]byte("x")); return fmt.Sprint(err) }},
		{"read at leader", true, quiet(false), 1, func(n *Node) string { return fmt.Sprint(n.ReadIndex(7)) }},
		{"read at follower", true, quiet(false), 2, func(n *Node) string { return fmt.Sprint(n.ReadIndex(7)) }},
		{"membership change", true, quiet(false), 1, func(n *Node) string {
			_, _, err := n.ProposeMembershipChange(MembershipChange{Type: AddLearner, Node: 4})
			return fmt.Sprint(err)
		}},
		{"joint membership change", true, quiet(false), 1, func(n *Node) string {
			_, _, err := n.ProposeJointMembershipChange(false, MembershipChange{Type: AddLearner, Node: 4})
			return fmt.Sprint(err)
		}},
		{"leave joint", true, quiet(true), 1, func(n *Node) string { _, _, err := n.LeaveJoint(); return fmt.Sprint(err) }},
		{"transfer", true, quiet(false), 1, func(n *Node) string { return fmt.Sprint(n.TransferLeadership(2)) }},
		{"transfer to best", true, quiet(false), 1, func(n *Node) string { to, err := n.TransferToBestVoter(); return fmt.Sprint(to, err) }},
		{"campaign", true, quiet(false), 2, func(n *Node) string { return fmt.Sprint(n.Campaign()) }},
		{"read at learner", false, learner, 3, func(n *Node) string { return fmt.Sprint(n.ReadIndex(7)) }},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			base := Config{ElectionTicks: election}
			if c.quiesc {
				base.QuiesceAfterTicks = 4
			}
			var worlds []*tickerWorld
			for _, ticked := range []bool{false, true} {
				w := newReviewWorld(t, ticked, []NodeID{1, 2, 3}, 2, base)
				if c.quiesc {
					w = newTickerWorld(t, ticked, []NodeID{1, 2, 3}, base)
				}
				c.setup(t, w)
				w.note("call: %s", c.call(w.nodes[c.who]))
				// Nothing but ticks until the actions are collected: the
				// call alone must have rescheduled the node.
				for range 3 * election {
					w.tick()
				}
				w.collect()
				worlds = append(worlds, w)
			}
			if d := cmp.Diff(worlds[0].log, worlds[1].log); d != "" {
				t.Fatalf("the ticked cluster differs (-Node.Tick +Ticker):\n%s", d)
			}
		})
	}
}

// TestTickerRemovedVoterCampaignsOnTime: a voter that holds its own
// removal, not yet known committed, may still campaign (thesis §4.2.2: it
// may hold the only copy the others need), so its election timer must
// fire on time under a Ticker too, though the configuration it sees no
// longer names it a voter. Here the leader 3 removes itself and is cut
// off before the removal commits: it steps down at check-quorum (thesis
// §6.2) and, a follower now, campaigns at its election timeout.
func TestTickerRemovedVoterCampaignsOnTime(t *testing.T) {
	const election = 10
	ids := []NodeID{1, 2, 3}
	var worlds []*tickerWorld
	for _, ticked := range []bool{false, true} {
		w := newTickerWorld(t, ticked, ids, Config{ElectionTicks: election})
		w.settle(1)
		w.note("campaign: %v", w.nodes[3].Campaign())
		w.settle(30)
		_, _, err := w.nodes[3].ProposeMembershipChange(MembershipChange{Type: RemoveMember, Node: 3})
		w.note("remove 3: %v", err)
		w.collect()
		w.ack(3)
		w.collect()
		w.queue = nil // cut off: the removal never commits
		for range 5 * election {
			w.tick()
		}
		w.collect()
		if s := w.nodes[3].Status(); !ticked && (w.nodes[3].Membership().IsVoter(3) || s.Commit >= s.LastIndex || s.Role == RoleFollower || s.Role == RoleLeader) {
			t.Fatalf("the test shows nothing: 3 did not campaign while holding its uncommitted removal: %+v", s)
		}
		worlds = append(worlds, w)
	}
	if d := cmp.Diff(worlds[0].log, worlds[1].log); d != "" {
		t.Fatalf("the ticked cluster differs (-Node.Tick +Ticker):\n%s", d)
	}
}

// callbackHandler is a slog.Handler that calls f on every record: a host
// whose logger looks at its groups while a Ticker ticks them.
type callbackHandler struct{ f func() }

func (h callbackHandler) Enabled(context.Context, slog.Level) bool { return true }
func (h callbackHandler) Handle(context.Context, slog.Record) error {
	h.f()
	return nil
}
func (h callbackHandler) WithAttrs([]slog.Attr) slog.Handler { return h }
func (h callbackHandler) WithGroup(string) slog.Handler      { return h }

// TestTickerNodeUsedWhileDueInSameTick: a node used during Ticker.Tick
// (here from another node's Logger, which Tick runs) before its own turn
// in that Tick has come is caught up through its due tick, counted as a
// quiet one; when its turn comes, fire's count of quiet ticks owed is then
// t.now-1-synced = -1 (mod 2^64), and quietTicks(2^64-1) takes exactly
// that tick back (ticks and the election timer, §5.2) before the real
// tick runs. Nothing says so in the code: this test keeps the wrap-around
// honest (a fire that clamped or skipped the count would tick the node
// twice).
func TestTickerNodeUsedWhileDueInSameTick(t *testing.T) {
	tk := NewTicker()
	var b *Node
	cfgA := Config{ID: 1, Ticker: tk, ElectionTicks: 100,
		Logger: slog.New(callbackHandler{func() {
			if b != nil {
				b.Status()
			}
		}})}
	// A follower of a group whose other voters are elsewhere: it
	// campaigns, and logs, when its election timer fires.
	a, err := NewNode(cfgA, PersistentState{Snapshot: SnapshotMeta{Membership: Membership{Voters: []NodeID{1, 2, 3}}}})
	if err != nil {
		t.Fatal(err)
	}
	campaignAt := uint64(a.randomizedTimeout)
	if campaignAt <= trimPeriodTicks {
		t.Fatalf("the test needs a's timeout (%d) past trimPeriodTicks", campaignAt)
	}
	for range campaignAt - trimPeriodTicks {
		tk.Tick()
	}
	// b joins empty, so only its buffer release makes it due: on the very
	// tick a campaigns, after a in the Ticker's order.
	b, err = NewNode(Config{ID: 1, Ticker: tk, ElectionTicks: 100}, PersistentState{})
	if err != nil {
		t.Fatal(err)
	}
	for range trimPeriodTicks {
		tk.Tick()
	}
	if r := a.Status().Role; r == RoleFollower {
		t.Fatalf("a did not campaign at tick %d: the test shows nothing", campaignAt)
	}
	if s := b.Status(); s.ElectionElapsed != trimPeriodTicks || b.ticks != trimPeriodTicks {
		t.Errorf("after %d ticks b counts %d ticks and an election timer of %d", trimPeriodTicks, b.ticks, s.ElectionElapsed)
	}
}

// TestTickerConfigsStayOutOfTheSharedCache: nodes of a Ticker share their
// configuration through it, never through the process-wide cache, which
// would otherwise keep every Ticker ever used (and through it all of its
// nodes) alive for the life of the process; and nodes of one Ticker with
// the same settings still share one copy.
func TestTickerConfigsStayOutOfTheSharedCache(t *testing.T) {
	tk := NewTicker()
	cfg := Config{ID: 1, Ticker: tk, ElectionTicks: 23}
	a, err := NewNode(cfg, PersistentState{})
	if err != nil {
		t.Fatal(err)
	}
	cfg.ID = 2
	b, err := NewNode(cfg, PersistentState{})
	if err != nil {
		t.Fatal(err)
	}
	if a.cfg != b.cfg || a.cfg.Ticker != tk {
		t.Errorf("two nodes of one Ticker with the same settings hold separate configs, or lost their Ticker")
	}
	sharedConfigs.mu.Lock()
	defer sharedConfigs.mu.Unlock()
	for c := range sharedConfigs.m {
		if c.Ticker != nil {
			t.Fatalf("the process-wide config cache holds a Ticker: %+v", c)
		}
	}
}

// TestTickerKeepsNoFailedNode: NewNode refusing a config or a state
// returns no node, so its Ticker must not drive one either (it would tick,
// and keep alive, a node nobody holds).
func TestTickerKeepsNoFailedNode(t *testing.T) {
	tk := NewTicker()
	if _, err := NewNode(Config{ID: 0, Ticker: tk}, PersistentState{}); err == nil {
		t.Fatal("NewNode accepted node ID 0")
	}
	bad := PersistentState{Snapshot: SnapshotMeta{Index: 5}} // a snapshot of term 0
	if _, err := NewNode(Config{ID: 1, Ticker: tk}, bad); err == nil {
		t.Fatal("NewNode accepted a snapshot of term 0")
	}
	if _, err := Bootstrap(Config{ID: 4, Ticker: tk}, []NodeID{1, 2, 3}); err == nil {
		t.Fatal("Bootstrap accepted a node outside its voters")
	}
	if tk.Len() != 0 || len(tk.nodes) != 0 {
		t.Errorf("after three refused nodes the Ticker drives %d (slots %d)", tk.Len(), len(tk.nodes))
	}
}
