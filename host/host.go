// Package host runs pureraft for real, many Raft groups per process: an
// on-disk write-ahead log with group commit, one mutual-TLS TCP transport
// between hosts that carries every group's messages, snapshots streamed in
// resumable chunks, and Prometheus metrics. An application supplies a
// [Machine] per group and gets replicated state machines.
//
// A [Host] is the process: its listener, transport, storage goroutine,
// tick goroutine, TLS, metrics registry, address book and boot record. A
// [Group] is one Raft group on it: a raft.Node, its Machine, its apply
// goroutine, snapshots, waiting clients, corruption checks and
// reconfiguration. A group's replicas are any subset of the hosts; a
// replica's raft.NodeID is its host's ID.
//
// Per group, goroutines share the work so that slow things never stall a
// node:
//
//   - the group's node loop owns the raft.Node: it feeds it ticks,
//     messages, proposals and reads, and hands each action to whoever
//     does it;
//   - the host's storage goroutine writes persist actions of every group,
//     many per fsync, and reports the last durable one back (AckPersist);
//   - the group's apply goroutine applies committed entries to the
//     Machine, answers waiting clients and takes snapshots;
//   - the transport's goroutines write to and read from peers, one
//     connection per pair of hosts for all groups.
//
// The node loop never waits for an fsync: the leader sends its new entries
// to followers while its own write is under way, and the core holds back
// every acknowledgement that depends on a write until AckPersist.
//
// docs/host.md describes the API, the layout on disk and the reasons.
package host

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"os"
	"path/filepath"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/pureraft/raft"
)

// PeerAddr is where a node listens: its raft (peer) address and its client
// (HTTP) address.
type PeerAddr struct {
	Raft string `json:"raft"`
	HTTP string `json:"http"`
	// Removed: the node was removed from the cluster; its ID is never
	// used again (see Host.AddLearner).
	Removed bool `json:"removed,omitempty"`
}

// Peers is an address book.
type Peers map[raft.NodeID]PeerAddr

func (p Peers) clone() Peers {
	out := make(Peers, len(p))
	for k, v := range p {
		out[k] = v
	}
	return out
}

// Config configures a Host.
type Config struct {
	// ID is this host's ID, which is also its replica ID in every group it
	// holds; Peers must hold its addresses.
	ID raft.NodeID
	// Dir holds the WAL of every group (Dir/wal), the host's small state
	// files (the address book, the boot record) and one directory per
	// group, Dir/groups/<id>, with that group's snapshots (snap) and
	// alarm; the group's Machine gets that directory for its own files
	// (docs/host.md).
	Dir string
	// Listener is the raft listener, already bound to Peers[ID].Raft.
	Listener net.Listener
	// PeerTLS, if set, makes the peer transport mutual TLS and binds
	// every connection to the node its certificate names. Without it
	// anyone who reaches Listener can forge any member (peertls.go).
	PeerTLS *PeerTLS
	// MaxPeerConnsPerAddr bounds the peer connections one remote IP
	// address holds open at once. Default 32.
	MaxPeerConnsPerAddr int
	// PeerIdleTimeout closes a peer connection that sent nothing for this
	// long. Default 60s.
	PeerIdleTimeout time.Duration
	// Peers are the initial cluster's members (bootstrap) or, with Join,
	// the members known so far. The address book is per host: every group
	// finds its replicas' addresses here.
	Peers Peers
	// Groups are the groups a host with no state bootstraps (every host in
	// Peers a voter of each) or, with Join, creates empty to be added to.
	// Default: group 1. A host with state recovers the groups in Dir and
	// ignores this.
	Groups []GroupID
	// Join starts a host whose groups have empty logs and wait to be added
	// to existing groups, instead of bootstrapping them from Peers.
	Join bool
	// NoBootstrap makes a node whose data directory holds no state refuse
	// to bootstrap a new cluster from Peers (Open fails with ErrNoState)
	// unless it joins: a member whose data was wiped must not found a new
	// cluster of its own. The caller decides when bootstrapping is meant.
	NoBootstrap bool
	// ForceNewCluster rebuilds the stored state as a single-voter cluster
	// of this node (raft.ForceNewCluster), to recover from the permanent
	// loss of a quorum. Use it once, on one survivor.
	// It applies to every group found in Dir.
	ForceNewCluster bool
	// NewMachine opens group g's Machine; dir is the group's directory,
	// where the machine may keep its files. Required.
	NewMachine func(g GroupID, dir string) (Machine, error)

	// TickInterval is the length of one raft tick. Default 10ms.
	TickInterval time.Duration
	// ElectionTicks and HeartbeatTicks: see raft.Config. Defaults 100
	// and 5: a 1 s election timeout and 50 ms heartbeats, etcd's defaults,
	// which ride out scheduling stalls on a busy machine.
	ElectionTicks, HeartbeatTicks int
	// SnapshotEntries: take a snapshot and compact the log after this
	// many applied entries. Default 10000.
	SnapshotEntries uint64
	// SnapshotRetain: entries kept behind a snapshot for slow followers.
	// Default 1000.
	SnapshotRetain uint64
	// SegmentBytes is the WAL segment size. Default 64 MiB.
	SegmentBytes int64
	// MaxMsgBytes: see raft.Config. Default 4 MiB.
	MaxMsgBytes uint64
	// CorruptCheckInterval: the leader proposes a state check this often
	// (see corrupt.go); 0 turns the periodic check off (the start-up
	// check still runs).
	CorruptCheckInterval time.Duration
	// PromoteMaxLag: a learner is promoted only if its log is at most
	// this many entries behind the leader's. Default 1000.
	PromoteMaxLag uint64
	// QuiesceAfterTicks lets an idle group go quiet after that many ticks
	// (raft.Config.QuiesceAfterTicks): no heartbeats and almost no work
	// until it is used again. Default 2 election timeouts; negative: never.
	// It must be at least 2 election timeouts: a membership change on a
	// quiet group wakes it and waits an election timeout for evidence of
	// who is connected, and the group must not go quiet again meanwhile.
	QuiesceAfterTicks int
	// BalanceInterval: how often the host moves leadership of groups it
	// leads to replicas on hosts that lead fewer (BalanceLeadership).
	// 0: never in the background.
	BalanceInterval time.Duration

	Logger   *slog.Logger
	Registry prometheus.Registerer
	// MetricsNamespace prefixes every metric's name (namespace_name).
	// Default "pureraft"; raftkv uses "raftkv".
	MetricsNamespace string
	// OnFatal is called when the host cannot go on (a failed fsync, a
	// machine that cannot apply a committed command). Default: log and
	// exit the process.
	OnFatal func(error)
}

