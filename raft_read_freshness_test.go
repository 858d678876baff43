package raft

import (
	"errors"
	"testing"
)

// Behaviour tests for the freshness of follower reads (thesis §6.4, "reads
// served by followers"): a follower's read is linearizable only if the read
// index it serves was recorded by the leader after the read was issued, so
// that every write committed before the read began is at or below it. The
// transport may duplicate and delay answers, the caller may reuse a read ID
// once its read has ended (docs/reads.md allows it), and either side may
// restart: none of that may let an answer to an earlier read complete a
// later one. See readtoken.go.

// heldReadAnswer has follower forward read id to the leader of a fresh
// 3-node cluster (node 1, with one entry committed) and holds the leader's
// answer back instead of delivering it. It returns the cluster, with every
// later answer to follower still held back, and the answer.
func heldReadAnswer(t *testing.T, follower NodeID, id uint64) (*testNet, Message) {
	t.Helper()
	tn := elect3(t)
	tn.propose(1, "a")
	tn.deliverAll()
	var held []Message
	tn.drop = func(m Message) bool {
		if m.Type == MsgReadIndexResp && m.To == follower {
			held = append(held, m)
			return true
		}
		return false
	}
	if err := tn.nodes[follower].ReadIndex(id); err != nil {
		t.Fatal(err)
	}
	tn.deliverAll()
	if len(held) != 1 {
		t.Fatalf("%d answers held, want 1", len(held))
	}
	return tn, held[0]
}

// commitWithout commits a new entry at leader while follower receives no
// entry, and returns the new commit index.
func commitWithout(t *testing.T, tn *testNet, leader, follower NodeID) Index {
	t.Helper()
	before := tn.drop
	tn.drop = func(m Message) bool {
		if m.Type == MsgApp && m.To == follower && len(m.Entries) > 0 {
			return true
		}
		return before != nil && before(m)
	}
	idx, _ := tn.propose(leader, "written before the read")
	tn.deliverAll()
	tn.drop = before
	if c := tn.nodes[leader].Status().Commit; c < idx {
		t.Fatalf("entry %d not committed (commit %d)", idx, c)
	}
	return idx
}

// stepLate hands msg straight to node id, as a transport that delivers a
// duplicate or a delayed message would, and carries out the node's actions.
func stepLate(t *testing.T, tn *testNet, id NodeID, msg Message) {
	t.Helper()
	step(t, tn.nodes[id], msg)
	tn.drain(id)
}

// wantNoStaleRead fails if node id, among its read results from the
// since-th on, made read readID ready at an index below floor: such a read
// would miss a write that committed before it began.
func wantNoStaleRead(t *testing.T, tn *testNet, id NodeID, since int, readID uint64, floor Index) {
	t.Helper()
	for _, r := range readsAt(tn, id)[since:] {
		if r.ID == readID && r.Err == nil && r.Index < floor {
			t.Fatalf("read %d served at index %d, below entry %d committed before it was issued (results %v)",
				readID, r.Index, floor, readsAt(tn, id))
		}
	}
}

// A duplicated answer: read 7 on a follower is answered at index i. A write
// then commits at i+1. The caller issues read 7 again (allowed: the first
// one ended), and the transport delivers a duplicate of the first answer.
// It must not complete the new read.
func TestFollowerReadDuplicateAnswerIsNotFresh(t *testing.T) {
	tn := elect3(t)
	tn.propose(1, "a")
	tn.deliverAll()
	var answers []Message
	tn.observe = func(m Message) {
		if m.Type == MsgReadIndexResp && m.To == 2 {
			answers = append(answers, m)
		}
	}
	if err := tn.nodes[2].ReadIndex(7); err != nil {
		t.Fatal(err)
	}
	tn.deliverAll()
	first := tn.nodes[1].Status().Commit
	wantReads(t, tn, 2, ReadResult{ID: 7, Index: first})
	if len(answers) != 1 {
		t.Fatalf("%d answers delivered, want 1", len(answers))
	}

	written := commitWithout(t, tn, 1, 2)
	if err := tn.nodes[2].ReadIndex(7); err != nil {
		t.Fatal(err)
	}
	stepLate(t, tn, 2, answers[0])
	wantNoStaleRead(t, tn, 2, 1, 7, written)

	tn.observe = nil
	tn.deliverAll()
	wantReads(t, tn, 2, ReadResult{ID: 7, Index: first}, ReadResult{ID: 7, Index: tn.nodes[1].Status().Commit})
}

