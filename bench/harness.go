package bench

import (
	"fmt"
	"runtime"
	"time"
)

// Library names a Raft implementation under test.
type Library string

const (
	// Pureraft is this repository's core.
	Pureraft Library = "pureraft"
	// Etcd is go.etcd.io/raft/v3 driven through RawNode, one Propose call
	// per proposal (the same API shape as pureraft's Propose).
	Etcd Library = "etcd"
	// EtcdBatched is etcd with each round's proposals handed over in one
	// MsgProp carrying all B entries: an etcd-specific batching API that
	// pureraft does not need (it batches the proposals made between two
	// Actions calls by itself). Reported for fairness, not as the baseline.
	EtcdBatched Library = "etcd-batched"
	// PureraftQuiescent is pureraft in the idle harness only, with
	// Config.QuiesceAfterTicks set: once the group is caught up the
	// simulated leader sends MsgQuiesce and then nothing at all, so each
	// Tick is a counter (plus the buffer trim every 64 ticks).
	PureraftQuiescent Library = "pureraft-quiescent"
	// PureraftTicker is pureraft in the idle harness only, its groups'
	// clocks driven by one raft.Ticker (Config.Ticker) instead of a
	// Node.Tick call per group: a tick touches only the groups with
	// something to do on it (ticker.go in the core).
	PureraftTicker Library = "pureraft-ticker"
	// PureraftTickerQuiescent is PureraftTicker with quiescence, as
	// PureraftQuiescent.
	PureraftTickerQuiescent Library = "pureraft-ticker-quiescent"
)

// QuiesceAfterTicks is the idle ticks after which a pureraft leader with
// quiescence on goes quiet (PureraftQuiescent).
const QuiesceAfterTicks = 2 * ElectionTicks

// Flow-control limits shared by both libraries (pureraft's defaults, set
// explicitly on both sides).
const (
	MaxMsgBytes         = 1 << 20  // pureraft MaxMsgBytes, etcd MaxSizePerMsg
	MaxInflightMsgs     = 256      // both MaxInflightMsgs
	MaxInflightBytes    = 32 << 20 // both MaxInflightBytes
	MaxUncommittedBytes = 64 << 20 // pureraft MaxUncommittedBytes, etcd MaxUncommittedEntriesSize
	MaxApplyBytes       = 4 << 20  // pureraft MaxApplyBytes, etcd MaxCommittedSizePerReady
	ElectionTicks       = 10
	HeartbeatTicks      = 1
)

// ThroughputParams describe one throughput run.
type ThroughputParams struct {
	Nodes   int // cluster size (3 or 5)
	Batch   int // B: proposals per round
	Size    int // S: payload bytes per proposal
	Entries int // N: entries to apply on every node
	Store   Store
}

func (p ThroughputParams) String() string {
	return fmt.Sprintf("store=%s nodes=%d B=%d S=%d N=%d", p.Store, p.Nodes, p.Batch, p.Size, p.Entries)
}

// ThroughputResult is what one run measured. Only the replication loop is
// measured: building the cluster and electing the leader are not.
type ThroughputResult struct {
	Entries  int
	Rounds   int
	Messages int // messages delivered
	Elapsed  time.Duration
	CPU      time.Duration // process CPU time (all threads, GC included)
	Mallocs  uint64        // heap allocations during the loop
	Bytes    uint64        // heap bytes allocated during the loop
}

// EntriesPerSec is the throughput: entries applied on every node per second.
func (r ThroughputResult) EntriesPerSec() float64 {
	return float64(r.Entries) / r.Elapsed.Seconds()
}

// EntriesPerCPUSec is entries applied on every node per second of CPU
// time used by the process (GC included).
func (r ThroughputResult) EntriesPerCPUSec() float64 {
	return float64(r.Entries) / r.CPU.Seconds()
}

// AllocsPerEntry is heap allocations per entry, over the whole cluster.
func (r ThroughputResult) AllocsPerEntry() float64 {
	return float64(r.Mallocs) / float64(r.Entries)
}