func (c *Config) defaults() {
	if c.TickInterval == 0 {
		c.TickInterval = 10 * time.Millisecond
	}
	if c.ElectionTicks == 0 {
		c.ElectionTicks = 100
	}
	if c.HeartbeatTicks == 0 {
		c.HeartbeatTicks = min(5, c.ElectionTicks/4)
	}
	if c.SnapshotEntries == 0 {
		c.SnapshotEntries = 10000
	}
	if c.SnapshotRetain == 0 {
		c.SnapshotRetain = 1000
	}
	if c.SegmentBytes == 0 {
		c.SegmentBytes = 64 << 20
	}
	if c.MaxMsgBytes == 0 {
		c.MaxMsgBytes = 4 << 20
	}
	if c.MaxPeerConnsPerAddr == 0 {
		c.MaxPeerConnsPerAddr = 32
	}
	if c.PeerIdleTimeout == 0 {
		c.PeerIdleTimeout = peerIdleTimeout
	}
	if c.PromoteMaxLag == 0 {
		c.PromoteMaxLag = 1000
	}
	if c.QuiesceAfterTicks == 0 {
		c.QuiesceAfterTicks = 2 * c.ElectionTicks
	}
	if len(c.Groups) == 0 {
		c.Groups = []GroupID{1}
	}
	if c.Logger == nil {
		c.Logger = slog.Default()
	}
	if c.MetricsNamespace == "" {
		c.MetricsNamespace = "pureraft"
	}
	if c.Registry == nil {
		c.Registry = prometheus.NewRegistry()
	}
}

// Errors returned to clients.
var (
	// ErrNoLeader: no leader is known right now; retry.
	ErrNoLeader = errors.New("no leader")
	// ErrDropped: the leader refused the proposal (flow control, a
	// leadership transfer under way); retry.
	ErrDropped = errors.New("proposal dropped")
	// ErrStopped: the host is shutting down.
	ErrStopped = errors.New("host stopped")
	// ErrTooLarge: the command exceeds the entry size limit.
	ErrTooLarge = errors.New("command too large")
	// ErrNoState: the data directory holds no state and Config.NoBootstrap
	// forbids founding a new cluster.
	ErrNoState = errors.New("the data directory holds no raft state")
	// ErrOldLayout: Dir holds the one-group layout of before issue 17.
	ErrOldLayout = errors.New("the data directory has the old one-group layout")
	// ErrNoGroup: this host holds no group of that ID.
	ErrNoGroup = errors.New("no such group on this host")
	// ErrGroupExists: CreateGroup of a group this host already holds.
	ErrGroupExists = errors.New("the group already exists on this host")
)

