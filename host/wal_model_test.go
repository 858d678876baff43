package host

// A model of what the WAL must give back for each group, at the grain of
// one record, and helpers shared by the many-group WAL tests.

import (
	"bytes"
	"fmt"
	"slices"
	"strings"
	"testing"

	"github.com/pureraft/raft"
)

// tb is what the checks need of *testing.T and *rapid.T.
type tb interface {
	Helper()
	Fatalf(format string, args ...any)
}

// modelGroup is one group's state as replay must rebuild it.
type modelGroup struct {
	hs      raft.HardState
	snap    raft.SnapshotMeta
	hasSnap bool
	ents    []raft.Entry // every entry since the last install, covered or not
	removed bool
}

func (m *modelGroup) install(s raft.SnapshotMeta) { m.snap, m.hasSnap, m.ents = s, true, nil }

// entry keeps the entries before e and appends it (§5.3: a conflicting
// suffix is replaced).
func (m *modelGroup) entry(e raft.Entry) {
	i := 0
	for i < len(m.ents) && m.ents[i].Index < e.Index {
		i++
	}
	m.ents = append(m.ents[:i:i], e)
}

func (m *modelGroup) persist(p *raft.Persist) {
	for _, r := range flattenPersist(0, p) {
		r.apply(m)
	}
}

// want is what OpenWALGroups must return for the group.
func (m *modelGroup) want() WALState {
	st := WALState{HardState: m.hs, Snapshot: m.snap, HasSnapshot: m.hasSnap}
	for _, e := range m.ents {
		if !m.hasSnap || e.Index > m.snap.Index {
			st.Entries = append(st.Entries, e)
		}
	}
	return st
}

// flatRec is one record of a batch, in the order SaveGroups writes them.
type flatRec struct {
	gid   GroupID
	apply func(*modelGroup)
}

func flattenPersist(gid GroupID, p *raft.Persist) []flatRec {
	var out []flatRec
	if p.Snapshot != nil {
		s := *p.Snapshot
		out = append(out, flatRec{gid, func(m *modelGroup) { m.install(s) }})
	}
	for _, e := range p.Entries {
		out = append(out, flatRec{gid, func(m *modelGroup) { m.entry(e) }})
	}
	if p.HasHardState {
		hs := p.HardState
		out = append(out, flatRec{gid, func(m *modelGroup) { m.hs = hs }})
	}
	return out
}

func flatten(batch []GroupPersist) []flatRec {
	var out []flatRec
	for _, gp := range batch {
		out = append(out, flattenPersist(gp.Group, gp.Persist)...)
	}
	return out
}

// gents makes entries from..to of group gid in term; each payload names
// its group, so a recovered entry shows whose it is.
func gents(gid GroupID, from, to raft.Index, term raft.Term) []raft.Entry {
	var out []raft.Entry
	for i := from; i <= to; i++ {
		out = append(out, raft.Entry{Index: i, Term: term, Data: []byte(fmt.Sprintf("g%d/i%d/t%d", gid, i, term))})
	}
	return out
}

// checkGroup compares what the WAL recovered for gid with the model.
func checkGroup(t tb, ctx string, gid GroupID, got *WALState, m *modelGroup) {
	t.Helper()
	want := m.want()
	if got == nil {
		t.Fatalf("%s: group %d not recovered", ctx, gid)
	}
	for _, e := range got.Entries {
		if !bytes.HasPrefix(e.Data, []byte(fmt.Sprintf("g%d/", gid))) {
			t.Fatalf("%s: group %d recovered another group's entry %q", ctx, gid, e.Data)
		}
	}
	if got.HardState != want.HardState || got.HasSnapshot != want.HasSnapshot ||
		got.Snapshot.Index != want.Snapshot.Index || got.Snapshot.Term != want.Snapshot.Term {
		t.Fatalf("%s: group %d: got hs %+v snap %v/%+v, want hs %+v snap %v/%+v", ctx, gid,
			got.HardState, got.HasSnapshot, got.Snapshot, want.HardState, want.HasSnapshot, want.Snapshot)
	}
	if !slices.EqualFunc(got.Entries, want.Entries, func(a, b raft.Entry) bool {
		return a.Index == b.Index && a.Term == b.Term && bytes.Equal(a.Data, b.Data)
	}) {
		t.Fatalf("%s: group %d: got entries %s, want %s", ctx, gid, entryList(got.Entries), entryList(want.Entries))
	}
}

