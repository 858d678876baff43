package raft

import (
	"fmt"
	"log/slog"
	"slices"
	"sync"
)

// Config holds a node's identity and tuning. The zero value of every field
// except ID selects a safe default (documented per field), so
// Config{ID: 1} is a valid configuration with pre-vote, check-quorum and
// bounded flow control all on.
type Config struct {
	// ID of this node. Must not be zero.
	ID NodeID

	// Seed seeds the PRNG that randomises election timeouts. It is mixed
	// with ID, so nodes sharing a seed still draw different timeouts. Same
	// seed, same inputs: same actions.
	Seed uint64

	// ElectionTicks is the election timeout in ticks (§5.2). A follower
	// that hears nothing from a leader for a random number of ticks in
	// [ElectionTicks, 2*ElectionTicks) starts an election. Default 10; at
	// most 2^30.
	ElectionTicks int

	// HeartbeatTicks is how many ticks pass between a leader's heartbeats.
	// Must be less than ElectionTicks. Default 1.
	HeartbeatTicks int

	// DisablePreVote turns off the pre-vote phase (thesis §9.6). With
	// pre-vote, a node checks that it could win before bumping its term, so
	// a partitioned node that rejoins does not depose a healthy leader.
	DisablePreVote bool

	// DisableCheckQuorum turns off check-quorum (thesis §6.2): with it on, a
	// leader that has not heard from a quorum within an election timeout
	// steps down, and a follower that heard from a live leader within the
	// timeout ignores vote requests that would disrupt it.
	DisableCheckQuorum bool

	// DisableProposalForwarding makes Propose on a follower return a
	// *NotLeaderError instead of forwarding the proposal to the leader.
	DisableProposalForwarding bool

	// MaxMsgBytes bounds the entry bytes in one append message; a message
	// always carries at least one entry if one is due. Default 1 MiB.
	MaxMsgBytes uint64

	// MaxEntryBytes bounds one proposal's payload. Must not exceed
	// MaxMsgBytes, so every entry fits in a message. Default MaxMsgBytes.
	MaxEntryBytes uint64

	// MaxInflightMsgs bounds the append messages sent to one follower and
	// not yet acknowledged (pipelining depth). Default 256.
	MaxInflightMsgs int

	// MaxInflightBytes bounds the entry bytes sent to one follower and not
	// yet acknowledged. Default 32 MiB.
	MaxInflightBytes uint64

	// MaxUncommittedBytes bounds the entry bytes a leader holds beyond its
	// commit index; a proposal past it fails with ErrUncommittedLimit.
	// Default 64 MiB.
	MaxUncommittedBytes uint64

	// MaxApplyBytes bounds the entry bytes in one apply action; the rest
	// follows in later ones. Default 4 MiB.
	MaxApplyBytes uint64

	// SnapshotTimeoutTicks is how long a leader waits for a snapshot
	// transfer it was never told the outcome of (Node.ReportSnapshot)
	// before it retries. Default 20 election timeouts.
	SnapshotTimeoutTicks int

	// EnableLeaseReads allows LeaseRead to answer from the leader's lease
	// (thesis §6.4.1) instead of a heartbeat round. It requires
	// check-quorum, and every server of the cluster must set it: it also
	// makes a freshly started server refuse votes for one election timeout,
	// so a restart cannot cut a lease short. Off by default: a lease trusts
	// clocks, ReadIndex does not.
	EnableLeaseReads bool

	// MaxClockDriftTicks bounds how many ticks any server's clock may gain
	// on the leader's over one election timeout; the lease is that much
	// shorter than ElectionTicks. Default ElectionTicks/5, at least 1.
	MaxClockDriftTicks int

	// QuiesceAfterTicks, when positive, lets an idle leader whose followers
	// are fully caught up go quiet after that many ticks: no heartbeats,
	// no elections, no per-tick work until a proposal, read, message or
	// Wake. Off (0) by default.
	QuiesceAfterTicks int

	// Logger, when set, receives the node's role changes and rare notable
	// events (check-quorum step-downs, configuration changes, snapshots
	// installed, leadership transfers; quiescence at Debug level). It is
	// never called per message or per entry. Nil, the default, is silent
	// and costs nothing.
	Logger *slog.Logger

	// Ticker, when set, drives the node's clock: Ticker.Tick ticks every
	// node built with it, touching only those with something to do on
	// that tick, which is what makes idle ticks cheap on a host of many
	// groups (ticker.go). Do not call Node.Tick on such a node. Nil, the
	// default: the caller calls Node.Tick.
	Ticker *Ticker
}

