package raftsim

import (
	"errors"
	"math"
	"strconv"

	"github.com/anishathalye/porcupine"
	"github.com/pureraft/raft"
)

// Workload generates the clients' operations and judges their history. It
// also supplies the replicated state machine the operations run against,
// so a user can test their own state machine with the simulator (see the
// package example and docs/raftsim.md).
type Workload interface {
	// NewStateMachine returns an empty state machine for one node (called
	// at start and at every restart).
	NewStateMachine() StateMachine
	// Next returns the operation client (1-based) issues as its seq-th
	// operation. r is the workload's own random stream.
	Next(r *Rand, client int, seq uint64) Op
	// Output converts the result StateMachine.Apply returned for an
	// operation into its porcupine output.
	Output(input any, result []byte) any
	// Model is the sequential specification the history must be
	// linearizable against. A Model with a nil Step skips the check.
	Model() porcupine.Model
}

// Op is one client operation.
type Op struct {
	// Cmd is the command handed to StateMachine.Apply.
	Cmd []byte
	// Read marks an operation that does not change the state. Reads go
	// through the read path of Scenario.Workload.Reads: proposed like
	// writes (ReadLog), or served through ReadIndex or LeaseRead from a
	// state machine that implements Querier.
	Read bool
	// Input is the operation's porcupine input.
	Input any
}

// Operation is one client operation as recorded: when it was invoked and
// when (if ever) it returned, in simulated time, and its porcupine input and
// output.
type Operation struct {
	Client   int    // the client that invoked it
	Seq      uint64 // the client's sequence number, the same on every retry
	Read     bool   // the operation is a read (it does not change the state)
	Input    any    // the workload's description of the operation
	Output   any    // the workload's description of the answer
	Call     Time   // when it was invoked
	Return   Time   // -1 if it never returned
	Attempts int    // how many nodes were tried
	// call and ret order every invocation and response of the run; they
	// are porcupine's timestamps.
	call, ret int64
}

// Done reports whether the operation returned.
func (o *Operation) Done() bool { return o.Return >= 0 }

// client is one simulated client: it runs one operation at a time, sends
// it to some node, and retries it (with the same sequence number, so the
// session layer applies it once) at another node when the node refuses,
// forwards it into the void, crashes, or stays silent past the timeout.
type client struct {
	id  int
	seq uint64
	rng *Rand

	busy     bool
	op       Op
	hist     int         // index in Sim.history; -1 for the liveness probe
	target   raft.NodeID // node of the attempt in progress (0: none)
	last     raft.NodeID // node of the latest attempt
	hint     raft.NodeID // the leader as last reported
	backoff  Time
	attempts int
	// timer is the generation of the client's pending timer event; an
	// event with another generation is stale and ignored.
	timer uint64
}

// waiter is a node's record of a client operation it took: the node
// answers the client when it applies the operation.
type waiter struct {
	client int
	seq    uint64
	// index and term are what Propose returned (0 when the proposal was
	// forwarded): an applied entry at index with another term means the
	// proposal was overwritten and the client may retry at once.
	index raft.Index
	term  raft.Term
}

func (s *Sim) setTimer(c *client, after Time) {
	c.timer++
	s.push(event{at: s.now + max(1, after), kind: evClient, gen: c.timer, node: raft.NodeID(c.id)})
}

// clientTimer handles a client's timer: start the next operation, or
// retry the current one after a timeout or a back-off.
func (s *Sim) clientTimer(c *client, gen uint64) {
	if gen != c.timer {
		return
	}
	if !c.busy {
		switch {
		case s.phase != phaseFaulty:
		case s.idle():
			// The workload pauses: start after the idle stretch.
			s.setTimer(c, s.idleUntil-s.now+Time(c.rng.Range(0, int64(s.sc.Workload.ThinkMax))))
		default:
			s.startOp(c)
		}
		return
	}
	if c.target != 0 {
		s.traceClient(TrRetry, c, c.target, "timeout")
		c.hint = raft.None
		s.Stats.Timeouts++
	}
	s.attempt(c, s.pickNode(c))
}

