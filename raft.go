// Package raft is a Raft consensus core that does no I/O.
//
// A [Node] is a deterministic state machine. The program that embeds it feeds
// it inputs — [Node.Tick] for the passage of time, [Node.Step] for messages
// from peers, [Node.Propose] for new commands — and after each batch of inputs
// collects the [Action] values returned by [Node.Actions]: persist this state,
// send this message, apply these committed entries. The embedding program
// supplies storage, transport and the replicated state machine; the node
// supplies the protocol.
//
// The node never starts a goroutine, reads a clock or touches a file, and
// once built it takes no lock (building one briefly locks the small shared
// cache of resolved configurations, see docs/design.md). The one way out is
// Config.Logger, which, when set, is called for rare events. The same [Config]
// and the same inputs give the same actions, bit for bit, which is what
// makes a whole cluster simulable under one seed (see the raftsim package).
//
// # Starting a node
//
// Every server of a brand-new cluster starts with [Bootstrap], which names
// the initial voters. A server that ran before restarts with [NewNode] and
// the [PersistentState] its persist actions wrote, so it keeps its term,
// its vote and its log. A server joining an existing cluster starts with
// NewNode and an empty PersistentState; it learns the log and the
// membership from the leader once the leader adds it (see
// [Node.ProposeMembershipChange]). [Config] holds the node's ID and its
// tuning; apart from the ID, its zero value is a safe default.
//
// # The action loop
//
// The embedding program runs one loop per node. Each turn it gives the node
// its inputs — [Node.Tick] from a timer, [Node.Step] for each message
// received, [Node.Propose] and [Node.ReadIndex] for client requests — and
// then starts every action [Node.Actions] returns, by kind:
//
//   - [ActionPersist]: write the state to stable storage and acknowledge
//     it with [Node.AckPersist];
//   - [ActionSend]: send the message to its recipient;
//   - [ActionSendSnapshot]: send the latest snapshot's data, with the
//     message, and report the outcome with [Node.ReportSnapshot];
//   - [ActionApply]: apply committed entries, or restore a snapshot, in
//     the replicated state machine;
//   - [ActionReadReady] and [ActionReadFailed]: serve or fail a read.
//
// [Node.HasActions] says whether there is anything to do. Example_synchronous
// writes each persist before going on; Example_asynchronous hands writes to
// a disk writer and keeps feeding the node meanwhile, which the contract
// below makes safe. Example_threeNodes runs a whole cluster in one process.
//
// # The contract in one paragraph
//
// Start every action in the order Actions returns it. A persist action
// ([ActionPersist]) is acknowledged with [Node.AckPersist] once it is durable,
// in order; the node withholds every message whose safety depends on that
// write (vote grants, append acknowledgements) until it is acknowledged, and a
// leader counts its own log toward a quorum only up to what was acknowledged.
// Sends ([ActionSend]) may be dropped, delayed, duplicated or reordered.
// Apply actions ([ActionApply]) carry committed entries in log order, never
// before they are durable locally. The node keeps references to the Data of
// entries it is given (proposals and received messages) and hands the same
// slices back in actions: never modify a payload after handing it over, and
// never modify a slice an action gave you.
//
// # Beyond the basic protocol
//
// Example_membershipChange, Example_snapshot, Example_readIndex,
// Example_transferLeadership and Example_quiescence show these at work:
//
//   - membership changes, one voter at a time or through a joint
//     configuration, with learners that catch up before promotion
//     ([Node.ProposeMembershipChange], [Node.CaughtUp]);
//   - log compaction and snapshot transfer to lagging followers
//     ([Node.Compact], [ActionSendSnapshot]);
//   - linearizable reads that do not write the log, on the leader or a
//     follower, and reads under a leader lease ([Node.ReadIndex],
//     [Node.LeaseRead]);
//   - leadership transfer ([Node.TransferLeadership],
//     [Node.TransferToBestVoter]);
//   - quiescence of idle groups, for hosts that run thousands of them
//     ([Config.QuiesceAfterTicks], [Node.Wake]).
//
// [Node.Status] and [Node.Progress] report the node's state for monitoring.
// [Message.MarshalBinary] and [Decode] give messages a wire form; the
// codecs of [Entry], [HardState] and [SnapshotMeta] give storage one.
//
// # Where each rule lives
//
// Rules of the Raft paper (Ongaro and Ousterhout, 2014) and of Ongaro's thesis
// (2014) are cited in comments as §N of the paper or "thesis §N". Each file
// holds one part of the protocol:
//
//	node.go         Node, NewNode, Bootstrap, Tick, Propose, Actions
//	step.go         Step: message validation and the term rules (§5.1)
//	election.go     leader election (§5.2), pre-vote (thesis §9.6),
//	                check-quorum (thesis §6.2), role changes
//	replication.go  log replication (§5.3), flow control, the commit rule (§5.4.2)
//	log.go          the in-memory log: snapshot boundary, durable prefix,
//	                commit and apply indexes, conflict search
//	persist.go      the persistence contract: persist actions,
//	                acknowledgements, responses held until durable
//	quorum.go       majorities for commitment and votes, joint or not
//	membership.go   membership changes (thesis chapter 4)
//	snapshot.go     compaction and snapshot transfer (thesis chapter 5, paper §7)
//	reads.go        ReadIndex, leases and follower reads (thesis §6.4)
//	transfer.go     leadership transfer (thesis §3.10)
//	quiesce.go      quiescence of idle groups
//	progress.go     the leader's view of each follower (Figure 2's nextIndex
//	                and matchIndex)
//	message.go      messages and their wire format
//	codec.go        storage formats of entries, hard states and snapshots
//	config.go       Config, Membership and their validation
//
// # Further reading
//
// The repository's docs directory explains the design at more length:
// docs/embedding.md walks through embedding the node step by step;
// docs/membership.md, docs/snapshots.md and docs/reads.md cover those
// features; docs/design.md says why the core is built this way;
// docs/testing.md and docs/raftsim.md describe how it is tested;
// docs/performance.md and docs/comparison.md measure it against
// etcd-io/raft and compare it with other Raft libraries; docs/tour shows
// the protocol at work in the simulator.
package raft

