package raft

import (
	"errors"
	"slices"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

// Behaviour tests for log replication (§5.3), flow control and proposal
// forwarding.

// §5.3, AppendEntries receiver rule 2: "Reply false if log doesn't contain
// an entry at prevLogIndex whose term matches prevLogTerm." The log is left
// alone and the rejection carries the conflict hint: the follower's last
// index at or below the rejected one whose term is at most the rejected
// term, and that term.
func TestReplicationConsistencyCheck(t *testing.T) {
	for _, tc := range []struct {
		name     string
		prev     Index
		prevTerm Term
		reject   bool
		hint     Index
		hintTerm Term
	}{
		{name: "term mismatch", prev: 3, prevTerm: 3, reject: true, hint: 3, hintTerm: 2},
		{name: "mismatch skips term", prev: 3, prevTerm: 1, reject: true, hint: 2, hintTerm: 1},
		{name: "beyond the log", prev: 6, prevTerm: 3, reject: true, hint: 3, hintTerm: 2},
		{name: "match", prev: 3, prevTerm: 2},
		{name: "match at 0", prev: 0, prevTerm: 0},
	} {
		t.Run(tc.name, func(t *testing.T) {
			n := restored(t, defaultTestConfig(1), ids(3), HardState{Term: 3}, 1, 1, 2)
			m := Message{Type: MsgApp, From: 2, To: 1, Term: 3, Index: tc.prev, LogTerm: tc.prevTerm}
			m.Entries = mkEntries(tc.prev+1, 3)
			step(t, n, m)
			acts := syncRun(t, n)
			want := Message{Type: MsgAppResp, From: 1, To: 2, Term: 3, Index: tc.prev + 1}
			wantLog := []Term{1, 1, 2}
			if tc.reject {
				want = Message{Type: MsgAppResp, From: 1, To: 2, Term: 3, Index: tc.prev, Reject: true, RejectHint: tc.hint, LogTerm: tc.hintTerm}
			} else {
				wantLog = append(wantLog[:tc.prev], 3)
			}
			if diff := cmp.Diff([]Message{want}, msgs(acts, MsgAppResp)); diff != "" {
				t.Errorf("response (-want +got):\n%s", diff)
			}
			if diff := cmp.Diff(wantLog, terms(logOf(n))); diff != "" {
				t.Errorf("log terms (-want +got):\n%s", diff)
			}
		})
	}
}

// §5.3, AppendEntries receiver rule 3: "If an existing entry conflicts with
// a new one (same index but different terms), delete the existing entry and
// all that follow it." The persist action starts at the first overwritten
// index, telling storage to delete the stored suffix from there.
func TestReplicationConflictingSuffixTruncated(t *testing.T) {
	n := restored(t, defaultTestConfig(1), ids(3), HardState{Term: 1, Commit: 1}, 1, 1, 1, 1, 1)
	step(t, n, Message{Type: MsgApp, From: 2, To: 1, Term: 2, Index: 2, LogTerm: 1, Entries: mkEntries(3, 2, 2), Commit: 1})
	acts := syncRun(t, n)
	if diff := cmp.Diff([]Term{1, 1, 2, 2}, terms(logOf(n))); diff != "" {
		t.Errorf("log terms (-want +got):\n%s", diff)
	}
	ps := persists(acts)
	if len(ps) != 1 || len(ps[0].Entries) != 2 || ps[0].Entries[0].Index != 3 {
		t.Errorf("persists %v, want one writing entries 3..4", ps)
	}
	if got := msgs(acts, MsgAppResp); len(got) != 1 || got[0].Reject || got[0].Index != 4 {
		t.Errorf("responses %v, want success at 4", got)
	}
	if st := n.Status(); st.LastIndex != 4 || st.Stable != 4 {
		t.Errorf("last %d stable %d, want 4 4", st.LastIndex, st.Stable)
	}
}

// §5.3, AppendEntries receiver rule 5: "If leaderCommit > commitIndex, set
// commitIndex = min(leaderCommit, index of last new entry)" — not the end
// of the follower's log, whose entries after the message's may be stale
// ones the leader does not have.
func TestReplicationCommitCappedAtLastNewEntry(t *testing.T) {
	// Entry 3 (term 1) is stale: the leader of term 2 has (3, 2) there,
	// committed, and sends only entry 2 in this message.
	n := restored(t, defaultTestConfig(1), ids(3), HardState{Term: 1, Commit: 1}, 1, 1, 1)
	step(t, n, Message{Type: MsgApp, From: 2, To: 1, Term: 2, Index: 1, LogTerm: 1, Entries: mkEntries(2, 1), Commit: 3})
	acts := syncRun(t, n)
	if st := n.Status(); st.Commit != 2 {
		t.Errorf("commit %d, want 2 (the last entry the message proved)", st.Commit)
	}
	if got := indexes(applied(acts)); !slices.Equal(got, []Index{1, 2}) {
		t.Errorf("applied %v, want [1 2]: never the stale entry 3", got)
	}
}

// §5.3, AppendEntries receiver rule 4: "Append any new entries not already
// in the log." A duplicated or reordered (older, shorter) append whose
// entries all match must not truncate the longer log after them, and
// writes nothing.
func TestReplicationStaleAppendNeverTruncates(t *testing.T) {
	n := restored(t, defaultTestConfig(1), ids(3), HardState{Term: 2}, 1, 1, 2, 2, 2)
	before := logOf(n)
	for _, m := range []Message{
		{Type: MsgApp, From: 2, To: 1, Term: 2, Index: 0, LogTerm: 0, Entries: mkEntries(1, 1, 1, 2)},
		{Type: MsgApp, From: 2, To: 1, Term: 2, Index: 2, LogTerm: 1, Entries: mkEntries(3, 2)},
		{Type: MsgApp, From: 2, To: 1, Term: 2, Index: 4, LogTerm: 2},
	} {
		step(t, n, m)
		acts := syncRun(t, n)
		if diff := cmp.Diff(before, logOf(n)); diff != "" {
			t.Errorf("after %v the log changed (-before +after):\n%s", m, diff)
		}
		if ps := persists(acts); len(ps) != 0 {
			t.Errorf("after %v: persists %v, want none", m, ps)
		}
		want := []Message{{Type: MsgAppResp, From: 1, To: 2, Term: 2, Index: m.Index + Index(len(m.Entries))}}
		if diff := cmp.Diff(want, msgs(acts)); diff != "" {
			t.Errorf("after %v: response (-want +got):\n%s", m, diff)
		}
	}
}

// §5.3: the leader learns of the follower's progress from the responses;
// duplicated and reordered responses never move its match index back.
func TestReplicationReorderedResponses(t *testing.T) {
	tn := elect3(t)
	tn.isolate(2)
	tn.isolate(3)
	for _, d := range []string{"a", "b", "c"} {
		tn.propose(1, d)
	}
	tn.deliverAll()
	l := tn.nodes[1]
	term := l.Status().Term
	for _, idx := range []Index{4, 2, 4, 3} {
		step(t, l, Message{Type: MsgAppResp, From: 2, To: 1, Term: term, Index: idx})
		if pr, _ := l.Progress(2); pr.Match != 4 {
			t.Errorf("after ack of %d: match %d, want 4", idx, pr.Match)
		}
	}
	if got := l.Status().Commit; got != 4 {
		t.Errorf("commit %d, want 4", got)
	}
}

// §5.3's optimisation ("the follower can include the term of the
// conflicting entry and the first index it stores for that term"): a
// follower whose log diverges in many entries of few terms is repaired in
// one round trip per divergent term, not one per entry.
func TestReplicationFastBacktracking(t *testing.T) {
	for _, tc := range []struct {
		name            string
		leader, diverge []Term
		rejections      int
	}{
		{
			name:       "longer follower, one divergent term each",
			leader:     rep(1, 5, rep(4, 100)...),
			diverge:    rep(1, 5, rep(2, 50, rep(3, 150)...)...),
			rejections: 1,
		},
		{
			name:       "shorter follower",
			leader:     rep(1, 5, rep(4, 100)...),
			diverge:    rep(1, 5, rep(2, 50, rep(3, 30)...)...),
			rejections: 1,
		},
		{
			name:       "interleaved terms",
			leader:     rep(1, 5, rep(3, 15, rep(5, 20)...)...),
			diverge:    rep(1, 5, rep(2, 25, rep(4, 20)...)...),
			rejections: 2,
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			hs := HardState{Term: 5}
			tn := newTestNetFrom(t, []PersistentState{
				storedState(ids(3), hs, tc.leader),
				storedState(ids(3), hs, tc.diverge),
				storedState(ids(3), hs, tc.leader),
			}, nil)
			var rejections, appends int
			tn.observe = func(m Message) {
				switch {
				case m.Type == MsgAppResp && m.From == 2 && m.Reject:
					rejections++
				case m.Type == MsgApp && m.To == 2:
					appends++
				}
			}
			tn.campaign(1)
			if tn.leader() != 1 {
				t.Fatalf("leader %d, want 1", tn.leader())
			}
			if rejections != tc.rejections {
				t.Errorf("%d rejections, want %d (naive backtracking would need %d)", rejections, tc.rejections, len(tc.leader)-5)
			}
			if appends > rejections+2 {
				t.Errorf("%d appends to node 2, want at most one per rejection, the matching probe and a commit update", appends)
			}
			if diff := cmp.Diff(logOf(tn.nodes[1]), logOf(tn.nodes[2])); diff != "" {
				t.Errorf("follower log differs from the leader's (-leader +follower):\n%s", diff)
			}
		})
	}
}

