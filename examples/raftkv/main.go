// Command raftkv is a replicated key-value server built on pureraft.
//
// With no flags it starts a 3-node cluster in one process on loopback
// ports, with its data in a fresh temporary directory, and prints curl
// commands to try. With --id it runs one node of a multi-process cluster:
//
//	raftkv --id 1 --listen 127.0.0.1:7001 --http 127.0.0.1:8001 \
//	       --peers 1=127.0.0.1:7001/127.0.0.1:8001,2=127.0.0.1:7002/127.0.0.1:8002,3=127.0.0.1:7003/127.0.0.1:8003 \
//	       --data /var/lib/raftkv/1 --initial-cluster-state new
//
// (--initial-cluster-state new on a cluster's first start only: an empty
// --data directory never founds a cluster without it, so a member whose
// disk was wiped cannot start a cluster of its own.)
//
// A new node joins a running cluster with --join (the HTTP address of any
// member) and an empty --data directory; it is added as a learner and can
// be promoted with POST /cluster/promote.
//
// Off loopback, a node needs TLS (--tls-dir, or the --peer-* and client
// TLS flags) or --insecure; see security.go. `raftkv certs` makes a CA and
// certificates for a local cluster (certs.go).
//
// `raftkv bench` is the load generator (see bench.go).
package main

import (
	"bytes"
	"cmp"
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"os/signal"
	"path/filepath"
	"runtime/debug"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/pureraft/raft"
	"github.com/pureraft/raft/examples/raftkv/kv"
	"github.com/pureraft/raft/host"
)

func main() {
	if os.Getenv("GOGC") == "" {
		// The heap is small and short-lived garbage (requests, messages)
		// dominates: collect less often, trading memory for CPU.
		debug.SetGCPercent(400)
	}
	if len(os.Args) > 1 && os.Args[1] == "bench" {
		os.Exit(runBench(os.Args[2:]))
	}
	if len(os.Args) > 1 && os.Args[1] == "certs" {
		os.Exit(runCerts(os.Args[2:]))
	}
	os.Exit(runServer(os.Args[1:]))
}

type nodeOptions struct {
	id              raft.NodeID
	groups          int // Raft groups founded (or joined) by an empty data directory
	raftLn, httpLn  net.Listener
	peers           host.Peers
	dir             string
	join            bool
	bootstrap       bool // a fresh data directory may found a new cluster
	forceNewCluster bool
	bodyTimeout     time.Duration
	checkInterval   time.Duration
	tick            time.Duration
	electionTicks   int
	snapshotEntries uint64
	snapshotRetain  uint64
	segmentBytes    int64
	log             *slog.Logger
	sec             *security // nil: no TLS, no authorization
}

type server struct {
	h    *host.Host
	http *http.Server
	log  *slog.Logger
}

func startNode(o nodeOptions) (*server, error) {
	if err := os.MkdirAll(o.dir, 0o755); err != nil {
		return nil, err
	}
	reg := prometheus.NewRegistry()
	reg.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	log := o.log.With("node", uint64(o.id))
	if o.sec == nil {
		o.sec = &security{}
	}
	groups := make([]host.GroupID, max(o.groups, 1))
	for i := range groups {
		groups[i] = host.GroupID(i + 1)
	}
	h, err := host.Open(host.Config{
		ID: o.id, Dir: o.dir, Listener: o.raftLn, PeerTLS: o.sec.peerTLS(), Peers: o.peers, Join: o.join, Groups: groups,
		NewMachine: func(g host.GroupID, dir string) (host.Machine, error) {
			return openMachine(filepath.Join(dir, "kv.db"), o.log)
		},
		NoBootstrap: !o.bootstrap, ForceNewCluster: o.forceNewCluster, CorruptCheckInterval: o.checkInterval,
		TickInterval: o.tick, ElectionTicks: o.electionTicks, SnapshotEntries: o.snapshotEntries, SnapshotRetain: o.snapshotRetain,
		SegmentBytes: o.segmentBytes, Logger: o.log, Registry: reg, MetricsNamespace: "raftkv",
	})
	if err != nil {
		return nil, err
	}
	handler, httpLn := o.sec.serveHTTP(kv.NewServer(h, reg, log), o.httpLn)
	if o.bodyTimeout == 0 {
		o.bodyTimeout = 30 * time.Second
	}
	srv := &http.Server{
		Handler:           handler,
		ReadHeaderTimeout: 10 * time.Second,
		// The whole request, body included, must arrive within this; a
		// trickling body is cut off (HTTP 408) instead of held open.
		ReadTimeout: o.bodyTimeout,
		IdleTimeout: 2 * time.Minute,
		ErrorLog:    slog.NewLogLogger(log.Handler(), slog.LevelWarn),
	}
	go func() {
		if err := srv.Serve(httpLn); err != nil && !errors.Is(err, http.ErrServerClosed) {
			log.Error("HTTP server failed", "err", err)
		}
	}()
	return &server{h: h, http: srv, log: log}, nil
}

