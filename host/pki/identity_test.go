package pki

import (
	"crypto/x509"
	"net/url"
	"strings"
	"testing"
)

// Only a raftkv://node/<id> URI names a member; a common name never does,
// and a certificate naming two members names none.
func TestNodeID(t *testing.T) {
	u := func(s string) *url.URL { v, _ := url.Parse(s); return v }
	if id, err := NodeID(&x509.Certificate{URIs: []*url.URL{u("spiffe://x/y"), NodeURI(7)}}); err != nil || id != 7 {
		t.Fatalf("got %d, %v; want 7", id, err)
	}
	for name, c := range map[string]*x509.Certificate{
		"no URI":      {},
		"CN only":     {URIs: nil},
		"bad ID":      {URIs: []*url.URL{u("raftkv://node/x")}},
		"zero ID":     {URIs: []*url.URL{u("raftkv://node/0")}},
		"two members": {URIs: []*url.URL{NodeURI(1), NodeURI(2)}},
	} {
		if name == "CN only" {
			c.Subject.CommonName = "node-1"
		}
		if _, err := NodeID(c); err == nil {
			t.Errorf("%s: accepted", name)
		} else if !strings.Contains(err.Error(), "certificate") {
			t.Errorf("%s: unclear error %v", name, err)
		}
	}
}
