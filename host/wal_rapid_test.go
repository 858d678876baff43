package host

import (
	"os"
	"slices"
	"testing"

	"github.com/pureraft/raft"
	"pgregory.net/rapid"
)

// walRun drives one WAL with generated operations of several groups and
// compares every reopen with the model.
type walRun struct {
	rt    *rapid.T
	dir   string
	seg   int64
	w     *WAL
	model map[GroupID]*modelGroup
	term  raft.Term
}

// last is the group's last index: its last entry or its snapshot.
func (m *modelGroup) last() raft.Index {
	if n := len(m.ents); n > 0 {
		return max(m.ents[n-1].Index, m.snap.Index)
	}
	return m.snap.Index
}

// liveGroup draws a group of the pool that is not removed (new or not).
func (r *walRun) liveGroup(label string, existing bool) (GroupID, bool) {
	var ids []GroupID
	for gid := GroupID(1); gid <= 5; gid++ {
		m := r.model[gid]
		if (m == nil && !existing) || (m != nil && !m.removed) {
			ids = append(ids, gid)
		}
	}
	if len(ids) == 0 {
		return 0, false
	}
	return rapid.SampledFrom(ids).Draw(r.rt, label), true
}

// persist draws one persist of gid as the core could emit it: entries
// from at most one past its last index (overwriting a suffix after its
// snapshot, §5.3), sometimes after an installed snapshot (§7), sometimes a
// hard state.
func (r *walRun) persist(gid GroupID) raft.Persist {
	m := r.model[gid]
	if m == nil {
		m = &modelGroup{}
		r.model[gid] = m
	}
	var p raft.Persist
	if rapid.IntRange(0, 7).Draw(r.rt, "install") == 0 {
		p.Snapshot = snapAt(m.last()+raft.Index(rapid.IntRange(0, 5).Draw(r.rt, "ahead")), r.term)
	}
	lo, last := m.snap.Index+1, m.last()
	if p.Snapshot != nil {
		lo, last = p.Snapshot.Index+1, p.Snapshot.Index
	}
	if n := rapid.IntRange(0, 3).Draw(r.rt, "entries"); n > 0 {
		from := raft.Index(rapid.IntRange(int(lo), int(last)+1).Draw(r.rt, "from"))
		p.Entries = gents(gid, from, from+raft.Index(n)-1, r.term)
	}
	if p.Snapshot == nil && len(p.Entries) == 0 || rapid.Bool().Draw(r.rt, "hs") {
		p.HasHardState = true
		p.HardState = raft.HardState{Term: r.term, Vote: raft.NodeID(gid), Commit: raft.Index(rapid.IntRange(0, int(last)).Draw(r.rt, "commit"))}
	}
	p.Sync = true
	m.persist(&p)
	return p
}

func (r *walRun) save() {
	var batch []GroupPersist
	for n := rapid.IntRange(1, 4).Draw(r.rt, "batch"); len(batch) < n; {
		gid, ok := r.liveGroup("group", false)
		if !ok {
			return
		}
		p := r.persist(gid)
		batch = append(batch, GroupPersist{Group: gid, Persist: &p})
	}
	if err := r.w.SaveGroups(batch); err != nil {
		r.rt.Fatalf("SaveGroups: %v", err)
	}
}

// compaction draws a compaction of gid somewhere in its log, releasing
// entries up to it minus a retained tail, and applies it to the model.
func (r *walRun) compaction(gid GroupID) GroupCompaction {
	m := r.model[gid]
	at := raft.Index(rapid.IntRange(int(m.snap.Index), int(m.last())).Draw(r.rt, "at"))
	if m.last() > m.snap.Index && rapid.Bool().Draw(r.rt, "keep one") {
		at = m.last() - 1 // one entry left after the snapshot: the release edge
	}
	// Mostly right after the snapshot, as a host that retains no tail
	// does: the edge where the next entry is still needed.
	first := at + 1
	if rapid.Bool().Draw(r.rt, "retain") {
		first = raft.Index(rapid.IntRange(1, int(at)+1).Draw(r.rt, "first"))
	}
	m.snap, m.hasSnap = *snapAt(at, r.term), true
	return GroupCompaction{Group: gid, Snapshot: m.snap, First: first}
}

