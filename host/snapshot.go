package host

import (
	"bufio"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"time"

	"github.com/pureraft/raft"
)

// Snapshot transfer.
//
// When the core asks to ship a snapshot (ActionSendSnapshot), the leader
// opens a connection of the snapshot kind to the follower and runs:
//
//	leader   → follower: frame(MsgSnap in the core's codec), total size (uint64)
//	follower → leader:   offset (uint64): bytes of this snapshot it already has
//	leader   → follower: frames of file data from offset, then an empty frame
//	follower → leader:   status byte (0 ok), and on error a frame with the reason
//
// The follower appends what arrives to a partial file named by the
// snapshot's index, so a transfer cut off half-way resumes where it
// stopped the next time the leader tries. When all bytes are there it
// checks the file's checksum, fsyncs and renames it, and only then steps
// the MsgSnap into its node, which persists the metadata and later asks for
// the snapshot to be applied (the machine is restored from the file).

const snapChunk = 1 << 20

// startSnapshotSend runs on the node loop.
func (g *Group) startSnapshotSend(m raft.Message) {
	to := m.To
	if g.sendingSnap[to] {
		return // one transfer per follower at a time; the core retries later
	}
	g.sendingSnap[to] = true
	g.bgWG.Add(1)
	go func() {
		defer g.bgWG.Done()
		start := time.Now()
		sent, err := g.sendSnapshot(m)
		if err == nil {
			g.metrics.snapSent.Inc()
			g.log.Info("snapshot sent", "to", to, "index", m.Snapshot.Index, "bytes_sent", sent, "took", time.Since(start).Round(time.Millisecond))
		} else {
			g.log.Warn("snapshot transfer failed", "to", to, "index", m.Snapshot.Index, "bytes_sent", sent, "err", err)
		}
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		g.do(ctx, func() {
			delete(g.sendingSnap, to)
			g.node.ReportSnapshot(to, err)
		})
	}()
}

func (g *Group) sendSnapshot(m raft.Message) (int64, error) {
	path := g.snaps.path(uint64(m.Snapshot.Index))
	f, err := os.Open(path)
	if err != nil {
		return 0, err
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		return 0, err
	}
	total := fi.Size()
	conn, err := g.h.tr.dial(m.To, kindSnapshot, g.gid)
	if err != nil {
		return 0, err
	}
	if !g.h.tr.track(conn) {
		conn.Close()
		return 0, ErrStopped
	}
	defer g.h.tr.untrack(conn)
	deadline := func() { conn.SetDeadline(time.Now().Add(10 * time.Second)) }
	deadline()
	bw := bufio.NewWriterSize(conn, snapChunk+8)
	hdr := make([]byte, 4, 256)
	hdr, err = m.AppendBinary(hdr)
	if err != nil {
		return 0, err
	}
	binary.BigEndian.PutUint32(hdr, uint32(len(hdr)-4))
	hdr = binary.BigEndian.AppendUint64(hdr, uint64(total))
	if _, err := bw.Write(hdr); err != nil {
		return 0, err
	}
	if err := bw.Flush(); err != nil {
		return 0, err
	}
	br := bufio.NewReader(conn)
	var ob [8]byte
	if _, err := io.ReadFull(br, ob[:]); err != nil {
		return 0, err
	}
	off := int64(binary.BigEndian.Uint64(ob[:]))
	if off > total {
		return 0, fmt.Errorf("follower claims %d bytes of a %d-byte snapshot", off, total)
	}
	if off > 0 {
		g.log.Info("resuming snapshot transfer", "to", m.To, "offset", off, "total", total)
	}
	if _, err := f.Seek(off, io.SeekStart); err != nil {
		return 0, err
	}
	buf := make([]byte, snapChunk)
	var sent int64
	for off+sent < total {
		n, err := f.Read(buf[:min(int64(len(buf)), total-off-sent)])
		if err != nil {
			return sent, err
		}
		deadline()
		var lb [4]byte
		binary.BigEndian.PutUint32(lb[:], uint32(n))
		if _, err := bw.Write(lb[:]); err != nil {
			return sent, err
		}
		if _, err := bw.Write(buf[:n]); err != nil {
			return sent, err
		}
		sent += int64(n)
	}
	if _, err := bw.Write([]byte{0, 0, 0, 0}); err != nil {
		return sent, err
	}
	if err := bw.Flush(); err != nil {
		return sent, err
	}
	deadline()
	status, err := br.ReadByte()
	if err != nil {
		return sent, err
	}
	if status != 0 {
		msg, _ := readFrame(br, 4096)
		return sent, fmt.Errorf("follower refused the snapshot: %s", msg)
	}
	return sent, nil
}