// NotLeaderError is returned by operations only the leader performs.
type NotLeaderError struct {
	Leader raft.NodeID
	Addr   PeerAddr
}

func (e *NotLeaderError) Error() string {
	if e.Leader == raft.None {
		return "not the leader (no leader known)"
	}
	return fmt.Sprintf("not the leader (leader is %d)", e.Leader)
}

// Unwrap makes errors.Is(err, ErrNoLeader) true when no leader is known.
func (e *NotLeaderError) Unwrap() error {
	if e.Leader == raft.None {
		return ErrNoLeader
	}
	return nil
}

// Entry framing. Every normal entry the host proposes starts with a kind
// byte, the proposer's node ID and its proposal sequence number (uvarints),
// so the proposer's own apply goroutine can hand the result to the client
// that waits for it — also when a follower's proposal was forwarded to the
// leader by the core.
const (
	entryCommand = 1 // body: the Machine's command
	entryAddress = 2 // body: JSON {id, raft, http}: an address book change
	// entryHashCheck: no body; every replica hashes its machine here and
	// compares (corrupt.go).
	entryHashCheck = 3
)

type addressChange struct {
	ID   raft.NodeID `json:"id"`
	Addr PeerAddr    `json:"addr"`
}

// Result is a committed command's outcome.
type Result struct {
	Index uint64
	Data  []byte
}

type waitResult struct {
	res Result
	err error
}

type proposal struct {
	data []byte
	seq  uint64
}

type readReq struct {
	id    uint64
	lease bool
}

type applyOp struct {
	apply    raft.Apply
	snapshot chan snapDone // take a snapshot now
}

type snapDone struct {
	index uint64
	err   error
}

// Host is one process running many Raft groups: it owns what they share
// (listener and transport, storage goroutine, ticks, TLS, metrics, the
// address book and the boot record). Groups are reached with Group.
type Host struct {
	cfg     Config
	id      raft.NodeID
	log     *slog.Logger
	tr      *transport
	metrics *metrics
	storec  chan storeOp
	// wal is the one log of every group (wal*.go); once Open returns only
	// the storage goroutine uses it.
	wal *WAL
	// ticks counts the tick goroutine's ticks.
	ticks atomic.Uint64
	// awake is the groups the tick goroutine wakes (tick.go).
	awake awakeSet

	peersMu sync.RWMutex
	peers   Peers
	// bookMu serialises writes of the address book file (mergePeers).
	bookMu sync.Mutex

	groupsMu sync.RWMutex
	groups   map[GroupID]*Group

	// suspect: an unclean shutdown before a reboot; machines opened in
	// this run are rebuilt (statefiles.go).
	suspect bool
	fresh   bool

	stopc      chan struct{}
	closing    atomic.Bool
	noHandOver atomic.Bool
	fatalMu    sync.Once
	wg         sync.WaitGroup // tick, balancer
	storeDone  chan struct{}
	// lifeMu serialises CreateGroup, RemoveGroup and Close.
	lifeMu sync.Mutex
}

