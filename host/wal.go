package host

import (
	"encoding/binary"
	"errors"
	"fmt"
	"hash/crc32"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/pureraft/raft"
)

// The write-ahead log: the raft log and hard state on disk.
//
// A WAL is a directory of segment files named by a sequence number
// (%016x.wal). A segment is a sequence of records:
//
//	length   uint32, big endian: bytes of payload
//	checksum uint32, big endian: CRC-32C of the type byte and the payload
//	type     byte
//	payload  length bytes
//
// Record types: an entry (raft's Entry codec), a hard state (HardState
// codec), an installed snapshot (SnapshotMeta codec; it replaces every
// entry before it) and a compaction point (SnapshotMeta; entries are kept).
// Every segment starts with a compaction record and a hard state record
// describing the state at the time it was created, so the segments before
// it are needed only for their entries: once the node no longer needs any
// entry they hold, they are deleted.
//
// Records are only ever appended. On open the segments are replayed in
// order; an entry at an index at or below the last one replaces the suffix
// from that index on (a follower's conflicting entries were overwritten). A
// record that is cut short or fails its checksum in the last segment is a
// torn write from a crash — it was never acknowledged, because
// acknowledgements wait for the fsync — and the file is cut there. The same
// in an older segment is corruption the WAL cannot repair by itself: Open
// fails.

const (
	recEntry       = 1
	recHardState   = 2
	recSnapInstall = 3
	recSnapCompact = 4

	recHeaderSize = 9
	// maxRecordSize bounds one record; anything larger is corruption.
	maxRecordSize = 64 << 20
)

var crcTable = crc32.MakeTable(crc32.Castagnoli)

// ErrCorrupt wraps every corruption Open cannot repair.
var ErrCorrupt = errors.New("wal: corrupt")

// WALState is what Open read back.
type WALState struct {
	HardState raft.HardState
	Snapshot  raft.SnapshotMeta
	// HasSnapshot is false for a WAL that never saw a snapshot record (a
	// node that has not bootstrapped or joined yet).
	HasSnapshot bool
	Entries     []raft.Entry
	// TornBytes is how many bytes were cut from the tail of the last
	// segment (0 for a clean log).
	TornBytes int64
}

type segment struct {
	seq  uint64
	path string
	// maxIndex is the highest entry index written to this segment or any
	// before it; dead marks a segment whose entries an installed snapshot
	// later replaced.
	maxIndex raft.Index
	dead     bool
}

// WAL is the on-disk log. It is used by one goroutine at a time.
type WAL struct {
	dir     string
	segSize int64
	segs    []segment
	f       *os.File
	size    int64
	buf     []byte

	hs       raft.HardState
	snap     raft.SnapshotMeta
	hasSnap  bool
	maxIndex raft.Index

	// FsyncHook, if set, is called with the duration of every fsync.
	FsyncHook func(time.Duration)
}

// OpenWAL opens (creating if needed) the WAL in dir, replays it, cuts a
// torn tail, and returns the state it holds. segSize is the size at which
// a new segment is started.
func OpenWAL(dir string, segSize int64) (*WAL, *WALState, error) {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, nil, err
	}
	w := &WAL{dir: dir, segSize: segSize}
	names, err := filepath.Glob(filepath.Join(dir, "*.wal"))
	if err != nil {
		return nil, nil, err
	}
	slices.Sort(names)
	st := &WALState{}
	for i, name := range names {
		seq, err := strconv.ParseUint(strings.TrimSuffix(filepath.Base(name), ".wal"), 16, 64)
		if err != nil {
			return nil, nil, fmt.Errorf("wal: unexpected file %s", name)
		}
		last := i == len(names)-1
		data, err := os.ReadFile(name)
		if err != nil {
			return nil, nil, err
		}
		good, rerr := w.replay(data, st)
		if rerr != nil {
			if !last {
				return nil, nil, fmt.Errorf("%w: segment %s at offset %d: %v", ErrCorrupt, name, good, rerr)
			}
			end := len(data)
			for end > int(good) && data[end-1] == 0 {
				end-- // the preallocated zeros after the damage are not lost data
			}
			st.TornBytes = max(1, int64(end)-good)
			if err := cutFile(name, good); err != nil {
				return nil, nil, err
			}
		}
		w.segs = append(w.segs, segment{seq: seq, path: name, maxIndex: w.maxIndex})
		if last {
			w.size = good
		}
	}
	st.HardState, st.Snapshot, st.HasSnapshot = w.hs, w.snap, w.hasSnap
	// Entries at or below the snapshot are covered by it.
	ents := st.Entries
	for len(ents) > 0 && ents[0].Index <= st.Snapshot.Index {
		ents = ents[1:]
	}
	st.Entries = ents
	if len(w.segs) == 0 {
		if err := w.newSegment(1); err != nil {
			return nil, nil, err
		}
	} else {
		s := w.segs[len(w.segs)-1]
		f, err := os.OpenFile(s.path, os.O_WRONLY, 0)
		if err != nil {
			return nil, nil, err
		}
		if _, err := f.Seek(w.size, io.SeekStart); err != nil {
			f.Close()
			return nil, nil, err
		}
		w.f = f
	}
	return w, st, nil
}

