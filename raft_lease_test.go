package raft

import (
	"errors"
	"testing"

	"github.com/google/go-cmp/cmp"
)

// Behaviour tests for lease-based reads (thesis §6.4.1): the leader serves
// reads without messages while followers keep their promise not to help
// elect another leader for an election timeout.

// leaseNet returns a 3-node cluster with lease reads on, whose leader holds
// its lease. Every server refuses votes for its first election timeout
// (restart fencing), so the first election waits for that.
func leaseNet(t *testing.T) (*testNet, NodeID) {
	tn := newTestNet(t, 3, testCfg(leaseCfg))
	tickUntil(tn, 100, "a leader holding its lease", func() bool {
		l := tn.leader()
		return l != None && tn.nodes[l].Status().LeaseHeld
	})
	return tn, tn.leader()
}

// Thesis §6.4.1: while a quorum acknowledged a heartbeat sent less than
// ElectionTicks-MaxClockDriftTicks ticks ago, no other leader can exist, so
// the leader serves a lease read at once, sending nothing. Counting from
// when that heartbeat was sent, the lease ends after exactly that many
// ticks; a lease read after that is a ReadIndex read.
func TestLeaseRead(t *testing.T) {
	tn, l := leaseNet(t)
	n := tn.nodes[l]
	commit := n.Status().Commit
	if err := n.LeaseRead(1); err != nil {
		t.Fatal(err)
	}
	want := []Action{{Kind: ActionReadReady, Read: ReadResult{ID: 1, Index: commit}}}
	if diff := cmp.Diff(want, take(n)); diff != "" {
		t.Fatalf("lease read actions (-want +got):\n%s", diff)
	}

	tn.isolate(l)
	start := n.ldr.reads.leaseStart
	lease := uint64(n.cfg.ElectionTicks - n.cfg.MaxClockDriftTicks)
	if lease != 8 {
		t.Fatalf("lease of %d ticks, want 8", lease)
	}
	for n.ticks < start+lease-1 {
		tn.tick(l, 1)
		tn.deliverAll() // heartbeats, all lost
	}
	if err := n.LeaseRead(2); err != nil {
		t.Fatal(err)
	}
	if acts := take(n); len(acts) != 1 || acts[0].Kind != ActionReadReady || acts[0].Read.ID != 2 {
		t.Fatalf("lease read in the lease's last tick: %v", acts)
	}
	tn.tick(l, 1)
	tn.deliverAll()
	if st := n.Status(); st.LeaseHeld || st.Role != RoleLeader {
		t.Fatalf("after %d ticks: %+v, want a leader without lease", lease, st)
	}
	if err := n.LeaseRead(3); err != nil {
		t.Fatal(err)
	}
	acts := take(n)
	for _, a := range acts {
		if a.Kind == ActionReadReady {
			t.Fatalf("lease read served after the lease expired: %v", a)
		}
	}
	if len(msgs(acts, MsgHeartbeat)) != 2 {
		t.Fatalf("expired lease read did not start a heartbeat round: %v", acts)
	}
}

// Thesis §6.4.1: lease reads are opt-in. Without EnableLeaseReads, LeaseRead
// is ReadIndex: a heartbeat round, answered only once a quorum confirms it.
func TestLeaseReadDisabled(t *testing.T) {
	tn := elect3(t)
	tn.tickAll(2)
	n := tn.nodes[1]
	if n.Status().LeaseHeld {
		t.Fatalf("lease held with EnableLeaseReads off")
	}
	if err := n.LeaseRead(1); err != nil {
		t.Fatal(err)
	}
	acts := take(n)
	if len(msgs(acts, MsgHeartbeat)) != 2 {
		t.Fatalf("want a heartbeat round, got %v", acts)
	}
	for _, a := range acts {
		if a.Kind == ActionReadReady {
			t.Fatalf("read served without confirmation: %v", a)
		}
	}
	for _, m := range msgs(acts) {
		tn.queue = append(tn.queue, m)
	}
	tn.deliverAll()
	wantReads(t, tn, 1, ReadResult{ID: 1, Index: n.Status().Commit})
}

// Thesis §3.10 with §6.4.1: once a leader has told another server to
// campaign (leadership transfer), that server may win at any moment,
// ignoring the voters' leases; the old leader's lease is void and a lease
// read goes through ReadIndex.
func TestLeaseReadAfterTransfer(t *testing.T) {
	tn, l := leaseNet(t)
	n := tn.nodes[l]
	target := NodeID(1)
	if target == l {
		target = 2
	}
	if err := n.TransferLeadership(target); err != nil {
		t.Fatal(err)
	}
	if n.Status().LeaseHeld {
		t.Fatalf("lease still held after TransferLeadership to a caught-up target")
	}
	if err := n.LeaseRead(1); err != nil {
		t.Fatal(err)
	}
	acts := take(n)
	if len(msgs(acts, MsgTimeoutNow)) != 1 {
		t.Fatalf("want a MsgTimeoutNow, got %v", acts)
	}
	for _, a := range acts {
		if a.Kind == ActionReadReady {
			t.Fatalf("lease read served right after a transfer began: %v", a)
		}
	}
}

