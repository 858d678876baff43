package host

import (
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus/testutil"
	"github.com/pureraft/raft"
)

// counter is the smallest useful Machine: it adds the 8-byte numbers it is
// given. It keeps its state in memory only (Applied is 0 after a restart),
// which the host handles by restoring the latest snapshot and replaying
// the log: the seam works for volatile machines too.
type counter struct {
	mu      sync.Mutex
	n       uint64
	applied uint64
}

func (c *counter) Applied() (uint64, error) { c.mu.Lock(); defer c.mu.Unlock(); return c.applied, nil }

func (c *counter) Apply(cmds []Command) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	for i := range cmds {
		if len(cmds[i].Data) != 8 {
			return errors.New("counter: bad command")
		}
		c.n += binary.BigEndian.Uint64(cmds[i].Data)
		cmds[i].Result = binary.BigEndian.AppendUint64(nil, c.n)
	}
	c.applied = cmds[len(cmds)-1].Index
	return nil
}

func (c *counter) Query([]byte) ([]byte, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	return binary.BigEndian.AppendUint64(nil, c.n), nil
}

type counterSnap struct{ n, applied uint64 }

func (s counterSnap) WriteTo(w io.Writer) (int64, error) {
	b := binary.BigEndian.AppendUint64(binary.BigEndian.AppendUint64(nil, s.n), s.applied)
	b = append(b, make([]byte, 64<<10)...) // some bulk, so transfers take several chunks
	n, err := w.Write(b)
	return int64(n), err
}
func (counterSnap) Release() {}

func (c *counter) Snapshot() (Snapshot, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	return counterSnap{c.n, c.applied}, nil
}

func (c *counter) Restore(r io.Reader, index uint64) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	if r == nil {
		c.n, c.applied = 0, 0
		return nil
	}
	var b [16]byte
	if _, err := io.ReadFull(r, b[:]); err != nil {
		return err
	}
	io.Copy(io.Discard, r)
	c.n, c.applied = binary.BigEndian.Uint64(b[:]), index
	return nil
}

func (c *counter) Close() error { return nil }

// one makes Config.NewMachine return m for group 1.
func one(m Machine) func(GroupID, string) (Machine, error) {
	return func(g GroupID, _ string) (Machine, error) {
		if g != 1 {
			return nil, fmt.Errorf("no machine for group %d", g)
		}
		return m, nil
	}
}

// g1 is a host's group 1, the group the single-group tests use.
func g1(h *Host) *Group {
	g, ok := h.Group(1)
	if !ok {
		panic(fmt.Sprintf("host %d holds no group 1", h.ID()))
	}
	return g
}

type cluster struct {
	t     *testing.T
	dir   string
	peers Peers
	hosts map[raft.NodeID]*Host
	mod   func(*Config)
	// lns holds the listeners of nodes not yet started: ports stay taken
	// from the moment they are chosen.
	lns map[raft.NodeID]net.Listener
}

func newCluster(t *testing.T, n int, mod func(*Config)) *cluster {
	c, _ := newPartialCluster(t, n, n, mod)
	return c
}

// newPartialCluster reserves n hosts' addresses and starts only the first
// `up` of them (with fewer than a quorum up, no leader can be elected
// until startRest starts the others).
func newPartialCluster(t *testing.T, n, up int, mod func(*Config)) (c *cluster, startRest func()) {
	c = &cluster{t: t, dir: t.TempDir(), peers: Peers{}, hosts: map[raft.NodeID]*Host{}, mod: mod, lns: map[raft.NodeID]net.Listener{}}
	for i := 1; i <= n; i++ {
		c.reserve(raft.NodeID(i))
	}
	for i := 1; i <= up; i++ {
		c.start(raft.NodeID(i), false)
	}
	t.Cleanup(func() {
		for id := range c.hosts {
			c.stop(id)
		}
	})
	return c, func() {
		for i := up + 1; i <= n; i++ {
			c.start(raft.NodeID(i), false)
		}
	}
}

// reserve opens node id's listener on a fresh loopback port.
func (c *cluster) reserve(id raft.NodeID) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		c.t.Fatal(err)
	}
	c.lns[id] = ln
	c.peers[id] = PeerAddr{Raft: ln.Addr().String()}
}