// BytesPerEntry is heap bytes allocated per entry, over the whole cluster.
func (r ThroughputResult) BytesPerEntry() float64 {
	return float64(r.Bytes) / float64(r.Entries)
}

// cluster is the shape both libraries implement for the throughput
// harness. Every method runs in the caller's goroutine and does no I/O.
type cluster interface {
	stepper
	// propose hands the leader one round's proposals.
	propose(payloads [][]byte) error
	// allApplied reports whether every node applied all proposals so far.
	allApplied(proposed int) bool
}

// stepper is what every harness drives, round after round.
type stepper interface {
	// handle has node i carry out all its pending work: persist (and
	// acknowledge), queue sends, apply.
	handle(i int) error
	// deliver steps every queued message into its receiver and returns how
	// many there were.
	deliver() (int, error)
}

// round lets each of the cluster's nodes carry out its pending work, then
// delivers the messages that queued: one step of every harness. It returns
// how many messages were delivered.
func round(c stepper, nodes int) (int, error) {
	for i := range nodes {
		if err := c.handle(i); err != nil {
			return 0, fmt.Errorf("node %d: %w", i+1, err)
		}
	}
	return c.deliver()
}

// settle runs rounds until no message is left in flight (at most 100):
// after an election, so the measured loop starts from a quiet cluster.
func settle(c stepper, nodes int) error {
	for range 100 {
		if n, err := round(c, nodes); err != nil || n == 0 {
			return err
		}
	}
	return nil
}

// newCluster builds a cluster of lib with nodes voters, each with a store
// of the given design, and elects node 1.
func newCluster(lib Library, nodes int, store Store) (cluster, error) {
	switch lib {
	case Pureraft:
		return newPureCluster(nodes, store)
	case Etcd, EtcdBatched:
		return newEtcdCluster(nodes, lib == EtcdBatched, store)
	}
	return nil, fmt.Errorf("unknown library %q", lib)
}

// RunThroughput builds a cluster of lib, elects node 1 and measures the
// replication loop.
func RunThroughput(lib Library, p ThroughputParams) (ThroughputResult, error) {
	c, err := newCluster(lib, p.Nodes, p.Store)
	if err != nil {
		return ThroughputResult{}, err
	}
	payloads := makePayloads(p.Batch, p.Size)
	res := ThroughputResult{Entries: p.Entries}
	err = measureLoop(&res, func() error { return replicate(c, p, payloads, &res) })
	runtime.KeepAlive(c)
	return res, err
}

// measureLoop runs loop after a collection and records its wall-clock
// and CPU time and its heap allocations in res.
func measureLoop(res *ThroughputResult, loop func() error) error {
	var before, after runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&before)
	start, startCPU := time.Now(), cpuTime()
	err := loop()
	res.Elapsed, res.CPU = time.Since(start), cpuTime()-startCPU
	runtime.ReadMemStats(&after)
	res.Mallocs = after.Mallocs - before.Mallocs
	res.Bytes = after.TotalAlloc - before.TotalAlloc
	return err
}

// replicate is the measured loop: rounds of B proposals, every node's
// pending work, delivery, until p.Entries entries are applied everywhere.
func replicate(c cluster, p ThroughputParams, payloads [][]byte, res *ThroughputResult) error {
	proposed := 0
	for proposed < p.Entries || !c.allApplied(proposed) {
		if proposed < p.Entries {
			batch := payloads[:min(p.Batch, p.Entries-proposed)]
			if err := c.propose(batch); err != nil {
				return fmt.Errorf("round %d: propose: %w", res.Rounds, err)
			}
			proposed += len(batch)
		}
		n, err := round(c, p.Nodes)
		if err != nil {
			return fmt.Errorf("round %d: %w", res.Rounds, err)
		}
		res.Messages += n
		res.Rounds++
		if res.Rounds > 100*p.Entries+1000 {
			return fmt.Errorf("no progress after %d rounds", res.Rounds)
		}
	}
	return nil
}

// makePayloads returns n distinct payloads of size bytes. They are made
// once and reused every round, so neither library is charged for creating
// them; neither copies them.
func makePayloads(n, size int) [][]byte {
	p := make([][]byte, n)
	for i := range p {
		p[i] = make([]byte, size)
		for j := range p[i] {
			p[i][j] = byte(i*31 + j)
		}
	}
	return p
}