// §5.3, Figure 7: followers whose logs are missing entries (a, b), have
// extra uncommitted entries (c, d), or both (e, f) all end up with exactly
// the leader's log once the leader of term 8 replicates to them.
func TestReplicationFigure7(t *testing.T) {
	leader := []Term{1, 1, 1, 4, 4, 5, 5, 6, 6, 6}
	followers := [][]Term{
		{1, 1, 1, 4, 4, 5, 5, 6, 6},          // (a)
		{1, 1, 1, 4},                         // (b)
		{1, 1, 1, 4, 4, 5, 5, 6, 6, 6, 6},    // (c)
		{1, 1, 1, 4, 4, 5, 5, 6, 6, 6, 7, 7}, // (d)
		{1, 1, 1, 4, 4, 4, 4},                // (e)
		{1, 1, 1, 2, 2, 2, 3, 3, 3, 3, 3},    // (f)
	}
	states := []PersistentState{storedState(ids(7), HardState{Term: 7}, leader)}
	for _, f := range followers {
		states = append(states, storedState(ids(7), HardState{Term: 7}, f))
	}
	tn := newTestNetFrom(t, states, testCfg(noPreVote))
	tn.campaign(1)
	if tn.leader() != 1 || tn.nodes[1].Status().Term != 8 {
		t.Fatalf("leader %d in term %d, want 1 in term 8", tn.leader(), tn.nodes[1].Status().Term)
	}
	want := append(mkEntries(1, leader...), Entry{Index: 11, Term: 8, Type: EntryNoop})
	for _, id := range tn.ids {
		if diff := cmp.Diff(want, logOf(tn.nodes[id])); diff != "" {
			t.Errorf("node %d log (-want +got):\n%s", id, diff)
		}
		if diff := cmp.Diff(want, tn.storage[id].entries); diff != "" {
			t.Errorf("node %d storage (-want +got):\n%s", id, diff)
		}
		if diff := cmp.Diff(want, tn.applied[id]); diff != "" {
			t.Errorf("node %d applied (-want +got):\n%s", id, diff)
		}
	}
}