// Defaults applied to zero-valued Config fields.
const (
	DefaultElectionTicks       = 10
	DefaultHeartbeatTicks      = 1
	DefaultMaxMsgBytes         = 1 << 20
	DefaultMaxInflightMsgs     = 256
	DefaultMaxInflightBytes    = 32 << 20
	DefaultMaxUncommittedBytes = 64 << 20
	DefaultMaxApplyBytes       = 4 << 20
)

// maxElectionTicks bounds ElectionTicks so that a randomised timeout, below
// twice that, fits the node's 32-bit election counters.
const maxElectionTicks = 1 << 30

// Validate reports the first invalid field of c, naming it. Zero values are
// valid (they select defaults); a Node is never built from a Config that
// fails Validate.
func (c Config) Validate() error {
	d := c.withDefaults()
	switch {
	case c.ID == None:
		return fmt.Errorf("%w: ID must not be 0", ErrInvalidConfig)
	case c.ElectionTicks < 0:
		return fmt.Errorf("%w: ElectionTicks is %d, must be positive", ErrInvalidConfig, c.ElectionTicks)
	case c.ElectionTicks > maxElectionTicks:
		return fmt.Errorf("%w: ElectionTicks is %d, more than %d", ErrInvalidConfig, c.ElectionTicks, maxElectionTicks)
	case c.HeartbeatTicks < 0:
		return fmt.Errorf("%w: HeartbeatTicks is %d, must be positive", ErrInvalidConfig, c.HeartbeatTicks)
	case d.HeartbeatTicks >= d.ElectionTicks:
		return fmt.Errorf("%w: HeartbeatTicks (%d) must be less than ElectionTicks (%d)", ErrInvalidConfig, d.HeartbeatTicks, d.ElectionTicks)
	case d.MaxEntryBytes > d.MaxMsgBytes:
		return fmt.Errorf("%w: MaxEntryBytes (%d) exceeds MaxMsgBytes (%d)", ErrInvalidConfig, d.MaxEntryBytes, d.MaxMsgBytes)
	case c.MaxInflightMsgs < 0:
		return fmt.Errorf("%w: MaxInflightMsgs is %d, must be positive", ErrInvalidConfig, c.MaxInflightMsgs)
	case d.MaxInflightBytes < d.MaxMsgBytes:
		return fmt.Errorf("%w: MaxInflightBytes (%d) is less than MaxMsgBytes (%d): no full message could be in flight", ErrInvalidConfig, d.MaxInflightBytes, d.MaxMsgBytes)
	case d.MaxUncommittedBytes < d.MaxEntryBytes:
		return fmt.Errorf("%w: MaxUncommittedBytes (%d) is less than MaxEntryBytes (%d): a maximal entry could never be proposed", ErrInvalidConfig, d.MaxUncommittedBytes, d.MaxEntryBytes)
	case c.EnableLeaseReads && c.DisableCheckQuorum:
		return fmt.Errorf("%w: EnableLeaseReads requires check-quorum (DisableCheckQuorum is set)", ErrInvalidConfig)
	case c.MaxClockDriftTicks < 0:
		return fmt.Errorf("%w: MaxClockDriftTicks is %d, must not be negative", ErrInvalidConfig, c.MaxClockDriftTicks)
	case d.MaxClockDriftTicks >= d.ElectionTicks:
		return fmt.Errorf("%w: MaxClockDriftTicks (%d) must be less than ElectionTicks (%d): no lease would remain", ErrInvalidConfig, d.MaxClockDriftTicks, d.ElectionTicks)
	case c.QuiesceAfterTicks < 0:
		return fmt.Errorf("%w: QuiesceAfterTicks is %d, must not be negative", ErrInvalidConfig, c.QuiesceAfterTicks)
	case c.SnapshotTimeoutTicks < 0:
		return fmt.Errorf("%w: SnapshotTimeoutTicks is %d, must be positive", ErrInvalidConfig, c.SnapshotTimeoutTicks)
	case d.MaxApplyBytes < d.MaxEntryBytes:
		return fmt.Errorf("%w: MaxApplyBytes (%d) is less than MaxEntryBytes (%d)", ErrInvalidConfig, d.MaxApplyBytes, d.MaxEntryBytes)
	}
	return nil
}

