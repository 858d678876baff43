package main

import (
	"crypto/rand"
	"encoding/hex"
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/pureraft/raft"
	"github.com/pureraft/raft/host/pki"
)

// runCerts is `raftkv certs`: a CA, member certificates and client
// certificates for a local cluster, in one directory that --tls-dir reads.
//
//	raftkv certs --dir certs --nodes 1,2,3
//
// writes certs/ca.crt and ca.key (reused if they exist, so running it
// again issues more certificates, or fresh ones to rotate, from the same
// CA), node-<id>.crt/key for each node (URI SAN raftkv://node/<id>, server
// and client use, valid for --hosts), client-<name>.crt/key and
// <name>.token for each client, and adds a cn and a token line per client
// to auth.txt.
func runCerts(args []string) int {
	fs := flag.NewFlagSet("raftkv certs", flag.ExitOnError)
	dir := fs.String("dir", "certs", "output directory")
	nodes := fs.String("nodes", "1,2,3", "member IDs to issue certificates for, comma-separated")
	hosts := fs.String("hosts", "127.0.0.1,::1,localhost", "DNS names and IPs the member certificates serve (for clients that check host names)")
	clients := fs.String("clients", "", "clients to issue: name=role,... (roles readonly, readwrite, admin); default with a new CA: admin=admin,writer=readwrite,reader=readonly")
	validity := fs.Duration("valid", 365*24*time.Hour, "validity of issued certificates")
	fs.Parse(args)
	if err := makeCerts(os.Stdout, *dir, *nodes, *hosts, *clients, *validity); err != nil {
		fmt.Fprintln(os.Stderr, "raftkv certs:", err)
		return 1
	}
	return 0
}

func makeCerts(out io.Writer, dir, nodes, hosts, clients string, validity time.Duration) error {
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return err
	}
	ca, err := pki.LoadCA(filepath.Join(dir, "ca.crt"), filepath.Join(dir, "ca.key"))
	if os.IsNotExist(err) {
		if ca, err = pki.NewCA("raftkv CA"); err != nil {
			return err
		}
		if err := ca.WriteCA(dir); err != nil {
			return err
		}
		fmt.Fprintf(out, "new CA: %s\n", filepath.Join(dir, "ca.crt"))
		if clients == "" {
			clients = "admin=admin,writer=readwrite,reader=readonly"
		}
	} else if err != nil {
		return err
	}
	now := time.Now().Add(-time.Hour)
	var hostList []string
	for _, h := range strings.Split(hosts, ",") {
		if h = strings.TrimSpace(h); h != "" {
			hostList = append(hostList, h)
		}
	}
	for _, n := range strings.Split(nodes, ",") {
		if n = strings.TrimSpace(n); n == "" {
			continue
		}
		id, err := strconv.ParseUint(n, 10, 64)
		if err != nil || id == 0 {
			return fmt.Errorf("bad node ID %q", n)
		}
		name := fmt.Sprintf("node-%d", id)
		is, err := ca.Issue(pki.Template{CommonName: name, Node: raft.NodeID(id), Hosts: hostList, Server: true, Client: true, NotBefore: now, NotAfter: now.Add(validity)})
		if err != nil {
			return err
		}
		if err := is.Write(dir, name); err != nil {
			return err
		}
		fmt.Fprintf(out, "member %d: %s\n", id, filepath.Join(dir, name+".crt"))
	}
	var lines []string
	for _, c := range strings.Split(clients, ",") {
		if c = strings.TrimSpace(c); c == "" {
			continue
		}
		name, role, ok := strings.Cut(c, "=")
		if !ok || (role != "readonly" && role != "readwrite" && role != "admin") {
			return fmt.Errorf("bad client %q: want name=readonly|readwrite|admin", c)
		}
		is, err := ca.Issue(pki.Template{CommonName: name, Client: true, NotBefore: now, NotAfter: now.Add(validity)})
		if err != nil {
			return err
		}
		if err := is.Write(dir, "client-"+name); err != nil {
			return err
		}
		var tok [16]byte
		rand.Read(tok[:])
		token := hex.EncodeToString(tok[:])
		if err := os.WriteFile(filepath.Join(dir, name+".token"), []byte(token+"\n"), 0o600); err != nil {
			return err
		}
		lines = append(lines, fmt.Sprintf("%-9s cn    %s", role, name), fmt.Sprintf("%-9s token %s", role, token))
		fmt.Fprintf(out, "client %s (%s): %s, token in %s\n", name, role, filepath.Join(dir, "client-"+name+".crt"), filepath.Join(dir, name+".token"))
	}
	if len(lines) == 0 {
		return nil
	}
	f, err := os.OpenFile(filepath.Join(dir, "auth.txt"), os.O_CREATE|os.O_APPEND|os.O_WRONLY, 0o600)
	if err != nil {
		return err
	}
	if _, err := fmt.Fprintln(f, strings.Join(lines, "\n")); err != nil {
		f.Close()
		return err
	}
	return f.Close()
}