// Thesis §6.4.1 and Config.Validate: a lease needs check-quorum (followers
// that heard the leader refuse to vote), and must be positive.
func TestLeaseReadConfigValidation(t *testing.T) {
	for _, tc := range []struct {
		name string
		cfg  Config
		ok   bool
	}{
		{"lease without check-quorum", Config{ID: 1, EnableLeaseReads: true, DisableCheckQuorum: true}, false},
		{"drift equals election timeout", Config{ID: 1, EnableLeaseReads: true, ElectionTicks: 10, MaxClockDriftTicks: 10}, false},
		{"drift above election timeout", Config{ID: 1, EnableLeaseReads: true, ElectionTicks: 10, MaxClockDriftTicks: 11}, false},
		{"negative drift", Config{ID: 1, MaxClockDriftTicks: -1}, false},
		{"drift just below", Config{ID: 1, EnableLeaseReads: true, ElectionTicks: 10, MaxClockDriftTicks: 9}, true},
		{"defaults", Config{ID: 1, EnableLeaseReads: true}, true},
	} {
		err := tc.cfg.Validate()
		if (err == nil) != tc.ok || (err != nil && !errors.Is(err, ErrInvalidConfig)) {
			t.Errorf("%s: Validate() = %v, want ok %t", tc.name, err, tc.ok)
		}
	}
}

// Thesis §6.4.1 (restarts): a server that acknowledged a leader's heartbeat
// and then restarted no longer remembers it. With EnableLeaseReads set it
// refuses votes for its first election timeout, so it cannot help elect a
// new leader while the old one still serves lease reads. A server without
// the setting votes at once — which is why every server must set it.
func TestLeaseReadRestartFenced(t *testing.T) {
	for _, fenced := range []bool{true, false} {
		tn, l := leaseNet(t)
		var a, b NodeID // a campaigns; b restarts
		for _, id := range []NodeID{1, 2, 3} {
			switch {
			case id == l:
			case a == None:
				a = id
			default:
				b = id
			}
		}
		if !fenced {
			cfg := tn.cfg
			tn.cfg = func(id NodeID) Config {
				c := cfg(id)
				c.EnableLeaseReads = c.ID != b
				return c
			}
		}
		// a loses the leader for long enough that it owes it no lease
		// (and may campaign); b keeps acknowledging, so the leader keeps
		// its lease through b alone.
		tn.cut[l][a], tn.cut[a][l] = true, true
		tn.tickAll(2 * tn.nodes[l].cfg.ElectionTicks)
		if !tn.nodes[l].Status().LeaseHeld {
			t.Fatalf("leader holds no lease")
		}
		tn.isolate(l)
		tn.crash(b)
		tn.restart(b)
		if err := tn.nodes[a].Campaign(); err != nil {
			t.Fatal(err)
		}
		tn.deliverAll()
		elected := tn.nodes[a].Status().Role == RoleLeader
		if elected == fenced {
			t.Errorf("fenced %t: node %d elected %t while the old leader's lease (held %t) may run", fenced, a, elected, tn.nodes[l].Status().LeaseHeld)
		}
	}
}

// Thesis §6.4.1 (leases): a follower that acknowledged the leader's
// heartbeat promises not to help elect another leader for an election
// timeout, and the leader serves reads from that promise without messages.
// The follower's own vote is part of the promise: Campaign on it — like a
// restart, which the node already guards against — must not start an
// election that another voter out of the lease can complete while the
// lease still holds, or the old leader serves stale lease reads while the
// new one commits writes.
func TestCampaignRespectsLeaderLease(t *testing.T) {
	tn, l := leaseNet(t)
	var a, b NodeID
	for _, id := range []NodeID{1, 2, 3} {
		if id != l {
			if a == None {
				a = id
			} else {
				b = id
			}
		}
	}
	// b loses the leader and, after an election timeout, its own lease;
	// a keeps acknowledging, so the leader keeps its lease.
	tn.cut[l][b], tn.cut[b][l] = true, true
	tn.tickAll(2 * tn.nodes[l].cfg.ElectionTicks)
	if !tn.nodes[l].Status().LeaseHeld {
		t.Fatalf("setup: leader %d lost its lease", l)
	}
	// The leader is cut off too, still holding its lease.
	tn.isolate(l)
	err := tn.nodes[a].Campaign()
	tn.deliverAll()
	if !tn.nodes[l].Status().LeaseHeld {
		t.Fatalf("setup: leader %d lost its lease", l)
	}
	for _, id := range []NodeID{a, b} {
		if tn.nodes[id].Status().Role == RoleLeader {
			t.Errorf("node %d elected (Campaign err %v) while leader %d holds its lease", id, err, l)
		}
	}
}

