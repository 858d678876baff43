package main

import (
	"context"
	"crypto/tls"
	"errors"
	"flag"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"time"

	"github.com/pureraft/raft"
	"github.com/pureraft/raft/examples/raftkv/kv"
	"github.com/pureraft/raft/host"
	"github.com/pureraft/raft/host/pki"
)

// securityFlags are the TLS and authorization flags of a server.
type securityFlags struct {
	tlsDir                    string
	peerCert, peerKey, peerCA string
	cert, key, ca             string
	authFile                  string
	clientCertAuth, insecure  bool
	reloadEvery               time.Duration
}

func (f *securityFlags) register(fs *flag.FlagSet) {
	fs.StringVar(&f.tlsDir, "tls-dir", "", "directory made by `raftkv certs`: sets every --peer-*, client TLS flag and --auth-file from it (node-<id>.crt/key, ca.crt, auth.txt)")
	fs.StringVar(&f.peerCert, "peer-cert", "", "peer TLS certificate (must name this node: URI SAN raftkv://node/<id>)")
	fs.StringVar(&f.peerKey, "peer-key", "", "peer TLS key")
	fs.StringVar(&f.peerCA, "peer-ca", "", "CA bundle that peers' certificates must chain to")
	fs.StringVar(&f.cert, "cert", "", "client API TLS certificate")
	fs.StringVar(&f.key, "key", "", "client API TLS key")
	fs.StringVar(&f.ca, "ca", "", "CA bundle that client certificates must chain to")
	fs.BoolVar(&f.clientCertAuth, "client-cert-auth", false, "require a client certificate on the client API (otherwise one is optional and a bearer token also works)")
	fs.StringVar(&f.authFile, "auth-file", "", "authorization file: lines of 'role kind value' (roles readonly, readwrite, admin; kinds token, cn)")
	fs.BoolVar(&f.insecure, "insecure", false, "allow listening without TLS on a non-loopback address (anyone who reaches the peer port can forge any member)")
	fs.DurationVar(&f.reloadEvery, "reload-interval", 5*time.Second, "check certificate and auth files for changes this often (SIGHUP reloads at once)")
}

// security is what the flags configure for one node.
type security struct {
	peer, api *pki.Files // nil: no TLS there
	auth      *kv.Authorizer
	authFile  string
	require   bool
}

func exists(path string) bool { _, err := os.Stat(path); return err == nil }

// load reads the files the flags name.
func (f *securityFlags) load(id raft.NodeID) (*security, error) {
	if f.tlsDir != "" {
		node := filepath.Join(f.tlsDir, fmt.Sprintf("node-%d", id))
		ca := filepath.Join(f.tlsDir, "ca.crt")
		set := func(p *string, v string) {
			if *p == "" {
				*p = v
			}
		}
		set(&f.peerCert, node+".crt")
		set(&f.peerKey, node+".key")
		set(&f.peerCA, ca)
		set(&f.cert, node+".crt")
		set(&f.key, node+".key")
		set(&f.ca, ca)
		if exists(filepath.Join(f.tlsDir, "auth.txt")) {
			set(&f.authFile, filepath.Join(f.tlsDir, "auth.txt"))
		}
	}
	s := &security{authFile: f.authFile, require: f.clientCertAuth}
	var err error
	if f.peerCert != "" || f.peerKey != "" || f.peerCA != "" {
		if s.peer, err = pki.LoadFiles(f.peerCert, f.peerKey, f.peerCA); err != nil {
			return nil, fmt.Errorf("peer TLS: %w", err)
		}
		got, err := pki.NodeID(s.peer.Leaf())
		if err != nil {
			return nil, fmt.Errorf("peer TLS: %w", err)
		}
		if got != id {
			return nil, fmt.Errorf("peer TLS: %s names node %d, this is node %d", f.peerCert, got, id)
		}
	}
	if f.cert != "" || f.key != "" || f.ca != "" {
		if s.api, err = pki.LoadFiles(f.cert, f.key, f.ca); err != nil {
			return nil, fmt.Errorf("client TLS: %w", err)
		}
	} else if f.clientCertAuth {
		return nil, errors.New("--client-cert-auth needs client TLS (--cert, --key, --ca)")
	}
	if f.authFile != "" {
		p, err := kv.LoadPolicy(f.authFile)
		if err != nil {
			return nil, err
		}
		s.auth = kv.NewAuthorizer(p)
	}
	return s, nil
}

func isLoopback(addr string) bool {
	h, _, err := net.SplitHostPort(addr)
	if err != nil {
		return false
	}
	if h == "localhost" {
		return true
	}
	ip := net.ParseIP(h)
	return ip != nil && ip.IsLoopback()
}

// checkListen refuses plaintext on a non-loopback address unless insecure.
func (s *security) checkListen(peerAddr, httpAddr string, insecure bool) error {
	if insecure {
		return nil
	}
	if s.peer == nil && !isLoopback(peerAddr) {
		return fmt.Errorf("refusing to serve the peer port on %s without TLS: anyone who reaches it can forge any member; give --peer-cert/--peer-key/--peer-ca (or --tls-dir), or --insecure", peerAddr)
	}
	if s.api == nil && !isLoopback(httpAddr) {
		return fmt.Errorf("refusing to serve the client API on %s without TLS: give --cert/--key/--ca (or --tls-dir), or --insecure", httpAddr)
	}
	return nil
}

// peerTLS is the transport's TLS, or nil.
func (s *security) peerTLS() *host.PeerTLS {
	if s.peer == nil {
		return nil
	}
	return &host.PeerTLS{Server: s.peer.ServerConfig(true), Client: s.peer.PeerClientConfig, PeerID: pki.NodeID}
}

// serveHTTP wraps the API in authorization and its listener in TLS.
func (s *security) serveHTTP(api *kv.Server, ln net.Listener) (http.Handler, net.Listener) {
	var h http.Handler = api
	if s.auth != nil {
		h = s.auth.Wrap(api)
	}
	if s.api == nil {
		return h, ln
	}
	api.ForwardOver("https", &http.Transport{TLSClientConfig: s.api.ClientConfig(nil), ForceAttemptHTTP2: true})
	return h, tls.NewListener(ln, s.api.ServerConfig(s.require))
}

// client is the HTTP client a node uses to talk to other members' APIs
// (joining), and the scheme to use.
func (s *security) client() (*http.Client, string) {
	if s.api == nil {
		return http.DefaultClient, "http"
	}
	return &http.Client{Transport: &http.Transport{TLSClientConfig: s.api.ClientConfig(nil)}, Timeout: 10 * time.Second}, "https"
}

// reload reads every certificate and the auth file again. What fails to
// load keeps its previous version.
func (s *security) reload() error {
	var errs []error
	for _, f := range []*pki.Files{s.peer, s.api} {
		if f != nil {
			errs = append(errs, f.Reload())
		}
	}
	if s.auth != nil {
		p, err := kv.LoadPolicy(s.authFile)
		if err == nil {
			s.auth.Set(p)
		}
		errs = append(errs, err)
	}
	return errors.Join(errs...)
}

// watch reloads on changes to the files until ctx ends.
func (s *security) watch(ctx context.Context, every time.Duration, log *slog.Logger) {
	onErr := func(err error) { log.Warn("certificate reload failed; keeping the previous one", "err", err) }
	for _, f := range []*pki.Files{s.peer, s.api} {
		if f != nil && every > 0 {
			go f.Watch(ctx, every, onErr)
		}
	}
}
