package host

// Opening the WAL: replaying every segment into per-group states, cutting
// a torn tail, refusing corruption.

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"hash/crc32"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"

	"github.com/pureraft/raft"
)

// OpenWALGroups opens (creating if needed) the WAL in dir, replays it, cuts
// a torn tail, and returns the state of every group it holds. segSize is the
// size at which a new segment is started. On ErrCorrupt nothing was changed
// on disk.
func OpenWALGroups(dir string, segSize int64) (*WAL, *WALRecovery, error) {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, nil, err
	}
	w := &WAL{dir: dir, segSize: segSize, groups: map[GroupID]*walGroup{}}
	names, err := filepath.Glob(filepath.Join(dir, "*.wal"))
	if err != nil {
		return nil, nil, err
	}
	slices.Sort(names)
	rec := &WALRecovery{Groups: map[GroupID]*WALState{}}
	sawV2 := false
	for i, name := range names {
		seq, err := strconv.ParseUint(strings.TrimSuffix(filepath.Base(name), ".wal"), 16, 64)
		if err != nil || seq == 0 {
			return nil, nil, fmt.Errorf("wal: unexpected file %s", name)
		}
		last := i == len(names)-1
		data, err := os.ReadFile(name)
		if err != nil {
			return nil, nil, err
		}
		legacy, start, err := segmentFormat(data)
		if err == nil && legacy && sawV2 {
			err = fmt.Errorf("a version 1 segment after a version 2 one")
		}
		if err != nil {
			return nil, nil, fmt.Errorf("%w: segment %s: %v", ErrCorrupt, name, err)
		}
		sawV2 = sawV2 || !legacy
		w.segs = append(w.segs, newSegmentState(seq, name, legacy))
		good, torn, err := w.replay(data, start, legacy, rec.Groups)
		if err == nil && torn != nil && !last {
			err = torn
		}
		if err != nil {
			return nil, nil, fmt.Errorf("%w: segment %s at offset %d: %v", ErrCorrupt, name, good, err)
		}
		if torn != nil {
			end := len(data)
			for end > int(good) && data[end-1] == 0 {
				end-- // the preallocated zeros after the damage are not lost data
			}
			rec.TornBytes, rec.TornSegment = max(1, int64(end)-good), name
			if err := cutFile(name, good); err != nil {
				return nil, nil, err
			}
		}
		if last {
			w.size = good
		}
	}
	w.finishReplay(rec.Groups)
	if err := w.openTail(); err != nil {
		return nil, nil, err
	}
	return w, rec, nil
}

// finishReplay fills in each live group's state and what it needs.
func (w *WAL) finishReplay(states map[GroupID]*WALState) {
	for gid, g := range w.groups {
		if g.removed {
			delete(states, gid)
			continue
		}
		st := states[gid]
		st.HardState, st.Snapshot, st.HasSnapshot = g.hs, g.snap, g.hasSnap
		if g.hasSnap {
			// Entries at or below the snapshot are covered by it, and
			// the node starts without them.
			ents := st.Entries
			for len(ents) > 0 && ents[0].Index <= g.snap.Index {
				ents = ents[1:]
			}
			st.Entries = ents
			g.first = g.snap.Index + 1
			w.dropBelowFirst(gid, g)
		}
	}
}

// openTail makes the last segment current, or starts one if there is none
// or the last is of version 1 (never mix formats in one file).
func (w *WAL) openTail() error {
	if len(w.segs) == 0 {
		return w.newSegment(1)
	}
	s := w.cur()
	if s.legacy {
		return w.newSegment(s.seq + 1)
	}
	f, err := os.OpenFile(s.path, os.O_WRONLY, 0)
	if err != nil {
		return err
	}
	if _, err := f.Seek(w.size, io.SeekStart); err != nil {
		f.Close()
		return err
	}
	w.f = f
	return nil
}

// segmentFormat reads a segment's header: whether it is of version 1 and
// where its records start.
func segmentFormat(data []byte) (legacy bool, start int64, err error) {
	if len(data) >= segHeaderSize && bytes.Equal(data[:6], segHeader[:6]) {
		if v := binary.BigEndian.Uint16(data[6:]); v != walVersion {
			return false, 0, fmt.Errorf("segment format version %d; this build reads versions 1 and %d", v, walVersion)
		}
		return false, segHeaderSize, nil
	}
	// Version 1 had no header: a segment starts with a record (or is
	// empty, or holds only a torn first record).
	if len(data) < recHeaderSize || isZero(data[:recHeaderSize]) {
		return true, 0, nil
	}
	if binary.BigEndian.Uint32(data) <= maxRecordSize && data[8] >= recEntry && data[8] <= recSnapCompact {
		return true, 0, nil
	}
	return false, 0, fmt.Errorf("not a segment of a known format (starts %x)", data[:segHeaderSize])
}

