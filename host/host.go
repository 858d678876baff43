// Package host runs a pureraft node for real: a node loop, an on-disk
// write-ahead log with group commit, a TCP transport between peers,
// snapshots streamed in resumable chunks, and Prometheus metrics. An
// application supplies a [Machine] and gets a replicated state machine.
//
// Four goroutines share the work, so that slow things never stall the node:
//
//   - the node loop owns the raft.Node: it feeds it ticks, messages,
//     proposals and reads, and hands each action to whoever does it;
//   - the storage goroutine writes persist actions to the WAL, many per
//     fsync, and reports the last durable one back (AckPersist);
//   - the apply goroutine applies committed entries to the Machine,
//     answers waiting clients and takes snapshots;
//   - the transport's goroutines write to and read from peers.
//
// The node loop never waits for an fsync: the leader sends its new entries
// to followers while its own write is under way, and the core holds back
// every acknowledgement that depends on a write until AckPersist.
package host

import (
	"errors"
	"fmt"
	"log/slog"
	"math/rand/v2"
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
	// ID is this node's ID; Peers must hold its addresses.
	ID raft.NodeID
	// Dir holds the WAL (Dir/wal), snapshots (Dir/snap) and the host's
	// small state files. The Machine keeps its own files wherever it likes
	// (usually in Dir too).
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
	// the members known so far.
	Peers Peers
	// Join starts a node with an empty log that waits to be added to an
	// existing cluster, instead of bootstrapping a new one from Peers.
	Join bool
	// NoBootstrap makes a node whose data directory holds no state refuse
	// to bootstrap a new cluster from Peers (Open fails with ErrNoState)
	// unless it joins: a member whose data was wiped must not found a new
	// cluster of its own. The caller decides when bootstrapping is meant.
	NoBootstrap bool
	// ForceNewCluster rebuilds the stored state as a single-voter cluster
	// of this node (raft.ForceNewCluster), to recover from the permanent
	// loss of a quorum. Use it once, on one survivor.
	ForceNewCluster bool
	Machine         Machine

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

	Logger   *slog.Logger
	Registry prometheus.Registerer
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
	if c.Logger == nil {
		c.Logger = slog.Default()
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

type storeOp struct {
	persist *raft.Persist
	compact *raft.SnapshotMeta
	first   raft.Index
}

type applyOp struct {
	apply    raft.Apply
	snapshot chan snapDone // take a snapshot now
}

type snapDone struct {
	index uint64
	err   error
}

// Host runs one node.
type Host struct {
	cfg     Config
	id      raft.NodeID
	log     *slog.Logger
	node    *raft.Node
	wal     *WAL
	snaps   *snapStore
	tr      *transport
	m       Machine
	metrics *metrics

	propc  chan proposal
	readc  chan readReq
	recvc  chan []raft.Message
	opc    chan func()
	storec chan storeOp
	applyc chan applyOp
	// applyQuit stops the apply goroutine (applyc is never closed: an API
	// call may still be sending to it).
	applyQuit chan struct{}
	ackSig    chan struct{}
	durable   atomic.Uint64

	stopc    chan struct{}
	loopDone chan struct{}
	bgWG     sync.WaitGroup // storage and apply goroutines
	closing  atomic.Bool
	// noHandOver: Close skips the leadership hand-over (SkipHandOver).
	noHandOver atomic.Bool
	fatalMu    sync.Once

	seq     atomic.Uint64
	readSeq atomic.Uint64

	waitMu      sync.Mutex
	waiters     map[uint64]chan waitResult // by proposal seq
	readWaiters map[uint64]chan waitResult // by read ID; res.Index is the read index
	idxWaiters  map[uint64]idxWaiter       // membership changes, by index

	appliedMu      sync.Mutex
	applied        uint64
	appliedWaiters []appliedWaiter

	peersMu sync.RWMutex
	peers   Peers

	statusMu sync.RWMutex
	status   raft.Status

	// Owned by the node loop.
	sendingSnap map[raft.NodeID]bool
	ticker      *time.Ticker
	// Reads that arrived in this loop iteration, and read batches the node
	// is confirming: one ReadIndex per batch, however many reads it holds.
	readBatch, leaseBatch []uint64
	batches               map[uint64][]uint64
	batchSeq              uint64

	// fresh: the node started with no stored state.
	fresh bool
	// retireIDs: members a forced new cluster dropped, whose IDs are to be
	// marked removed in the address book once the node runs.
	retireIDs []raft.NodeID
	// resnapshot: the latest snapshot file was corrupt or missing at
	// start-up; take a new one.
	resnapshot bool

	// Corruption detection (corrupt.go).
	alarm    atomic.Pointer[string]
	verified atomic.Bool
	hashes   hashBook

	// Owned by the apply goroutine.
	skipThrough   uint64 // the machine already holds entries up to here
	repairTarget  uint64 // set when a cut WAL tail may have lost acknowledged entries
	lastSnapIndex uint64
	snapping      atomic.Bool
}

type idxWaiter struct {
	term raft.Term
	ch   chan waitResult
}

type appliedWaiter struct {
	index uint64
	ch    chan struct{}
}

// Open starts a host: it recovers the WAL, the latest snapshot and the
// machine, builds the node and starts its goroutines.
func Open(cfg Config) (*Host, error) {
	cfg.defaults()
	if _, ok := cfg.Peers[cfg.ID]; !ok {
		return nil, fmt.Errorf("host: Peers has no address for this node (%d)", cfg.ID)
	}
	h := &Host{
		cfg:         cfg,
		id:          cfg.ID,
		log:         cfg.Logger.With("node", uint64(cfg.ID)),
		m:           cfg.Machine,
		metrics:     newMetrics(cfg.Registry),
		snaps:       &snapStore{dir: filepath.Join(cfg.Dir, "snap")},
		propc:       make(chan proposal, 4096),
		readc:       make(chan readReq, 4096),
		recvc:       make(chan []raft.Message, 1024),
		opc:         make(chan func(), 64),
		storec:      make(chan storeOp, 4096),
		applyc:      make(chan applyOp, 4096),
		applyQuit:   make(chan struct{}),
		ackSig:      make(chan struct{}, 1),
		stopc:       make(chan struct{}),
		loopDone:    make(chan struct{}),
		waiters:     map[uint64]chan waitResult{},
		readWaiters: map[uint64]chan waitResult{},
		idxWaiters:  map[uint64]idxWaiter{},
		sendingSnap: map[raft.NodeID]bool{},
		batches:     map[uint64][]uint64{},
	}
	if err := os.MkdirAll(cfg.Dir, 0o755); err != nil {
		return nil, err
	}
	h.loadAlarm()
	if err := h.recover(); err != nil {
		if h.wal != nil {
			h.wal.Close()
		}
		return nil, err
	}
	h.tr = newTransport(h.id, cfg.Listener, h.nodeConfig().DecodeLimits(), h.log, h.metrics)
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
	h.tr.deliver = func(msgs []raft.Message) {
		select {
		case h.recvc <- msgs:
		case <-h.stopc:
		}
	}
	h.tr.onSnap = h.receiveSnapshot
	h.tr.onRepair = h.serveRepair
	h.tr.onHash = h.serveHash
	// Sequence numbers tag proposals and reads; starting from the clock
	// keeps them unique across restarts, so a replayed old entry never
	// answers a new request.
	now := uint64(time.Now().UnixNano())
	h.seq.Store(now)
	h.batchSeq = now
	h.publishStatus()
	h.bgWG.Add(2)
	go h.storeLoop()
	go h.applyLoop()
	go h.run()
	h.tr.start()
	if h.repairTarget > 0 {
		h.bgWG.Add(1)
		go h.repairLoop()
	}
	if _, ok := h.m.(Hasher); ok {
		h.bgWG.Add(1)
		go h.checkLoop()
	}
	if h.resnapshot {
		go h.replaceSnapshot()
	}
	if len(h.retireIDs) > 0 {
		h.bgWG.Add(1)
		go h.retireLoop(h.retireIDs)
	}
	return h, nil
}

func (h *Host) nodeConfig() raft.Config {
	return raft.Config{
		ID:               h.id,
		Seed:             rand.Uint64(),
		ElectionTicks:    h.cfg.ElectionTicks,
		HeartbeatTicks:   h.cfg.HeartbeatTicks,
		EnableLeaseReads: true,
		MaxMsgBytes:      h.cfg.MaxMsgBytes,
		MaxEntryBytes:    h.cfg.MaxMsgBytes / 2,
	}
}

// recover reads the WAL, brings the machine in line with the snapshot and
// builds the node.
func (h *Host) recover() error {
	suspect, err := checkBoot(h.cfg.Dir)
	if err != nil {
		return err
	}
	wal, st, err := OpenWAL(filepath.Join(h.cfg.Dir, "wal"), h.cfg.SegmentBytes)
	if err != nil {
		return err
	}
	h.wal = wal
	wal.FsyncHook = func(d time.Duration) { h.metrics.fsync.Observe(d.Seconds()) }
	if st.TornBytes > 0 {
		h.log.Warn("WAL tail was torn or corrupt: cut it; peers will repair the log", "bytes", st.TornBytes)
		h.metrics.tornBytes.Add(float64(st.TornBytes))
	}
	h.peers = loadPeers(h.cfg.Dir)
	snapIndex := uint64(st.Snapshot.Index)
	snapOK := h.verifySnapshots(snapIndex)
	var applied uint64
	switch {
	case suspect && snapIndex > 0:
		// The machine's files are not trusted, not even to say what they
		// applied (reading them may fail or mislead): rebuild them.
		h.log.Warn("unclean shutdown before a reboot: rebuilding the machine from the snapshot", "snapshot", snapIndex)
	case suspect:
		h.log.Warn("unclean shutdown before a reboot: rebuilding the machine from the log")
		if err := h.m.Restore(nil, 0); err != nil {
			return err
		}
	default:
		if applied, err = h.m.Applied(); err != nil {
			return fmt.Errorf("machine: %w", err)
		}
	}
	if snapIndex > 0 && applied < snapIndex {
		if !snapOK {
			return fmt.Errorf("%w: the machine needs snapshot %d to rebuild and its file is corrupt or missing: "+
				"this member cannot recover locally; remove it from the cluster, wipe its data directory and join it again", ErrStateCorrupt, snapIndex)
		}
		if err := h.restoreFromFile(snapIndex); err != nil {
			return err
		}
		applied = snapIndex
	}
	if suspect {
		// The machine is rebuilt (empty or the snapshot, the log replays
		// the rest): only now may this boot be recorded.
		if err := recordStart(h.cfg.Dir); err != nil {
			return err
		}
	}
	for id, a := range h.cfg.Peers {
		if _, ok := h.peers[id]; !ok {
			h.peers[id] = a
		}
	}
	h.lastSnapIndex = snapIndex
	if !snapOK {
		// The machine holds the snapshot's state or more: a new file is
		// taken as soon as the host runs (Open), for followers that need
		// one.
		h.lastSnapIndex, h.resnapshot = 0, true
	}
	last := snapIndex
	if k := len(st.Entries); k > 0 {
		last = uint64(st.Entries[k-1].Index)
	}
	h.skipThrough = applied
	if st.TornBytes > 0 {
		h.repairTarget = max(applied, last+1)
	}
	if applied > last {
		// The machine holds entries the log lost (a cut tail): they were
		// committed, so the leader will send the same ones again; skip
		// them when they are applied.
		h.log.Warn("machine is ahead of the log; the log will be repaired from the leader", "applied", applied, "last", last)
		applied = last
	}
	h.applied = applied
	hs := st.HardState
	if uint64(hs.Commit) > last {
		hs.Commit = raft.Index(last)
	}
	fresh := !st.HasSnapshot && hs.IsZero() && len(st.Entries) == 0
	h.fresh = fresh
	// Only a member with state of its own has anything to check before it
	// serves reads; a machine that cannot hash cannot be checked.
	_, hashes := h.m.(Hasher)
	h.verified.Store(fresh || !hashes || h.cfg.ForceNewCluster)
	cfg := h.nodeConfig()
	switch {
	case h.cfg.ForceNewCluster:
		if fresh {
			return fmt.Errorf("force new cluster: %w: there is nothing to recover from", ErrNoState)
		}
		h.node, err = h.forceNewCluster(cfg, raft.PersistentState{
			HardState: hs, Snapshot: st.Snapshot, Entries: st.Entries, Applied: raft.Index(applied),
		})
	case !fresh:
		h.node, err = raft.NewNode(cfg, raft.PersistentState{
			HardState: hs, Snapshot: st.Snapshot, Entries: st.Entries, Applied: raft.Index(applied),
		})
		h.log.Info("restarted", "term", hs.Term, "commit", hs.Commit, "snapshot", snapIndex, "last", last, "applied", applied)
	case h.cfg.Join:
		h.node, err = raft.NewNode(cfg, raft.PersistentState{})
		h.log.Info("joining: waiting for the leader")
	case h.cfg.NoBootstrap:
		return ErrNoState
	default:
		var voters []raft.NodeID
		for id := range h.cfg.Peers {
			voters = append(voters, id)
		}
		slices.Sort(voters)
		h.node, err = raft.Bootstrap(cfg, voters)
		h.log.Info("bootstrapping a new cluster", "voters", voters)
	}
	return err
}

// restoreFromFile resets the machine to the snapshot file at index.
func (h *Host) restoreFromFile(index uint64) error {
	r, err := h.snaps.open(index)
	if err != nil {
		return fmt.Errorf("snapshot %d: %w", index, err)
	}
	defer r.Close()
	// The address book first: once the machine records the snapshot as
	// applied, no restart restores it again, so a crash between the two
	// must not lose the addresses it carries.
	h.peersMu.Lock()
	for id, a := range r.Peers {
		h.peers[id] = a
	}
	book := h.peers.clone()
	h.peersMu.Unlock()
	if err := savePeers(h.cfg.Dir, book); err != nil {
		return err
	}
	if err := h.m.Restore(r.Data, index); err != nil {
		return fmt.Errorf("restore snapshot %d: %w", index, err)
	}
	return nil
}