import (
	"errors"
	"fmt"
)

// NodeID identifies a server in the cluster. Zero is not a valid ID; it stands
// for "nobody" (see [None]).
type NodeID uint64

// None is the NodeID that means "no node": no vote cast, no leader known.
const None NodeID = 0

// Term is a Raft term number (§5.1). Terms only grow.
type Term uint64

// Index is the position of an entry in the replicated log. The first entry
// has index 1; index 0 is the empty log before it.
type Index uint64

// EntryType says how the replicated state machine should treat an entry.
type EntryType uint8

const (
	// EntryNormal carries a command for the replicated state machine.
	EntryNormal EntryType = iota
	// EntryNoop is the empty entry a new leader appends to commit entries of
	// earlier terms (thesis §6.4, paper §8). The state machine skips it.
	EntryNoop
	// EntryConfig carries a new cluster membership (thesis §4.1), encoded
	// by the node. It takes effect on each server as soon as it is
	// appended; the state machine may record it, and otherwise skips it.
	EntryConfig
	// entryTypeCount bounds valid types for validation and decoding.
	entryTypeCount
)

// String returns the type's name, as used in logs and traces.
func (t EntryType) String() string {
	switch t {
	case EntryNormal:
		return "Normal"
	case EntryNoop:
		return "Noop"
	case EntryConfig:
		return "Config"
	}
	return fmt.Sprintf("EntryType(%d)", uint8(t))
}

// Entry is one record of the replicated log.
//
// The node never copies Data: the slice handed to Propose or received in a
// message is the one that appears in persist, send and apply actions.
type Entry struct {
	// Index is the entry's position in the log.
	Index Index
	// Term is the leader's term when the entry was created; with Index it
	// identifies the entry (§5.3, Log Matching).
	Term Term
	// Type says whether the entry is a command, a no-op or a membership
	// change.
	Type EntryType
	// Data is the command for EntryNormal (the bytes given to Propose) and
	// the encoded membership for EntryConfig; it is empty for EntryNoop.
	Data []byte
}

// entryOverhead approximates the bytes an entry costs besides its payload; it
// keeps flow control honest for tiny entries.
const entryOverhead = 16

// size is the entry's weight for flow control and message limits.
func (e *Entry) size() uint64 { return uint64(len(e.Data)) + entryOverhead }