// openMachine opens the store at dbPath. The machine is derived state: a
// file that cannot be opened is put aside and the store starts empty; the
// host restores the latest snapshot and the log replays the rest.
func openMachine(dbPath string, log *slog.Logger) (*kv.Machine, error) {
	m, err := kv.OpenMachine(dbPath)
	if err == nil {
		return m, nil
	}
	log.Warn("cannot open the store; rebuilding it from the snapshot and the log", "err", err)
	if rerr := os.Rename(dbPath, dbPath+".broken"); rerr != nil {
		return nil, err
	}
	return kv.OpenMachine(dbPath)
}

// Close shuts the node down: leadership first, then clients, then the host.
func (s *server) Close(ctx context.Context) error {
	hctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	herr := make(chan error, 1)
	go func() { herr <- s.h.Close(hctx) }()
	sctx, cancel2 := context.WithTimeout(ctx, 2*time.Second)
	defer cancel2()
	s.http.Shutdown(sctx)
	return <-herr
}

// parsePeers parses "1=raftaddr/httpaddr,2=...".
func parsePeers(s string) (host.Peers, error) {
	peers := host.Peers{}
	for _, part := range strings.Split(s, ",") {
		part = strings.TrimSpace(part)
		if part == "" {
			continue
		}
		idStr, addrs, ok := strings.Cut(part, "=")
		if !ok {
			return nil, fmt.Errorf("bad peer %q: want id=raftaddr/httpaddr", part)
		}
		id, err := strconv.ParseUint(idStr, 10, 64)
		if err != nil || id == 0 {
			return nil, fmt.Errorf("bad peer ID in %q", part)
		}
		ra, ha, _ := strings.Cut(addrs, "/")
		peers[raft.NodeID(id)] = host.PeerAddr{Raft: ra, HTTP: ha}
	}
	return peers, nil
}

func newLogger(level, format string) *slog.Logger {
	var l slog.Level
	if err := l.UnmarshalText([]byte(level)); err != nil {
		l = slog.LevelInfo
	}
	opts := &slog.HandlerOptions{Level: l}
	if format == "json" {
		return slog.New(slog.NewJSONHandler(os.Stderr, opts))
	}
	return slog.New(slog.NewTextHandler(os.Stderr, opts))
}