// Flow control: a follower in the pipelining state never has more than
// MaxInflightMsgs appends outstanding; acknowledgements open the window.
func TestFlowControlMaxInflightMsgs(t *testing.T) {
	tn := elect3(t, func(c *Config) { c.MaxInflightMsgs = 2; c.MaxMsgBytes = 64 })
	tn.isolate(3)
	var held []Message
	tn.drop = func(m Message) bool {
		if m.Type == MsgApp && m.To == 2 {
			held = append(held, m)
			return true
		}
		return false
	}
	for i := range 10 {
		tn.propose(1, strings.Repeat("x", 40+i%2)) // one entry per message
		tn.deliverAll()
	}
	if len(held) != 2 {
		t.Fatalf("%d appends sent to node 2, want MaxInflightMsgs = 2", len(held))
	}
	if pr, _ := tn.nodes[1].Progress(2); pr.Inflight != 2 || pr.State != ProgressReplicate {
		t.Errorf("progress %+v, want 2 in flight while replicating", pr)
	}
	// Acknowledge the first: exactly one more goes out.
	tn.drop = nil
	tn.deliver(held[0])
	tn.drain(2)
	var sent []Message
	tn.drop = func(m Message) bool {
		if m.Type == MsgApp && m.To == 2 {
			sent = append(sent, m)
			return true
		}
		return false
	}
	tn.deliverAll()
	if len(sent) != 1 {
		t.Errorf("after one acknowledgement %d appends went out, want 1", len(sent))
	}
	// Deliver everything: node 2 catches up and the window drains.
	tn.drop = nil
	tn.deliver(held[1])
	tn.deliver(sent[0])
	tn.deliverAll()
	if got := len(dataOf(tn.applied[2])); got != 10 {
		t.Errorf("node 2 applied %d entries, want 10", got)
	}
	if pr, _ := tn.nodes[1].Progress(2); pr.Inflight != 0 || pr.Match != 11 {
		t.Errorf("progress %+v, want match 11 and nothing in flight", pr)
	}
}