// HardState is the state a server must persist before answering RPCs
// (Figure 2 of the paper): its current term and the candidate it voted for in
// that term. Commit is persisted too so a restarted node can apply what it
// already knew to be committed without waiting for the leader; losing it is
// harmless.
type HardState struct {
	// Term is the latest term the server has seen.
	Term Term
	// Vote is the candidate this server voted for in Term, or None. Keeping
	// it across restarts is what stops a server voting twice in one term.
	Vote NodeID
	// Commit is the highest index the server knew to be committed when
	// the state was written.
	Commit Index
	// ReadTokenLimit ends the range of tokens this server reserved for
	// the reads it forwards to a leader; after a restart it draws tokens
	// from here on, so that an answer to a read forwarded before the
	// crash cannot complete one issued after it (readtoken.go). Zero until
	// the server first forwards a read.
	ReadTokenLimit uint64
}

// IsZero reports whether h is the hard state of a server that never ran.
func (h HardState) IsZero() bool { return h == HardState{} }

// SnapshotMeta describes the prefix of the log that a snapshot replaces: the
// index and term of the last entry it covers and the membership in force at
// that entry. A new cluster starts from a snapshot at index 0 whose
// membership is the initial voter set (see [Bootstrap]).
type SnapshotMeta struct {
	// Index is the last log index the snapshot covers.
	Index Index
	// Term is the term of the entry at Index, kept so that the entry after
	// the snapshot can still be checked against its predecessor (§5.3).
	Term Term
	// Membership is the configuration in force at Index; it replaces the
	// configuration entries the snapshot compacted away.
	Membership Membership
}

// Errors returned by the node. Each is a sentinel that errors.Is recognises;
// some arrive wrapped in a typed error carrying more detail.
var (
	// ErrNotLeader: the request needs the leader. Returned wrapped in a
	// *NotLeaderError that names the leader when one is known.
	ErrNotLeader = errors.New("raft: not the leader")
	// ErrProposalDropped: the leader refused a proposal. Returned wrapped
	// with the reason (flow control, entry too large, transfer in progress).
	ErrProposalDropped = errors.New("raft: proposal dropped")
	// ErrUncommittedLimit: accepting the proposal would put more than
	// Config.MaxUncommittedBytes of entries beyond the commit index.
	ErrUncommittedLimit = fmt.Errorf("%w: too many uncommitted bytes", ErrProposalDropped)
	// ErrEntryTooLarge: the payload is larger than Config.MaxEntryBytes.
	ErrEntryTooLarge = fmt.Errorf("%w: entry larger than MaxEntryBytes", ErrProposalDropped)
	// ErrInvalidMessage: Step was given a malformed message. Returned
	// wrapped with the reason; the node's state is unchanged.
	ErrInvalidMessage = errors.New("raft: invalid message")
	// ErrInvalidConfig: a Config or Membership failed validation.
	ErrInvalidConfig = errors.New("raft: invalid config")
	// ErrInvalidState: the persisted state handed to NewNode is
	// inconsistent (a commit index beyond the log, a gap in the entries).
	ErrInvalidState = errors.New("raft: invalid persisted state")
	// ErrBadAck: AckPersist named a persist action that was never emitted.
	ErrBadAck = errors.New("raft: acknowledgement of an unknown persist action")
	// ErrWitnessRead: ReadIndex or LeaseRead on a witness, which holds no
	// state machine to serve a read from (thesis §11.7.2).
	ErrWitnessRead = errors.New("raft: a witness has no state machine to read")
	// ErrUnknownPeer: a response came from a server that is not a member
	// (typically one just removed). The node ignored it; callers may log
	// it and carry on.
	ErrUnknownPeer = errors.New("raft: message from an unknown peer")
)

// NotLeaderError is returned by requests that need the leader. Leader is the
// leader this node knows of in its current term, or None.
type NotLeaderError struct {
	// Leader is the leader to retry with, or None when none is known.
	Leader NodeID
}

// Error says that this node is not the leader and names the leader when
// known.
func (e *NotLeaderError) Error() string {
	if e.Leader == None {
		return "raft: not the leader (no leader known)"
	}
	return fmt.Sprintf("raft: not the leader (leader is %d)", e.Leader)
}

// Unwrap lets errors.Is(err, ErrNotLeader) match.
func (e *NotLeaderError) Unwrap() error { return ErrNotLeader }