func (s *Sim) startOp(c *client) {
	c.seq++
	c.op = s.work.Next(c.rng, c.id, c.seq)
	s.stamp++
	c.hist = len(s.history)
	s.history = append(s.history, Operation{
		Client: c.id, Seq: c.seq, Read: c.op.Read, Input: c.op.Input,
		Call: s.now, Return: -1, call: s.stamp,
	})
	c.busy, c.backoff, c.attempts = true, 0, 0
	text := ""
	if s.model.DescribeOperation != nil && s.trace.full {
		text = describeInput(s.model, c.op.Input)
	}
	s.traceClient(TrInvoke, c, 0, text)
	s.attempt(c, s.pickNode(c))
}

func describeInput(m porcupine.Model, in any) (s string) {
	defer func() {
		if recover() != nil {
			s = ""
		}
	}()
	// A nil output: the operation has not returned yet. Models that
	// cannot describe that panic, which is caught.
	return m.DescribeOperation(in, nil)
}

// pickNode chooses where the next attempt goes: the reported leader if
// any, otherwise a random node other than the last one tried.
func (s *Sim) pickNode(c *client) raft.NodeID {
	if c.hint != raft.None {
		return c.hint
	}
	n := len(s.nodes)
	if n == 1 {
		return 1
	}
	id := raft.NodeID(c.rng.Intn(n) + 1)
	if id == c.last {
		id = id%raft.NodeID(n) + 1
	}
	return id
}

// retryLater backs off (doubling, bounded) before the next attempt.
func (s *Sim) retryLater(c *client, why string) {
	w := &s.sc.Workload
	if c.backoff == 0 {
		c.backoff = w.BackoffMin
	} else {
		c.backoff = min(2*c.backoff, w.BackoffMax)
	}
	s.traceClient(TrRetry, c, c.target, why)
	c.target = 0
	s.setTimer(c, Time(c.rng.Range(int64(c.backoff)/2, int64(c.backoff))))
}

// attempt sends the client's current operation to node id.
func (s *Sim) attempt(c *client, id raft.NodeID) {
	c.attempts++
	c.target, c.last = id, id
	if c.hist >= 0 {
		s.history[c.hist].Attempts++
	}
	n := s.nodes[id-1]
	s.traceClient(TrAttempt, c, id, "")
	if n.core == nil {
		c.hint = raft.None
		s.retryLater(c, "node down")
		return
	}
	// The read paths: ReadLog proposes reads like writes; ReadIndex and
	// lease reads ask the node for a read index (a follower forwards the
	// request to its leader) and answer from the state machine once it has
	// applied that far.
	if c.op.Read {
		switch mode := s.sc.Workload.Reads; mode {
		case ReadLog:
		case readLocalUnsafe:
			if q, ok := n.rep.sm.(Querier); ok {
				s.complete(c, id, q.Query(c.op.Cmd))
				return
			}
		case ReadMixed:
			// Log, ReadIndex where the client is, ReadIndex on a random
			// node (a follower read, usually), lease.
			switch k := c.rng.Intn(4); k {
			case 0:
			case 2:
				if m := s.nodes[c.rng.Intn(len(s.nodes))]; m.core != nil {
					n = m
					c.target, c.last = m.id, m.id
				}
				fallthrough
			default:
				if s.readAttempt(c, n, k == 3) {
					return
				}
			}
		default:
			if mode == readIndexNoWait {
				// The bug shows best on followers, which lag.
				if m := s.nodes[c.rng.Intn(len(s.nodes))]; m.core != nil {
					n = m
					c.target, c.last = m.id, m.id
				}
			}
			if s.readAttempt(c, n, mode == ReadLease) {
				return
			}
		}
	}
	if n.witness {
		// A witness has no state machine to answer from: its host turns
		// clients away, naming the leader if it knows one.
		s.Stats.WitnessRefusals++
		s.refused(c, n.id, &raft.NotLeaderError{Leader: n.last.Leader})
		return
	}
	data := encodeEnvelope(c.id, c.seq, c.op.Cmd)
	idx, term, err := n.core.Propose(data)
	s.drain(n)
	if err == nil {
		n.waiters = append(n.waiters, waiter{client: c.id, seq: c.seq, index: idx, term: term})
		s.setTimer(c, s.sc.Workload.Timeout)
		return
	}
	s.refused(c, id, err)
}