// Flow control: sending stops once the bytes in flight to a follower reach
// MaxInflightBytes. The limit is checked before each message, so the last
// message sent may take the total past it, by less than one message.
func TestFlowControlMaxInflightBytes(t *testing.T) {
	tn := elect3(t, func(c *Config) { c.MaxMsgBytes = 64; c.MaxInflightBytes = 128 })
	tn.isolate(2)
	tn.isolate(3)
	for range 10 {
		tn.propose(1, strings.Repeat("x", 40)) // 56 bytes with overhead: one per message
	}
	acts := take(tn.nodes[1])
	var bytes uint64
	n := 0
	for _, m := range msgs(acts, MsgApp) {
		if m.To != 2 {
			continue
		}
		n++
		for _, e := range m.Entries {
			bytes += e.size()
		}
	}
	if n != 3 || bytes != 3*56 {
		t.Errorf("sent %d appends with %d bytes, want 3 with 168 (stop once 112 < 128 was exceeded)", n, bytes)
	}
	if pr, _ := tn.nodes[1].Progress(2); pr.InflightBytes != 168 || pr.Inflight != 3 {
		t.Errorf("progress %+v, want 3 messages and 168 bytes in flight", pr)
	}
}

// Flow control: entries proposed between two calls to Actions go out in as
// few appends as MaxMsgBytes allows (batching), the limit inclusive; every
// append carries at least one entry.
func TestFlowControlMaxMsgBytesBatching(t *testing.T) {
	tn := elect3(t, func(c *Config) { c.MaxMsgBytes = 104 })
	tn.isolate(3)
	for range 10 {
		tn.propose(1, "0123456789") // 26 bytes with overhead: exactly 4 per message
	}
	var sizes []int
	tn.observe = func(m Message) {
		if m.Type == MsgApp && m.To == 2 && len(m.Entries) > 0 {
			sizes = append(sizes, len(m.Entries))
		}
	}
	tn.deliverAll()
	if diff := cmp.Diff([]int{4, 4, 2}, sizes); diff != "" {
		t.Errorf("entries per append (-want +got):\n%s", diff)
	}
	if got := len(dataOf(tn.applied[2])); got != 10 {
		t.Errorf("node 2 applied %d entries, want 10", got)
	}
}

// Flow control: a leader refuses a proposal that would put more than
// MaxUncommittedBytes beyond its commit index, with ErrUncommittedLimit
// (an ErrProposalDropped); once entries commit it accepts proposals again.
func TestFlowControlMaxUncommittedBytes(t *testing.T) {
	tn := elect3(t, func(c *Config) { c.MaxUncommittedBytes = 100; c.MaxEntryBytes = 50 })
	tn.isolate(2)
	tn.isolate(3)
	l := tn.nodes[1]
	for i := range 3 { // 3 * (10+16) = 78 bytes
		if _, _, err := l.Propose([]byte("0123456789")); err != nil {
			t.Fatalf("proposal %d: %v", i, err)
		}
	}
	last := l.Status().LastIndex
	_, _, err := l.Propose([]byte("0123456789")) // 104 > 100
	if !errors.Is(err, ErrUncommittedLimit) || !errors.Is(err, ErrProposalDropped) {
		t.Fatalf("err %v, want ErrUncommittedLimit wrapping ErrProposalDropped", err)
	}
	if got := l.Status().LastIndex; got != last {
		t.Errorf("refused proposal appended: last index %d, want %d", got, last)
	}
	// The budget counts payloads beyond the commit index: a small entry
	// still fits.
	if _, _, err := l.Propose([]byte("x")); err != nil {
		t.Errorf("17-byte proposal refused: %v", err)
	}
	tn.heal()
	tn.deliverAll()
	if got := l.Status().Commit; got != last+1 {
		t.Fatalf("commit %d, want %d", got, last+1)
	}
	for i := range 3 {
		if _, _, err := l.Propose([]byte("0123456789")); err != nil {
			t.Errorf("proposal %d after commit: %v", i, err)
		}
	}
}