// A read that timed out: read 1 on a follower fails with ErrReadTimeout
// while the leader's answer is still in flight. The caller reuses ID 1 after
// a write committed; the late answer must not complete the new read.
func TestFollowerReadLateAnswerAfterTimeoutIsNotFresh(t *testing.T) {
	tn, late := heldReadAnswer(t, 2, 1)

	written := commitWithout(t, tn, 1, 2)
	tn.tickAll(2 * tn.cfg(2).ElectionTicks)
	wantReads(t, tn, 2, ReadResult{ID: 1, Err: ErrReadTimeout})
	if tn.nodes[2].Status().Leader != 1 {
		t.Fatalf("node 2 lost its leader")
	}

	tn.drop = nil
	if err := tn.nodes[2].ReadIndex(1); err != nil {
		t.Fatal(err)
	}
	stepLate(t, tn, 2, late)
	wantNoStaleRead(t, tn, 2, 1, 1, written)

	tn.deliverAll()
	wantReads(t, tn, 2, ReadResult{ID: 1, Err: ErrReadTimeout}, ReadResult{ID: 1, Index: tn.nodes[1].Status().Commit})
}

// A restart: a follower forwards read 1 and crashes before the answer
// arrives. A write commits; the follower restarts, and its caller, counting
// from 1 again, issues read 1. The answer sent before the crash arrives late
// and must not complete the new read: the follower's in-memory state is all
// gone, so what tells the two reads apart has to have been persisted.
func TestFollowerReadAnswerFromBeforeRestartIsNotFresh(t *testing.T) {
	tn, late := heldReadAnswer(t, 2, 1)
	tn.drop = nil

	tn.crash(2)
	written := commitWithout(t, tn, 1, 2)
	tn.restart(2)
	tickUntil(tn, 50, "node 2 to follow node 1 again", func() bool { return tn.nodes[2].Status().Leader == 1 })

	if err := tn.nodes[2].ReadIndex(1); err != nil {
		t.Fatal(err)
	}
	tn.drain(2)
	stepLate(t, tn, 2, late)
	wantNoStaleRead(t, tn, 2, 0, 1, written)

	tn.deliverAll()
	wantReads(t, tn, 2, ReadResult{ID: 1, Index: tn.nodes[1].Status().Commit})
}

// The tokens a follower draws are reserved durably before a request
// carrying one goes out: with asynchronous storage, the first forwarded read
// emits a synced persist of the hard state with a ReadTokenLimit, and the
// MsgReadIndex waits for its acknowledgement. Later reads draw from the same
// block and write nothing.
func TestFollowerReadTokensDurableBeforeRequest(t *testing.T) {
	tn := elect3(t)
	tn.async = true
	var sent []Message
	tn.observe = func(m Message) {
		if m.Type == MsgReadIndex {
			sent = append(sent, m)
		}
	}
	if err := tn.nodes[2].ReadIndex(1); err != nil {
		t.Fatal(err)
	}
	tn.deliverAll()
	pend := tn.pending[2]
	if len(pend) != 1 || !pend[0].HasHardState || pend[0].HardState.ReadTokenLimit == 0 || !pend[0].Sync {
		t.Fatalf("want one synced persist reserving read tokens, got %+v", pend)
	}
	if len(sent) != 0 {
		t.Fatalf("MsgReadIndex sent before its tokens were durable: %v", sent)
	}
	tn.ackAll(2)
	tn.deliverAll()
	if len(sent) != 1 || sent[0].Context >= tn.storage[2].hs.ReadTokenLimit {
		t.Fatalf("after the acknowledgement: sent %v, durable limit %d", sent, tn.storage[2].hs.ReadTokenLimit)
	}
	if err := tn.nodes[2].ReadIndex(2); err != nil {
		t.Fatal(err)
	}
	tn.deliverAll()
	if len(tn.pending[2]) != 0 {
		t.Errorf("a second read persisted again: %+v", tn.pending[2])
	}
	if len(sent) != 2 || sent[1].Context == sent[0].Context {
		t.Errorf("second request: %v", sent)
	}
}

// A restarted node draws its tokens above the limit it persisted, and a
// limit no node could have reached (corrupt storage) is refused.
func TestReadTokenLimitRestored(t *testing.T) {
	hs := HardState{Term: 2, Commit: 2, ReadTokenLimit: 3 * readTokenBlock}
	n := restored(t, defaultTestConfig(1), ids(3), hs, 1, 1, 2)
	step(t, n, Message{Type: MsgHeartbeat, From: 2, To: 1, Term: 2, Commit: 2})
	syncRun(t, n)
	if err := n.ReadIndex(1); err != nil {
		t.Fatal(err)
	}
	fwd := msgs(syncRun(t, n), MsgReadIndex)
	if len(fwd) != 1 || fwd[0].Context < hs.ReadTokenLimit {
		t.Fatalf("forwarded %v, want one request with a token of at least %d", fwd, hs.ReadTokenLimit)
	}
	if got := n.hardState().ReadTokenLimit; got != 4*readTokenBlock {
		t.Errorf("limit after one read: %d, want %d", got, 4*readTokenBlock)
	}

	bad := storedState(ids(3), HardState{Term: 2, ReadTokenLimit: maxReadTokenLimit + 1}, []Term{1})
	if _, err := NewNode(defaultTestConfig(1), bad); !errors.Is(err, ErrInvalidState) {
		t.Errorf("NewNode with read token limit %d: %v, want ErrInvalidState", bad.HardState.ReadTokenLimit, err)
	}
}
