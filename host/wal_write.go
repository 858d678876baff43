package host

// Writing to the WAL: batches of many groups' persist actions under one
// fsync, compaction points, removals, and segment rollover.

import (
	"encoding/binary"
	"fmt"
	"hash/crc32"
	"os"
	"path/filepath"
	"time"

	"github.com/pureraft/raft"
)

// appendRecord encodes one record of group gid at the end of w.buf.
func (w *WAL) appendRecord(typ byte, gid GroupID, enc func([]byte) ([]byte, error)) error {
	start := len(w.buf)
	w.buf = append(w.buf, 0, 0, 0, 0, 0, 0, 0, 0, typ)
	w.buf = binary.AppendUvarint(w.buf, uint64(gid))
	var err error
	if enc != nil {
		w.buf, err = enc(w.buf)
	}
	n := len(w.buf) - start - recHeaderSize
	if err == nil && n > maxRecordSize {
		err = fmt.Errorf("wal: record of group %d is %d bytes, more than %d", gid, n, maxRecordSize)
	}
	if err != nil {
		w.buf = w.buf[:start]
		return err
	}
	binary.BigEndian.PutUint32(w.buf[start:], uint32(n))
	binary.BigEndian.PutUint32(w.buf[start+4:], crc32.Checksum(w.buf[start+8:], crcTable))
	return nil
}

// writable returns why gid cannot be written to, or nil.
func (w *WAL) writable(gid GroupID) error {
	if gid == 0 {
		return fmt.Errorf("%w: group 0", ErrUnknownGroup)
	}
	if g := w.groups[gid]; g != nil && g.removed {
		return fmt.Errorf("%w: group %d", ErrGroupRemoved, gid)
	}
	return nil
}

// live returns gid's state if the WAL holds the group and it is not removed.
func (w *WAL) live(gid GroupID) (*walGroup, error) {
	if err := w.writable(gid); err != nil {
		return nil, err
	}
	g := w.groups[gid]
	if g == nil {
		return nil, fmt.Errorf("%w: group %d has no records", ErrUnknownGroup, gid)
	}
	return g, nil
}

// SaveGroups writes a batch of persist actions of many groups, each group's
// in the order given, and, if any of them asks for it, makes all of them
// durable with one fsync: the group commit across groups. A group's first
// persist creates it. A batch naming group 0 or a removed group is refused
// before anything is written.
func (w *WAL) SaveGroups(batch []GroupPersist) error {
	for _, gp := range batch {
		if err := w.writable(gp.Group); err != nil {
			return err
		}
		if gp.Persist == nil {
			return fmt.Errorf("wal: nil persist for group %d", gp.Group)
		}
	}
	sync := false
	for _, gp := range batch {
		sync = sync || gp.Persist.Sync
		if err := w.encodePersist(gp.Group, gp.Persist); err != nil {
			w.buf = w.buf[:0]
			return err
		}
	}
	// Every record is encoded: only now does the WAL's view change.
	for _, gp := range batch {
		w.notePersist(gp.Group, w.group(gp.Group, true), gp.Persist)
	}
	return w.flush(sync)
}

// encodePersist appends p's records in the order replay applies them: the
// installed snapshot replaces the entries before it, then the entries, then
// the hard state that may commit them.
func (w *WAL) encodePersist(gid GroupID, p *raft.Persist) error {
	if p.Snapshot != nil {
		if err := w.appendRecord(recSnapInstall, gid, p.Snapshot.AppendBinary); err != nil {
			return err
		}
	}
	for i := range p.Entries {
		if err := w.appendRecord(recEntry, gid, p.Entries[i].AppendBinary); err != nil {
			return err
		}
	}
	if p.HasHardState {
		return w.appendRecord(recHardState, gid, p.HardState.AppendBinary)
	}
	return nil
}

func (w *WAL) notePersist(gid GroupID, g *walGroup, p *raft.Persist) {
	if p.Snapshot != nil {
		w.noteSnapshot(gid, g, *p.Snapshot, true)
	}
	for i := range p.Entries {
		w.noteEntry(gid, g, p.Entries[i].Index)
	}
	if p.HasHardState {
		w.noteHardState(gid, g, p.HardState)
	}
}