func (c *cluster) start(id raft.NodeID, join bool) *Host {
	c.t.Helper()
	if _, ok := c.peers[id]; !ok {
		c.reserve(id)
	}
	ln := c.lns[id]
	delete(c.lns, id)
	var err error
	for range 50 { // a restart: the port of a stopped node may take a moment to free
		if ln != nil {
			break
		}
		if ln, err = net.Listen("tcp", c.peers[id].Raft); err != nil {
			time.Sleep(20 * time.Millisecond)
		}
	}
	if ln == nil {
		c.t.Fatal(err)
	}
	cfg := Config{
		ID: id, Dir: filepath.Join(c.dir, strconv.FormatUint(uint64(id), 10)), Listener: ln, Peers: c.peers.clone(), Join: join,
		NewMachine: func(GroupID, string) (Machine, error) { return &counter{}, nil }, TickInterval: 5 * time.Millisecond, ElectionTicks: 20, HeartbeatTicks: 2,
		Logger:  slog.New(slog.NewTextHandler(io.Discard, nil)),
		OnFatal: func(err error) { c.t.Errorf("node %d: fatal: %v", id, err) },
	}
	if os.Getenv("RAFTKV_TEST_LOG") != "" {
		cfg.Logger = slog.Default()
	}
	if c.mod != nil {
		c.mod(&cfg)
	}
	h, err := Open(cfg)
	if err != nil {
		c.t.Fatalf("open node %d: %v", id, err)
	}
	c.hosts[id] = h
	return h
}

func (c *cluster) stop(id raft.NodeID) {
	h := c.hosts[id]
	delete(c.hosts, id)
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := h.Close(ctx); err != nil {
		c.t.Errorf("close node %d: %v", id, err)
	}
}

func (c *cluster) leader() *Host {
	c.t.Helper()
	var lead *Host
	c.await("a leader of group 1", func() bool {
		for _, h := range c.hosts {
			if g1(h).Status().Role == raft.RoleLeader {
				lead = h
				return true
			}
		}
		return false
	})
	return lead
}

// follower returns a host other than lead.
func (c *cluster) follower(lead *Host) *Host {
	for _, h := range c.hosts {
		if h != lead {
			return h
		}
	}
	c.t.Fatal("no host but the leader")
	return nil
}

func add(t *testing.T, h *Host, n uint64) uint64 {
	t.Helper()
	return gadd(t, g1(h), n)
}

func value(t *testing.T, h *Host, c Consistency) uint64 {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	out, err := g1(h).Read(ctx, c, nil)
	if err != nil {
		t.Fatalf("node %d: read: %v", h.ID(), err)
	}
	return binary.BigEndian.Uint64(out)
}

// waitValue waits until a stale read on h shows want.
func waitValue(t *testing.T, h *Host, want uint64) {
	t.Helper()
	gwait(t, g1(h), want)
}

// The seam: a tiny Machine replicated by the host, proposals from every
// node (followers forward through the core), linearizable reads
// everywhere, and a restarted node catching up.
func TestCounterMachine(t *testing.T) {
	c := newCluster(t, 3, nil)
	c.leader()
	var wg sync.WaitGroup
	for id := range c.hosts {
		h := c.hosts[id]
		wg.Add(1)
		go func() {
			defer wg.Done()
			for range 20 {
				add(t, h, 1)
			}
		}()
	}
	wg.Wait()
	for _, h := range c.hosts {
		if v := value(t, h, Linearizable); v != 60 {
			t.Fatalf("node %d: linearizable read %d, want 60", h.ID(), v)
		}
		if v := value(t, h, Lease); v != 60 {
			t.Fatalf("node %d: lease read %d, want 60", h.ID(), v)
		}
	}
	// A follower stops, the rest go on, it restarts and catches up from
	// its WAL and the leader.
	var f raft.NodeID
	for id, h := range c.hosts {
		if g1(h).Status().Role != raft.RoleLeader {
			f = id
			break
		}
	}
	c.stop(f)
	lead := c.leader()
	for range 10 {
		add(t, lead, 2)
	}
	h := c.start(f, false)
	waitValue(t, h, 80)
	if v := value(t, h, Linearizable); v != 80 {
		t.Fatalf("restarted node: %d, want 80", v)
	}
}

