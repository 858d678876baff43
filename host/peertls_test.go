package host

import (
	"context"
	"crypto/tls"
	"encoding/binary"
	"errors"
	"fmt"
	"net"
	"path/filepath"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus/testutil"
	"github.com/pureraft/raft"
	"github.com/pureraft/raft/host/pki"
)

// Peer authentication. The core's Step trusts Message.From and Term
// (Raft §5.1: a message with a higher term makes the receiver adopt it;
// §5.3: a follower appends what its leader sends), so a forged message is
// as good as the real leader's. These tests forge the two attacks of
// issue 14 — an append that makes one replica apply a write nobody made,
// and a MsgTimeoutNow that hands leadership to a follower — against a
// cluster with mutual TLS, from every kind of attacker, and check that
// nothing was stepped. TestForgedMessagesInsecure runs the same attacks
// without TLS and checks they succeed: the harness does reach Step.

// testPKI is a CA and the certificates it issued, as files in dir.
type testPKI struct {
	dir string
	ca  *pki.CA
}

func newTestPKI(t *testing.T) *testPKI {
	t.Helper()
	ca, err := pki.NewCA("raftkv test CA")
	if err != nil {
		t.Fatal(err)
	}
	p := &testPKI{dir: t.TempDir(), ca: ca}
	if err := ca.WriteCA(p.dir); err != nil {
		t.Fatal(err)
	}
	return p
}

// issue writes a certificate named name from tmpl and loads it.
func (p *testPKI) issue(t *testing.T, name string, tmpl pki.Template) *pki.Files {
	t.Helper()
	is, err := p.ca.Issue(tmpl)
	if err != nil {
		t.Fatal(err)
	}
	if err := is.Write(p.dir, name); err != nil {
		t.Fatal(err)
	}
	f, err := pki.LoadFiles(filepath.Join(p.dir, name+".crt"), filepath.Join(p.dir, name+".key"), filepath.Join(p.dir, "ca.crt"))
	if err != nil {
		t.Fatal(err)
	}
	return f
}

func (p *testPKI) member(t *testing.T, id raft.NodeID) *pki.Files {
	return p.issue(t, fmt.Sprintf("node-%d", id), pki.Template{CommonName: fmt.Sprintf("node-%d", id), Node: id, Hosts: []string{"127.0.0.1"}, Server: true, Client: true})
}

func peerTLS(f *pki.Files) *PeerTLS {
	return &PeerTLS{Server: f.ServerConfig(true), Client: f.PeerClientConfig, PeerID: pki.NodeID}
}

// newTLSCluster starts n nodes whose transport is mutual TLS with
// certificates from p. Elections are slow enough (500 ms) that a loaded
// machine does not start one by itself while a test watches the term.
func newTLSCluster(t *testing.T, n int, p *testPKI, mod func(*Config)) *cluster {
	return newCluster(t, n, func(cfg *Config) {
		cfg.ElectionTicks, cfg.HeartbeatTicks = 100, 5
		if p != nil {
			cfg.PeerTLS = peerTLS(p.member(t, cfg.ID))
		}
		if mod != nil {
			mod(cfg)
		}
	})
}

// roles picks the leader, a victim follower and the third node.
func roles(t *testing.T, c *cluster) (lead, victim, third *Host) {
	lead = c.leader()
	for _, h := range c.hosts {
		switch {
		case h == lead:
		case victim == nil:
			victim = h
		default:
			third = h
		}
	}
	// Wait until the victim knows the leader, so its status is settled.
	c.await("the victim to follow the leader", func() bool {
		st := g1(victim).Status()
		return st.Leader == lead.ID() && st.Applied >= g1(lead).Status().Commit
	})
	return lead, victim, third
}

// forgedAppend is a MsgApp "from the leader" at a higher term that
// appends and commits one command adding 1000 to the counter.
func forgedAppend(lead, victim *Host) raft.Message {
	st := g1(victim).Status()
	data := []byte{entryCommand}
	data = binary.AppendUvarint(data, uint64(lead.ID()))
	data = binary.AppendUvarint(data, 1)
	data = binary.BigEndian.AppendUint64(data, 1000)
	next := st.LastIndex + 1
	return raft.Message{
		Type: raft.MsgApp, From: lead.ID(), To: victim.ID(), Term: st.Term + 1,
		Index: st.LastIndex, LogTerm: st.LastTerm, Commit: next,
		Entries: []raft.Entry{{Index: next, Term: st.Term + 1, Type: raft.EntryNormal, Data: data}},
	}
}