func entryList(es []raft.Entry) string {
	var b strings.Builder
	for _, e := range es {
		fmt.Fprintf(&b, "%d/%d ", e.Index, e.Term)
	}
	return b.String()
}

// checkAll compares every live model group with what was recovered, and
// checks that nothing else was.
func checkAll(t tb, ctx string, rec *WALRecovery, model map[GroupID]*modelGroup) {
	t.Helper()
	live := 0
	for gid, m := range model {
		if m.removed {
			if rec.Groups[gid] != nil {
				t.Fatalf("%s: removed group %d was rebuilt", ctx, gid)
			}
			continue
		}
		live++
		checkGroup(t, ctx, gid, rec.Groups[gid], m)
	}
	if len(rec.Groups) != live {
		t.Fatalf("%s: recovered %d groups, the model has %d", ctx, len(rec.Groups), live)
	}
}

func openGroups(t *testing.T, dir string, seg int64) (*WAL, *WALRecovery) {
	t.Helper()
	w, rec, err := OpenWALGroups(dir, seg)
	if err != nil {
		t.Fatalf("OpenWALGroups: %v", err)
	}
	walCheckInvariants(t, w)
	return w, rec
}

func saveGroups(t *testing.T, w *WAL, model map[GroupID]*modelGroup, batch ...GroupPersist) {
	t.Helper()
	if err := w.SaveGroups(batch); err != nil {
		t.Fatalf("SaveGroups: %v", err)
	}
	for _, gp := range batch {
		if model[gp.Group] == nil {
			model[gp.Group] = &modelGroup{}
		}
		model[gp.Group].persist(gp.Persist)
	}
	walCheckInvariants(t, w)
}

// gp builds one group's persist for a batch.
func gp(gid GroupID, p raft.Persist) GroupPersist {
	p.Sync = true
	return GroupPersist{Group: gid, Persist: &p}
}

// walCheckInvariants checks the bookkeeping wal_release.go documents.
func walCheckInvariants(t tb, w *WAL) {
	t.Helper()
	pins := map[uint64]map[GroupID]uint8{}
	for gid, g := range w.groups {
		if g.removed && (len(g.entSegs) > 0 || g.hsSeq != 0 || g.snapSeq != 0) {
			t.Fatalf("removed group %d still holds segments", gid)
		}
		for _, seq := range g.entSegs {
			if s := w.seg(seq); s == nil || func() bool { _, ok := s.needs[gid]; return !ok }() {
				t.Fatalf("group %d lists segment %d that does not name it", gid, seq)
			}
		}
		for _, seq := range []uint64{g.hsSeq, g.snapSeq} {
			if seq != 0 {
				if pins[seq] == nil {
					pins[seq] = map[GroupID]uint8{}
				}
				pins[seq][gid]++
			}
		}
	}
	for _, s := range w.segs {
		for gid := range s.needs {
			if g := w.groups[gid]; g == nil || !slices.Contains(g.entSegs, s.seq) {
				t.Fatalf("segment %d needs group %d, which does not list it", s.seq, gid)
			}
		}
		if len(s.pins) != len(pins[s.seq]) {
			t.Fatalf("segment %d pins %v, groups say %v", s.seq, s.pins, pins[s.seq])
		}
		for gid, n := range s.pins {
			if pins[s.seq][gid] != n {
				t.Fatalf("segment %d pins %v, groups say %v", s.seq, s.pins, pins[s.seq])
			}
		}
	}
}
