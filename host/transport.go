package host

import (
	"bufio"
	"crypto/tls"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"sync"
	"sync/atomic"
	"time"

	"github.com/pureraft/raft"
)

// The peer transport.
//
// Every host listens on its raft address. A host sends to a peer over one
// persistent outgoing TCP connection that it dials itself (so each pair of
// hosts has two connections, one per direction), and that connection
// carries the messages of every group the two hold. A connection starts
// with a handshake — the magic "PRKV", a version byte, the connection's
// kind, the sender's node ID and a group ID (0 on a message connection;
// the group a snapshot, repair or hash connection is about) — and then
// carries frames: a 4-byte big-endian length, the message's group ID as a
// uvarint, and one message in the core's binary codec. Messages queued for
// a peer while a write is under way, of any group, go out together in the
// next write: one syscall per flush, however many messages and groups.
//
// A frame for a group this host does not hold (not created yet, removed,
// or never known) is dropped, counted in
// <namespace>_peer_unknown_group_messages_total and logged at debug level; the
// connection stays up, and the other groups never notice. Raft tolerates
// the loss: a leader retries.
//
// The receiving side bounds every frame by a size cap and decodes it with
// the core's DecodeLimits; a frame over the cap, bytes that do not decode,
// or a message whose sender is not the peer that shook hands, close the
// connection and are logged. Nothing a peer sends can crash the server.
//
// The core trusts Message.From and Term: whoever can put a frame on this
// port can forge a leader. With Config.PeerTLS every connection is mutual
// TLS first (peertls.go): the peer's certificate names its node ID, the
// handshake's ID must be that one, and so must every message's From.
// Without it the port is open to anyone who can reach it (--insecure).
//
// A hostile or broken peer costs bounded memory and time: a frame's
// buffer grows as its bytes arrive, not to the length the frame announces
// (readFrame); a connection whose next frame does not arrive in full
// within peerIdleTimeout is closed; and one remote address holds at most
// MaxPeerConnsPerAddr connections.
//
// A connection that fails is dropped with everything queued on it (Raft
// tolerates lost messages and resends what matters) and redialled with
// exponential backoff. Snapshot data goes over separate connections of
// their own kind (snapshot.go), so a large transfer never delays
// heartbeats.

const (
	connMagic    = "PRKV"
	connVersion  = 2 // 2: group IDs in the handshake and in every frame
	kindMessages = 1
	kindSnapshot = 2
	kindRepair   = 3 // a follower that lost acknowledged entries asks the leader to step aside (repair.go)
	kindHash     = 4 // a member asks for a peer's state hash at an index (corrupt.go)

	handshakeSize = 4 + 1 + 1 + 8 + 8
	// maxQueued bounds the messages waiting for one peer; more are dropped.
	maxQueued = 8192

	// handshakeTimeout bounds the TLS and PRKV handshakes of a connection.
	handshakeTimeout = 5 * time.Second
	// peerIdleTimeout closes a message connection whose next frame has
	// not arrived in full this long after the previous one. Senders redial a connection idle for half of it before
	// using it again, so a message is not lost to a socket the other side
	// already closed.
	peerIdleTimeout = 60 * time.Second
	// frameStep is the first buffer a large frame gets; it doubles as
	// bytes arrive.
	frameStep = 64 << 10
)

type transport struct {
	id       raft.NodeID
	ln       net.Listener
	log      *slog.Logger
	lim      raft.DecodeLimits
	maxFrame uint32
	addr     func(raft.NodeID) string
	deliver  func([]groupMsg)
	onSnap   func(conn net.Conn, br *bufio.Reader, from raft.NodeID, g GroupID)
	onRepair func(conn net.Conn, from raft.NodeID, g GroupID)
	onHash   func(conn net.Conn, br *bufio.Reader, from raft.NodeID, g GroupID)
	// peerDown is told that a connection to or from peer id failed, so
	// quiescent groups can wake and notice if it is gone for good.
	peerDown func(id raft.NodeID)
	metrics  *metrics
	// tls, if set, makes every connection mutual TLS (peertls.go).
	tls *PeerTLS
	// isMember says whether id may connect at all.
	isMember func(raft.NodeID) bool
	// maxPerAddr bounds concurrent accepted connections per remote IP.
	maxPerAddr int
	idle       time.Duration

	mu     sync.Mutex
	peers  map[raft.NodeID]*peerConn
	conns  map[net.Conn]struct{}
	perIP  map[string]int
	closed chan struct{}
	wg     sync.WaitGroup
}