// forgedTimeoutNow is a MsgTimeoutNow "from the leader".
func forgedTimeoutNow(lead, victim *Host) raft.Message {
	return raft.Message{Type: raft.MsgTimeoutNow, From: lead.ID(), To: victim.ID(), Term: g1(victim).Status().Term}
}

// attacker says how a forger reaches the peer port.
type attacker struct {
	name string
	// tls is nil for a plain TCP connection.
	tls *tls.Config
	// as is the ID the PRKV handshake claims (0: the forged From).
	as raft.NodeID
	// welcome: the node is expected to keep the connection open (no TLS),
	// so attack does not wait for it to close.
	welcome bool
}

// attack opens a connection to addr, shakes hands as a.as (or m.From) and
// sends m. It returns once the node closed the connection or 2 s passed
// (at once if a.welcome).
func attack(t *testing.T, addr string, a attacker, m raft.Message) {
	t.Helper()
	var conn net.Conn
	var err error
	if a.tls != nil {
		conn, err = tls.DialWithDialer(&net.Dialer{Timeout: time.Second}, "tcp", addr, a.tls)
	} else {
		conn, err = net.DialTimeout("tcp", addr, time.Second)
	}
	if err != nil {
		return // refused at the handshake: nothing was sent
	}
	defer conn.Close()
	as := a.as
	if as == raft.None {
		as = m.From
	}
	b := handshake(kindMessages, uint64(as), 0)
	body, err := m.MarshalBinary()
	if err != nil {
		t.Fatal(err)
	}
	b = append(b, groupFrame(1, body)...)
	conn.SetDeadline(time.Now().Add(2 * time.Second))
	conn.Write(b)
	if !a.welcome {
		conn.Read(make([]byte, 1))
	}
}

// attackers are every kind of forger against a cluster with certificates
// from p: no TLS, another CA, an expired certificate, a certificate for a
// node that is not a member, and a member's valid certificate used to
// claim the leader's ID (in the handshake, or only in the message).
func attackers(t *testing.T, p *testPKI, third raft.NodeID) []attacker {
	other := newTestPKI(t)
	expired := p.issue(t, "expired", pki.Template{CommonName: "node-x", Node: third, Server: true, Client: true,
		NotBefore: time.Now().Add(-48 * time.Hour), NotAfter: time.Now().Add(-24 * time.Hour)})
	// ClientConfig verifies the server; the attacker does not care who it is.
	insecure := func(f *pki.Files) *tls.Config {
		cfg := f.ClientConfig(nil)
		cfg.VerifyConnection = nil
		return cfg
	}
	return []attacker{
		{name: "plain TCP, no certificate"},
		{name: "TLS without a certificate", tls: &tls.Config{InsecureSkipVerify: true}},
		{name: "another CA", tls: insecure(other.member(t, third))},
		{name: "expired", tls: insecure(expired)},
		{name: "not a member", tls: insecure(p.member(t, 9))},
		{name: "member claims the leader in the handshake", tls: insecure(p.member(t, third))},
		{name: "member claims the leader in the message", tls: insecure(p.member(t, third)), as: third},
	}
}

func TestForgedAppendRefusedWithTLS(t *testing.T) {
	p := newTestPKI(t)
	c := newTLSCluster(t, 3, p, nil)
	lead, victim, third := roles(t, c)
	want := add(t, lead, 1)
	waitValue(t, victim, want)
	term := g1(victim).Status().Term
	for _, a := range attackers(t, p, third.ID()) {
		attack(t, c.peers[victim.ID()].Raft, a, forgedAppend(lead, victim))
	}
	// A real write after the attacks: once the victim shows it, it has
	// handled everything that arrived before.
	want = add(t, lead, 1)
	waitValue(t, victim, want)
	if got := value(t, victim, Stale); got != want {
		t.Fatalf("victim applied a forged entry: value %d, want %d", got, want)
	}
	if st := g1(victim).Status(); st.Term != term {
		t.Fatalf("victim's term moved from %d to %d", term, st.Term)
	}
	checkAttackCounters(t, victim)
}

func TestForgedTimeoutNowRefusedWithTLS(t *testing.T) {
	p := newTestPKI(t)
	c := newTLSCluster(t, 3, p, nil)
	lead, victim, third := roles(t, c)
	term := g1(victim).Status().Term
	for _, a := range attackers(t, p, third.ID()) {
		attack(t, c.peers[victim.ID()].Raft, a, forgedTimeoutNow(lead, victim))
	}
	want := add(t, lead, 1)
	waitValue(t, victim, want)
	if st := g1(victim).Status(); st.Term != term || st.Role != raft.RoleFollower {
		t.Fatalf("victim is %v at term %d (was a follower at %d)", st.Role, st.Term, term)
	}
	checkAttackCounters(t, victim)
}