// replay applies the records in data to st and returns how many bytes were
// good, and the error that stopped it, if any.
func (w *WAL) replay(data []byte, st *WALState) (int64, error) {
	off := 0
	for off < len(data) {
		if isZero(data[off:min(len(data), off+recHeaderSize)]) {
			// A record never starts with a zero length, checksum and type:
			// this is the preallocated, never written end of the segment —
			// if everything after it is zero too.
			if isZero(data[off:]) {
				return int64(off), nil
			}
			return int64(off), fmt.Errorf("zero record header before non-zero bytes")
		}
		if len(data)-off < recHeaderSize {
			return int64(off), fmt.Errorf("truncated record header")
		}
		n := binary.BigEndian.Uint32(data[off:])
		sum := binary.BigEndian.Uint32(data[off+4:])
		if n > maxRecordSize || int(n) > len(data)-off-recHeaderSize {
			return int64(off), fmt.Errorf("truncated record (length %d)", n)
		}
		body := data[off+8 : off+recHeaderSize+int(n)]
		if crc32.Checksum(body, crcTable) != sum {
			return int64(off), fmt.Errorf("checksum mismatch")
		}
		typ, payload := body[0], body[1:]
		switch typ {
		case recEntry:
			var e raft.Entry
			if err := raft.DecodeEntry(payload, &e, raft.DecodeLimits{MaxEntryBytes: maxRecordSize}); err != nil {
				return int64(off), err
			}
			if len(st.Entries) > 0 {
				first := st.Entries[0].Index
				if e.Index < first {
					st.Entries = st.Entries[:0]
				} else if e.Index <= first+raft.Index(len(st.Entries)) {
					st.Entries = st.Entries[:e.Index-first]
				} else {
					return int64(off), fmt.Errorf("entry %d leaves a gap after %d", e.Index, first+raft.Index(len(st.Entries))-1)
				}
			}
			st.Entries = append(st.Entries, e)
			w.maxIndex = max(w.maxIndex, e.Index)
		case recHardState:
			if err := raft.DecodeHardState(payload, &w.hs); err != nil {
				return int64(off), err
			}
		case recSnapInstall, recSnapCompact:
			var s raft.SnapshotMeta
			if err := raft.DecodeSnapshotMeta(payload, &s); err != nil {
				return int64(off), err
			}
			if typ == recSnapInstall {
				st.Entries = nil
				for i := range w.segs {
					w.segs[i].dead = true
				}
			}
			w.snap, w.hasSnap = s, true
		default:
			return int64(off), fmt.Errorf("unknown record type %d", typ)
		}
		off += recHeaderSize + int(n)
	}
	return int64(off), nil
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

func (w *WAL) appendRecord(typ byte, enc func([]byte) ([]byte, error)) error {
	start := len(w.buf)
	w.buf = append(w.buf, 0, 0, 0, 0, 0, 0, 0, 0, typ)
	var err error
	w.buf, err = enc(w.buf)
	if err != nil {
		w.buf = w.buf[:start]
		return err
	}
	binary.BigEndian.PutUint32(w.buf[start:], uint32(len(w.buf)-start-recHeaderSize))
	binary.BigEndian.PutUint32(w.buf[start+4:], crc32.Checksum(w.buf[start+8:], crcTable))
	return nil
}

// Save writes a batch of persist actions in order and, if any of them asks
// for it, makes them durable with one fsync: the group commit.
func (w *WAL) Save(batch []*raft.Persist) error {
	sync := false
	for _, p := range batch {
		sync = sync || p.Sync
		if p.Snapshot != nil {
			if err := w.appendRecord(recSnapInstall, p.Snapshot.AppendBinary); err != nil {
				return err
			}
			w.snap, w.hasSnap = *p.Snapshot, true
			// Every older segment is dead; the current one may hold
			// entries after the snapshot and stays until compacted past.
			for i := range w.segs[:len(w.segs)-1] {
				w.segs[i].dead = true
			}
		}
		for i := range p.Entries {
			if err := w.appendRecord(recEntry, p.Entries[i].AppendBinary); err != nil {
				return err
			}
			w.maxIndex = max(w.maxIndex, p.Entries[i].Index)
		}
		if p.HasHardState {
			if err := w.appendRecord(recHardState, p.HardState.AppendBinary); err != nil {
				return err
			}
			w.hs = p.HardState
		}
	}
	return w.flush(sync)
}

// SaveSnapshot records that a snapshot of the state machine at meta.Index
// is durable (the host wrote its file first) and durably marks the
// compaction point.
func (w *WAL) SaveSnapshot(meta raft.SnapshotMeta) error {
	if err := w.appendRecord(recSnapCompact, meta.AppendBinary); err != nil {
		return err
	}
	w.snap, w.hasSnap = meta, true
	return w.flush(true)
}

func (w *WAL) flush(sync bool) error {
	if len(w.buf) > 0 {
		if _, err := w.f.Write(w.buf); err != nil {
			return err
		}
		w.size += int64(len(w.buf))
		w.buf = w.buf[:0]
	}
	w.segs[len(w.segs)-1].maxIndex = w.maxIndex
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
		return w.newSegment(w.segs[len(w.segs)-1].seq + 1)
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

// newSegment starts segment seq with the current compaction point and hard
// state, durably, and makes it current.
func (w *WAL) newSegment(seq uint64) error {
	path := filepath.Join(w.dir, fmt.Sprintf("%016x.wal", seq))
	tmp := path + ".tmp"
	f, err := os.OpenFile(tmp, os.O_CREATE|os.O_TRUNC|os.O_WRONLY, 0o644)
	if err != nil {
		return err
	}
	w.buf = w.buf[:0]
	if w.hasSnap {
		if err := w.appendRecord(recSnapCompact, w.snap.AppendBinary); err != nil {
			f.Close()
			return err
		}
	}
	if !w.hs.IsZero() {
		if err := w.appendRecord(recHardState, w.hs.AppendBinary); err != nil {
			f.Close()
			return err
		}
	}
	if _, err := f.Write(w.buf); err != nil {
		f.Close()
		return err
	}
	size := int64(len(w.buf))
	w.buf = w.buf[:0]
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
	w.f, w.size = f, size
	w.segs = append(w.segs, segment{seq: seq, path: path, maxIndex: w.maxIndex})
	return nil
}

// Release deletes the segments (never the current one) that hold no entry
// at or after firstIndex: the node has compacted them away and a later
// segment carries the snapshot and hard state they held.
func (w *WAL) Release(firstIndex raft.Index) (int, error) {
	n := 0
	for len(w.segs) > 1 && (w.segs[0].dead || w.segs[0].maxIndex < firstIndex) {
		if err := os.Remove(w.segs[0].path); err != nil {
			return n, err
		}
		w.segs = w.segs[1:]
		n++
	}
	if n > 0 {
		return n, syncDir(w.dir)
	}
	return 0, nil
}

// Segments returns the number of segment files.
func (w *WAL) Segments() int { return len(w.segs) }

// Close closes the current segment.
func (w *WAL) Close() error {
	if w.f == nil {
		return nil
	}
	err := w.f.Close()
	w.f = nil
	return err
}

func syncDir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return err
	}
	defer d.Close()
	return d.Sync()
}