func newTransport(id raft.NodeID, ln net.Listener, lim raft.DecodeLimits, log *slog.Logger, m *metrics) *transport {
	return &transport{
		id:       id,
		ln:       ln,
		log:      log,
		lim:      lim,
		maxFrame: uint32(lim.MaxMessageBytes),
		metrics:  m,
		idle:     peerIdleTimeout,
		peers:    map[raft.NodeID]*peerConn{},
		conns:    map[net.Conn]struct{}{},
		perIP:    map[string]int{},
		closed:   make(chan struct{}),
	}
}

func (t *transport) start() {
	t.wg.Add(1)
	go t.acceptLoop()
}

func (t *transport) acceptLoop() {
	defer t.wg.Done()
	for {
		c, err := t.ln.Accept()
		if err != nil {
			select {
			case <-t.closed:
				return
			default:
			}
			t.log.Warn("accept failed", "err", err)
			time.Sleep(50 * time.Millisecond)
			continue
		}
		ip := remoteIP(c)
		if !t.admit(ip) {
			t.metrics.refused.WithLabelValues("too_many_connections").Inc()
			c.Close()
			continue
		}
		if !t.track(c) {
			t.release(ip)
			c.Close()
			return
		}
		t.wg.Add(1)
		go func() {
			defer t.wg.Done()
			defer t.release(ip)
			defer t.untrack(c)
			t.serveConn(c)
		}()
	}
}

func (t *transport) track(c net.Conn) bool {
	t.mu.Lock()
	defer t.mu.Unlock()
	select {
	case <-t.closed:
		return false
	default:
	}
	t.conns[c] = struct{}{}
	return true
}

func remoteIP(c net.Conn) string {
	host, _, err := net.SplitHostPort(c.RemoteAddr().String())
	if err != nil {
		return c.RemoteAddr().String()
	}
	return host
}

// admit counts an accepted connection against its address's limit.
func (t *transport) admit(ip string) bool {
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.maxPerAddr > 0 && t.perIP[ip] >= t.maxPerAddr {
		return false
	}
	t.perIP[ip]++
	return true
}

func (t *transport) release(ip string) {
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.perIP[ip]--; t.perIP[ip] <= 0 {
		delete(t.perIP, ip)
	}
}

func (t *transport) untrack(c net.Conn) {
	t.mu.Lock()
	delete(t.conns, c)
	t.mu.Unlock()
	c.Close()
}

// errGarbage marks input from a peer that does not follow the protocol.
var errGarbage = errors.New("peer sent garbage")

func (t *transport) serveConn(raw net.Conn) {
	remote := raw.RemoteAddr().String()
	raw.SetDeadline(time.Now().Add(handshakeTimeout))
	c, authID, ok := t.authenticate(raw)
	if !ok {
		return
	}
	br := bufio.NewReaderSize(c, 64<<10)
	var hs [handshakeSize]byte
	if _, err := io.ReadFull(br, hs[:]); err != nil {
		t.log.Warn("peer connection closed during handshake", "remote", remote, "err", err)
		return
	}
	if string(hs[:4]) != connMagic || hs[4] != connVersion {
		t.log.Warn("disconnecting peer: bad handshake", "remote", remote, "err", errGarbage)
		t.metrics.garbage.Inc()
		return
	}
	from := raft.NodeID(binary.BigEndian.Uint64(hs[6:]))
	gid := GroupID(binary.BigEndian.Uint64(hs[14:]))
	if authID != raft.None && from != authID {
		t.log.Warn("disconnecting peer: handshake names another node than its certificate", "remote", remote, "certificate", authID, "handshake", from)
		t.metrics.forged.Inc()
		return
	}
	raw.SetDeadline(time.Time{})
	switch hs[5] {
	case kindMessages:
		err := t.readMessages(c, br, from)
		if errors.Is(err, errGarbage) {
			t.log.Warn("disconnecting peer", "remote", remote, "peer", from, "err", err)
			t.metrics.garbage.Inc()
		} else if err != nil && !errors.Is(err, io.EOF) && !isClosed(err) {
			t.log.Debug("peer connection ended", "remote", remote, "peer", from, "err", err)
		}
		t.peerDown(from)
	case kindSnapshot:
		t.onSnap(c, br, from, gid)
	case kindRepair:
		t.onRepair(c, from, gid)
	case kindHash:
		t.onHash(c, br, from, gid)
	default:
		t.log.Warn("disconnecting peer: unknown connection kind", "remote", remote, "kind", hs[5], "err", errGarbage)
		t.metrics.garbage.Inc()
	}
}

