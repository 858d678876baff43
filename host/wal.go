package host

import (
	"errors"
	"hash/crc32"
	"os"
	"time"

	"github.com/pureraft/raft"
)

// The write-ahead log: the raft logs and hard states of every group a host
// runs, in one directory, made durable by one fsync per batch.
//
// A WAL is a directory of segment files named by a sequence number
// (%016x.wal). Format version 2 (this one) starts every segment with an
// 8-byte header, "PRWAL" 0x00 and the version as a big-endian uint16, and
// then holds a sequence of records:
//
//	length   uint32, big endian: bytes after the type byte
//	checksum uint32, big endian: CRC-32C of the type byte, group and payload
//	type     byte
//	group    uvarint: the GroupID (never 0)
//	payload  the rest
//
// Record types: an entry (raft's Entry codec), a hard state (HardState
// codec), an installed snapshot (SnapshotMeta codec; it replaces every entry
// of its group before it), a compaction point (SnapshotMeta; entries are
// kept) and a group's removal (empty payload; the group is not rebuilt, and
// no record of it may follow).
//
// Records are only ever appended, and the records of one group keep the
// order of its persist actions. On open the segments are replayed in order
// and every group's records apply to that group alone: an entry at an index
// at or below the group's last one replaces the group's suffix from that
// index on (a follower's conflicting entries were overwritten). A record that
// is cut short or fails its checksum in the last segment is a torn write from
// a crash — it was never acknowledged, because acknowledgements wait for the
// fsync — and the file is cut there. The same in an older segment, or a
// record whose checksum holds but whose content is impossible (group 0, an
// unknown type, a record after its group's removal, an entry that leaves a
// gap), is corruption the WAL cannot repair by itself: Open fails with
// ErrCorrupt naming the segment, offset and group, and deletes nothing.
//
// Segments are deleted oldest first, and only when no group needs anything
// in them: no live group needs an entry there (its entries there are below
// the first index it still needs, or an installed snapshot replaced them),
// and the segment holds no group's latest hard state or snapshot record.
// New segments start with the header only, so a segment start costs nothing
// however many groups there are; instead, when the oldest segments are
// otherwise free, the latest hard state and snapshot records they hold are
// written again at the end of the log (one fsync for all of them) before the
// files go. Only groups idle since that segment are rewritten, each at most
// once per release and once per deleted segment — never more often than a
// per-segment header would, and far less often when the groups keep a long
// log. A removal record needs no such care: every segment before it goes
// first. A group that never compacts keeps the oldest segment, and so every
// later one; Blocking names such groups.
//
// Version 1 (before many groups) had no header and no group field; its
// segments are read as group 1, and the first write after opening them
// starts a version 2 segment.

const (
	recEntry       = 1
	recHardState   = 2
	recSnapInstall = 3
	recSnapCompact = 4
	recRemoved     = 5

	recHeaderSize = 9
	// maxRecordSize bounds one record; anything larger is corruption.
	maxRecordSize = 64 << 20

	walVersion    = 2
	segHeaderSize = 8
)

// segHeader opens every version 2 segment. Its first byte makes it an
// impossible version 1 record length (larger than maxRecordSize), so the
// two formats cannot be mistaken for each other.
var segHeader = [segHeaderSize]byte{'P', 'R', 'W', 'A', 'L', 0, 0, walVersion}

var crcTable = crc32.MakeTable(crc32.Castagnoli)

var (
	// ErrCorrupt wraps every corruption Open cannot repair.
	ErrCorrupt = errors.New("wal: corrupt")
	// ErrGroupRemoved is returned for a write to a group whose removal the
	// WAL holds.
	ErrGroupRemoved = errors.New("wal: group removed")
	// ErrUnknownGroup is returned for group 0, and for a compaction or
	// removal of a group the WAL holds nothing of.
	ErrUnknownGroup = errors.New("wal: unknown group")
	// ErrBadRelease is returned for a compaction that would go back in
	// time or free entries no snapshot covers.
	ErrBadRelease = errors.New("wal: bad compaction")
)

// WALState is what Open read back for one group.
type WALState struct {
	HardState raft.HardState
	Snapshot  raft.SnapshotMeta
	// HasSnapshot is false for a group that never saw a snapshot record (a
	// node that has not bootstrapped or joined yet).
	HasSnapshot bool
	Entries     []raft.Entry
	// TornBytes is how many bytes were cut from the tail of the last
	// segment (0 for a clean log). Only the single-group OpenWAL sets it;
	// OpenWALGroups reports it in WALRecovery.
	TornBytes int64
}

// WALRecovery is what OpenWALGroups read back.
type WALRecovery struct {
	// Groups holds every group with records on disk that was not removed.
	Groups map[GroupID]*WALState
	// TornBytes is how many bytes were cut from the tail of the last
	// segment (0 for a clean log); TornSegment names that file.
	TornBytes   int64
	TornSegment string
}

// GroupPersist is one group's persist action in a batch for SaveGroups.
type GroupPersist struct {
	Group   GroupID
	Persist *raft.Persist
}

type segment struct {
	seq    uint64
	path   string
	legacy bool
	// needs maps each group that may still need an entry here to the
	// highest index of its entries here.
	needs map[GroupID]raft.Index
	// pins counts, per group, its latest hard state and snapshot records
	// held here (0..2).
	pins map[GroupID]uint8
	// tombs lists the groups removed here: they are forgotten with it.
	tombs []GroupID
}

// walGroup is what the WAL tracks of one group between writes.
type walGroup struct {
	hs      raft.HardState
	snap    raft.SnapshotMeta
	hasSnap bool
	// hsSeq and snapSeq name the segments of the latest records (0: none).
	hsSeq, snapSeq uint64
	// first is the lowest entry index the group still needs.
	first raft.Index
	// entSegs lists, oldest first, the segments whose needs name it.
	entSegs []uint64
	removed bool
}

// WAL is the on-disk log of many groups. It is used by one goroutine at a
// time.
type WAL struct {
	dir     string
	segSize int64
	segs    []*segment
	f       *os.File
	size    int64
	buf     []byte
	groups  map[GroupID]*walGroup
	// written counts the bytes of records written since open.
	written int64

	// FsyncHook, if set, is called with the duration of every fsync.
	FsyncHook func(time.Duration)
}

// Segments returns the number of segment files.
func (w *WAL) Segments() int { return len(w.segs) }

// Groups returns how many live groups the WAL holds.
func (w *WAL) Groups() int {
	n := 0
	for _, g := range w.groups {
		if !g.removed {
			n++
		}
	}
	return n
}

// Close closes the current segment.
func (w *WAL) Close() error {
	if w.f == nil {
		return nil
	}
	err := w.f.Close()
	w.f = nil
	return err
}

func (w *WAL) cur() *segment { return w.segs[len(w.segs)-1] }

// group returns gid's state, creating it if create is set.
func (w *WAL) group(gid GroupID, create bool) *walGroup {
	g := w.groups[gid]
	if g == nil && create {
		g = &walGroup{}
		w.groups[gid] = g
	}
	return g
}