// withDefaults returns c with every zero field replaced by its default.
func (c Config) withDefaults() Config {
	if c.ElectionTicks == 0 {
		c.ElectionTicks = DefaultElectionTicks
	}
	if c.HeartbeatTicks == 0 {
		c.HeartbeatTicks = DefaultHeartbeatTicks
	}
	if c.MaxMsgBytes == 0 {
		c.MaxMsgBytes = DefaultMaxMsgBytes
	}
	if c.MaxEntryBytes == 0 {
		c.MaxEntryBytes = c.MaxMsgBytes
	}
	if c.MaxInflightMsgs == 0 {
		c.MaxInflightMsgs = DefaultMaxInflightMsgs
	}
	if c.MaxInflightBytes == 0 {
		c.MaxInflightBytes = max(DefaultMaxInflightBytes, c.MaxMsgBytes)
	}
	if c.MaxUncommittedBytes == 0 {
		c.MaxUncommittedBytes = max(DefaultMaxUncommittedBytes, c.MaxEntryBytes)
	}
	if c.MaxClockDriftTicks == 0 {
		c.MaxClockDriftTicks = max(1, c.ElectionTicks/5)
	}
	if c.SnapshotTimeoutTicks == 0 {
		c.SnapshotTimeoutTicks = 20 * c.ElectionTicks
	}
	if c.MaxApplyBytes == 0 {
		c.MaxApplyBytes = max(DefaultMaxApplyBytes, c.MaxEntryBytes)
	}
	return c
}

// nodeConfig is a Config as a running node uses it: defaults applied, and
// without ID and Seed, which only construction needs. The fields keep
// Config's names and meanings. A node's nodeConfig is shared with every
// other node of the process that has the same settings — on a host of many
// groups nearly all of them — so it must never be modified.
type nodeConfig struct {
	ElectionTicks        int
	HeartbeatTicks       int
	MaxMsgBytes          uint64
	MaxEntryBytes        uint64
	MaxInflightMsgs      int
	MaxInflightBytes     uint64
	MaxUncommittedBytes  uint64
	MaxApplyBytes        uint64
	SnapshotTimeoutTicks int
	MaxClockDriftTicks   int
	QuiesceAfterTicks    int

	DisablePreVote            bool
	DisableCheckQuorum        bool
	DisableProposalForwarding bool
	EnableLeaseReads          bool

	// Logger is shared, not copied: nodes logging to the same Logger
	// share a nodeConfig too.
	Logger *slog.Logger
	// Ticker is not used as a key of sharedConfigs: nodes of a Ticker
	// share their configurations through it (resolve).
	Ticker *Ticker
}

// resolve returns the shared nodeConfig for c, a validated Config.
func (c Config) resolve() *nodeConfig {
	d := c.withDefaults()
	cache := &sharedConfigs
	if d.Ticker != nil {
		// The nodes of a Ticker share configurations through it, so that
		// the process-wide cache never keeps a Ticker (and its nodes)
		// alive.
		cache = &d.Ticker.configs
	}
	return cache.get(nodeConfig{
		ElectionTicks:             d.ElectionTicks,
		HeartbeatTicks:            d.HeartbeatTicks,
		MaxMsgBytes:               d.MaxMsgBytes,
		MaxEntryBytes:             d.MaxEntryBytes,
		MaxInflightMsgs:           d.MaxInflightMsgs,
		MaxInflightBytes:          d.MaxInflightBytes,
		MaxUncommittedBytes:       d.MaxUncommittedBytes,
		MaxApplyBytes:             d.MaxApplyBytes,
		SnapshotTimeoutTicks:      d.SnapshotTimeoutTicks,
		MaxClockDriftTicks:        d.MaxClockDriftTicks,
		QuiesceAfterTicks:         d.QuiesceAfterTicks,
		DisablePreVote:            d.DisablePreVote,
		DisableCheckQuorum:        d.DisableCheckQuorum,
		DisableProposalForwarding: d.DisableProposalForwarding,
		EnableLeaseReads:          d.EnableLeaseReads,
		Logger:                    d.Logger,
		Ticker:                    d.Ticker,
	})
}

// sharedConfigs hands out one copy of each distinct nodeConfig, so that a
// host's nodes do not each carry their own (docs/performance.md). It holds
// at most maxSharedConfigs of them, for the life of the process; past that
// (a program that builds nodes with ever-changing settings) each node gets
// its own copy, as before.
var sharedConfigs configCache

const maxSharedConfigs = 64

type configCache struct {
	mu sync.Mutex
	m  map[nodeConfig]*nodeConfig
}

func (cc *configCache) get(c nodeConfig) *nodeConfig {
	cc.mu.Lock()
	defer cc.mu.Unlock()
	if p, ok := cc.m[c]; ok {
		return p
	}
	p := &c
	if len(cc.m) < maxSharedConfigs {
		if cc.m == nil {
			cc.m = make(map[nodeConfig]*nodeConfig)
		}
		cc.m[c] = p
	}
	return p
}