// Flow control: with an empty uncommitted tail a leader accepts any
// entry Config.Validate allows, even one as large as MaxUncommittedBytes
// (which Validate permits to equal MaxEntryBytes).
func TestFlowControlMaximalEntryAccepted(t *testing.T) {
	tn := elect3(t, func(c *Config) { c.MaxMsgBytes = 100; c.MaxUncommittedBytes = 100 })
	idx, term, err := tn.nodes[1].Propose(make([]byte, 100))
	if err != nil {
		t.Fatalf("maximal entry refused: %v", err)
	}
	tn.deliverAll()
	if got := tn.applied[2]; len(got) != 2 || got[1].Index != idx || got[1].Term != term {
		t.Errorf("node 2 applied %v, want the maximal entry at (%d, %d)", got, idx, term)
	}
	if _, _, err := tn.nodes[1].Propose(make([]byte, 100)); err != nil {
		t.Errorf("second maximal entry after commit refused: %v", err)
	}
	if _, _, err := tn.nodes[1].Propose(make([]byte, 1)); !errors.Is(err, ErrUncommittedLimit) {
		t.Errorf("proposal over a full uncommitted tail: err %v, want ErrUncommittedLimit", err)
	}
}

// Flow control: a payload larger than MaxEntryBytes is refused with
// ErrEntryTooLarge, on the leader and when forwarded to it.
func TestFlowControlEntryTooLarge(t *testing.T) {
	tn := elect3(t, func(c *Config) { c.MaxEntryBytes = 8 })
	if _, _, err := tn.nodes[1].Propose(make([]byte, 8)); err != nil {
		t.Fatalf("8-byte entry: %v", err)
	}
	for _, id := range []NodeID{1, 2} {
		_, _, err := tn.nodes[id].Propose(make([]byte, 9))
		if !errors.Is(err, ErrEntryTooLarge) || !errors.Is(err, ErrProposalDropped) {
			t.Errorf("node %d: 9-byte entry: err %v, want ErrEntryTooLarge", id, err)
		}
	}
	term := tn.nodes[1].Status().Term
	err := tn.nodes[1].Step(Message{Type: MsgProp, From: 2, To: 1, Term: term, Entries: []Entry{{Data: make([]byte, 9)}}})
	if !errors.Is(err, ErrEntryTooLarge) {
		t.Errorf("forwarded 9-byte entry: err %v, want ErrEntryTooLarge", err)
	}
}

// Flow control must not block a follower forever when the transport loses
// every append of a pipeline: heartbeat answers reveal that the follower is
// alive but not progressing, and the leader falls back to probing from its
// match index.
func TestFlowControlLostPipelineRecovers(t *testing.T) {
	tn := elect3(t, func(c *Config) { c.MaxInflightMsgs = 4; c.MaxMsgBytes = 32 })
	tn.isolate(3)
	tn.drop = func(m Message) bool { return m.Type == MsgApp && m.To == 2 }
	for range 6 {
		tn.propose(1, "0123456789")
	}
	tn.deliverAll()
	if pr, _ := tn.nodes[1].Progress(2); pr.Inflight != 4 || pr.Match != 1 {
		t.Fatalf("progress %+v, want a full window of 4 lost appends", pr)
	}
	tn.drop = nil
	for tick := 1; tick <= 5; tick++ {
		tn.tick(1, 1)
		tn.deliverAll()
		if len(dataOf(tn.applied[2])) == 6 {
			if tick < stallLimit {
				t.Errorf("recovered after %d heartbeats, before the stall limit %d", tick, stallLimit)
			}
			return
		}
	}
	pr, _ := tn.nodes[1].Progress(2)
	t.Errorf("node 2 applied %d of 6 entries 5 heartbeats after the losses ended; progress %+v", len(dataOf(tn.applied[2])), pr)
}

// Proposal forwarding: a follower that knows the leader forwards a
// proposal to it, and the entry commits everywhere.
func TestProposalForwarded(t *testing.T) {
	tn := elect3(t)
	idx, term, err := tn.nodes[2].Propose([]byte("fwd"))
	if err != nil || idx != 0 || term != 0 {
		t.Fatalf("Propose on follower = %d, %d, %v; want 0, 0, nil", idx, term, err)
	}
	tn.deliverAll()
	for _, id := range tn.ids {
		if got := dataOf(tn.applied[id]); !cmp.Equal(got, []string{"fwd"}) {
			t.Errorf("node %d applied %q, want [fwd]", id, got)
		}
	}
}