// SaveGroupSnapshot records that a snapshot of group gid's state machine at
// meta.Index is durable (the host wrote its file first) and durably marks
// the group's compaction point. A point before the group's current snapshot
// is refused: it would take the group back in time. Like a persist, it
// creates a group the WAL does not hold yet.
func (w *WAL) SaveGroupSnapshot(gid GroupID, meta raft.SnapshotMeta) error {
	if err := w.writable(gid); err != nil {
		return err
	}
	if g := w.groups[gid]; g != nil && g.hasSnap && meta.Index < g.snap.Index {
		return fmt.Errorf("%w: group %d: snapshot %d is older than its snapshot %d", ErrBadRelease, gid, meta.Index, g.snap.Index)
	}
	if err := w.appendRecord(recSnapCompact, gid, meta.AppendBinary); err != nil {
		return err
	}
	w.noteSnapshot(gid, w.group(gid, true), meta, false)
	return w.flush(true)
}

// RemoveGroup durably records that group gid is gone: it is not rebuilt on
// open, later writes to it are refused, and its records stop holding
// segments. It returns how many segments that freed, as ReleaseGroup does.
// A removed group's ID must not be used again: the WAL refuses it only while
// it still holds the removal record.
func (w *WAL) RemoveGroup(gid GroupID) (int, error) {
	g, err := w.live(gid)
	if err != nil {
		return 0, err
	}
	if err := w.appendRecord(recRemoved, gid, nil); err != nil {
		return 0, err
	}
	w.noteRemoved(gid, g)
	return w.release() // its fsync makes the removal durable

}

func (w *WAL) flush(sync bool) error {
	if len(w.buf) > 0 {
		if _, err := w.f.Write(w.buf); err != nil {
			return err
		}
		w.size += int64(len(w.buf))
		w.written += int64(len(w.buf))
		w.buf = w.buf[:0]
	}
	if sync {
		if err := w.sync(); err != nil {
			return err
		}
	}
	if w.size >= w.segSize {
		if !sync {
			if err := w.sync(); err != nil {
				return err
			}
		}
		return w.newSegment(w.cur().seq + 1)
	}
	return nil
}

func (w *WAL) sync() error {
	start := time.Now()
	err := fdatasync(w.f)
	if w.FsyncHook != nil {
		w.FsyncHook(time.Since(start))
	}
	return err
}

// newSegment starts segment seq, durably, and makes it current. It holds
// only the format header: what recovery needs from older segments stays
// there until release carries it forward.
func (w *WAL) newSegment(seq uint64) error {
	path := filepath.Join(w.dir, fmt.Sprintf("%016x.wal", seq))
	tmp := path + ".tmp"
	f, err := os.OpenFile(tmp, os.O_CREATE|os.O_TRUNC|os.O_WRONLY, 0o644)
	if err != nil {
		return err
	}
	if _, err := f.Write(segHeader[:]); err != nil {
		f.Close()
		return err
	}
	// Preallocate the segment: an fdatasync after writing inside the
	// file's allocated size need not commit a new file size and new
	// extents to the file system's journal as well. Where the file
	// system cannot, the segment simply grows as it is written.
	preallocate(f, w.segSize)
	if err := f.Sync(); err != nil {
		f.Close()
		return err
	}
	if err := os.Rename(tmp, path); err != nil {
		f.Close()
		return err
	}
	if err := syncDir(w.dir); err != nil {
		f.Close()
		return err
	}
	if w.f != nil {
		w.f.Close()
	}
	w.f, w.size = f, segHeaderSize
	w.segs = append(w.segs, newSegmentState(seq, path, false))
	return nil
}

func newSegmentState(seq uint64, path string, legacy bool) *segment {
	return &segment{seq: seq, path: path, legacy: legacy, needs: map[GroupID]raft.Index{}, pins: map[GroupID]uint8{}}
}

func syncDir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return err
	}
	defer d.Close()
	return d.Sync()
}