func isClosed(err error) bool { return errors.Is(err, net.ErrClosed) }

// readFrame reads one length-prefixed frame, bounded by max. The buffer
// starts at frameStep and doubles as bytes arrive, so it never holds more
// than twice what the peer actually sent: a peer announcing a frame of max
// bytes and sending none costs frameStep, not max.
func readFrame(br *bufio.Reader, max uint32) ([]byte, error) {
	var lb [4]byte
	if _, err := io.ReadFull(br, lb[:]); err != nil {
		return nil, err
	}
	n := int(binary.BigEndian.Uint32(lb[:]))
	if n > int(max) {
		return nil, fmt.Errorf("%w: frame of %d bytes exceeds the cap of %d", errGarbage, n, max)
	}
	buf := make([]byte, 0, min(n, frameStep))
	for len(buf) < n {
		if len(buf) == cap(buf) {
			grown := make([]byte, len(buf), min(n, 2*cap(buf)))
			copy(grown, buf)
			buf = grown
		}
		k, err := br.Read(buf[len(buf):cap(buf)])
		buf = buf[:len(buf)+k]
		if err != nil && len(buf) < n {
			if errors.Is(err, io.EOF) {
				err = io.ErrUnexpectedEOF
			}
			return nil, err
		}
	}
	return buf, nil
}

// groupMsg is a message and the group it belongs to.
type groupMsg struct {
	g GroupID
	m raft.Message
}

func (t *transport) readMessages(c net.Conn, br *bufio.Reader, from raft.NodeID) error {
	var batch []groupMsg
	for {
		// Deadlines only when the next frame is not already buffered:
		// setting one per frame would cost a timer update per message.
		if n, _ := br.Peek(min(4, br.Buffered())); len(n) < 4 || br.Buffered() < 4+int(binary.BigEndian.Uint32(n)) {
			c.SetReadDeadline(time.Now().Add(t.idle))
		}
		buf, err := readFrame(br, t.maxFrame)
		if err != nil {
			return err
		}
		if len(buf) == 0 {
			return fmt.Errorf("%w: empty frame", errGarbage)
		}
		t.metrics.recvBytes.Add(float64(len(buf) + 4))
		gid, n := binary.Uvarint(buf)
		if n <= 0 {
			return fmt.Errorf("%w: frame without a group ID", errGarbage)
		}
		var m raft.Message
		if err := raft.Decode(buf[n:], &m, t.lim); err != nil {
			return fmt.Errorf("%w: %v", errGarbage, err)
		}
		if m.From != from || m.To != t.id {
			// Never stepped: the core would believe the forged sender.
			t.metrics.forged.Inc()
			return fmt.Errorf("%w: message %d->%d on a connection from %d to %d", errGarbage, m.From, m.To, from, t.id)
		}
		batch = append(batch, groupMsg{GroupID(gid), m})
		// Deliver what arrived together as one batch: the node loop
		// handles it before producing actions.
		if br.Buffered() < 4 || len(batch) >= 256 {
			t.deliver(batch)
			batch = nil
		}
	}
}

// send queues group g's message m for its peer; it never blocks.
func (t *transport) send(g GroupID, m raft.Message) {
	p := t.peer(m.To)
	if p == nil {
		return
	}
	p.mu.Lock()
	if len(p.queue) >= maxQueued {
		p.mu.Unlock()
		t.metrics.dropped.Inc()
		return
	}
	p.queue = append(p.queue, groupMsg{g, m})
	p.mu.Unlock()
	select {
	case p.notify <- struct{}{}:
	default:
	}
}

func (t *transport) peer(id raft.NodeID) *peerConn {
	t.mu.Lock()
	defer t.mu.Unlock()
	if p := t.peers[id]; p != nil {
		return p
	}
	select {
	case <-t.closed:
		return nil
	default:
	}
	p := &peerConn{t: t, id: id, notify: make(chan struct{}, 1)}
	t.peers[id] = p
	t.wg.Add(1)
	go p.run()
	return p
}

// reachable reports whether the connection to peer id is up (as far as
// the last write to it knows).
func (t *transport) reachable(id raft.NodeID) bool {
	t.mu.Lock()
	p := t.peers[id]
	t.mu.Unlock()
	return p != nil && p.up.Load()
}