func runServer(args []string) int {
	fs := flag.NewFlagSet("raftkv", flag.ExitOnError)
	id := fs.Uint64("id", 0, "this node's ID (omit to run a 3-node demo cluster in one process)")
	listen := fs.String("listen", "", "raft (peer) address to listen on")
	httpAddr := fs.String("http", "", "client (HTTP) address to listen on")
	peersFlag := fs.String("peers", "", "cluster members: id=raftaddr/httpaddr,... (this node included)")
	dataDir := fs.String("data", "", "data directory")
	join := fs.String("join", "", "HTTP address of a member of the cluster to join (start with an empty --data)")
	tick := fs.Duration("tick", 10*time.Millisecond, "raft tick")
	electionTicks := fs.Int("election-ticks", 100, "election timeout in ticks")
	snapEntries := fs.Uint64("snapshot-entries", 10000, "snapshot and compact after this many applied entries")
	snapRetain := fs.Uint64("snapshot-retain", 1000, "log entries kept behind a snapshot for slow followers")
	segBytes := fs.Int64("segment-bytes", 64<<20, "WAL segment size")
	groups := fs.Int("groups", 0, "Raft groups the keys are spread over, fixed when the cluster is founded; a joining node passes the cluster's number (default 1, and 4 for the demo cluster)")
	raftFD := fs.Int("raft-fd", 0, "use the inherited listening socket with this file descriptor for --listen (supervisors, tests)")
	httpFD := fs.Int("http-fd", 0, "use the inherited listening socket with this file descriptor for --http")
	logLevel := fs.String("log-level", "info", "debug, info, warn or error")
	logFormat := fs.String("log-format", "text", "text or json")
	var secFlags securityFlags
	secFlags.register(fs)
	initialState := fs.String("initial-cluster-state", "existing", "new: an empty --data may bootstrap a new cluster of the --peers; existing: it may not (a wiped member must rejoin with --join)")
	forceNew := fs.Bool("force-new-cluster", false, "recover from a lost quorum: make this node the only voter, keeping its data (once, on one survivor; see docs/raftkv.md)")
	bodyTimeout := fs.Duration("body-timeout", 30*time.Second, "time limit for reading a client request, body included")
	checkInterval := fs.Duration("corrupt-check-interval", 5*time.Minute, "how often the leader has the replicas compare state hashes (0: only at start-up)")
	fs.Parse(args)
	log := newLogger(*logLevel, *logFormat)

	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()

	if *initialState != "new" && *initialState != "existing" {
		log.Error("bad --initial-cluster-state: new or existing", "got", *initialState)
		return 2
	}
	if *id == 0 {
		if secFlags != (securityFlags{reloadEvery: secFlags.reloadEvery, insecure: secFlags.insecure}) {
			log.Error("the demo cluster (no --id) runs on loopback without TLS; give --id to use TLS flags")
			return 2
		}
		return runDemo(ctx, log, nodeOptions{groups: cmp.Or(*groups, 4), bootstrap: true, bodyTimeout: *bodyTimeout, checkInterval: *checkInterval, tick: *tick, electionTicks: *electionTicks, snapshotEntries: *snapEntries, snapshotRetain: *snapRetain, segmentBytes: *segBytes, log: log})
	}
	peers, err := parsePeers(*peersFlag)
	if err != nil {
		log.Error("bad --peers", "err", err)
		return 2
	}
	self, ok := peers[raft.NodeID(*id)]
	if !ok {
		self = host.PeerAddr{Raft: *listen, HTTP: *httpAddr}
		peers[raft.NodeID(*id)] = self
	}
	if *listen == "" {
		*listen = self.Raft
	}
	if *httpAddr == "" {
		*httpAddr = self.HTTP
	}
	if *listen == "" || *httpAddr == "" || *dataDir == "" {
		log.Error("--listen, --http (or --peers naming this node) and --data are required")
		return 2
	}
	sec, err := secFlags.load(raft.NodeID(*id))
	if err != nil {
		log.Error("cannot load TLS or authorization files", "err", err)
		return 2
	}
	if err := sec.checkListen(*listen, *httpAddr, secFlags.insecure); err != nil {
		fmt.Fprintln(os.Stderr, "raftkv:", err)
		return 2
	}
	raftLn, err := listenOn(*listen, *raftFD)
	if err != nil {
		log.Error("listen", "err", err)
		return 1
	}
	httpLn, err := listenOn(*httpAddr, *httpFD)
	if err != nil {
		log.Error("listen", "err", err)
		return 1
	}
	s, err := startNode(nodeOptions{
		id: raft.NodeID(*id), groups: *groups, raftLn: raftLn, httpLn: httpLn, peers: peers, dir: *dataDir, join: *join != "",
		bootstrap: *initialState == "new", forceNewCluster: *forceNew, bodyTimeout: *bodyTimeout, checkInterval: *checkInterval,
		tick: *tick, electionTicks: *electionTicks, snapshotEntries: *snapEntries, snapshotRetain: *snapRetain, segmentBytes: *segBytes, log: log,
		sec: sec,
	})
	if errors.Is(err, host.ErrNoState) && !*forceNew {
		log.Warn("refusing to bootstrap a new cluster: --data holds no state. If this member's data was lost, "+
			"remove it from the cluster (POST /cluster/remove) and start it again with --join; if this is the first start "+
			"of a new cluster, pass --initial-cluster-state new", "data", *dataDir)
		return 2
	}
	if err != nil {
		log.Error("cannot start", "err", err)
		return 1
	}
	log.Info("serving", "id", *id, "raft", raftLn.Addr().String(), "http", httpLn.Addr().String(),
		"peer_tls", sec.peer != nil, "client_tls", sec.api != nil, "authorization", sec.auth != nil)
	sec.watch(ctx, secFlags.reloadEvery, log)
	go reloadOnHUP(ctx, sec, log)
	joinErr := make(chan error, 1)
	if *join != "" && s.h.Fresh() {
		go func() {
			joinErr <- askToJoin(ctx, log, sec, *join, raft.NodeID(*id), host.PeerAddr{Raft: raftLn.Addr().String(), HTTP: httpLn.Addr().String()}, len(s.h.Groups()))
		}()
	}
	code := 0
	select {
	case <-ctx.Done():
	case err := <-joinErr:
		if err != nil {
			log.Error("cannot join the cluster", "err", err)
			code = 1
		} else {
			<-ctx.Done()
		}
	}
	log.Info("shutting down")
	if err := s.Close(context.Background()); err != nil {
		log.Error("shutdown", "err", err)
		return 1
	}
	return code
}

