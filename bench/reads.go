package bench

import (
	"encoding/binary"
	"fmt"
	"runtime"
	"time"

	etcd "go.etcd.io/raft/v3"
)

// The reads harness measures linearizable reads by ReadIndex (thesis §6.4)
// on a settled cluster: the leader has committed the entry of its term, no
// writes are made, and the measured loop keeps K reads in flight at the
// leader until R of them are confirmed.
//
// What each library does per read differs, and that difference is what is
// measured:
//
//   - pureraft: Node.ReadIndex(id) queues the read; the next Actions call
//     starts one heartbeat round for every read queued since the last one,
//     and one quorum of answers to that round releases them all, each as an
//     ActionReadReady with its ID and index.
//   - etcd: RawNode.ReadIndex(rctx) in the default ReadOnlySafe mode
//     broadcasts one heartbeat carrying rctx per call, so K reads in flight
//     are K heartbeat broadcasts and K answers from each follower; each read
//     comes back as a Ready.ReadStates entry with its rctx and index.
//   - etcd-batched: one RawNode.ReadIndex call per refill, for all the reads
//     issued together, which the caller then releases together when its
//     ReadState arrives. This is how etcd's own server uses the library (its
//     linearizableReadLoop makes one ReadIndex request for every read waiting
//     at the time); pureraft does the same sharing inside the core.
//   - pureraft-batched: pureraft driven the same way, one Node.ReadIndex
//     call per refill, so the two libraries' round machinery can be
//     compared with the same (caller-side) per-read work.

// PureraftBatched is pureraft with one ReadIndex call per refill of the
// reads harness, for all the reads issued together (the counterpart of
// EtcdBatched there). The other harnesses do not know it.
const PureraftBatched Library = "pureraft-batched"

// ReadParams describe one reads run.
type ReadParams struct {
	Nodes    int // cluster size (3 or 5)
	InFlight int // K: reads kept outstanding at the leader
	Reads    int // R: reads to confirm
}

func (p ReadParams) String() string {
	return fmt.Sprintf("nodes=%d K=%d R=%d", p.Nodes, p.InFlight, p.Reads)
}

// ReadResult is what one reads run measured. Only the read loop is
// measured: building the cluster and electing the leader are not.
type ReadResult struct {
	Reads    int // reads confirmed
	Rounds   int
	Messages int // messages delivered
	Elapsed  time.Duration
	CPU      time.Duration // process CPU time (all threads, GC included)
	Mallocs  uint64        // heap allocations during the loop
	Bytes    uint64        // heap bytes allocated during the loop
}

// ReadsPerSec is reads confirmed per second of wall-clock time.
func (r ReadResult) ReadsPerSec() float64 { return float64(r.Reads) / r.Elapsed.Seconds() }

// ReadsPerCPUSec is reads confirmed per second of process CPU time.
func (r ReadResult) ReadsPerCPUSec() float64 { return float64(r.Reads) / r.CPU.Seconds() }

// AllocsPerRead is heap allocations per read, over the whole cluster.
func (r ReadResult) AllocsPerRead() float64 { return float64(r.Mallocs) / float64(r.Reads) }

// BytesPerRead is heap bytes allocated per read, over the whole cluster.
func (r ReadResult) BytesPerRead() float64 { return float64(r.Bytes) / float64(r.Reads) }

// MessagesPerRead is messages delivered per read.
func (r ReadResult) MessagesPerRead() float64 { return float64(r.Messages) / float64(r.Reads) }

// readCluster is a cluster that can also serve reads, identified by
// IDs counting up from 0; the answers reach the tally from the cluster's
// handle method.
type readCluster interface {
	cluster
	// prepareReads sets up the tally for at most inFlight reads
	// outstanding at once, to be confirmed at or above the leader's
	// current commit index. Not measured. If batched, each readIndex call
	// makes one request, for all its reads.
	prepareReads(inFlight int, batched bool)
	// readIndex requests reads first..first+n-1 at node i.
	readIndex(i int, first uint64, n int) error
	tally() *readTally
}