// Open starts a host: it recovers every group found in Dir (or, with no
// state, bootstraps or joins Config.Groups), and starts the transport.
func Open(cfg Config) (*Host, error) {
	cfg.defaults()
	if _, ok := cfg.Peers[cfg.ID]; !ok {
		return nil, fmt.Errorf("host: Peers has no address for this node (%d)", cfg.ID)
	}
	if cfg.NewMachine == nil {
		return nil, errors.New("host: Config.NewMachine is required")
	}
	if !validMetricsNamespace(cfg.MetricsNamespace) {
		return nil, fmt.Errorf("host: MetricsNamespace %q is not a Prometheus name (letters, digits and '_', not starting with a digit)", cfg.MetricsNamespace)
	}
	if cfg.QuiesceAfterTicks > 0 && cfg.QuiesceAfterTicks < 2*cfg.ElectionTicks {
		return nil, fmt.Errorf("host: QuiesceAfterTicks is %d, less than 2 election timeouts (%d ticks): "+
			"a membership change on a quiet group could never see who is connected", cfg.QuiesceAfterTicks, 2*cfg.ElectionTicks)
	}
	h := &Host{
		cfg:       cfg,
		id:        cfg.ID,
		log:       cfg.Logger.With("node", uint64(cfg.ID)),
		storec:    make(chan storeOp, 4096),
		groups:    map[GroupID]*Group{},
		stopc:     make(chan struct{}),
		storeDone: make(chan struct{}),
	}
	h.metrics = newMetrics(cfg.Registry, cfg.MetricsNamespace, h)
	if oldLayout(cfg.Dir) {
		// Started as empty, such a member would bootstrap or join a
		// cluster afresh while its old log sits beside it.
		return nil, fmt.Errorf("%w: %s holds the one-group layout of the host before issue 17 (wal/ and snap/ at the top, no groups/): "+
			"move snap, alarm.json and the machine's files into %s (the WAL reads its old format as group 1)", ErrOldLayout, cfg.Dir, groupDir(cfg.Dir, 1))
	}
	if err := os.MkdirAll(filepath.Join(cfg.Dir, "groups"), 0o755); err != nil {
		return nil, err
	}
	suspect, err := checkBoot(cfg.Dir)
	if err != nil {
		return nil, err
	}
	h.suspect = suspect
	h.peers = loadPeers(cfg.Dir)
	for id, a := range cfg.Peers {
		if _, ok := h.peers[id]; !ok {
			h.peers[id] = a
		}
	}
	clearRemoved(cfg.Dir)
	found, err := listGroups(cfg.Dir)
	if err != nil {
		return nil, err
	}
	wal, rec, err := OpenWALGroups(filepath.Join(cfg.Dir, "wal"), cfg.SegmentBytes)
	if err != nil {
		return nil, err
	}
	h.wal = wal
	wal.FsyncHook = func(d time.Duration) { h.metrics.fsync.Observe(d.Seconds()) }
	fail := func(err error) (*Host, error) {
		for _, g := range h.groups {
			g.abort()
		}
		h.wal.Close()
		return nil, err
	}
	if err := h.finishRemovals(found, rec); err != nil {
		return fail(err)
	}
	torn := rec.TornBytes > 0
	if torn {
		h.log.Warn("WAL tail was torn or corrupt: cut it; peers will repair the groups' logs", "bytes", rec.TornBytes, "segment", rec.TornSegment)
		h.metrics.tornBytes.Add(float64(rec.TornBytes))
	}
	// No state is no group state in the WAL. Group directories alone are
	// not state: a first start that died before its first write, or a
	// join the cluster refused, leaves them, and the next start must
	// bootstrap or join again.
	h.fresh = len(rec.Groups) == 0
	if h.fresh {
		if cfg.NoBootstrap && !cfg.Join {
			return fail(ErrNoState)
		}
		if cfg.ForceNewCluster {
			return fail(fmt.Errorf("force new cluster: %w: there is nothing to recover from", ErrNoState))
		}
		for _, gid := range cfg.Groups {
			if !slices.Contains(found, gid) {
				found = append(found, gid)
			}
		}
		slices.Sort(found)
	}
	var voters []raft.NodeID
	if h.fresh && !cfg.Join {
		for id := range cfg.Peers {
			voters = append(voters, id)
		}
		slices.Sort(voters)
	}
	for _, gid := range found {
		g, err := h.openGroup(gid, voters, cfg.Join, rec.Groups[gid], torn)
		if err != nil {
			return fail(fmt.Errorf("group %d: %w", gid, err))
		}
		h.groups[gid] = g
	}
	if suspect {
		// Every machine is rebuilt (empty or a snapshot; the logs replay
		// the rest): only now may this boot be recorded.
		if err := recordStart(cfg.Dir); err != nil {
			return fail(err)
		}
	}
	// From here on the WAL belongs to the storage goroutine.
	go h.storeLoop()
	h.tr = newTransport(h.id, cfg.Listener, h.decodeLimits(), h.log, h.metrics)
	h.tr.addr = func(id raft.NodeID) string {
		h.peersMu.RLock()
		defer h.peersMu.RUnlock()
		return h.peers[id].Raft
	}
	h.tr.tls = cfg.PeerTLS
	h.tr.maxPerAddr = cfg.MaxPeerConnsPerAddr
	h.tr.idle = cfg.PeerIdleTimeout
	// A member is in the address book and not retired: a removed ID is
	// never used again (reconfig.go), so its certificate no longer opens
	// the peer port either.
	h.tr.isMember = func(id raft.NodeID) bool {
		h.peersMu.RLock()
		defer h.peersMu.RUnlock()
		a := h.peers[id]
		return a.Raft != "" && !a.Removed
	}
	h.tr.deliver = h.deliver
	h.tr.onSnap = h.routeSnapshot
	h.tr.onRepair = h.routeRepair
	h.tr.onHash = h.routeHash
	h.tr.peerDown = h.wakeGroupsOf
	for _, g := range h.groups {
		g.start()
	}
	h.tr.start()
	h.wg.Add(1)
	go h.tickLoop()
	if cfg.BalanceInterval > 0 {
		h.wg.Add(1)
		go h.balanceLoop()
	}
	return h, nil
}