// replay applies the records in data from start on and returns how many
// bytes were good. A record that is cut short or fails its checksum is
// returned as torn; a whole record whose content is impossible as err.
func (w *WAL) replay(data []byte, start int64, legacy bool, states map[GroupID]*WALState) (good int64, torn, err error) {
	off := int(start)
	for off < len(data) {
		if isZero(data[off:min(len(data), off+recHeaderSize)]) {
			// A record never starts with a zero length, checksum and type:
			// this is the preallocated, never written end of the segment —
			// if everything after it is zero too.
			if isZero(data[off:]) {
				return int64(off), nil, nil
			}
			return int64(off), fmt.Errorf("zero record header before non-zero bytes"), nil
		}
		if len(data)-off < recHeaderSize {
			return int64(off), fmt.Errorf("truncated record header"), nil
		}
		n := binary.BigEndian.Uint32(data[off:])
		sum := binary.BigEndian.Uint32(data[off+4:])
		if n > maxRecordSize || int(n) > len(data)-off-recHeaderSize {
			return int64(off), fmt.Errorf("truncated record (length %d)", n), nil
		}
		body := data[off+8 : off+recHeaderSize+int(n)]
		if crc32.Checksum(body, crcTable) != sum {
			return int64(off), fmt.Errorf("checksum mismatch"), nil
		}
		if err := w.replayRecord(body, legacy, states); err != nil {
			return int64(off), nil, err
		}
		off += recHeaderSize + int(n)
	}
	return int64(off), nil, nil
}

// replayRecord applies one whole record (type byte, group, payload).
func (w *WAL) replayRecord(body []byte, legacy bool, states map[GroupID]*WALState) error {
	typ, payload := body[0], body[1:]
	gid := GroupID(1) // version 1 held one group
	if !legacy {
		id, k := binary.Uvarint(payload)
		if k <= 0 {
			return fmt.Errorf("bad group ID")
		}
		gid, payload = GroupID(id), payload[k:]
	}
	if gid == 0 {
		return fmt.Errorf("record of type %d for group 0", typ)
	}
	g := w.group(gid, true)
	if g.removed {
		return fmt.Errorf("record of type %d for group %d after its removal", typ, gid)
	}
	st := states[gid]
	if st == nil {
		st = &WALState{}
		states[gid] = st
	}
	if err := w.replayGroupRecord(typ, gid, g, st, payload, legacy); err != nil {
		return fmt.Errorf("group %d: %v", gid, err)
	}
	return nil
}

func (w *WAL) replayGroupRecord(typ byte, gid GroupID, g *walGroup, st *WALState, payload []byte, legacy bool) error {
	switch {
	case typ == recEntry:
		var e raft.Entry
		if err := raft.DecodeEntry(payload, &e, raft.DecodeLimits{MaxEntryBytes: maxRecordSize}); err != nil {
			return err
		}
		if err := appendReplayed(st, e); err != nil {
			return err
		}
		w.noteEntry(gid, g, e.Index)
	case typ == recHardState:
		var hs raft.HardState
		if err := raft.DecodeHardState(payload, &hs); err != nil {
			return err
		}
		w.noteHardState(gid, g, hs)
	case typ == recSnapInstall || typ == recSnapCompact:
		var s raft.SnapshotMeta
		if err := raft.DecodeSnapshotMeta(payload, &s); err != nil {
			return err
		}
		if typ == recSnapInstall {
			st.Entries = nil
		}
		w.noteSnapshot(gid, g, s, typ == recSnapInstall)
	case typ == recRemoved && !legacy:
		if len(payload) != 0 {
			return fmt.Errorf("removal record with a %d-byte payload", len(payload))
		}
		w.noteRemoved(gid, g)
	default:
		return fmt.Errorf("unknown record type %d", typ)
	}
	return nil
}

// appendReplayed adds e to the group's entries; an index at or below the
// last one replaces the suffix from there (§5.3: a follower's conflicting
// entries were overwritten).
func appendReplayed(st *WALState, e raft.Entry) error {
	if len(st.Entries) > 0 {
		first := st.Entries[0].Index
		next := first + raft.Index(len(st.Entries))
		switch {
		case e.Index < first:
			st.Entries = st.Entries[:0]
		case e.Index <= next:
			st.Entries = st.Entries[:e.Index-first]
		default:
			return fmt.Errorf("entry %d leaves a gap after %d", e.Index, next-1)
		}
	}
	st.Entries = append(st.Entries, e)
	return nil
}

func isZero(b []byte) bool {
	for _, c := range b {
		if c != 0 {
			return false
		}
	}
	return true
}

func cutFile(name string, size int64) error {
	f, err := os.OpenFile(name, os.O_WRONLY, 0)
	if err != nil {
		return err
	}
	defer f.Close()
	if err := f.Truncate(size); err != nil {
		return err
	}
	return f.Sync()
}
