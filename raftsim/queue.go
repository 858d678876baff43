package raftsim

import "github.com/pureraft/raft"

type evKind uint8

const (
	evTick           evKind = iota + 1 // node ticks (node, epoch)
	evDeliver                          // a message arrives (msg)
	evDisk                             // node's disk may have completed writes (node, epoch)
	evClient                           // client timer (node = client ID, gen)
	evNemesis                          // the random fault injector's clock
	evScheduled                        // a scripted fault (gen = index in Schedule)
	evRestart                          // a crashed node restarts (node, epoch)
	evNetHeal                          // a network fault ends (gen)
	evEndFaults                        // the faulty phase ends: heal everything
	evDeadline                         // the liveness deadline
	evSnapshot                         // snapshot data and its message arrive (msg, snap; node, epoch: sender)
	evSnapshotReport                   // a snapshot transfer's outcome reaches the sender (node, epoch; gen: receiver; msgID != 0: failed)
	evDetect                           // node's host learns peer gen is unreachable or down (epoch: the peer's, msgID: the fault's netGen, 0 for a crash)
	evIdleEnd                          // an idle stretch of the workload ends
)

// event is something scheduled to happen at a simulated time. Events at
// the same time run in the order they were scheduled (seq), which keeps
// the run deterministic.
type event struct {
	at    Time
	seq   uint64
	kind  evKind
	node  raft.NodeID
	epoch uint32
	gen   uint64
	// Deliveries: the message, its ID and when it was sent.
	msgID  uint64
	sentAt Time
	msg    raft.Message
	snap   *smSnap
}

// eventQueue is a binary min-heap of events ordered by (at, seq).
type eventQueue []event

func (q eventQueue) less(i, j int) bool {
	return q[i].at < q[j].at || (q[i].at == q[j].at && q[i].seq < q[j].seq)
}

func (q *eventQueue) push(e event) {
	*q = append(*q, e)
	h := *q
	i := len(h) - 1
	for i > 0 {
		p := (i - 1) / 2
		if !h.less(i, p) {
			break
		}
		h[i], h[p] = h[p], h[i]
		i = p
	}
}

func (q *eventQueue) pop() event {
	h := *q
	top := h[0]
	last := len(h) - 1
	h[0] = h[last]
	h[last] = event{}
	h = h[:last]
	i := 0
	for {
		l := 2*i + 1
		if l >= len(h) {
			break
		}
		m := l
		if r := l + 1; r < len(h) && h.less(r, l) {
			m = r
		}
		if !h.less(m, i) {
			break
		}
		h[i], h[m] = h[m], h[i]
		i = m
	}
	*q = h
	return top
}

// peek returns the earliest event without removing it.
func (q eventQueue) peek() *event { return &q[0] }