// compact compacts one group (SaveGroupSnapshot, ReleaseGroup) or several
// (CompactGroups).
func (r *walRun) compact() {
	cur := r.w.cur().seq
	var batch []GroupCompaction
	for n := rapid.IntRange(1, 3).Draw(r.rt, "compactions"); len(batch) < n; {
		gid, ok := r.liveGroup("compact group", true)
		if !ok {
			return
		}
		batch = append(batch, r.compaction(gid))
	}
	if len(batch) > 1 || rapid.Bool().Draw(r.rt, "batched") {
		if _, err := r.w.CompactGroups(batch); err != nil {
			r.rt.Fatalf("CompactGroups(%+v): %v", batch, err)
		}
	} else {
		c := batch[0]
		if err := r.w.SaveGroupSnapshot(c.Group, c.Snapshot); err != nil {
			r.rt.Fatalf("SaveGroupSnapshot(%d, %d): %v", c.Group, c.Snapshot.Index, err)
		}
		if _, err := r.w.ReleaseGroup(c.Group, c.First); err != nil {
			r.rt.Fatalf("ReleaseGroup(%d, %d): %v", c.Group, c.First, err)
		}
	}
	// What is left starts with a segment some group needs, or the one
	// that was current when the release began (the carried records may
	// have rolled the log over to a new one): nothing is kept for nobody.
	if s := r.w.segs[0]; len(r.w.segs) > 1 && len(s.needs) == 0 && s.seq < cur {
		r.rt.Fatalf("segment %d kept though no group needs an entry in it", s.seq)
	}
}

func (r *walRun) remove() {
	gid, ok := r.liveGroup("remove group", true)
	if !ok {
		return
	}
	if _, err := r.w.RemoveGroup(gid); err != nil {
		r.rt.Fatalf("RemoveGroup(%d): %v", gid, err)
	}
	r.model[gid].removed = true
}

func (r *walRun) reopen() {
	r.w.Close()
	w, rec, err := OpenWALGroups(r.dir, r.seg)
	if err != nil {
		r.rt.Fatalf("OpenWALGroups: %v", err)
	}
	r.w = w
	if rec.TornBytes != 0 {
		r.rt.Fatalf("a clean log reopened with %d torn bytes", rec.TornBytes)
	}
	checkAll(r.rt, "reopen", rec, r.model)
}

// Random sequences of many groups' persists, compactions, removals and
// restarts: every restart gives back exactly each live group's state, no
// removed group, and the WAL's bookkeeping stays consistent.
func TestWALPropertyManyGroups(t *testing.T) {
	rapid.Check(t, func(rt *rapid.T) {
		dir, err := os.MkdirTemp(t.TempDir(), "wal")
		if err != nil {
			rt.Fatal(err)
		}
		defer os.RemoveAll(dir)
		r := &walRun{rt: rt, dir: dir, seg: rapid.SampledFrom([]int64{256, 1024, 1 << 16}).Draw(rt, "segSize"), model: map[GroupID]*modelGroup{}, term: 1}
		if r.w, _, err = OpenWALGroups(dir, r.seg); err != nil {
			rt.Fatal(err)
		}
		defer func() { r.w.Close() }()
		ops := []func(){r.save, r.save, r.save, r.save, r.compact, r.compact, r.remove, r.reopen}
		for n := rapid.IntRange(1, 60).Draw(rt, "ops"); n > 0; n-- {
			ops[rapid.IntRange(0, len(ops)-1).Draw(rt, "op")]()
			walCheckInvariants(rt, r.w)
			r.term++
		}
		r.reopen()
		if got := r.w.Groups(); got != liveCount(r.model) {
			rt.Fatalf("Groups() = %d, model has %d", got, liveCount(r.model))
		}
	})
}

func liveCount(model map[GroupID]*modelGroup) int {
	return len(slices.DeleteFunc(mapValues(model), func(m *modelGroup) bool { return m.removed }))
}

func mapValues(m map[GroupID]*modelGroup) []*modelGroup {
	var out []*modelGroup
	for _, v := range m {
		out = append(out, v)
	}
	return out
}
