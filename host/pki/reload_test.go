package pki

import (
	"crypto/tls"
	"io"
	"net"
	"os"
	"path/filepath"
	"testing"
	"time"
)

// files issues a certificate from ca into dir/name.{crt,key} and loads it
// with dir/<bundle> as the CA file.
func files(t *testing.T, ca *CA, dir, name, bundle string, tmpl Template) *Files {
	t.Helper()
	is, err := ca.Issue(tmpl)
	if err != nil {
		t.Fatal(err)
	}
	if err := is.Write(dir, name); err != nil {
		t.Fatal(err)
	}
	f, err := LoadFiles(filepath.Join(dir, name+".crt"), filepath.Join(dir, name+".key"), filepath.Join(dir, bundle))
	if err != nil {
		t.Fatal(err)
	}
	return f
}

// handshake runs a TLS handshake over a loopback TCP connection and
// returns the two ends and the first error. Both ends read after the
// handshake, so a refusal the server sends after the client finished (TLS
// 1.3 checks the client's certificate last) is seen.
func handshake(server, client *tls.Config) (*tls.Conn, *tls.Conn, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, nil, err
	}
	defer ln.Close()
	type res struct {
		c   *tls.Conn
		err error
	}
	sc := make(chan res, 1)
	go func() {
		a, err := ln.Accept()
		if err != nil {
			sc <- res{nil, err}
			return
		}
		a.SetDeadline(time.Now().Add(5 * time.Second))
		s := tls.Server(a, server)
		err = s.Handshake()
		if err != nil {
			s.Close()
		}
		sc <- res{s, err}
	}()
	b, err := net.Dial("tcp", ln.Addr().String())
	if err != nil {
		return nil, nil, err
	}
	b.SetDeadline(time.Now().Add(5 * time.Second))
	c := tls.Client(b, client)
	cerr := c.Handshake()
	if cerr == nil {
		// Flush out a late refusal: the server's alert, or its close.
		c.SetReadDeadline(time.Now().Add(200 * time.Millisecond))
		_, rerr := c.Read(make([]byte, 1))
		if ne, ok := rerr.(net.Error); !ok || !ne.Timeout() {
			cerr = rerr
		}
		c.SetDeadline(time.Time{})
	}
	s := <-sc
	if s.err != nil || cerr != nil {
		c.Close()
		if s.err != nil {
			return nil, nil, s.err
		}
		return nil, nil, cerr
	}
	s.c.SetDeadline(time.Time{})
	return s.c, c, nil
}

// Rotation: a CA bundle rewritten on disk takes effect for the next
// handshake once reloaded; a connection made before goes on; a reload
// that fails keeps what was loaded.
func TestRotationReloadsCAForNewHandshakesOnly(t *testing.T) {
	dir := t.TempDir()
	caA, err := NewCA("A")
	if err != nil {
		t.Fatal(err)
	}
	caB, err := NewCA("B")
	if err != nil {
		t.Fatal(err)
	}
	write := func(name string, data []byte) {
		if err := writeAtomic(filepath.Join(dir, name), data, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	write("a.pem", caA.CertPEM())
	write("server-ca.pem", caA.CertPEM())
	server := files(t, caA, dir, "server", "server-ca.pem", Template{CommonName: "s", Node: 1, Server: true, Client: true})
	clientA := files(t, caA, dir, "client-a", "a.pem", Template{CommonName: "a", Client: true})
	clientB := files(t, caA, dir, "client-b", "a.pem", Template{CommonName: "b", Client: true})
	// client-b is re-issued by CA B: the server, trusting only A, refuses it.
	is, _ := caB.Issue(Template{CommonName: "b", Client: true})
	is.Write(dir, "client-b")
	if err := clientB.ReloadIfChanged(); err != nil {
		t.Fatal(err)
	}
	old, oldClient, err := handshake(server.ServerConfig(true), clientA.PeerClientConfig(1))
	if err != nil {
		t.Fatalf("CA A client: %v", err)
	}
	defer old.Close()
	if _, _, err := handshake(server.ServerConfig(true), clientB.PeerClientConfig(1)); err == nil {
		t.Fatal("a CA B certificate was accepted by a server trusting only A")
	}
	// Nothing changed on disk: no reload.
	n := server.Reloads()
	if err := server.ReloadIfChanged(); err != nil || server.Reloads() != n {
		t.Fatalf("reloaded without a change (%v)", err)
	}
	// The server's bundle now holds both CAs.
	write("server-ca.pem", append(caA.CertPEM(), caB.CertPEM()...))
	bumpTime(t, filepath.Join(dir, "server-ca.pem"))
	if err := server.ReloadIfChanged(); err != nil || server.Reloads() != n+1 {
		t.Fatalf("bundle change not reloaded (%v)", err)
	}
	if _, _, err := handshake(server.ServerConfig(true), clientB.PeerClientConfig(1)); err != nil {
		t.Fatalf("CA B client after the bundle change: %v", err)
	}
	// The connection made before the reload still carries data.
	go oldClient.Write([]byte("x"))
	buf := make([]byte, 1)
	if _, err := io.ReadFull(old, buf); err != nil || buf[0] != 'x' {
		t.Fatalf("old connection after reload: %v", err)
	}
	// A half-written rotation (key and certificate from different
	// issues) fails and keeps the previous certificate.
	leaf := server.Leaf()
	other, _ := caA.Issue(Template{CommonName: "s2", Node: 1, Server: true})
	write("server.crt", other.CertPEM)
	bumpTime(t, filepath.Join(dir, "server.crt"))
	if err := server.ReloadIfChanged(); err == nil {
		t.Fatal("a certificate that does not match its key was loaded")
	}
	if server.Leaf() != leaf {
		t.Fatal("a failed reload replaced the certificate")
	}
	if _, _, err := handshake(server.ServerConfig(true), clientA.PeerClientConfig(1)); err != nil {
		t.Fatalf("handshake after a failed reload: %v", err)
	}
}

// bumpTime moves a file's modification time forward, so a rewrite within
// the file system's time granularity is still seen as a change.
func bumpTime(t *testing.T, path string) {
	t.Helper()
	fi, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	mt := fi.ModTime().Add(time.Second)
	if err := os.Chtimes(path, mt, mt); err != nil {
		t.Fatal(err)
	}
}
