package pki

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"os"
	"sync"
	"sync/atomic"
	"time"

	"github.com/pureraft/raft"
)

// Files is a certificate, its key and the CA bundle that peers'
// certificates must chain to, as files that can be replaced at any time.
//
// Rotation: Reload reads all three again and, if they parse, every new
// handshake uses them; a connection already established keeps the
// certificate it shook hands with until it closes. A reload that fails
// (a half-written file) keeps the previous material and returns the error.
type Files struct {
	CertFile, KeyFile, CAFile string

	cur     atomic.Pointer[material]
	mu      sync.Mutex // serializes Reload
	stamp   string     // the files' sizes and mtimes at the last reload
	reloads atomic.Uint64
}

type material struct {
	cert *tls.Certificate
	leaf *x509.Certificate
	pool *x509.CertPool
}

// LoadFiles reads the three files once; it fails if any is missing or bad.
func LoadFiles(certFile, keyFile, caFile string) (*Files, error) {
	f := &Files{CertFile: certFile, KeyFile: keyFile, CAFile: caFile}
	if err := f.Reload(); err != nil {
		return nil, err
	}
	return f, nil
}

// Reload reads the files again. On error the previous material stays.
func (f *Files) Reload() error {
	f.mu.Lock()
	defer f.mu.Unlock()
	stamp := f.stampNow()
	cert, err := tls.LoadX509KeyPair(f.CertFile, f.KeyFile)
	if err != nil {
		return fmt.Errorf("load %s: %w", f.CertFile, err)
	}
	leaf, err := x509.ParseCertificate(cert.Certificate[0])
	if err != nil {
		return fmt.Errorf("parse %s: %w", f.CertFile, err)
	}
	cert.Leaf = leaf
	caPEM, err := os.ReadFile(f.CAFile)
	if err != nil {
		return err
	}
	pool := x509.NewCertPool()
	if !pool.AppendCertsFromPEM(caPEM) {
		return fmt.Errorf("%s holds no PEM certificate", f.CAFile)
	}
	f.cur.Store(&material{cert: &cert, leaf: leaf, pool: pool})
	f.stamp = stamp
	f.reloads.Add(1)
	return nil
}

// Reloads counts successful loads (the first one included).
func (f *Files) Reloads() uint64 { return f.reloads.Load() }

// Leaf is the current certificate, parsed.
func (f *Files) Leaf() *x509.Certificate { return f.cur.Load().leaf }

func (f *Files) stampNow() string {
	s := ""
	for _, p := range []string{f.CertFile, f.KeyFile, f.CAFile} {
		if fi, err := os.Stat(p); err == nil {
			s += fmt.Sprintf("%d/%d;", fi.Size(), fi.ModTime().UnixNano())
		}
	}
	return s
}

// Watch reloads the files whenever their size or modification time
// changes, checking every interval until ctx ends. Errors go to onErr (a
// rotation half done: the next change retries).
func (f *Files) Watch(ctx context.Context, interval time.Duration, onErr func(error)) {
	t := time.NewTicker(interval)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		if err := f.ReloadIfChanged(); err != nil && onErr != nil {
			onErr(err)
		}
	}
}

// ReloadIfChanged reloads the files if their size or modification time
// changed since the last successful load (a failed load is retried on the
// next call).
func (f *Files) ReloadIfChanged() error {
	f.mu.Lock()
	changed := f.stampNow() != f.stamp
	f.mu.Unlock()
	if !changed {
		return nil
	}
	return f.Reload()
}

// verify checks a peer's chain against the current CA pool, for usage.
func (f *Files) verify(raw [][]byte, usage x509.ExtKeyUsage) (*x509.Certificate, error) {
	if len(raw) == 0 {
		return nil, errors.New("no certificate presented")
	}
	certs := make([]*x509.Certificate, len(raw))
	for i, b := range raw {
		c, err := x509.ParseCertificate(b)
		if err != nil {
			return nil, err
		}
		certs[i] = c
	}
	inter := x509.NewCertPool()
	for _, c := range certs[1:] {
		inter.AddCert(c)
	}
	_, err := certs[0].Verify(x509.VerifyOptions{
		Roots: f.cur.Load().pool, Intermediates: inter, KeyUsages: []x509.ExtKeyUsage{usage},
	})
	if err != nil {
		return nil, err
	}
	return certs[0], nil
}

// ServerConfig is a server-side TLS configuration that presents the
// current certificate. With require, a client must present a certificate
// that chains to the current CA; otherwise a certificate is asked for and
// verified if given, and the connection goes on without one.
//
// Verification runs in VerifyConnection against the CA pool of the moment
// rather than in a fixed ClientCAs, so that a rotated CA takes effect for
// the next handshake.
func (f *Files) ServerConfig(require bool) *tls.Config {
	auth := tls.RequestClientCert
	if require {
		auth = tls.RequireAnyClientCert
	}
	return &tls.Config{
		MinVersion: tls.VersionTLS12,
		ClientAuth: auth,
		GetCertificate: func(*tls.ClientHelloInfo) (*tls.Certificate, error) {
			return f.cur.Load().cert, nil
		},
		VerifyConnection: func(cs tls.ConnectionState) error {
			if len(cs.PeerCertificates) == 0 && !require {
				return nil
			}
			raw := make([][]byte, len(cs.PeerCertificates))
			for i, c := range cs.PeerCertificates {
				raw[i] = c.Raw
			}
			_, err := f.verify(raw, x509.ExtKeyUsageClientAuth)
			return err
		},
	}
}

// ClientConfig is a client-side TLS configuration that presents the
// current certificate and verifies the server's chain against the current
// CA. check, if not nil, then judges the server's verified certificate (a
// member dialling a peer checks it names that peer). Host names are not
// checked: members are named by their certificates, not their addresses.
func (f *Files) ClientConfig(check func(*x509.Certificate) error) *tls.Config {
	return &tls.Config{
		MinVersion: tls.VersionTLS12,
		GetClientCertificate: func(*tls.CertificateRequestInfo) (*tls.Certificate, error) {
			return f.cur.Load().cert, nil
		},
		// The chain is verified below, against the CA of the moment; the
		// fixed RootCAs path would not see a rotated CA.
		InsecureSkipVerify: true,
		VerifyConnection: func(cs tls.ConnectionState) error {
			raw := make([][]byte, len(cs.PeerCertificates))
			for i, c := range cs.PeerCertificates {
				raw[i] = c.Raw
			}
			leaf, err := f.verify(raw, x509.ExtKeyUsageServerAuth)
			if err != nil {
				return err
			}
			if check != nil {
				return check(leaf)
			}
			return nil
		},
	}
}

// PeerClientConfig is ClientConfig for dialling member id: the server's
// certificate must name id.
func (f *Files) PeerClientConfig(id raft.NodeID) *tls.Config {
	return f.ClientConfig(func(c *x509.Certificate) error {
		got, err := NodeID(c)
		if err != nil {
			return err
		}
		if got != id {
			return fmt.Errorf("dialled node %d but its certificate names node %d", id, got)
		}
		return nil
	})
}
