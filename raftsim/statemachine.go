package raftsim

import (
	"encoding/binary"

	"github.com/pureraft/raft"
)

// StateMachine is the replicated state machine every simulated node runs:
// the default one is a key-value store ([NewKV]); a [Workload] supplies
// its own.
//
// Apply is called with the command of every committed client operation, in
// log order, once per operation: the simulator wraps commands in a session
// envelope (client ID, sequence number) and filters out duplicates of
// retried operations before they reach Apply, returning the first result
// again instead. Apply must be deterministic; its result is what the client
// receives. The simulator never calls Apply for no-op or configuration
// entries.
//
// A crashed node loses its state machine; on restart the simulator builds
// a fresh one and replays the durable, committed entries into it (so
// Apply sees a prefix of the log again).
type StateMachine interface {
	// Apply executes a client command and returns its result.
	Apply(cmd []byte) []byte
}

// Querier is implemented by state machines that can answer a read
// without it going through the log. Read paths other than ReadLog use it:
// once the core offers ReadIndex, lease and follower reads, a node answers
// such a read with Query after it has applied up to the read index. Query
// must not change the state.
type Querier interface {
	// Query answers a read command from the current state.
	Query(cmd []byte) []byte
}

// Envelope kinds: the first byte of every entry the simulator proposes.
const (
	envClient byte = 1 // client operation: client, seq, command
	envProbe  byte = 2 // liveness probe: seq only, never reaches the state machine
)

// probeClient is the session ID of the liveness probe.
const probeClient = 0

// encodeEnvelope wraps a client command with its session identity.
func encodeEnvelope(client int, seq uint64, cmd []byte) []byte {
	kind := envClient
	if client == probeClient {
		kind = envProbe
	}
	b := make([]byte, 0, 1+2*binary.MaxVarintLen64+len(cmd))
	b = append(b, kind)
	b = binary.AppendUvarint(b, uint64(client))
	b = binary.AppendUvarint(b, seq)
	return append(b, cmd...)
}

// decodeEnvelope is the inverse of encodeEnvelope; ok is false for bytes the
// simulator did not produce.
func decodeEnvelope(b []byte) (client int, seq uint64, cmd []byte, ok bool) {
	if len(b) == 0 || (b[0] != envClient && b[0] != envProbe) {
		return 0, 0, nil, false
	}
	c, n := binary.Uvarint(b[1:])
	if n <= 0 || c > 1<<20 {
		return 0, 0, nil, false
	}
	b = b[1+n:]
	s, n := binary.Uvarint(b)
	if n <= 0 {
		return 0, 0, nil, false
	}
	return int(c), s, b[n:], true
}

// replica is one node's state machine behind the session layer that makes
// retried operations take effect once. Sessions are part of the
// replicated state: every replica builds the same table from the same log.
type replica struct {
	sm       StateMachine
	applied  raft.Index
	sessions []session // by client ID
	// witness: the node is run as a witness, which has no state machine
	// (thesis §11.7.2): entries only advance applied.
	witness bool
}

type session struct {
	seq    uint64 // last sequence number applied
	result []byte // its result
}

// applied describes one applied entry for the client layer.
type appliedOp struct {
	client int
	seq    uint64
	result []byte
	dup    bool // a retry of an operation already applied
	ok     bool // the entry was a client operation or probe
}

func newReplica(sm StateMachine) *replica { return &replica{sm: sm} }

// apply applies one committed entry.
func (r *replica) apply(e *raft.Entry) appliedOp {
	r.applied = e.Index
	if e.Type != raft.EntryNormal || r.witness {
		return appliedOp{}
	}
	client, seq, cmd, ok := decodeEnvelope(e.Data)
	if !ok {
		return appliedOp{}
	}
	for len(r.sessions) <= client {
		r.sessions = append(r.sessions, session{})
	}
	s := &r.sessions[client]
	op := appliedOp{client: client, seq: seq, ok: true}
	if seq <= s.seq {
		op.dup = true
		if seq == s.seq {
			op.result = s.result
		}
		return op
	}
	if client != probeClient {
		op.result = r.sm.Apply(cmd)
	}
	s.seq, s.result = seq, op.result
	return op
}
