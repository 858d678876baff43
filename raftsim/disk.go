package raftsim

import (
	"fmt"
	"slices"

	"github.com/pureraft/raft"
)

// simDisk is one node's simulated storage. It separates what is durable from
// what was handed to it but not yet acknowledged:
//
//   - A persist action is either written at once (synchronous mode) or
//     queued with a completion time; queued writes complete in order, each
//     atomically, and only then are they acknowledged to the node.
//   - A crash loses the queued writes. With partial loss, a random prefix
//     of them may have reached the platter first.
//
// The durable state is exactly what a restarting node reads back.
type simDisk struct {
	hs      raft.HardState
	snap    raft.SnapshotMeta
	entries []raft.Entry // entries after snap.Index
	// snapData is the state-machine snapshot snap describes (nil for the
	// empty snapshot at index 0).
	snapData *smSnap

	pending []pendingWrite
	lastDue Time

	// Writes counts persists made durable, Lost those lost in crashes.
	Writes, Lost int
}

type pendingWrite struct {
	p    raft.Persist
	data *smSnap // the snapshot data of p.Snapshot, if any
	due  Time
}

// HardState returns the durable hard state.
func (d *simDisk) HardState() raft.HardState { return d.hs }

// LastIndex returns the durable log's last index.
func (d *simDisk) LastIndex() raft.Index { return d.snap.Index + raft.Index(len(d.entries)) }

// Term returns the term of the durable entry at i; ok is false if there is
// none (compacted away or beyond the end). The snapshot's last index counts.
func (d *simDisk) Term(i raft.Index) (raft.Term, bool) {
	switch {
	case i == d.snap.Index:
		return d.snap.Term, true
	case i < d.snap.Index || i > d.LastIndex():
		return 0, false
	}
	return d.entries[i-d.snap.Index-1].Term, true
}

// Entry returns the durable entry at i, which must exist after the
// snapshot.
func (d *simDisk) Entry(i raft.Index) *raft.Entry { return &d.entries[i-d.snap.Index-1] }

// Pending returns the number of writes not yet durable.
func (d *simDisk) Pending() int { return len(d.pending) }

// State returns what a restarting node reads back, with applied as the
// state machine's applied index.
func (d *simDisk) State(applied raft.Index) raft.PersistentState {
	return raft.PersistentState{
		HardState: d.hs,
		Snapshot:  cloneSnapshot(d.snap),
		Entries:   slices.Clone(d.entries),
		Applied:   applied,
	}
}

func cloneSnapshot(s raft.SnapshotMeta) raft.SnapshotMeta {
	s.Membership = s.Membership.Clone()
	return s
}

// write makes p durable the way the contract says: the snapshot, then the
// entries (deleting the stored suffix they overwrite), then the hard state.
// A persist that cannot be applied (entries leaving a gap) is a core bug,
// reported as an error; nothing changes then.
func (d *simDisk) write(p *raft.Persist, data *smSnap) error {
	snap, entries, snapData := d.snap, d.entries, d.snapData
	if p.Snapshot != nil {
		snap = cloneSnapshot(*p.Snapshot)
		entries = nil
		snapData = data
	}
	if len(p.Entries) > 0 {
		first := p.Entries[0].Index
		last := snap.Index + raft.Index(len(entries))
		if first <= snap.Index || first > last+1 {
			return fmt.Errorf("persist %d writes entries from %d onto a log holding [%d, %d]", p.ID, first, snap.Index+1, last)
		}
		keep := int(first - snap.Index - 1)
		// The disk owns this array (State hands out copies), so it may be
		// overwritten in place.
		entries = append(entries[:keep], p.Entries...)
	}
	d.snap, d.entries, d.snapData = snap, entries, snapData
	if p.HasHardState {
		d.hs = p.HardState
	}
	d.Writes++
	return nil
}

// enqueue queues p to complete no earlier than due and after every write
// queued before it; it returns the completion time.
func (d *simDisk) enqueue(p raft.Persist, data *smSnap, due Time) Time {
	due = max(due, d.lastDue)
	d.lastDue = due
	d.pending = append(d.pending, pendingWrite{p: p, data: data, due: due})
	return due
}

// nextDue returns the oldest queued write if it is due at now.
func (d *simDisk) nextDue(now Time) (*pendingWrite, bool) {
	if len(d.pending) == 0 || d.pending[0].due > now {
		return nil, false
	}
	return &d.pending[0], true
}

// popDue removes the oldest queued write (after it was written).
func (d *simDisk) popDue() {
	d.pending[0] = pendingWrite{}
	d.pending = d.pending[1:]
}

// crash discards the queued writes except the first survive of them, which
// are returned to be written (they reached the disk before the power went).
func (d *simDisk) crash(survive int) []pendingWrite {
	var kept []pendingWrite
	for i := 0; i < survive && i < len(d.pending); i++ {
		kept = append(kept, d.pending[i])
	}
	d.Lost += len(d.pending) - len(kept)
	d.pending = nil
	d.lastDue = 0
	return kept
}

// compact stores the snapshot meta describes, with its data, atomically
// (the caller's part of Compact), and deletes the entries it covers.
func (d *simDisk) compact(meta raft.SnapshotMeta, data *smSnap) {
	if meta.Index < d.snap.Index {
		return
	}
	drop := min(int(meta.Index-d.snap.Index), len(d.entries))
	d.entries = slices.Clone(d.entries[drop:])
	d.snap, d.snapData = cloneSnapshot(meta), data
}
