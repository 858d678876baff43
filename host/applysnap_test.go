package host

import (
	"context"
	"encoding/binary"
	"io"
	"log/slog"
	"testing"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/pureraft/raft"
)

// applyHost is a Group (on a Host) with only what the apply goroutine
// uses.
func applyHost(t *testing.T, m Machine) *Group {
	dir := t.TempDir()
	h := &Host{
		cfg:    Config{Dir: dir, SnapshotEntries: 1 << 40},
		log:    slog.New(slog.NewTextHandler(io.Discard, nil)),
		peers:  Peers{},
		groups: map[GroupID]*Group{},
	}
	h.metrics = newMetrics(prometheus.NewRegistry(), "pureraft", h)
	return &Group{
		h:           h,
		gid:         1,
		dir:         groupDir(dir, 1),
		cfg:         h.cfg,
		log:         h.log,
		m:           m,
		metrics:     h.metrics,
		snaps:       &snapStore{dir: groupDir(dir, 1) + "/snap"},
		applyc:      make(chan applyOp, 16),
		applyQuit:   make(chan struct{}),
		stopc:       make(chan struct{}),
		waiters:     map[uint64]chan waitResult{},
		readWaiters: map[uint64]chan waitResult{},
		idxWaiters:  map[uint64]idxWaiter{},
	}
}

func counterEntry(index uint64, add uint64) raft.Entry {
	data := []byte{entryCommand}
	data = binary.AppendUvarint(data, 9) // proposed by another node
	data = binary.AppendUvarint(data, index)
	data = binary.BigEndian.AppendUint64(data, add)
	return raft.Entry{Index: raft.Index(index), Term: 1, Type: raft.EntryNormal, Data: data}
}

// A node whose WAL tail was cut has a machine ahead of its log (applied
// 150, log up to 100); the host skips entries up to 150 when they come
// back. If the leader repairs the log with a snapshot below that point
// (120), restoring it takes the machine back to 120: the entries after
// the snapshot must then be applied again, not skipped.
func TestSnapshotBelowSkipPointIsFollowedByItsEntries(t *testing.T) {
	c := &counter{}
	h := applyHost(t, c)
	var want uint64
	// The machine as it was before the crash: entries 1..150, each adding
	// its index.
	var ents []Command
	for i := uint64(1); i <= 150; i++ {
		ents = append(ents, Command{Index: i, Data: binary.BigEndian.AppendUint64(nil, i)})
	}
	if err := c.Apply(ents); err != nil {
		t.Fatal(err)
	}
	h.skipThrough, h.applied = 150, 100
	// The leader's snapshot at 120 holds the sum of 1..120.
	for i := uint64(1); i <= 120; i++ {
		want += i
	}
	if _, err := h.snaps.write(120, Peers{}, counterSnap{n: want, applied: 120}); err != nil {
		t.Fatal(err)
	}
	var after []raft.Entry
	for i := uint64(121); i <= 160; i++ {
		after = append(after, counterEntry(i, i))
		want += i
	}
	h.bgWG.Add(1)
	go h.applyLoop()
	h.applyc <- applyOp{apply: raft.Apply{Snapshot: &raft.SnapshotMeta{Index: 120, Term: 1}}}
	h.applyc <- applyOp{apply: raft.Apply{Entries: after}}
	close(h.applyQuit)
	h.bgWG.Wait()
	if got, _ := c.Applied(); got != 160 || c.n != want {
		t.Fatalf("machine after the snapshot and entries 121..160: applied %d, sum %d; want applied 160, sum %d", got, c.n, want)
	}
}

// While the machine is ahead of the applied index (a cut WAL tail: the
// machine holds 150, the log is repaired from 100 on), its state is not
// the state at the applied index. A snapshot taken then would be labelled
// with an index below its content, and whoever restores it (this node
// after a restart, a follower) would apply the entries after the label a
// second time.
func TestNoSnapshotWhileMachineAheadOfLog(t *testing.T) {
	c := &counter{}
	h := applyHost(t, c)
	h.cfg.SnapshotEntries = 10
	h.loopDone = make(chan struct{})
	close(h.loopDone) // no node loop: compaction is refused, files stay
	var ents []Command
	for i := uint64(1); i <= 150; i++ {
		ents = append(ents, Command{Index: i, Data: binary.BigEndian.AppendUint64(nil, i)})
	}
	if err := c.Apply(ents); err != nil {
		t.Fatal(err)
	}
	h.skipThrough, h.applied, h.lastSnapIndex = 150, 100, 100
	h.bgWG.Add(1)
	go h.applyLoop()
	for i := uint64(101); i <= 160; i += 5 {
		var batch []raft.Entry
		for j := i; j < i+5; j++ {
			batch = append(batch, counterEntry(j, j))
		}
		h.applyc <- applyOp{apply: raft.Apply{Entries: batch}}
		if err := h.waitApplied(context.Background(), i+4); err != nil {
			t.Fatal(err)
		}
		h.waitSnapshot()
	}
	close(h.applyQuit)
	h.bgWG.Wait()
	t.Logf("snapshots: %v", h.snaps.list())
	for _, idx := range h.snaps.list() {
		r, err := h.snaps.open(idx)
		if err != nil {
			t.Fatal(err)
		}
		var b [8]byte
		if _, err := io.ReadFull(r.Data, b[:]); err != nil {
			t.Fatal(err)
		}
		r.Close()
		if got, want := binary.BigEndian.Uint64(b[:]), idx*(idx+1)/2; got != want {
			t.Errorf("snapshot labelled %d holds the sum %d, the state at a later index (want %d)", idx, got, want)
		}
	}
}

// peersAtRestore is a counter that records, when it is restored, the
// address book the host has made durable at that moment.
type peersAtRestore struct {
	counter
	dir  string
	seen Peers
}

func (p *peersAtRestore) Restore(r io.Reader, index uint64) error {
	p.seen = loadPeers(p.dir)
	return p.counter.Restore(r, index)
}

// A snapshot carries the address book. Once the machine has recorded the
// snapshot as applied, a restart no longer restores it, so the book must
// be durable before that: otherwise a crash in between loses the
// addresses of the nodes added before the snapshot, for good.
func TestSnapshotPeersDurableBeforeMachineRestored(t *testing.T) {
	m := &peersAtRestore{}
	h := applyHost(t, m)
	m.dir = h.cfg.Dir
	book := Peers{7: {Raft: "127.0.0.1:7007", HTTP: "127.0.0.1:8007"}}
	if _, err := h.snaps.write(50, book, counterSnap{n: 1, applied: 50}); err != nil {
		t.Fatal(err)
	}
	h.bgWG.Add(1)
	go h.applyLoop()
	h.applyc <- applyOp{apply: raft.Apply{Snapshot: &raft.SnapshotMeta{Index: 50, Term: 1}}}
	close(h.applyQuit)
	h.bgWG.Wait()
	if m.seen[7] != book[7] {
		t.Fatalf("address book on disk when the machine was restored: %v; want it to hold the snapshot's %v", m.seen, book)
	}
}