// receiveSnapshot serves a snapshot connection (on a transport goroutine).
func (g *Group) receiveSnapshot(conn net.Conn, br *bufio.Reader, from raft.NodeID) {
	fail := func(err error) {
		g.log.Warn("snapshot receipt failed", "from", from, "err", err)
		conn.SetWriteDeadline(time.Now().Add(time.Second))
		msg := []byte(err.Error())
		out := []byte{1}
		out = binary.BigEndian.AppendUint32(out, uint32(len(msg)))
		conn.Write(append(out, msg...))
	}
	conn.SetDeadline(time.Now().Add(10 * time.Second))
	frame, err := readFrame(br, 1<<20)
	if err != nil {
		fail(err)
		return
	}
	var m raft.Message
	if err := raft.Decode(frame, &m, raft.DecodeLimits{}); err != nil {
		fail(fmt.Errorf("%w: %v", errGarbage, err))
		return
	}
	if m.Type != raft.MsgSnap || m.Snapshot == nil || m.From != from || m.To != g.nodeID {
		fail(fmt.Errorf("%w: not a snapshot message for this node", errGarbage))
		return
	}
	var tb [8]byte
	if _, err := io.ReadFull(br, tb[:]); err != nil {
		fail(err)
		return
	}
	total := int64(binary.BigEndian.Uint64(tb[:]))
	idx := uint64(m.Snapshot.Index)
	final := g.snaps.path(idx)
	part := g.snaps.partPath(idx)
	if err := os.MkdirAll(g.snaps.dir, 0o755); err != nil {
		fail(err)
		return
	}
	var have int64
	complete := false
	if fi, err := os.Stat(final); err == nil && fi.Size() == total {
		have, complete = total, true
	} else if fi, err := os.Stat(part); err == nil && fi.Size() <= total {
		have = fi.Size()
	}
	f, err := os.OpenFile(part, os.O_CREATE|os.O_WRONLY, 0o644)
	if err != nil {
		fail(err)
		return
	}
	defer f.Close()
	if !complete {
		if err := f.Truncate(have); err != nil {
			fail(err)
			return
		}
		if _, err := f.Seek(have, io.SeekStart); err != nil {
			fail(err)
			return
		}
	}
	if _, err := conn.Write(binary.BigEndian.AppendUint64(nil, uint64(have))); err != nil {
		return
	}
	got := have
	for {
		conn.SetDeadline(time.Now().Add(10 * time.Second))
		chunk, err := readFrame(br, snapChunk)
		if err != nil {
			f.Sync() // keep what arrived for the next attempt
			if !errors.Is(err, io.EOF) {
				g.log.Info("snapshot transfer interrupted", "from", from, "have", got, "total", total, "err", err)
			}
			return
		}
		if len(chunk) == 0 {
			break
		}
		if got+int64(len(chunk)) > total {
			fail(fmt.Errorf("%w: more snapshot data than announced", errGarbage))
			return
		}
		if _, err := f.Write(chunk); err != nil {
			fail(err)
			return
		}
		got += int64(len(chunk))
	}
	if got != total {
		fail(fmt.Errorf("snapshot ended at %d of %d bytes", got, total))
		return
	}
	if !complete {
		if err := f.Sync(); err != nil {
			fail(err)
			return
		}
		if fi, err := verifySnapshotFile(part); err != nil || fi != idx {
			os.Remove(part)
			fail(fmt.Errorf("received snapshot does not check out (index %d): %v", fi, err))
			return
		}
		if err := os.Rename(part, final); err != nil {
			fail(err)
			return
		}
		if err := syncDir(g.snaps.dir); err != nil {
			fail(err)
			return
		}
	}
	g.metrics.snapRecv.Inc()
	g.metrics.snapResumed.Add(float64(have))
	g.log.Info("snapshot received", "from", from, "index", idx, "bytes", total, "resumed_at", have)
	// Queue the MsgSnap for the node before telling the leader: the
	// leader's next append must find the snapshot installed.
	g.deliver([]raft.Message{m})
	conn.Write([]byte{0})
}