// Thesis §6.4.1 with §5.1: the promise a follower makes by acknowledging
// a leader's heartbeat — no vote for another leader for an election
// timeout — must survive the follower adopting a newer term from a message
// that names no leader. Here a stale heartbeat the follower sent as an old
// leader is answered, much later, by a server that campaigned alone to a
// high term (pre-vote off); the answer's term must not wipe out the
// follower's promise to the current leader, which is serving lease reads.
func TestLeasePromiseSurvivesTermChange(t *testing.T) {
	tn := newTestNet(t, 3, testCfg(leaseCfg, noPreVote))
	tickUntil(tn, 100, "a leader holding its lease", func() bool {
		l := tn.leader()
		return l != None && tn.nodes[l].Status().LeaseHeld
	})
	f := tn.leader()
	var l, x NodeID
	for _, id := range []NodeID{1, 2, 3} {
		if id != f {
			if l == None {
				l = id
			} else {
				x = id
			}
		}
	}
	// A heartbeat from f, leader now, to x is delayed in the network.
	var stale *Message
	tn.drop = func(m Message) bool {
		if stale == nil && m.From == f && m.To == x && m.Type == MsgHeartbeat {
			stale = &m
			return true
		}
		return false
	}
	tickUntil(tn, 10, "a heartbeat from f to x held back", func() bool { return stale != nil })
	tn.drop = nil

	// f hands leadership to l and follows it, acknowledging l's
	// heartbeats: l holds a lease. x, up to date, is then cut off and
	// campaigns alone to higher terms.
	if err := tn.nodes[f].TransferLeadership(l); err != nil {
		t.Fatal(err)
	}
	tn.deliverAll()
	tn.isolate(x)
	tickUntil(tn, 100, "l leading with a lease, x in a higher term", func() bool {
		return tn.leader() == l && tn.nodes[l].Status().LeaseHeld && tn.nodes[x].Status().Term > tn.nodes[l].Status().Term
	})

	// f's answers stop reaching l; x hears the stale heartbeat, answers
	// with its term, and campaigns at once.
	tn.heal()
	tn.cut[f][l] = true
	tn.cut[x][l], tn.cut[l][x] = true, true
	tn.deliver(*stale)
	tn.deliverAll()
	err := tn.nodes[x].Campaign()
	tn.deliverAll()
	if !tn.nodes[l].Status().LeaseHeld || tn.nodes[l].Status().Role != RoleLeader {
		t.Fatalf("setup: l no longer holds its lease")
	}
	if tn.nodes[x].Status().Role == RoleLeader {
		t.Errorf("x elected (Campaign err %v) with f's vote while l holds the lease f acknowledged", err)
	}
}

// Thesis §6.4.1: the lease counts from when the confirming heartbeat round
// was sent, not from when a quorum's answers arrived: a follower started
// its election timeout when it received the heartbeat, so answers that
// took long to come back leave a shorter lease.
func TestLeaseRunsFromWhenRoundWasSent(t *testing.T) {
	tn, l := leaseNet(t)
	n := tn.nodes[l]
	var held []Message
	tn.drop = func(m Message) bool {
		if m.Type == MsgHeartbeatResp {
			held = append(held, m)
			return true
		}
		return false
	}
	tn.tick(l, 1) // a round goes out at tick sent; its answers are delayed
	tn.deliverAll()
	sent, round := n.ticks, n.readRound
	tn.drop = func(Message) bool { return true } // nothing arrives any more
	for range 3 {
		tn.tick(l, 1)
		tn.deliverAll()
	}
	for _, m := range held {
		if m.Context == round {
			step(t, n, m) // arrive 3 ticks late
		}
	}
	lease := uint64(n.leaseTicks())
	for n.ticks < sent+lease-1 {
		tn.tick(l, 1)
		tn.deliverAll()
	}
	if !n.Status().LeaseHeld {
		t.Fatalf("setup: no lease at tick %d (round sent at %d, lease %d ticks)", n.ticks, sent, lease)
	}
	tn.tick(l, 1)
	tn.deliverAll()
	if st := n.Status(); st.LeaseHeld {
		t.Fatalf("lease held at tick %d: the round that confirmed it was sent at %d, %d ticks ago", n.ticks, sent, lease)
	}
	if err := n.LeaseRead(1); err != nil {
		t.Fatal(err)
	}
	for _, a := range take(n) {
		if a.Kind == ActionReadReady {
			t.Errorf("lease read served after the lease counted from the round's sending expired: %v", a)
		}
	}
}

// Thesis §6.4 step 1 holds for lease reads too: a new leader's commit
// index may be stale until it commits an entry of its own term, lease or
// no lease. A leader whose no-op is not committed serves no lease read at
// once.
func TestLeaseReadWaitsForCommitInTerm(t *testing.T) {
	tn := newTestNet(t, 3, testCfg(leaseCfg))
	tn.dropTypes[MsgAppResp] = true // the no-op never commits
	tickUntil(tn, 100, "a leader holding its lease", func() bool {
		l := tn.leader()
		return l != None && tn.nodes[l].Status().LeaseHeld
	})
	n := tn.nodes[tn.leader()]
	if n.committedInTerm() {
		t.Fatalf("setup: the leader committed in its term: %+v", n.Status())
	}
	if err := n.LeaseRead(1); err != nil {
		t.Fatal(err)
	}
	for _, a := range take(n) {
		if a.Kind == ActionReadReady {
			t.Errorf("lease read served before the leader committed in its term: %v", a)
		}
	}
}
