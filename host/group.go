package host

// A Group is one Raft group on a host: its node, machine, apply loop,
// snapshots, waiting clients, corruption checks and reconfiguration.

import (
	"fmt"
	"log/slog"
	"math/rand/v2"
	"os"
	"path/filepath"
	"sync"
	"sync/atomic"
	"time"

	"github.com/pureraft/raft"
)

// Group is one Raft group this host holds a replica of. Its methods are
// safe for concurrent use.
type Group struct {
	h       *Host
	gid     GroupID
	nodeID  raft.NodeID
	dir     string
	cfg     Config
	log     *slog.Logger
	node    *raft.Node
	snaps   *snapStore
	m       Machine
	metrics *metrics
	gauges  groupGauges

	propc  chan proposal
	readc  chan readReq
	recvc  chan []raft.Message
	opc    chan func()
	applyc chan applyOp
	// tickc carries ticks from the host's tick goroutine; wakec asks a
	// quiescent node to wake (a peer went away).
	tickc, wakec chan struct{}
	// tickedTo is the host tick the node has caught up to; quiet says
	// the group left the host's awake set, quietFrom (tick+1) when its
	// node went quiescent (tick.go). They belong to the node loop.
	tickedTo  uint64
	quiet     bool
	quietFrom uint64
	// applyQuit stops the apply goroutine (applyc is never closed: an API
	// call may still be sending to it).
	applyQuit chan struct{}
	ackSig    chan struct{}
	durable   atomic.Uint64

	stopc    chan struct{}
	loopDone chan struct{}
	bgWG     sync.WaitGroup // apply goroutine and helpers
	closing  atomic.Bool

	seq     atomic.Uint64
	readSeq atomic.Uint64

	waitMu      sync.Mutex
	waiters     map[uint64]chan waitResult // by proposal seq
	readWaiters map[uint64]chan waitResult // by read ID; res.Index is the read index
	idxWaiters  map[uint64]idxWaiter       // membership changes, by index

	appliedMu      sync.Mutex
	applied        uint64
	appliedWaiters []appliedWaiter

	statusMu sync.RWMutex
	status   raft.Status
	// statusSeq numbers the statuses the loop published; statusPublished
	// is closed at the next publication, nil while nobody waits (watch.go).
	statusSeq       uint64
	statusPublished chan struct{}

	// Owned by the node loop.
	sendingSnap map[raft.NodeID]bool
	// Reads that arrived in this loop iteration, and read batches the node
	// is confirming: one ReadIndex per batch, however many reads it holds.
	readBatch, leaseBatch []uint64
	batches               map[uint64][]uint64
	batchSeq              uint64

	// fresh: the group started with no stored state.
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

// groupDir is where group gid keeps its files.
func groupDir(dir string, gid GroupID) string {
	return filepath.Join(dir, "groups", fmt.Sprint(uint64(gid)))
}

// openGroup recovers (or creates) group gid from its state in the WAL (st;
// nil: none), its latest snapshot and its machine, and builds its node.
// With no stored state the group bootstraps with voters, or, with no
// voters and join, waits to be added. It starts nothing.
func (h *Host) openGroup(gid GroupID, voters []raft.NodeID, join bool, st *WALState, torn bool) (*Group, error) {
	if gid == 0 {
		return nil, fmt.Errorf("%w: group ID 0 is reserved", ErrNoGroup)
	}
	g := &Group{
		h:       h,
		gid:     gid,
		nodeID:  h.id,
		dir:     groupDir(h.cfg.Dir, gid),
		cfg:     h.cfg,
		log:     h.log.With("group", uint64(gid)),
		metrics: h.metrics,
		// Small queues: a channel's buffer is allocated whole when it is
		// made, and a host holds thousands of mostly idle groups (4,096
		// slots each came to 400 KB a group). A full queue makes its
		// sender wait, which is the back-pressure a busy group needs; the
		// node loop takes up to 512 inputs per batch of actions anyway.
		propc:       make(chan proposal, inputQueue),
		readc:       make(chan readReq, inputQueue),
		recvc:       make(chan []raft.Message, peerInboxQueue),
		opc:         make(chan func(), inputQueue),
		applyc:      make(chan applyOp, inputQueue),
		tickc:       make(chan struct{}, 1),
		wakec:       make(chan struct{}, 1),
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
	g.snaps = &snapStore{dir: filepath.Join(g.dir, "snap")}
	if err := os.MkdirAll(g.dir, 0o755); err != nil {
		return nil, err
	}
	m, err := h.cfg.NewMachine(gid, g.dir)
	if err != nil {
		return nil, fmt.Errorf("machine: %w", err)
	}
	g.m = m
	g.loadAlarm()
	if err := g.recover(voters, join, st, torn); err != nil {
		g.abort()
		return nil, err
	}
	return g, nil
}

// abort releases what openGroup opened, for a group that never started.
func (g *Group) abort() {
	if g.m != nil {
		g.m.Close()
	}
}

// inputQueue is the capacity of each of a group's input queues but the
// peer inbox.
const inputQueue = 16

// peerInboxQueue is the capacity of a group's inbox of peer messages. The
// transport drops a batch for a full inbox rather than wait (route.go), so
// it is larger: a short stall of the node loop (an fsync, a snapshot)
// should not cost acknowledgements.
const peerInboxQueue = 64

// start runs the group's goroutines.
func (g *Group) start() {
	// Sequence numbers tag proposals and reads; starting from the clock
	// keeps them unique across restarts, so a replayed old entry never
	// answers a new request.
	now := uint64(time.Now().UnixNano())
	g.seq.Store(now)
	g.batchSeq = now
	g.publishStatus()
	g.tickedTo = g.h.ticks.Load()
	g.h.setAwake(g, true)
	g.bgWG.Add(1)
	go g.applyLoop()
	go g.run()
	if g.repairTarget > 0 {
		g.bgWG.Add(1)
		go g.repairLoop()
	}
	if _, ok := g.m.(Hasher); ok {
		g.bgWG.Add(1)
		go g.checkLoop()
	}
	if g.resnapshot {
		go g.replaceSnapshot()
	}
	if len(g.retireIDs) > 0 {
		g.bgWG.Add(1)
		go g.retireLoop(g.retireIDs)
	}
}

// stopLoop stops the node loop (no more actions are produced). Called
// once, by Close or RemoveGroup.
func (g *Group) stopLoop() {
	g.closing.Store(true)
	close(g.stopc)
	<-g.loopDone
}

// stopBackground stops the apply goroutine and the helpers, once the loop
// has stopped: the apply goroutine applies what the loop handed over
// first.
func (g *Group) stopBackground() {
	close(g.applyQuit)
	g.bgWG.Wait()
}

// closeFiles closes the machine, once the storage goroutine has written
// everything of this group.
func (g *Group) closeFiles() error { return g.m.Close() }

// ID returns the group's ID.
func (g *Group) ID() GroupID { return g.gid }

// Host returns the host the group runs on.
func (g *Group) Host() *Host { return g.h }

func groupNodeConfig(id raft.NodeID, c Config) raft.Config {
	q := c.QuiesceAfterTicks
	if q < 0 {
		q = 0
	}
	return raft.Config{
		ID:                id,
		Seed:              rand.Uint64(),
		ElectionTicks:     c.ElectionTicks,
		HeartbeatTicks:    c.HeartbeatTicks,
		EnableLeaseReads:  true,
		MaxMsgBytes:       c.MaxMsgBytes,
		MaxEntryBytes:     c.MaxMsgBytes / 2,
		QuiesceAfterTicks: q,
	}
}

func (g *Group) nodeConfig() raft.Config { return groupNodeConfig(g.nodeID, g.cfg) }
