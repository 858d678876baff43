// Package pki holds raftkv's certificates: who a certificate names (a
// member or a client), files that reload without a restart, TLS
// configurations that verify against the current CA, and a small CA that
// issues certificates for a local cluster (`raftkv certs`, and tests).
//
// A member's certificate names its node ID in a URI subject alternative
// name, raftkv://node/<id>. Only that URI counts: a common name is free
// text in many CAs, so a client certificate with CN "node-1" must not make
// its holder a member. A client's identity is its certificate's common
// name, which the authorization file maps to a role.
package pki

import (
	"crypto/x509"
	"fmt"
	"net/url"
	"strconv"

	"github.com/pureraft/raft"
)

// NodeURIScheme and nodeURIHost make up the URI that names a member:
// raftkv://node/<id>.
const (
	NodeURIScheme = "raftkv"
	nodeURIHost   = "node"
)

// NodeURI is the URI SAN that names member id.
func NodeURI(id raft.NodeID) *url.URL {
	return &url.URL{Scheme: NodeURIScheme, Host: nodeURIHost, Path: "/" + strconv.FormatUint(uint64(id), 10)}
}

// NodeID returns the member ID that cert names in its raftkv://node/<id>
// URI SAN. A certificate that names none, or more than one, is an error.
func NodeID(cert *x509.Certificate) (raft.NodeID, error) {
	var found raft.NodeID
	for _, u := range cert.URIs {
		if u.Scheme != NodeURIScheme || u.Host != nodeURIHost {
			continue
		}
		id, err := strconv.ParseUint(u.Path[min(1, len(u.Path)):], 10, 64)
		if err != nil || id == 0 || u.Path == "" {
			return 0, fmt.Errorf("certificate %q: bad member URI %q", cert.Subject.CommonName, u.String())
		}
		if found != 0 && found != raft.NodeID(id) {
			return 0, fmt.Errorf("certificate %q names two members", cert.Subject.CommonName)
		}
		found = raft.NodeID(id)
	}
	if found == 0 {
		return 0, fmt.Errorf("certificate %q names no member (no %s://%s/<id> URI)", cert.Subject.CommonName, NodeURIScheme, nodeURIHost)
	}
	return found, nil
}
