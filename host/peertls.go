package host

import (
	"crypto/tls"
	"crypto/x509"
	"fmt"
	"net"

	"github.com/pureraft/raft"
)

// PeerTLS makes the peer transport mutual TLS, and binds each connection
// to the node its certificate names.
//
// raft.Node.Step trusts Message.From and Message.Term: a forged MsgApp
// "from the leader" with a higher term is appended and applied, a forged
// MsgTimeoutNow starts an election. So the receiving side of a connection
// learns the peer's ID from its verified certificate, refuses a peer that
// is not in the address book, refuses a handshake that claims another ID,
// and drops (and counts in <namespace>_peer_forged_messages_total) any message
// whose From is not that ID before it reaches Step.
type PeerTLS struct {
	// Server is the configuration for accepted connections. It must
	// demand a client certificate and verify its chain (for example
	// pki.Files.ServerConfig(true)); the transport then reads the ID.
	Server *tls.Config
	// Client returns the configuration for dialling node id. It should
	// check that the server's certificate names id.
	Client func(id raft.NodeID) *tls.Config
	// PeerID returns the node ID a verified certificate names (for
	// example pki.NodeID).
	PeerID func(*x509.Certificate) (raft.NodeID, error)
}

// authenticate runs the TLS handshake on an accepted connection and
// returns the connection to read from and the peer's authenticated ID
// (raft.None without TLS). A refusal is logged and counted; ok is false.
func (t *transport) authenticate(raw net.Conn) (c net.Conn, id raft.NodeID, ok bool) {
	if t.tls == nil {
		return raw, raft.None, true
	}
	remote := raw.RemoteAddr().String()
	refuse := func(reason string, err error) (net.Conn, raft.NodeID, bool) {
		t.log.Warn("refused peer connection", "remote", remote, "reason", reason, "err", err)
		t.metrics.refused.WithLabelValues(reason).Inc()
		return nil, raft.None, false
	}
	tc := tls.Server(raw, t.tls.Server)
	if err := tc.Handshake(); err != nil {
		return refuse("tls_handshake", err)
	}
	certs := tc.ConnectionState().PeerCertificates
	if len(certs) == 0 {
		return refuse("no_certificate", nil)
	}
	id, err := t.tls.PeerID(certs[0])
	if err != nil {
		return refuse("no_node_id", err)
	}
	if !t.isMember(id) {
		return refuse("not_a_member", fmt.Errorf("node %d is not in the address book, or was removed", id))
	}
	return tc, id, true
}