// Membership is a cluster configuration (thesis chapter 4): the voters whose
// majority decides elections and commitment, and learners that receive the
// log without voting. While OutgoingVoters is non-empty the configuration is
// joint (C_old,new of thesis §4.3): decisions need a majority of Voters and,
// separately, a majority of OutgoingVoters.
type Membership struct {
	// Voters are the servers whose majority decides elections and
	// commitment; in a joint configuration, the new half (C_new).
	Voters []NodeID
	// OutgoingVoters, when non-empty, are the old half (C_old) of a joint
	// configuration, whose separate majority is needed too.
	OutgoingVoters []NodeID
	// Learners receive the log but neither vote nor count toward
	// commitment: new servers catch up as learners before promotion.
	Learners []NodeID
	// Witnesses lists the voters (of either half) that are witnesses
	// (thesis §11.7.2): they vote and count toward commitment but receive
	// entries without payloads, keep no state machine and never lead.
	Witnesses []NodeID
	// AutoLeave, in a joint configuration, tells the leader to leave it as
	// soon as it commits.
	AutoLeave bool
}

// MaxMembers bounds the servers in one Membership; it keeps quorum
// computation allocation-free and message decoding bounded.
const MaxMembers = 64

// Validate checks that m is a well-formed configuration: no zero or repeated
// IDs, no learner that is also a voter, and at least one voter.
func (m Membership) Validate() error {
	if len(m.Voters) == 0 {
		return fmt.Errorf("%w: membership has no voters", ErrInvalidConfig)
	}
	if n := len(m.Voters) + len(m.Learners); n > MaxMembers {
		return fmt.Errorf("%w: membership has %d members, at most %d allowed", ErrInvalidConfig, n, MaxMembers)
	}
	if len(m.OutgoingVoters) > MaxMembers {
		return fmt.Errorf("%w: %d outgoing voters, at most %d allowed", ErrInvalidConfig, len(m.OutgoingVoters), MaxMembers)
	}
	for _, set := range [][]NodeID{m.Voters, m.OutgoingVoters, m.Learners} {
		for i, id := range set {
			if id == None {
				return fmt.Errorf("%w: membership contains node ID 0", ErrInvalidConfig)
			}
			if slices.Contains(set[:i], id) {
				return fmt.Errorf("%w: node %d listed twice", ErrInvalidConfig, id)
			}
		}
	}
	for _, id := range m.Learners {
		if slices.Contains(m.Voters, id) || slices.Contains(m.OutgoingVoters, id) {
			return fmt.Errorf("%w: node %d is both learner and voter", ErrInvalidConfig, id)
		}
	}
	for i, id := range m.Witnesses {
		if !m.IsVoter(id) {
			return fmt.Errorf("%w: witness %d is not a voter", ErrInvalidConfig, id)
		}
		if slices.Contains(m.Witnesses[:i], id) {
			return fmt.Errorf("%w: witness %d listed twice", ErrInvalidConfig, id)
		}
	}
	if m.AutoLeave && !m.IsJoint() {
		return fmt.Errorf("%w: AutoLeave set on a configuration that is not joint", ErrInvalidConfig)
	}
	return nil
}

// IsJoint reports whether m is a joint configuration.
func (m Membership) IsJoint() bool { return len(m.OutgoingVoters) > 0 }

// IsVoter reports whether id votes in m (in either half of a joint config).
func (m Membership) IsVoter(id NodeID) bool {
	return slices.Contains(m.Voters, id) || slices.Contains(m.OutgoingVoters, id)
}

// IsWitness reports whether id is a witness of m.
func (m Membership) IsWitness(id NodeID) bool { return slices.Contains(m.Witnesses, id) }

// IsMember reports whether id is a voter or learner of m.
func (m Membership) IsMember(id NodeID) bool {
	return m.IsVoter(id) || slices.Contains(m.Learners, id)
}

// Clone returns a deep copy of m.
func (m Membership) Clone() Membership {
	return Membership{
		Voters:         slices.Clone(m.Voters),
		OutgoingVoters: slices.Clone(m.OutgoingVoters),
		Learners:       slices.Clone(m.Learners),
		Witnesses:      slices.Clone(m.Witnesses),
		AutoLeave:      m.AutoLeave,
	}
}

// forEachMember calls f once for every distinct member of m.
func (m Membership) forEachMember(f func(NodeID)) {
	for _, id := range m.Voters {
		f(id)
	}
	for _, id := range m.OutgoingVoters {
		if !slices.Contains(m.Voters, id) {
			f(id)
		}
	}
	for _, id := range m.Learners {
		f(id)
	}
}