// readTally keeps account of the reads in flight and checks every answer:
// a read counts as confirmed only if it is outstanding at the node that
// reports it, is reported once, and its index is not below the commit index
// the leader had when the reads began. Reads live in a window of slots
// (read ID modulo its size), so its memory does not grow with the number
// of reads.
type readTally struct {
	id    []uint64 // per slot: the read ID last issued in it
	at    []uint8  // per slot: 1 + the node its read is outstanding at; 0 when free
	span  []uint32 // batched: reads covered by the request with the slot's ID
	floor uint64   // the lowest index a read may be confirmed at
	top   uint64   // the highest index a read was confirmed at

	confirmed, failed int
	err               error
}

func (t *readTally) prepare(inFlight int, floor uint64, batched bool) {
	w := 1
	for w < 2*inFlight {
		w *= 2
	}
	*t = readTally{id: make([]uint64, w), at: make([]uint8, w), floor: floor}
	if batched {
		t.span = make([]uint32, w)
	}
}

func (t *readTally) slot(id uint64) int { return int(id & uint64(len(t.at)-1)) }

// issue records reads first..first+n-1 as outstanding at node i, and with
// batching as one request with ID first.
func (t *readTally) issue(i int, first uint64, n int) {
	for id := first; id < first+uint64(n); id++ {
		s := t.slot(id)
		if t.at[s] != 0 && t.err == nil {
			t.err = fmt.Errorf("read %d issued while read %d is outstanding in its slot", id, t.id[s])
		}
		t.id[s], t.at[s] = id, uint8(i+1)
	}
	if t.span != nil {
		t.span[t.slot(first)] = uint32(n)
	}
}

// outstanding is how many reads are issued and not yet answered.
func (t *readTally) outstanding() int {
	n := 0
	for _, a := range t.at {
		if a != 0 {
			n++
		}
	}
	return n
}

func (t *readTally) check(i int, id uint64, what string) bool {
	if t.err != nil {
		return false
	}
	s := t.slot(id)
	if t.id[s] != id || int(t.at[s]) != i+1 {
		t.err = fmt.Errorf("read %d %s at node %d, where it is not outstanding", id, what, i+1)
		return false
	}
	t.at[s] = 0
	return true
}

// ready counts the reads of request id confirmed at node i (0-based) with
// index: read id, or with batching the reads its request covers.
func (t *readTally) ready(i int, id, index uint64) {
	for k := range t.covered(id) {
		t.confirm(i, id+k, index)
	}
}

// fail counts the reads of request id failed at node i.
func (t *readTally) fail(i int, id uint64) {
	for k := range t.covered(id) {
		if t.check(i, id+k, "failed") {
			t.failed++
		}
	}
}

// covered is how many reads request id covers. An ID that started no
// outstanding request (with batching) is an error, and covers none.
func (t *readTally) covered(id uint64) uint64 {
	if t.span == nil {
		return 1
	}
	if s := t.slot(id); t.id[s] == id && t.at[s] != 0 && t.span[s] > 0 {
		return uint64(t.span[s])
	}
	if t.err == nil {
		t.err = fmt.Errorf("answer for read %d, which started no outstanding request", id)
	}
	return 0
}

func (t *readTally) confirm(i int, id, index uint64) {
	if !t.check(i, id, "confirmed") {
		return
	}
	if index < t.floor {
		t.err = fmt.Errorf("read %d confirmed at node %d with index %d, below the commit index %d before it", id, i+1, index, t.floor)
		return
	}
	t.top = max(t.top, index)
	t.confirmed++
}

func (c *pureCluster) prepareReads(inFlight int, batched bool) {
	c.reads.prepare(inFlight, uint64(c.nodes[0].Status().Commit), batched)
}

func (c *pureCluster) readIndex(i int, first uint64, n int) error {
	if c.reads.span != nil {
		return c.nodes[i].ReadIndex(first)
	}
	for id := first; id < first+uint64(n); id++ {
		if err := c.nodes[i].ReadIndex(id); err != nil {
			return err
		}
	}
	return nil
}

func (c *pureCluster) tally() *readTally { return &c.reads }

func (c *etcdCluster) prepareReads(inFlight int, batched bool) {
	c.reads.prepare(inFlight, c.nodes[0].BasicStatus().Commit, batched)
}

