package kv

import (
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"

	"github.com/pureraft/raft/host/pki"
)

// A bad auth file is refused with the line and the reason; nothing is
// half-loaded.
func TestParsePolicyErrors(t *testing.T) {
	for in, want := range map[string]string{
		"admin token":            "line 1: want: role kind value",
		"root token x":           `line 1: unknown role "root"`,
		"# c\nadmin password x":  `line 2: unknown kind "password"`,
		"readonly cn a extra  x": "line 1: want",
	} {
		_, err := ParsePolicy(strings.NewReader(in))
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("%q: error %v, want %q", in, err, want)
		}
	}
}

// Each request needs the smallest role that covers it; credentials map to
// roles; a member certificate is admin.
func TestAuthorizerRoles(t *testing.T) {
	p, err := ParsePolicy(strings.NewReader("readonly token r\nreadwrite cn app\nadmin token a # ops\n"))
	if err != nil {
		t.Fatal(err)
	}
	h := NewAuthorizer(p).Wrap(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {}))
	member := &x509.Certificate{Subject: pkix.Name{CommonName: "x"}, URIs: []*url.URL{pki.NodeURI(3)}}
	cert := func(c *x509.Certificate) *tls.ConnectionState {
		return &tls.ConnectionState{PeerCertificates: []*x509.Certificate{c}}
	}
	for _, c := range []struct {
		method, path, token string
		tls                 *tls.ConnectionState
		want                int
	}{
		{"GET", "/kv/a", "", nil, 401},
		{"GET", "/healthz", "", nil, 200},
		{"GET", "/kv/a", "r", nil, 200},
		{"GET", "/metrics", "r", nil, 200},
		{"PUT", "/kv/a", "r", nil, 403},
		{"GET", "/kv/a", "wrong", nil, 401},
		{"PUT", "/kv/a", "", cert(&x509.Certificate{Subject: pkix.Name{CommonName: "app"}}), 200},
		{"POST", "/cluster/transfer", "", cert(&x509.Certificate{Subject: pkix.Name{CommonName: "app"}}), 403},
		{"GET", "/kv/a", "", cert(&x509.Certificate{Subject: pkix.Name{CommonName: "nobody"}}), 401},
		{"GET", "/cluster/status", "", cert(member), 200},
		{"GET", "/debug/pprof/", "a", nil, 200},
		{"GET", "/cluster/status", "r", nil, 403},
		{"POST", "/kv/a", "r", nil, 403},
		{"GET", "/kv/a//b", "", nil, 401},
		{"POST", "/cluster/check", "", cert(&x509.Certificate{Subject: pkix.Name{CommonName: "app"}}), 403},
		{"POST", "/cluster/check", "a", nil, 200},
	} {
		req := httptest.NewRequest(c.method, c.path, nil)
		if c.token != "" {
			req.Header.Set("Authorization", "Bearer "+c.token)
		}
		req.TLS = c.tls
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, req)
		if rec.Code != c.want {
			t.Errorf("%s %s token=%q: %d, want %d", c.method, c.path, c.token, rec.Code, c.want)
		}
	}
}