// refused handles node id's refusal of the client's attempt.
func (s *Sim) refused(c *client, id raft.NodeID, err error) {
	var nl *raft.NotLeaderError
	switch {
	case errors.As(err, &nl):
		if nl.Leader != raft.None && nl.Leader != id {
			// Follow the hint soon, but not at once: hints can be stale.
			c.hint = nl.Leader
			s.traceClient(TrRetry, c, id, "not leader, try "+strconv.Itoa(int(nl.Leader)))
			c.target = 0
			s.setTimer(c, s.sc.Workload.BackoffMin)
			return
		}
		c.hint = raft.None
		s.retryLater(c, "no leader known")
	default:
		s.retryLater(c, err.Error())
	}
}

// onApplied tells node n's waiting clients about an applied entry.
func (s *Sim) onApplied(n *simNode, e *raft.Entry, op appliedOp) {
	ws := n.waiters[:0]
	for _, w := range n.waiters {
		c := s.client(w.client)
		switch {
		case c == nil || !c.busy || c.seq != w.seq:
			// The client moved on: forget the waiter.
		case op.ok && op.client == w.client && op.seq == w.seq:
			s.complete(c, n.id, op.result)
		case w.index == e.Index && w.term != e.Term:
			// Overwritten by another leader's entry: the proposal is
			// lost for good, retry now.
			if c.target == n.id {
				s.traceClient(TrRetry, c, n.id, "proposal overwritten")
				c.target = 0
				c.hint = raft.None
				s.setTimer(c, s.sc.Workload.BackoffMin)
			}
		default:
			ws = append(ws, w)
		}
	}
	clear(n.waiters[len(ws):])
	n.waiters = ws
}

func (s *Sim) client(id int) *client {
	if id < 0 || id >= len(s.clients) {
		return nil
	}
	return s.clients[id]
}

// complete records the answer to the client's current operation.
func (s *Sim) complete(c *client, from raft.NodeID, result []byte) {
	c.busy = false
	c.target = 0
	s.stamp++
	if c.hist >= 0 {
		h := &s.history[c.hist]
		h.Return, h.ret = s.now, s.stamp
		h.Output = s.work.Output(h.Input, result)
		s.Stats.OpsDone++
	} else {
		s.probeDone = true
		s.recoveredAt = s.now
	}
	s.traceClient(TrReturn, c, from, "")
	w := &s.sc.Workload
	s.setTimer(c, Time(c.rng.Range(int64(w.ThinkMin), int64(w.ThinkMax))))
}

func (s *Sim) traceClient(k TraceKind, c *client, node raft.NodeID, text string) {
	s.record(TraceEvent{Kind: k, Node: node, Aux: uint64(c.id), Aux2: c.seq, Text: text})
}

// porcupineHistory converts the history for porcupine. Operations that
// never returned stay in if they may have changed the state (they may
// have taken effect at any time after their call); reads that never
// returned are left out (they changed nothing and told nobody anything).
func (s *Sim) porcupineHistory() []porcupine.Operation {
	ops := make([]porcupine.Operation, 0, len(s.history))
	for i := range s.history {
		h := &s.history[i]
		if !h.Done() && h.Read {
			continue
		}
		ret := h.ret
		if !h.Done() {
			ret = math.MaxInt64
		}
		ops = append(ops, porcupine.Operation{
			ClientId: h.Client - 1, Input: h.Input, Output: h.Output, Call: h.call, Return: ret,
		})
	}
	return ops
}