// readIndex makes each request's context as etcd's server does: the ID in
// 8 fresh bytes. etcd keeps the slice (in its pending reads and in the
// heartbeats and answers that carry it), so the caller cannot reuse it
// while a message holding it may still arrive; a reused one could confirm
// a later read with an earlier read's acknowledgements.
func (c *etcdCluster) readIndex(i int, first uint64, n int) error {
	if c.reads.span != nil {
		n = 1
	}
	for id := first; id < first+uint64(n); id++ {
		ctx := make([]byte, 8)
		binary.BigEndian.PutUint64(ctx, id)
		c.nodes[i].ReadIndex(ctx)
	}
	return nil
}

func (c *etcdCluster) tally() *readTally { return &c.reads }

// readStates counts the reads node i's Ready released.
func (c *etcdCluster) readStates(i int, rss []etcd.ReadState) {
	t := &c.reads
	for _, rs := range rss {
		if len(rs.RequestCtx) != 8 {
			if t.err == nil {
				t.err = fmt.Errorf("read state at node %d with a %d-byte context", i+1, len(rs.RequestCtx))
			}
			continue
		}
		t.ready(i, binary.BigEndian.Uint64(rs.RequestCtx), rs.Index)
	}
}

// RunReads builds a cluster of lib, elects node 1 and measures the read
// loop: K reads in flight at the leader until R are confirmed.
func RunReads(lib Library, p ReadParams) (ReadResult, error) {
	c, err := newReadCluster(lib, p.Nodes)
	if err != nil {
		return ReadResult{}, err
	}
	c.prepareReads(p.InFlight, lib == PureraftBatched || lib == EtcdBatched)
	var res ReadResult
	var before, after runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&before)
	start, startCPU := time.Now(), cpuTime()
	err = readLoop(c, p, &res)
	res.Elapsed, res.CPU = time.Since(start), cpuTime()-startCPU
	runtime.ReadMemStats(&after)
	res.Mallocs = after.Mallocs - before.Mallocs
	res.Bytes = after.TotalAlloc - before.TotalAlloc
	runtime.KeepAlive(c)
	return res, err
}

// newReadCluster builds a cluster of lib with nodes voters and elects
// node 1. Reads append no entries, so the store design does not matter:
// both sides get the chunked one.
func newReadCluster(lib Library, nodes int) (readCluster, error) {
	if lib == PureraftBatched {
		return newPureCluster(nodes, StoreChunked)
	}
	c, err := newCluster(lib, nodes, StoreChunked)
	if err != nil {
		return nil, err
	}
	return c.(readCluster), nil
}

// readLoop is the measured loop. Each round: refill the leader (node 1) to
// K outstanding reads, have every node carry out its pending work (which
// reports confirmed reads to the tally), deliver the queued messages. It
// is the throughput harness's round with reads in place of proposals.
func readLoop(c readCluster, p ReadParams, res *ReadResult) error {
	t := c.tally()
	issued := 0
	for t.confirmed < p.Reads {
		if n := min(p.InFlight-(issued-t.confirmed), p.Reads-issued); n > 0 {
			t.issue(0, uint64(issued), n)
			if err := c.readIndex(0, uint64(issued), n); err != nil {
				return fmt.Errorf("round %d: read index: %w", res.Rounds, err)
			}
			issued += n
		}
		n, err := round(c, p.Nodes)
		if err != nil {
			return fmt.Errorf("round %d: %w", res.Rounds, err)
		}
		res.Messages += n
		res.Rounds++
		switch {
		case t.err != nil:
			return fmt.Errorf("round %d: %w", res.Rounds, t.err)
		case t.failed > 0:
			return fmt.Errorf("round %d: %d reads failed", res.Rounds, t.failed)
		case res.Rounds > 10*p.Reads+1000:
			return fmt.Errorf("no progress after %d rounds: %d of %d reads confirmed", res.Rounds, t.confirmed, p.Reads)
		}
	}
	res.Reads = t.confirmed
	return nil
}

// Both clusters serve reads.
var (
	_ readCluster = (*pureCluster)(nil)
	_ readCluster = (*etcdCluster)(nil)
)