// reloadOnHUP reloads certificates and the auth file on SIGHUP.
func reloadOnHUP(ctx context.Context, sec *security, log *slog.Logger) {
	hup := make(chan os.Signal, 1)
	signal.Notify(hup, syscall.SIGHUP)
	defer signal.Stop(hup)
	for {
		select {
		case <-ctx.Done():
			return
		case <-hup:
			if err := sec.reload(); err != nil {
				log.Warn("reload on SIGHUP failed in part; what failed keeps its previous version", "err", err)
			} else {
				log.Info("reloaded certificates and authorization on SIGHUP")
			}
		}
	}
}

// listenOn listens on addr, or takes over the inherited socket fd.
func listenOn(addr string, fd int) (net.Listener, error) {
	if fd <= 0 {
		return net.Listen("tcp", addr)
	}
	f := os.NewFile(uintptr(fd), "listener")
	defer f.Close()
	return net.FileListener(f)
}

// askToJoin asks the cluster to add this node as a learner, retrying until
// it succeeds or the cluster says it is already a learner. It fails if the
// cluster refuses for good: a voter whose data was wiped, or a server
// under a removed member's ID, must not rejoin (the leader once demoted
// such a voter; now it refuses, and says what to do).
func askToJoin(ctx context.Context, log *slog.Logger, sec *security, member string, id raft.NodeID, self host.PeerAddr, groups int) error {
	client, scheme := sec.client()
	if !strings.Contains(member, "://") {
		member = scheme + "://" + member
	}
	body := fmt.Sprintf(`{"id":%d,"raft":%q,"http":%q,"groups":%d}`, id, self.Raft, self.HTTP, groups)
	for {
		resp, err := client.Post(member+"/cluster/learners", "application/json", strings.NewReader(body))
		if err == nil {
			msg, _ := io.ReadAll(io.LimitReader(resp.Body, 4096))
			resp.Body.Close()
			switch {
			case resp.StatusCode == 200:
				log.Info("joined the cluster as a learner", "via", member)
				return nil
			case resp.StatusCode == 409 && strings.Contains(string(msg), "is a learner"):
				// An earlier attempt got through (raft.ErrAlreadyMember).
				log.Info("already a learner of the cluster", "answer", string(bytes.TrimSpace(msg)))
				return nil
			case resp.StatusCode == 409:
				// A voter, or a removed ID: this server must not rejoin
				// as it is (the answer says what to do).
				return fmt.Errorf("the cluster refused: %s", bytes.TrimSpace(msg))
			}
			err = fmt.Errorf("HTTP %d %s", resp.StatusCode, bytes.TrimSpace(msg))
		}
		log.Info("join request failed; retrying", "via", member, "err", err)
		select {
		case <-ctx.Done():
			return nil
		case <-time.After(500 * time.Millisecond):
		}
	}
}