// A node joining with an empty disk after the log was compacted receives a
// snapshot; a transfer that was cut off half-way resumes from what the
// follower already has.
func TestSnapshotTransferResumes(t *testing.T) {
	c := newCluster(t, 3, func(cfg *Config) {
		cfg.SnapshotEntries = 50
		cfg.SnapshotRetain = 1
	})
	lead := c.leader()
	for range 120 {
		add(t, lead, 1)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	idx, err := g1(lead).TakeSnapshot(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if st := g1(lead).Status(); st.FirstIndex <= 1 {
		t.Fatalf("leader did not compact: first index %d", st.FirstIndex)
	}
	// Plant the first half of the snapshot as an interrupted receipt.
	data, err := os.ReadFile(g1(lead).snaps.path(idx))
	if err != nil {
		t.Fatal(err)
	}
	dir4 := filepath.Join(groupDir(filepath.Join(c.dir, "4"), 1), "snap")
	os.MkdirAll(dir4, 0o755)
	half := len(data) / 2
	if err := os.WriteFile(filepath.Join(dir4, filepath.Base(g1(lead).snaps.partPath(idx))), data[:half], 0o644); err != nil {
		t.Fatal(err)
	}
	h4 := c.start(4, true)
	if err := g1(lead).AddLearner(ctx, 4, c.peers[4]); err != nil {
		t.Fatal(err)
	}
	waitValue(t, h4, 120)
	if got := testutil.ToFloat64(h4.metrics.snapRecv); got != 1 {
		t.Fatalf("snapshots received: %v", got)
	}
	if got := testutil.ToFloat64(h4.metrics.snapResumed); got != float64(half) {
		t.Fatalf("resumed at %v bytes, want %d", got, half)
	}
	// The learner follows new writes, and can be promoted.
	add(t, lead, 5)
	waitValue(t, h4, 125)
	if err := g1(lead).Promote(ctx, 4); err != nil {
		t.Fatal(err)
	}
	// It restarts from its own snapshot and WAL.
	c.stop(4)
	h4 = c.start(4, true)
	waitValue(t, h4, 125)
}

// Garbage on the peer port closes that connection and is counted; the
// node goes on.
func TestGarbagePeer(t *testing.T) {
	c := newCluster(t, 3, nil)
	lead := c.leader()
	victim := c.follower(lead)
	addr := c.peers[victim.ID()].Raft
	hs := func(kind byte, from uint64) []byte { return handshake(kind, from, 0) }
	frame := func(b []byte) []byte { return groupFrame(1, b) }
	good := raft.Message{Type: raft.MsgHeartbeat, From: 9, To: victim.ID(), Term: 1}
	goodBytes, _ := good.MarshalBinary()
	inputs := map[string][]byte{
		"bad magic":      []byte("GET / HTTP/1.1\r\nHost: raft\r\n\r\n"),
		"unknown kind":   hs(9, 1),
		"oversize frame": append(hs(kindMessages, 1), 0xff, 0xff, 0xff, 0xff),
		"undecodable":    append(hs(kindMessages, 1), frame([]byte{1, 2, 3, 4, 5})...),
		"spoofed sender": append(hs(kindMessages, 1), frame(goodBytes)...),
		"empty frame":    append(hs(kindMessages, 1), 0, 0, 0, 0),
		"no group ID":    append(hs(kindMessages, 1), 0, 0, 0, 1, 0x80),
	}
	for name, in := range inputs {
		conn, err := net.Dial("tcp", addr)
		if err != nil {
			t.Fatal(err)
		}
		conn.Write(in)
		conn.SetReadDeadline(time.Now().Add(5 * time.Second))
		_, err = conn.Read(make([]byte, 1))
		if err == nil || errors.Is(err, os.ErrDeadlineExceeded) {
			t.Errorf("%s: connection not closed by the node (err %v)", name, err)
		}
		conn.Close()
	}
	if got := testutil.ToFloat64(victim.metrics.garbage); got != float64(len(inputs)) {
		t.Errorf("protocol errors counted: %v, want %d", got, len(inputs))
	}
	add(t, lead, 7)
	waitValue(t, victim, 7)
	if !bytes.Equal([]byte(connMagic), []byte("PRKV")) {
		t.Fatal("magic changed")
	}
}

// handshake is a connection's opening bytes, as dial writes them.
func handshake(kind byte, from uint64, g GroupID) []byte {
	b := []byte(connMagic)
	b = append(b, connVersion, kind)
	b = binary.BigEndian.AppendUint64(b, from)
	return binary.BigEndian.AppendUint64(b, uint64(g))
}

// groupFrame is one frame of a message connection: the length, group g's
// ID and the message bytes b.
func groupFrame(g GroupID, b []byte) []byte {
	body := append(binary.AppendUvarint(nil, uint64(g)), b...)
	return append(binary.BigEndian.AppendUint32(nil, uint32(len(body))), body...)
}