// checkAttackCounters: every attacker of attackers() shows in /metrics.
func checkAttackCounters(t *testing.T, victim *Host) {
	t.Helper()
	refused := func(reason string) float64 { return testutil.ToFloat64(victim.metrics.refused.WithLabelValues(reason)) }
	// Plain TCP, another CA, the expired certificate and TLS without a
	// certificate fail the handshake; the node 9 certificate is no member;
	// the two member forgeries are counted as forged.
	if got := refused("tls_handshake"); got != 4 {
		t.Errorf("refused at the TLS handshake: %v, want 4", got)
	}
	if got := refused("not_a_member"); got != 1 {
		t.Errorf("refused as not a member: %v, want 1", got)
	}
	if got := testutil.ToFloat64(victim.metrics.forged); got != 2 {
		t.Errorf("forged handshakes and messages counted: %v, want 2", got)
	}
}

// Without TLS the same forgeries succeed: a plain connection claiming the
// leader's ID gets a write applied that no client made, and moves
// leadership. This is issue 14 as filed; it proves the attacks above
// would be stepped if the transport let them through.
func TestForgedMessagesInsecure(t *testing.T) {
	c := newTLSCluster(t, 3, nil, nil)
	lead, victim, _ := roles(t, c)
	base := add(t, lead, 1)
	waitValue(t, victim, base)
	attack(t, c.peers[victim.ID()].Raft, attacker{name: "plain", welcome: true}, forgedAppend(lead, victim))
	// The victim applies a write no client made. (With its forged term
	// it may even win the next election and replicate the entry.)
	waitValue(t, victim, base+1000)

	c2 := newTLSCluster(t, 3, nil, nil)
	lead, victim, _ = roles(t, c2)
	term := g1(victim).Status().Term
	attack(t, c2.peers[victim.ID()].Raft, attacker{name: "plain", welcome: true}, forgedTimeoutNow(lead, victim))
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if _, err := g1(victim).WaitStatus(ctx, func(st raft.Status) bool { return st.Term != term }); err != nil {
		t.Fatalf("a forged MsgTimeoutNow did not start an election: %v", err)
	}
}

// A cluster with TLS works: writes from every node, a node restarts.
func TestTLSClusterWorks(t *testing.T) {
	p := newTestPKI(t)
	c := newTLSCluster(t, 3, p, nil)
	lead := c.leader()
	for _, h := range c.hosts {
		add(t, h, 1)
	}
	for _, h := range c.hosts {
		waitValue(t, h, 3)
	}
	if got := testutil.ToFloat64(lead.metrics.garbage); got != 0 {
		t.Fatalf("protocol errors: %v", got)
	}
}

// A removed member's ID is retired (issue 19: never used again), so its
// certificate no longer opens the peer port: the connection is refused at
// the TLS layer as not a member, like a certificate for a node that never
// was one. Otherwise a removed server, or one that came back with its old
// data after --force-new-cluster, could still reach the members.
func TestRemovedMemberRefusedWithTLS(t *testing.T) {
	p := newTestPKI(t)
	c := newTLSCluster(t, 3, p, nil)
	lead, victim, third := roles(t, c)
	gone := third.ID()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	// Right after the election the leader may not have heard from every
	// voter yet, and the membership check refuses the change until it has.
	for {
		before := g1(lead).Status()
		err := g1(lead).Remove(ctx, gone)
		if err == nil {
			break
		}
		if !errors.Is(err, raft.ErrQuorumNotConnected) {
			t.Fatal(err)
		}
		// The leader learns who is connected from their answers to its
		// heartbeats: try again once its status has moved on.
		if _, werr := g1(lead).WaitStatus(ctx, func(st raft.Status) bool { return st != before }); werr != nil {
			t.Fatal(err)
		}
	}
	c.stop(gone)
	c.await(fmt.Sprintf("the victim to see node %d retired", gone), func() bool { return victim.Peers()[gone].Removed })
	refused := func() float64 { return testutil.ToFloat64(victim.metrics.refused.WithLabelValues("not_a_member")) }
	before := refused()
	cfg := p.member(t, gone).ClientConfig(nil)
	cfg.VerifyConnection = nil
	attack(t, c.peers[victim.ID()].Raft, attacker{name: "removed member", tls: cfg}, forgedTimeoutNow(lead, victim))
	if got := refused() - before; got != 1 {
		t.Fatalf("connections from the removed member refused as not a member: %v, want 1", got)
	}
}
