package raft

import (
	"errors"
	"fmt"
	"math/rand/v2"
	"slices"
	"testing"
)

// TestMemoryStorageRestartsANode checks MemoryStorage against the
// persistence contract end to end: a node that wrote every persist action
// into it, compacting on the way (§7), restarts from State with the same
// log, hard state and snapshot, and leads again (Figure 2: currentTerm,
// votedFor and log[] are persistent state).
func TestMemoryStorageRestartsANode(t *testing.T) {
	s := NewMemoryStorage()
	cfg := Config{ID: 1, Seed: 1}
	n, err := Bootstrap(cfg, []NodeID{1})
	if err != nil {
		t.Fatal(err)
	}
	var applied Index
	drain := func(n *Node) {
		for n.HasActions() {
			for _, a := range n.Actions() {
				switch a.Kind {
				case ActionPersist:
					if err := s.Write(&a.Persist); err != nil {
						t.Fatal(err)
					}
					if err := n.AckPersist(a.Persist.ID); err != nil {
						t.Fatal(err)
					}
				case ActionApply:
					if k := len(a.Apply.Entries); k > 0 {
						applied = a.Apply.Entries[k-1].Index
					}
				}
			}
		}
	}
	drain(n)
	if err := n.Campaign(); err != nil {
		t.Fatal(err)
	}
	drain(n)
	for round := range 40 {
		for i := range 300 { // 12,000 entries: the stored log spans chunks
			if _, _, err := n.Propose([]byte(fmt.Sprint(round, "/", i))); err != nil {
				t.Fatal(err)
			}
		}
		drain(n)
		if round%7 == 6 {
			meta, err := n.Compact(applied, 1000)
			if err != nil {
				t.Fatal(err)
			}
			if err := s.Compact(meta, n.Status().FirstIndex-1); err != nil {
				t.Fatal(err)
			}
		}
	}
	if s.FirstIndex() != n.Status().FirstIndex || s.LastIndex() != n.Status().LastIndex {
		t.Fatalf("storage holds %d..%d, node %d..%d", s.FirstIndex(), s.LastIndex(), n.Status().FirstIndex, n.Status().LastIndex)
	}
	r, err := NewNode(cfg, s.State(applied))
	if err != nil {
		t.Fatal(err)
	}
	// NewNode drops the stored entries at or below the snapshot (the
	// retained tail): the rest must be the node's log from there on.
	want := logOf(n)[r.log.firstIndex()-n.log.firstIndex():]
	if len(want) == 0 || !slices.EqualFunc(logOf(r), want, sameEntry) {
		t.Fatalf("restarted log differs: %d entries from %d, want %d", len(logOf(r)), r.log.firstIndex(), len(want))
	}
	if r.hardState().Term != n.hardState().Term || r.hardState().Vote != n.hardState().Vote || r.snapshotIndex != n.snapshotIndex {
		t.Fatalf("restarted with %+v, snapshot %d; want %+v, snapshot %d", r.hardState(), r.snapshotIndex, n.hardState(), n.snapshotIndex)
	}
	if err := r.Campaign(); err != nil {
		t.Fatal(err)
	}
	drain(r)
	if r.role != RoleLeader {
		t.Fatalf("restarted node is %s, want leader", r.role)
	}
}

// TestMemoryStorageMatchesAModel writes random persist actions — entries
// that continue the log or overwrite a suffix (thesis §3.5), snapshots that
// replace everything — and compactions into a MemoryStorage, and compares
// it after each with a plain slice holding the same entries.
func TestMemoryStorageMatchesAModel(t *testing.T) {
	const seed = 7
	rng := rand.New(rand.NewPCG(seed, 3))
	s := NewMemoryStorage()
	first := Index(1) // the model: model[k] is the entry at first+k
	var model []Entry
	term := Term(1)
	maxLen := 0
	for step := range 2000 {
		last := first + Index(len(model)) - 1
		var p Persist
		switch op := rng.IntN(20); {
		case op < 14: // entries, maybe overwriting
			from := last + 1
			if rng.IntN(4) == 0 && len(model) > 0 {
				from = last - Index(rng.IntN(min(len(model), 300))) // a suffix
				term++
			}
			for i := range 1 + rng.IntN(400) {
				p.Entries = append(p.Entries, Entry{Index: from + Index(i), Term: term, Data: []byte{byte(i)}})
			}
			model = append(model[:from-first], p.Entries...)
		case op < 15 && step%5 == 0: // a snapshot received from a leader
			term++
			p.Snapshot = &SnapshotMeta{Index: last + Index(rng.IntN(100)), Term: term}
			first, model = p.Snapshot.Index+1, nil
		case op < 16 && len(model) > 0: // compaction
			through := first - 1 + Index(rng.IntN(len(model)/4+1)) // up to a quarter
			if err := s.Compact(SnapshotMeta{Index: through}, through); err != nil {
				t.Fatalf("seed %d step %d: %v", seed, step, err)
			}
			model = model[through+1-first:]
			first = through + 1
		default: // hard state only
			p.HasHardState, p.HardState = true, HardState{Term: term, Commit: last}
		}
		if err := s.Write(&p); err != nil {
			t.Fatalf("seed %d step %d: %v", seed, step, err)
		}
		if s.FirstIndex() != first || s.LastIndex() != first+Index(len(model))-1 {
			t.Fatalf("seed %d step %d: storage holds %d..%d, want %d..%d", seed, step, s.FirstIndex(), s.LastIndex(), first, first+Index(len(model))-1)
		}
		if step%20 == 0 || step == 1999 {
			got := s.State(0).Entries
			if !slices.EqualFunc(got, model, sameEntry) {
				t.Fatalf("seed %d step %d: stored entries differ from the model", seed, step)
			}
		}
		maxLen = max(maxLen, len(model))
		if e, ok := s.Entry(first + Index(len(model))); ok {
			t.Fatalf("seed %d step %d: entry %v past the end", seed, step, e)
		}
	}
	if maxLen <= 2*logChunk {
		t.Fatalf("seed %d: the storage never held more than %d entries: chunk boundaries untested", seed, maxLen)
	}
}

// TestMemoryStorageRefusesAGap: entries that do not continue or overwrite
// the stored log are an error, and nothing is written (the hard state of
// the same persist included).
func TestMemoryStorageRefusesAGap(t *testing.T) {
	s := NewMemoryStorage()
	ok := Persist{Entries: []Entry{{Index: 1, Term: 1}, {Index: 2, Term: 1}}}
	if err := s.Write(&ok); err != nil {
		t.Fatal(err)
	}
	bad := Persist{HasHardState: true, HardState: HardState{Term: 5}, Entries: []Entry{{Index: 4, Term: 2}}}
	if err := s.Write(&bad); !errors.Is(err, ErrInvalidState) {
		t.Fatalf("write with a gap: %v, want ErrInvalidState", err)
	}
	if s.LastIndex() != 2 || s.HardState() != (HardState{}) {
		t.Fatalf("a refused write changed the storage: last %d, hard state %+v", s.LastIndex(), s.HardState())
	}
	if err := s.Compact(SnapshotMeta{Index: 3}, 3); !errors.Is(err, ErrInvalidState) {
		t.Fatalf("compaction past the end: %v, want ErrInvalidState", err)
	}
}