// Proposal forwarding: with DisableProposalForwarding, or with no leader
// known, a follower refuses with a *NotLeaderError naming the leader (or
// saying none is known); a forwarded proposal reaching a node that is no
// longer leader is refused the same way.
func TestProposalNotLeader(t *testing.T) {
	tn := elect3(t, func(c *Config) { c.DisableProposalForwarding = c.ID == 2 })
	_, _, err := tn.nodes[2].Propose([]byte("x"))
	var nle *NotLeaderError
	if !errors.As(err, &nle) || nle.Leader != 1 || !errors.Is(err, ErrNotLeader) {
		t.Fatalf("err %v, want *NotLeaderError naming leader 1", err)
	}
	if !strings.Contains(err.Error(), "leader is 1") {
		t.Errorf("error %q does not name the leader", err)
	}
	if acts := take(tn.nodes[2]); len(acts) != 0 {
		t.Errorf("refused proposal produced actions %v", acts)
	}

	fresh := newTestNet(t, 3, nil)
	_, _, err = fresh.nodes[1].Propose([]byte("x"))
	if !errors.As(err, &nle) || nle.Leader != None {
		t.Fatalf("err %v, want *NotLeaderError with no leader", err)
	}
	if !strings.Contains(err.Error(), "no leader known") {
		t.Errorf("error %q does not say that no leader is known", err)
	}

	// Node 3 forwards to 1; by the time it arrives 1 is not leader.
	term := tn.nodes[3].Status().Term
	err = fresh.nodes[1].Step(Message{Type: MsgProp, From: 3, To: 1, Term: term, Entries: []Entry{{Data: []byte("x")}}})
	if !errors.As(err, &nle) || nle.Leader != None {
		t.Errorf("forwarded proposal at a follower: err %v, want *NotLeaderError", err)
	}
}

// §5.3: a follower commits only entries it holds from the current leader's
// log. A heartbeat carries no entries and proves nothing about the
// follower's log, so the commit index it carries is capped at what the
// follower is known to match. Here node 3 holds entries 2-3 of an old term
// that the new leader's log does not have: told the leader's full commit
// index, it would commit and apply them (State Machine Safety).
func TestReplicationHeartbeatCommitCappedAtMatch(t *testing.T) {
	tn := newTestNetFrom(t, []PersistentState{
		storedState(ids(3), HardState{Term: 2}, []Term{1, 2, 2}),
		storedState(ids(3), HardState{Term: 2}, []Term{1, 2, 2}),
		storedState(ids(3), HardState{Term: 1}, []Term{1, 1, 1}),
	}, nil)
	tn.isolate(3)
	tn.campaign(1)
	if tn.leader() != 1 || tn.nodes[1].Status().Commit != 4 {
		t.Fatalf("setup: want node 1 leading with its no-op (index 4) committed: %+v", tn.nodes[1].Status())
	}
	tn.heal()
	tn.dropTypes[MsgApp] = true // node 3 hears heartbeats only
	tn.tickAll(3)
	if st := tn.nodes[3].Status(); st.Leader != 1 || st.Commit != 0 {
		t.Fatalf("node 3 after heartbeats only: %+v, want leader 1 and nothing committed (its log does not match yet)", st)
	}
	tn.dropTypes[MsgApp] = false
	tn.tickAll(1)
	if got, want := terms(tn.applied[3]), terms(tn.applied[1]); !slices.Equal(got, want) {
		t.Errorf("node 3 applied terms %v, node 1 %v", got, want)
	}
}

// §5.3 with pipelining (thesis §10.2.2): the leader advances nextIndex
// optimistically past every append in flight. The acknowledgement of an
// earlier append of the pipeline must not move nextIndex back, or the
// leader resends entries that are still on their way.
func TestReplicationPipelinedAckDoesNotResend(t *testing.T) {
	tn := elect3(t)
	leader, f := tn.nodes[1], tn.nodes[2]
	tn.propose(1, "a")
	first := msgs(syncRun(t, leader), MsgApp)
	idxB, _ := tn.propose(1, "b")
	second := msgs(syncRun(t, leader), MsgApp)
	if len(first) != 2 || len(second) != 2 {
		t.Fatalf("setup: want one append per follower for each proposal, got %v then %v", first, second)
	}
	for _, m := range first {
		if m.To == 2 {
			step(t, f, m)
		}
	}
	for _, m := range msgs(syncRun(t, f), MsgAppResp) {
		step(t, leader, m)
	}
	for _, m := range msgs(syncRun(t, leader), MsgApp) {
		if m.To == 2 && len(m.Entries) > 0 {
			t.Errorf("after the ack of the first append, the leader sent %v: entry %d is already in flight", m, idxB)
		}
	}
}