// decodeLimits bounds what a peer may send (every group uses the same
// limits).
func (h *Host) decodeLimits() raft.DecodeLimits {
	return groupNodeConfig(h.id, h.cfg).DecodeLimits()
}

// Group returns the group g, if this host holds it.
func (h *Host) Group(g GroupID) (*Group, bool) {
	h.groupsMu.RLock()
	defer h.groupsMu.RUnlock()
	grp, ok := h.groups[g]
	return grp, ok
}

// Groups returns the IDs of the groups this host holds, in order.
func (h *Host) Groups() []GroupID {
	h.groupsMu.RLock()
	defer h.groupsMu.RUnlock()
	out := make([]GroupID, 0, len(h.groups))
	for id := range h.groups {
		out = append(out, id)
	}
	slices.Sort(out)
	return out
}

func (h *Host) allGroups() []*Group {
	h.groupsMu.RLock()
	defer h.groupsMu.RUnlock()
	out := make([]*Group, 0, len(h.groups))
	for _, g := range h.groups {
		out = append(out, g)
	}
	return out
}

// ID returns the host's ID (its replica ID in every group).
func (h *Host) ID() raft.NodeID { return h.id }

// Peers returns a copy of the address book.
func (h *Host) Peers() Peers {
	h.peersMu.RLock()
	defer h.peersMu.RUnlock()
	return h.peers.clone()
}

// Fresh reports whether the host started with no stored state (a new
// member that joins, or one that bootstrapped a new cluster).
func (h *Host) Fresh() bool { return h.fresh }

// mergePeers records addresses in the host's address book, durably. The
// groups' apply goroutines call it concurrently; bookMu makes their file
// writes (through one temporary name) take turns, the latest book last.
func (h *Host) mergePeers(p Peers) error {
	h.bookMu.Lock()
	defer h.bookMu.Unlock()
	h.peersMu.Lock()
	for id, a := range p {
		h.peers[id] = a
	}
	book := h.peers.clone()
	h.peersMu.Unlock()
	return savePeers(h.cfg.Dir, book)
}

// SkipHandOver makes Close stop without handing leadership over first: for
// the last server of a cluster that is being stopped whole, which has no
// one left to hand over to (the attempt would only time out).
func (h *Host) SkipHandOver() { h.noHandOver.Store(true) }

// Close shuts the host down gracefully: every group this host leads first
// hands leadership to its most up-to-date voter (so the group does not wait
// an election timeout), then the loops stop, the WALs are flushed, and the
// machines closed.
func (h *Host) Close(ctx context.Context) error {
	h.lifeMu.Lock()
	defer h.lifeMu.Unlock()
	if !h.closing.CompareAndSwap(false, true) {
		return nil
	}
	groups := h.allGroups()
	if !h.noHandOver.Load() {
		var wg sync.WaitGroup
		for _, g := range groups {
			if g.Status().Role == raft.RoleLeader {
				wg.Add(1)
				go func() { defer wg.Done(); g.handOver(ctx) }()
			}
		}
		wg.Wait()
	}
	close(h.stopc)
	h.wg.Wait()
	for _, g := range groups {
		g.stopLoop()
	}
	h.tr.close()
	for _, g := range groups {
		g.stopBackground()
	}
	close(h.storec)
	<-h.storeDone
	var errs []error
	for _, g := range groups {
		errs = append(errs, g.closeFiles())
	}
	errs = append(errs, h.wal.Close())
	err := errors.Join(errs...)
	if err == nil {
		err = markClean(h.cfg.Dir)
	}
	h.log.Info("stopped")
	return err
}

func (h *Host) fatal(err error) {
	h.fatalMu.Do(func() {
		h.log.Error("fatal", "err", err)
		if h.cfg.OnFatal != nil {
			h.cfg.OnFatal(err)
			return
		}
		os.Exit(1)
	})
}