func runDemo(ctx context.Context, log *slog.Logger, opts nodeOptions) int {
	dir, err := os.MkdirTemp("", "raftkv-demo-")
	if err != nil {
		log.Error("temp dir", "err", err)
		return 1
	}
	peers := host.Peers{}
	var raftLns, httpLns []net.Listener
	for i := 1; i <= 3; i++ {
		rl, err1 := net.Listen("tcp", "127.0.0.1:0")
		hl, err2 := net.Listen("tcp", "127.0.0.1:0")
		if err := errors.Join(err1, err2); err != nil {
			log.Error("listen", "err", err)
			return 1
		}
		raftLns, httpLns = append(raftLns, rl), append(httpLns, hl)
		peers[raft.NodeID(i)] = host.PeerAddr{Raft: rl.Addr().String(), HTTP: hl.Addr().String()}
	}
	var servers []*server
	for i := 1; i <= 3; i++ {
		o := opts
		o.id, o.raftLn, o.httpLn, o.peers, o.dir = raft.NodeID(i), raftLns[i-1], httpLns[i-1], peers, filepath.Join(dir, fmt.Sprint(i))
		s, err := startNode(o)
		if err != nil {
			log.Error("cannot start", "node", i, "err", err)
			return 1
		}
		servers = append(servers, s)
	}
	// Wait for every group's first election, so the printed commands work
	// at once.
	servers[0].awaitLeaders(10 * time.Second)
	a1, a2, a3 := peers[1].HTTP, peers[2].HTTP, peers[3].HTTP
	fmt.Printf(`
raftkv: a 3-node cluster is running in this process, keys spread over %d Raft groups (data in %s).

  node 1: http://%s   node 2: http://%s   node 3: http://%s

Try:
  curl -X PUT http://%s/kv/hello -d world
  curl http://%s/kv/hello                              # linearizable read on another node
  curl 'http://%s/kv/hello?consistency=lease'
  curl 'http://%s/kv/hello?consistency=stale'
  curl -X PUT 'http://%s/kv/hello?prev_value=world' -d there   # compare-and-swap
  curl 'http://%s/kv/?prefix=he'                        # list by prefix
  curl -X DELETE http://%s/kv/hello
  curl http://%s/cluster/status
  curl -X POST http://%s/cluster/transfer -d '{"to":2}'
  curl -X POST http://%s/cluster/snapshot
  curl http://%s/metrics | grep raftkv_

Press Ctrl-C to stop (the data directory is removed).
`, len(servers[0].h.Groups()), dir, a1, a2, a3, a1, a2, a3, a1, a1, a2, a3, a1, a1, a1, a1)
	<-ctx.Done()
	log.Info("shutting down")
	// The whole cluster stops, so handing leadership over is pointless
	// (and a hand-over to a node stopped a moment earlier would only time
	// out, with a warning): every node skips it.
	for _, s := range servers {
		s.h.SkipHandOver()
		if err := s.Close(context.Background()); err != nil {
			log.Error("shutdown", "err", err)
		}
	}
	os.RemoveAll(dir)
	return 0
}

// awaitLeaders waits, at most timeout, until every group knows a leader.
func (s *server) awaitLeaders(timeout time.Duration) {
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	for _, id := range s.h.Groups() {
		if g, ok := s.h.Group(id); ok {
			g.WaitLeader(ctx) // on timeout the demo starts anyway; its clients retry
		}
	}
}