// IdleParams describe one idle-groups run.
type IdleParams struct {
	Groups int // G: groups hosted on the measured node
	Ticks  int // ticks measured (each followed by one heartbeat per group)
}

func (p IdleParams) String() string { return fmt.Sprintf("G=%d ticks=%d", p.Groups, p.Ticks) }

// IdleResult is what one idle run measured.
type IdleResult struct {
	Groups        int
	HeapPerGroup  float64 // live heap bytes per group, after warm-up and GC
	TickNs        float64 // ns per Tick call, per group
	TickCPUNs     float64 // the same in process CPU time
	HeartbeatNs   float64 // ns per heartbeat stepped and its work handled, per group
	AllocsPerBeat float64 // heap allocations per heartbeat handled
}

// idleHost is the shape both libraries implement for the idle harness:
// G groups in which the measured node is a follower of a simulated leader
// that sends nothing but heartbeats.
type idleHost interface {
	// tickAll ticks every group once, the way a host of that library
	// would: a loop calling each group's Tick, or one Ticker.Tick.
	tickAll()
	// heartbeat steps a heartbeat from the leader into group i and handles
	// the resulting work (the response is discarded: the leader is
	// simulated and needs nothing back).
	heartbeat(i int) error
	check(i int) error
}

func newIdleHost(lib Library, groups int) (idleHost, error) {
	switch lib {
	case Pureraft:
		return newPureIdle(groups, false, false)
	case PureraftQuiescent:
		return newPureIdle(groups, true, false)
	case PureraftTicker:
		return newPureIdle(groups, false, true)
	case PureraftTickerQuiescent:
		return newPureIdle(groups, true, true)
	case Etcd, EtcdBatched:
		return newEtcdIdle(groups)
	}
	return nil, fmt.Errorf("unknown library %q", lib)
}

// warmTicks is how many ticks (each with a heartbeat) idle groups run
// before their memory is measured.
const warmTicks = 130

// RunIdle builds G idle groups of lib and measures their memory and the
// cost of ticking them and of answering heartbeats.
func RunIdle(lib Library, p IdleParams) (IdleResult, error) {
	res := IdleResult{Groups: p.Groups}
	var before, after runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&before)
	h, err := newIdleHost(lib, p.Groups)
	if err != nil {
		return res, err
	}
	// Warm up until buffers reach their steady-state sizes: pureraft
	// releases idle buffer capacity every 64 ticks, so run past two such
	// periods (etcd has no equivalent; its figure is the same either way).
	for range warmTicks {
		h.tickAll()
		for i := range p.Groups {
			if err := h.heartbeat(i); err != nil {
				return res, err
			}
		}
	}
	runtime.GC()
	runtime.ReadMemStats(&after)
	res.HeapPerGroup = float64(int64(after.HeapAlloc)-int64(before.HeapAlloc)) / float64(p.Groups)

	var tickTime, tickCPU, beatTime time.Duration
	mallocs := after.Mallocs
	for range p.Ticks {
		t0, c0 := time.Now(), cpuTime()
		h.tickAll()
		t1 := time.Now()
		tickCPU += cpuTime() - c0
		for i := range p.Groups {
			if err := h.heartbeat(i); err != nil {
				return res, err
			}
		}
		tickTime += t1.Sub(t0)
		beatTime += time.Since(t1)
	}
	runtime.ReadMemStats(&after)
	ops := float64(p.Ticks) * float64(p.Groups)
	res.TickNs = float64(tickTime.Nanoseconds()) / ops
	res.TickCPUNs = float64(tickCPU.Nanoseconds()) / ops
	res.HeartbeatNs = float64(beatTime.Nanoseconds()) / ops
	res.AllocsPerBeat = float64(after.Mallocs-mallocs) / ops
	for i := range p.Groups {
		if err := h.check(i); err != nil {
			return res, err
		}
	}
	runtime.KeepAlive(h)
	return res, nil
}
