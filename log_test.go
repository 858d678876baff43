package raft

import (
	"fmt"
	"math/rand/v2"
	"slices"
	"testing"
)

// TestLogChunksMatchAModel drives the chunked log (log_chunks.go) across
// many chunk boundaries with random appends, conflicting appends that
// truncate (§5.3, Figure 2 AppendEntries rules 3 and 4) and compactions
// (§7), and compares it after every step with a plain slice holding the
// same log: every index's entry and term, the bounds, slice and span. It
// also holds on to slices the log handed out, as an asynchronous caller
// may, and checks that no later step rewrote them (the Action contract:
// the node never rewrites an entry slice it has handed out).
func TestLogChunksMatchAModel(t *testing.T) {
	for _, seed := range []uint64{1, 2, 3} {
		t.Run(fmt.Sprint("seed=", seed), func(t *testing.T) {
			defer func() {
				if r := recover(); r != nil {
					t.Fatalf("seed %d: %v", seed, r)
				}
			}()
			checkLogAgainstModel(t, seed)
		})
	}
}

type heldSlice struct {
	got  []Entry // as handed out
	want []Entry // a copy made then
}

func checkLogAgainstModel(t *testing.T, seed uint64) {
	rng := rand.New(rand.NewPCG(seed, 16))
	var l raftLog
	var model []Entry // model[k] is the entry at snapIndex+1+k
	var held []heldSlice
	term := Term(1)
	// hold keeps up to 16 handed-out slices, replacing a random one.
	hold := func(h heldSlice) {
		if len(held) < 16 {
			held = append(held, h)
		} else {
			held[rng.IntN(len(held))] = h
		}
	}
	maxChunks := 0
	newEntry := func(i Index) Entry {
		return Entry{Index: i, Term: term, Data: []byte(fmt.Sprint(i, "/", term))}
	}
	for step := range 1500 {
		last := l.snapIndex + Index(len(model))
		switch op := rng.IntN(20); {
		case op < 10: // the leader's own appends
			k := 1 + rng.IntN(700)
			ents := make([]Entry, k)
			for i := range ents {
				ents[i] = newEntry(last + 1 + Index(i))
			}
			l.append(ents...)
			model = append(model, ents...)
		case op < 14: // a follower's append after a matching entry, maybe conflicting
			prev := l.snapIndex + Index(rng.IntN(len(model)+1))
			same := rng.IntN(int(last-prev) + 1) // entries it already holds
			ents := slices.Clone(model[prev-l.snapIndex : prev-l.snapIndex+Index(same)])
			if rng.IntN(2) == 0 {
				term++ // a new leader's entries overwrite the rest
				for i := range 1 + rng.IntN(300) {
					ents = append(ents, newEntry(prev+Index(same)+1+Index(i)))
				}
			}
			if len(ents) == 0 {
				continue
			}
			gotLast, written := l.appendAfterMatch(prev, ents)
			if gotLast != prev+Index(len(ents)) {
				t.Fatalf("seed %d step %d: appendAfterMatch returned %d, want %d", seed, step, gotLast, prev+Index(len(ents)))
			}
			if len(written) > 0 {
				model = append(model[:written[0].Index-l.snapIndex-1], written...)
			}
		case op < 15 && len(model) > 0: // compaction, of up to half the log
			from := l.snapIndex
			to := from + Index(rng.IntN(len(model)/2+1))
			l.compactTo(to)
			model = model[to-from:]
		default: // hand out slices, as persist, send and apply do
			if len(model) == 0 {
				continue
			}
			lo := l.firstIndex() + Index(rng.IntN(len(model)))
			hi := lo + Index(rng.IntN(int(min(last-lo, 2*logChunk))+1))
			s := l.slice(lo, hi, uint64(rng.IntN(50_000)))
			hold(heldSlice{s, slices.Clone(s)})
			sp := l.span(lo, hi)
			if !slices.EqualFunc(sp, model[lo-l.snapIndex-1:hi-l.snapIndex], sameEntry) {
				t.Fatalf("seed %d step %d: span(%d, %d) differs from the model", seed, step, lo, hi)
			}
			if len(s) == 0 || !slices.EqualFunc(s, sp[:len(s)], sameEntry) {
				t.Fatalf("seed %d step %d: slice(%d, %d) = %d entries, not a prefix of the log", seed, step, lo, hi, len(s))
			}
			hold(heldSlice{sp, slices.Clone(sp)})
		}
		if len(model) > 0 && model[0].Index != l.snapIndex+1 {
			t.Fatalf("seed %d step %d: model starts at %d, log at %d", seed, step, model[0].Index, l.snapIndex+1)
		}
		last = l.snapIndex + Index(len(model))
		l.committed, l.applied = l.snapIndex, l.snapIndex
		l.stable, l.persisted = last, last
		l.checkInvariants(false)
		if l.lastIndex() != last {
			t.Fatalf("seed %d step %d: lastIndex %d, want %d", seed, step, l.lastIndex(), last)
		}
		wantLastTerm := l.snapTerm
		if len(model) > 0 {
			wantLastTerm = model[len(model)-1].Term
		}
		if l.lastTerm() != wantLastTerm {
			t.Fatalf("seed %d step %d: lastTerm %d, want %d", seed, step, l.lastTerm(), wantLastTerm)
		}
		maxChunks = max(maxChunks, len(l.chunks))
		for k := range model {
			if k%97 != 0 && k != len(model)-1 && step%50 != 0 {
				continue // every entry every 50 steps; a sample otherwise
			}
			if e := l.entry(model[k].Index); !sameEntry(*e, model[k]) {
				t.Fatalf("seed %d step %d: entry %d is %v, want %v", seed, step, model[k].Index, *e, model[k])
			}
		}
		if _, ok := l.term(last + 1); ok {
			t.Fatalf("seed %d step %d: term of %d (past the end) is known", seed, step, last+1)
		}
		for _, h := range held {
			if step%10 != 0 {
				break // checked every 10 steps
			}
			if !slices.EqualFunc(h.got, h.want, sameEntry) {
				t.Fatalf("seed %d step %d: a slice handed out earlier was rewritten", seed, step)
			}
		}
	}
	t.Logf("seed %d: up to %d chunks, %d entries at the end", seed, maxChunks, len(model))
	if maxChunks < 3 {
		t.Fatalf("seed %d: the log spanned at most %d chunks", seed, maxChunks)
	}
}
