package host

import (
	"encoding/binary"
	"errors"
	"net"
	"os"
	"runtime"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus/testutil"
)

// The peer port under a hostile client (issue 19): what a connection
// costs is bounded by what it sends, not by what it announces, and the
// memory comes back when it goes.

func (t *transport) connCount() int {
	t.mu.Lock()
	defer t.mu.Unlock()
	return len(t.conns)
}

func heapAlloc() uint64 {
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	return ms.HeapAlloc
}

// 150 connections each announce a frame of the largest size allowed and
// send 1 KiB of it. The heap must not grow by the announced sizes
// (150 × 4 MiB): buffers grow as bytes arrive.
func TestPeerPortHeapBounded(t *testing.T) {
	c := newCluster(t, 1, func(cfg *Config) { cfg.MaxPeerConnsPerAddr = 1000 })
	h := c.leader()
	addr := c.peers[h.ID()].Raft
	const conns = 150
	runtime.GC()
	base := heapAlloc()
	before := h.tr.connCount()
	var open []net.Conn
	defer func() {
		for _, conn := range open {
			conn.Close()
		}
	}()
	hello := handshake(kindMessages, 2, 0)
	hello = binary.BigEndian.AppendUint32(hello, h.tr.maxFrame)
	hello = append(hello, make([]byte, 1024)...)
	for range conns {
		conn, err := net.Dial("tcp", addr)
		if err != nil {
			t.Fatal(err)
		}
		open = append(open, conn)
		if _, err := conn.Write(hello); err != nil {
			t.Fatal(err)
		}
	}
	for deadline := time.Now().Add(10 * time.Second); h.tr.connCount() < before+conns; time.Sleep(5 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("node holds %d connections, want %d", h.tr.connCount()-before, conns)
		}
	}
	// The node reads each announcement soon after accepting it: watch
	// the heap for a while. 64 KiB of bufio per connection plus the
	// first frame step is ~20 MiB; the announced sizes would be 600 MiB.
	const bound = 64 << 20
	var peak uint64
	for range 50 {
		peak = max(peak, heapAlloc())
		time.Sleep(10 * time.Millisecond)
	}
	if peak > base+bound {
		t.Fatalf("heap grew by %d MiB holding %d connections that announced %d MiB frames (bound %d MiB)",
			(peak-base)>>20, conns, h.tr.maxFrame>>20, bound>>20)
	}
	t.Logf("heap grew by %.1f MiB for %d connections announcing %d MiB each", float64(peak-base)/(1<<20), conns, h.tr.maxFrame>>20)
	for _, conn := range open {
		conn.Close()
	}
	open = nil
	for deadline := time.Now().Add(10 * time.Second); h.tr.connCount() > before; time.Sleep(5 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("node still holds %d closed connections", h.tr.connCount()-before)
		}
	}
	runtime.GC()
	if after := heapAlloc(); after > base+8<<20 {
		t.Fatalf("heap %d MiB above the start after the connections closed", (after-base)>>20)
	}
}

// One address holds at most MaxPeerConnsPerAddr connections; more are
// closed at once and counted.
func TestPeerPortConnectionLimit(t *testing.T) {
	c := newCluster(t, 1, func(cfg *Config) { cfg.MaxPeerConnsPerAddr = 8 })
	h := c.leader()
	var open []net.Conn
	defer func() {
		for _, conn := range open {
			conn.Close()
		}
	}()
	for range 12 {
		conn, err := net.Dial("tcp", c.peers[h.ID()].Raft)
		if err != nil {
			t.Fatal(err)
		}
		open = append(open, conn)
	}
	refused := h.metrics.refused.WithLabelValues("too_many_connections")
	for deadline := time.Now().Add(10 * time.Second); testutil.ToFloat64(refused) < 4; time.Sleep(5 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("refused %v connections, want 4", testutil.ToFloat64(refused))
		}
	}
	if got := h.tr.connCount(); got != 8 {
		t.Fatalf("node holds %d connections, want 8", got)
	}
}

// A connection that shakes hands and then sends nothing is closed after
// PeerIdleTimeout; one that announces a frame and stops half-way is closed
// too.
func TestPeerPortReadDeadline(t *testing.T) {
	c := newCluster(t, 1, func(cfg *Config) { cfg.PeerIdleTimeout = 200 * time.Millisecond })
	h := c.leader()
	hello := handshake(kindMessages, 2, 0)
	for name, in := range map[string][]byte{
		"silent after the handshake": hello,
		"stops inside a frame":       append(binary.BigEndian.AppendUint32(append([]byte{}, hello...), 1000), 1, 2, 3),
	} {
		conn, err := net.Dial("tcp", c.peers[h.ID()].Raft)
		if err != nil {
			t.Fatal(err)
		}
		conn.Write(in)
		conn.SetReadDeadline(time.Now().Add(5 * time.Second))
		_, err = conn.Read(make([]byte, 1))
		if err == nil || errors.Is(err, os.ErrDeadlineExceeded) {
			t.Errorf("%s: the node did not close the connection (err %v)", name, err)
		}
		conn.Close()
	}
}