// dial opens a connection of kind to peer id about group g (0 for a
// message connection) and shakes hands.
func (t *transport) dial(id raft.NodeID, kind byte, g GroupID) (net.Conn, error) {
	addr := t.addr(id)
	if addr == "" {
		return nil, fmt.Errorf("no address known for node %d", id)
	}
	c, err := net.DialTimeout("tcp", addr, time.Second)
	if err != nil {
		return nil, err
	}
	if tc, ok := c.(*net.TCPConn); ok {
		tc.SetNoDelay(true)
	}
	if t.tls != nil {
		tc := tls.Client(c, t.tls.Client(id))
		c.SetDeadline(time.Now().Add(handshakeTimeout))
		if err := tc.Handshake(); err != nil {
			c.Close()
			return nil, fmt.Errorf("TLS handshake with node %d: %w", id, err)
		}
		c.SetDeadline(time.Time{})
		c = tc
	}
	var hs [handshakeSize]byte
	copy(hs[:], connMagic)
	hs[4], hs[5] = connVersion, kind
	binary.BigEndian.PutUint64(hs[6:], uint64(t.id))
	binary.BigEndian.PutUint64(hs[14:], uint64(g))
	c.SetWriteDeadline(time.Now().Add(5 * time.Second))
	if _, err := c.Write(hs[:]); err != nil {
		c.Close()
		return nil, err
	}
	return c, nil
}

func (t *transport) close() {
	t.mu.Lock()
	select {
	case <-t.closed:
		t.mu.Unlock()
		return
	default:
	}
	close(t.closed)
	for c := range t.conns {
		c.Close()
	}
	t.mu.Unlock()
	t.ln.Close()
	t.wg.Wait()
}

// peerConn is the outgoing side to one peer.
type peerConn struct {
	t      *transport
	id     raft.NodeID
	notify chan struct{}

	mu    sync.Mutex
	queue []groupMsg

	up atomic.Bool
}

func (p *peerConn) take(spare []groupMsg) []groupMsg {
	p.mu.Lock()
	q := p.queue
	p.queue = spare[:0]
	p.mu.Unlock()
	return q
}

func (p *peerConn) run() {
	t := p.t
	defer t.wg.Done()
	var (
		conn    net.Conn
		buf     []byte
		spare   []groupMsg
		backoff = 20 * time.Millisecond
		written time.Time
	)
	defer func() {
		if conn != nil {
			conn.Close()
		}
	}()
	for {
		select {
		case <-t.closed:
			return
		case <-p.notify:
		}
		if conn != nil && time.Since(written) > t.idle/2 {
			// The peer may have closed it for idleness: a write would
			// seem to succeed and its messages would be lost.
			t.untrack(conn)
			conn = nil
		}
		if conn == nil {
			c, err := t.dial(p.id, kindMessages, 0)
			if err != nil {
				p.take(nil) // what was queued is stale by the time we get through
				if p.up.Swap(false) || backoff == 20*time.Millisecond {
					t.log.Info("cannot reach peer", "peer", p.id, "err", err)
					t.peerDown(p.id)
				}
				select {
				case <-t.closed:
					return
				case <-time.After(backoff):
				}
				backoff = min(2*backoff, time.Second)
				select { // try again even if nothing new is queued
				case p.notify <- struct{}{}:
				default:
				}
				continue
			}
			if !p.up.Swap(true) {
				t.log.Info("connected to peer", "peer", p.id)
			}
			conn, backoff, written = c, 20*time.Millisecond, time.Now()
			if !t.track(conn) {
				return
			}
		}
		msgs := p.take(spare)
		if len(msgs) == 0 {
			spare = msgs
			continue
		}
		buf = buf[:0]
		for i := range msgs {
			at := len(buf)
			buf = append(buf, 0, 0, 0, 0)
			buf = binary.AppendUvarint(buf, uint64(msgs[i].g))
			var err error
			buf, err = msgs[i].m.AppendBinary(buf)
			if err != nil {
				t.log.Error("cannot encode message", "err", err)
				buf = buf[:at]
				continue
			}
			binary.BigEndian.PutUint32(buf[at:], uint32(len(buf)-at-4))
			msgs[i] = groupMsg{}
		}
		spare = msgs
		conn.SetWriteDeadline(time.Now().Add(5 * time.Second))
		if _, err := conn.Write(buf); err != nil {
			t.log.Info("lost connection to peer", "peer", p.id, "err", err)
			p.up.Store(false)
			t.peerDown(p.id)
			t.untrack(conn)
			conn = nil
			continue
		}
		written = time.Now()
		t.metrics.sentBytes.WithLabelValues(fmt.Sprint(p.id)).Add(float64(len(buf)))
		if cap(buf) > 8<<20 {
			buf = nil // do not keep a huge buffer after a burst
		}
	}
}
