package raftsim

import (
	"errors"
	"flag"
	"fmt"
	"math"
	"strconv"
	"strings"

	"github.com/pureraft/raft"
)

// Time is simulated time in thousandths of a nominal tick. A node's
// election and heartbeat timers count its own ticks; a tick of node i lasts
// about [Tick] units, skewed per node by Scenario.TickSkew. Latencies, disk
// delays and client timers are expressed in the same units.
type Time int64

// Tick is the nominal length of one node tick.
const Tick Time = 1000

// Ticks returns n nominal ticks.
func Ticks(n int) Time { return Time(n) * Tick }

// String formats t in ticks with up to three decimals, e.g. "12.5".
func (t Time) String() string {
	s := strconv.FormatInt(int64(t)/int64(Tick), 10)
	if t < 0 && t > -Tick {
		s = "-0"
	}
	frac := int64(t) % int64(Tick)
	if frac < 0 {
		frac = -frac
	}
	if frac == 0 {
		return s
	}
	return strings.TrimRight(fmt.Sprintf("%s.%03d", s, frac), "0")
}

// parseTime parses a tick count such as "0.25" or "3".
func parseTime(s string) (Time, error) {
	f, err := strconv.ParseFloat(s, 64)
	if err != nil || math.IsNaN(f) || math.IsInf(f, 0) {
		return 0, fmt.Errorf("invalid duration %q (want ticks, e.g. 0.5)", s)
	}
	return Time(math.Round(f * float64(Tick))), nil
}

// Scenario describes one simulated run as plain data: the cluster, how long
// it runs, the faults and the workload. Named scenarios ([ScenarioNamed])
// are starting points; every field can be changed, and cmd/raftsim exposes
// them as flags (see [Scenario.RegisterFlags]).
//
// A run has two phases. During the first Ticks ticks, faults are injected
// and clients issue operations. Then every fault is healed (crashed nodes
// restart, partitions and link faults end, messages stop being dropped or
// duplicated) and the cluster must elect a leader and commit a new entry
// within LivenessTicks; clients finish their outstanding operations.
type Scenario struct {
	// Name is the named scenario this one derives from ("custom" if none);
	// replay commands start from it.
	Name string
	// Nodes is the number of voters, 1 to 9, with IDs 1..Nodes.
	Nodes int
	// Ticks is the length of the faulty phase in nominal ticks.
	Ticks int
	// LivenessTicks bounds the ticks after healing within which a leader
	// must be elected and a new proposal committed.
	LivenessTicks int
	// TickSkew is the largest relative deviation of a node's tick period
	// from Tick: node periods are fixed at start in Tick*(1±TickSkew).
	TickSkew float64

	// Raft configures every node.
	Raft RaftOptions
	// Network describes the links' latency and message faults.
	Network NetworkOptions
	// Disk describes the nodes' disks: write delays and crash losses.
	Disk DiskOptions
	// Faults drive the random crashes and network faults.
	Faults FaultOptions
	// Schedule lists scripted faults, applied on top of the random ones.
	Schedule []ScheduledFault
	// Workload configures the clients and their operations.
	Workload WorkloadOptions
	// Features drive compaction, membership changes and transfers.
	Features FeatureOptions
}

// FeatureOptions drive the core's optional features during the faulty
// phase: log compaction and snapshot transfer, membership changes and
// leadership transfers. Rates are probabilities per nominal tick (per node
// for Compact), each drawn from its own random stream.
type FeatureOptions struct {
	// Compact: a node snapshots its state machine at its applied index and
	// calls Compact, keeping Retain entries.
	Compact float64
	// Retain is the number of entries a compaction keeps below the
	// snapshot, for followers that lag a little.
	Retain int
	// Spares adds nodes N+1..N+Spares that start outside the
	// configuration, with empty disks, and may be added later.
	Spares int
	// Membership: the leader proposes a random membership change (add,
	// remove, learner, promotion of a caught-up learner, joint
	// replacement).
	Membership float64
	// Transfer: the leader transfers leadership (to a random voter or to
	// the best one).
	Transfer float64
	// Campaign: the host of a random node calls Campaign (an operator
	// forcing an election), quiescent or not.
	Campaign float64
	// SelfRemoval: the leader proposes its own removal — removed, demoted
	// to learner, or replaced through a joint configuration — so that it
	// manages a configuration without it until that commits (thesis
	// §4.2.2).
	SelfRemoval float64
	// ChangeFault: right after a membership change is proposed, a fault
	// hits with this probability: the leader crashes, or is cut off with a
	// random part of the cluster, so configurations (joint ones too) stay
	// uncommitted while elections, restarts and learners' timeouts happen.
	ChangeFault float64
	// Witness bootstraps node Nodes (with Nodes >= 2) as a witness
	// (thesis §11.7.2): a voter that is sent entries without payloads,
	// runs no state machine, serves no clients and never leads. Membership
	// changes add and remove witnesses whatever this says.
	Witness bool
	// Idle: the clients pause for [IdleMin, IdleMax] ticks (they start no
	// operation), so that groups with RaftOptions.QuiesceAfterTicks go
	// quiet; membership changes, transfers and forced campaigns go on at
	// their rates, and so reach quiescent groups.
	Idle float64
	// IdleMin and IdleMax bound an idle stretch in ticks.
	IdleMin, IdleMax int
	// DetectMin and DetectMax bound, in ticks, how long the host of a node
	// takes to learn that a peer crashed or became unreachable (its failure
	// detector), after which it calls Wake on its node. Only used with
	// RaftOptions.QuiesceAfterTicks.
	DetectMin, DetectMax int
}

// RaftOptions configures every node (see raft.Config).
type RaftOptions struct {
	// ElectionTicks is raft.Config.ElectionTicks.
	ElectionTicks int
	// HeartbeatTicks is raft.Config.HeartbeatTicks.
	HeartbeatTicks int
	// DisablePreVote turns pre-vote off, to check the core without it.
	DisablePreVote bool
	// DisableCheckQuorum turns check-quorum off, to check the core
	// without it.
	DisableCheckQuorum bool
	// DisableProposalForwarding makes followers refuse proposals, so
	// clients must find the leader themselves.
	DisableProposalForwarding bool
	// MaxMsgBytes is raft.Config.MaxMsgBytes. It is small in the named
	// scenarios so that batching is exercised; 0 selects raft's default.
	MaxMsgBytes uint64
	// MaxInflightMsgs is raft.Config.MaxInflightMsgs, small in the named
	// scenarios so that flow control is exercised; 0 selects raft's default.
	MaxInflightMsgs int
	// EnableLeaseReads lets LeaseRead use the leader's lease.
	EnableLeaseReads bool
	// QuiesceAfterTicks is raft.Config.QuiesceAfterTicks: an idle group
	// goes quiet after that many ticks (0: never).
	QuiesceAfterTicks int
	// Ticker drives each node's clock through a raft.Ticker of its own
	// (raft.Config.Ticker), which touches a node only on the ticks where
	// it has something to do, instead of calling Node.Tick.
	Ticker bool
}

// NetworkOptions describe the links. Every directed link gets a base
// latency drawn once from [LatencyMin, LatencyMax]; each message then takes
// base plus a uniform jitter in [0, Jitter]. Without reordering a link is
// FIFO; with it, a message is sometimes held back up to ReorderDelay more,
// so later messages overtake it.
type NetworkOptions struct {
	// LatencyMin and LatencyMax bound each link's base latency.
	LatencyMin, LatencyMax Time
	// Jitter bounds the random delay added to each message.
	Jitter Time
	// Drop, Duplicate and Reorder are per-message probabilities.
	Drop, Duplicate, Reorder float64
	// ReorderDelay bounds how much longer a reordered message is held.
	ReorderDelay Time
	// Late is the probability that a message arrives very late: up to
	// LateDelay after it would have, past the timeout of whoever waits
	// for it (a read, a vote, an acknowledgement), perhaps after its
	// receiver restarted. Later messages overtake it.
	Late float64
	// LateDelay bounds how much later a late message arrives.
	LateDelay Time
}

// DiskOptions describe each node's simulated disk.
type DiskOptions struct {
	// Sync makes every persist durable and acknowledged at once (the
	// synchronous caller). Otherwise a persist completes after a delay in
	// [DelayMin, DelayMax], in order, while the node keeps running.
	Sync bool
	// DelayMin and DelayMax bound how long a write takes to complete.
	DelayMin, DelayMax Time
	// PartialLoss: when a node crashes with writes in flight, a random
	// prefix of them may have reached the disk (each write is atomic, and
	// writes land in order). Otherwise all of them are lost.
	PartialLoss bool
}

// FaultOptions drive the random fault injector ("nemesis"). Rates are
// probabilities per nominal tick; durations are in ticks. Each kind of
// fault draws from its own random stream.
type FaultOptions struct {
	// Crash: a node crashes, losing its unacknowledged writes, and restarts
	// after [DownMin, DownMax] ticks.
	Crash float64
	// DownMin and DownMax bound how many ticks a crashed node stays down.
	DownMin, DownMax int
	// MaxDown bounds the nodes down at once; 0 means a minority
	// ((Nodes-1)/2, at least 1).
	MaxDown int
	// LeaderBias is the probability that a crash or an isolation targets
	// the current leader rather than a random node.
	LeaderBias float64
	// Partition splits the cluster in two random groups; OneWay cuts one
	// direction of a few random links; Isolate cuts one node off. A network
	// fault lasts [FaultMin, FaultMax] ticks; a new one replaces the old.
	Partition, OneWay, Isolate float64
	// FaultMin and FaultMax bound a network fault's length in ticks.
	FaultMin, FaultMax int
	// Flap takes one random directed link down for [FlapMin, FlapMax]
	// ticks, independently of the partitions above.
	Flap float64
	// FlapMin and FlapMax bound how long a flapping link stays down.
	FlapMin, FlapMax int
	// IsolateNewLeader is the probability that a node is cut off the
	// moment it becomes leader (for [FaultMin, FaultMax] ticks), with the
	// appends it just sent: its entries stay on it alone, as in step (b) of
	// the paper's Figure 8. Unlike the others it is not a rate per tick.
	IsolateNewLeader float64
}

// FaultKind names a scripted fault.
type FaultKind uint8

const (
	// FaultCrash crashes the target node.
	FaultCrash FaultKind = iota + 1
	// FaultRestart restarts the target node (every down node when the
	// target is random).
	FaultRestart
	// FaultIsolate cuts every link to and from the target.
	FaultIsolate
	// FaultLeaderMinority partitions the leader, with just enough
	// followers to stay a minority, from the rest.
	FaultLeaderMinority
	// FaultPartition splits the cluster in two random groups.
	FaultPartition
	// FaultOneWay cuts the links from the target to every other node,
	// leaving the other direction up.
	FaultOneWay
	// FaultHeal ends every network fault.
	FaultHeal
	// FaultCampaign makes the target's election timer run out: it starts
	// an election at once (Node.Campaign).
	FaultCampaign
	// FaultPropose makes the target propose a command of its own, outside
	// the clients' workload (the playground's "propose" button).
	FaultPropose
)

var faultKindNames = [...]string{
	FaultCrash: "crash", FaultRestart: "restart", FaultIsolate: "isolate",
	FaultLeaderMinority: "leader-minority", FaultPartition: "partition",
	FaultOneWay: "one-way", FaultHeal: "heal", FaultCampaign: "campaign", FaultPropose: "propose",
}

// String returns the fault's name, as written in scenario files and traces.
func (k FaultKind) String() string {
	if int(k) < len(faultKindNames) && faultKindNames[k] != "" {
		return faultKindNames[k]
	}
	return fmt.Sprintf("FaultKind(%d)", uint8(k))
}

// ScheduledFault is a scripted fault: at tick At (and every Every ticks
// after, while the faulty phase lasts) apply Kind to the target, and undo it
// Duration ticks later (restart the node, heal the network); Duration 0
// leaves it to a later fault or to the final healing.
type ScheduledFault struct {
	// At is the first tick of the fault, Every its period (0: once), and
	// Duration how long each occurrence lasts (0: until something else
	// ends it).
	At, Every, Duration int
	// Kind is what happens.
	Kind FaultKind
	// Leader targets the node that is leader at that moment (the fault is
	// skipped if there is none); otherwise Node, or a random node if Node
	// is 0.
	Leader bool
	// Node is the target when Leader is false; 0 picks one at random.
	Node raft.NodeID
}

// ReadMode says how clients read: through the log, or through the core's
// ReadIndex, lease and follower reads (see client.go).
type ReadMode uint8

const (
	// ReadLog proposes a read as an ordinary entry and answers it when the
	// entry is applied.
	ReadLog ReadMode = iota

	// ReadIndex asks the node for a read index (a follower forwards it to
	// its leader) and answers from the state machine once it has applied
	// that far.
	ReadIndex
	// ReadLease is ReadIndex through LeaseRead (a leader holding a lease
	// answers without a message round; needs RaftOptions.EnableLeaseReads
	// for the lease to be used).
	ReadLease
	// ReadMixed picks, per attempt, the log, ReadIndex on the leader,
	// ReadIndex on a random node (a follower read) or LeaseRead.
	ReadMixed

	// readIndexNoWait (tests only) asks for a read index but answers as
	// soon as it is ready, from whatever the node has applied: the bug of
	// ignoring Read.Index.
	readIndexNoWait ReadMode = 254
	// readLocalUnsafe (tests only) answers a read at once from the state
	// of whichever node the client asked: the classic stale-read bug the
	// linearizability check must catch.
	readLocalUnsafe ReadMode = 255
)

// WorkloadOptions configure the default key-value workload (see
// [KVWorkload]); a custom [Workload] uses Clients, the timers and Reads.
type WorkloadOptions struct {
	// Clients issue one operation at a time each, concurrently.
	Clients int
	// Keys is the number of distinct keys.
	Keys int
	// Relative weights of puts, appends and gets.
	Puts, Appends, Gets int
	// A client waits [ThinkMin, ThinkMax] between operations.
	ThinkMin, ThinkMax Time
	// Timeout: a client that has no answer from a node within Timeout
	// retries the operation (same sequence number) at another node. After
	// a refusal it backs off [BackoffMin, BackoffMax], doubling.
	Timeout Time
	// BackoffMin and BackoffMax bound the back-off after a refusal.
	BackoffMin, BackoffMax Time
	// Reads says which read path gets use.
	Reads ReadMode
}

// DefaultScenario is the 5-node scenario with every kind of fault on.
func DefaultScenario() Scenario {
	return Scenario{
		Name: "default", Nodes: 5, Ticks: 2000, LivenessTicks: 300, TickSkew: 0.02,
		Raft: RaftOptions{ElectionTicks: 10, HeartbeatTicks: 2, MaxMsgBytes: 256, MaxInflightMsgs: 8},
		Network: NetworkOptions{
			LatencyMin: 50, LatencyMax: 500, Jitter: 300,
			Drop: 0.02, Duplicate: 0.01, Reorder: 0.02, ReorderDelay: Ticks(3),
			Late: 0.005, LateDelay: Ticks(40),
		},
		Disk: DiskOptions{DelayMin: 20, DelayMax: Ticks(2), PartialLoss: true},
		Faults: FaultOptions{
			Crash: 0.004, DownMin: 5, DownMax: 60, LeaderBias: 0.3,
			Partition: 0.002, OneWay: 0.002, Isolate: 0.002, FaultMin: 10, FaultMax: 80,
			Flap: 0.01, FlapMin: 1, FlapMax: 10, IsolateNewLeader: 0.1,
		},
		Workload: defaultWorkload(),
		Features: FeatureOptions{Compact: 0.02, Retain: 5, Spares: 2, Membership: 0.01, Transfer: 0.003,
			Campaign: 0.002, IdleMin: 20, IdleMax: 80, DetectMin: 2, DetectMax: 20},
	}
}

func defaultWorkload() WorkloadOptions {
	return WorkloadOptions{
		Clients: 4, Keys: 5, Puts: 3, Appends: 3, Gets: 4,
		ThinkMin: 0, ThinkMax: Ticks(3), Timeout: Ticks(20),
		BackoffMin: Tick / 2, BackoffMax: Ticks(8), Reads: ReadMixed,
	}
}

// calm is a fault-free base the scripted scenarios add to.
func calm(name string) Scenario {
	return Scenario{
		Name: name, Nodes: 5, Ticks: 2000, LivenessTicks: 300, TickSkew: 0.02,
		Raft:     RaftOptions{ElectionTicks: 10, HeartbeatTicks: 2, MaxMsgBytes: 256, MaxInflightMsgs: 8},
		Network:  NetworkOptions{LatencyMin: 50, LatencyMax: 500, Jitter: 300},
		Disk:     DiskOptions{DelayMin: 20, DelayMax: Ticks(2), PartialLoss: true},
		Workload: defaultWorkload(),
	}
}

// scenarioSummaries says in a line what each named scenario does (the
// ScenarioNamed doc says more).
var scenarioSummaries = map[string]string{
	"default":                   "every fault at once: crashes, partitions, flapping links, drops, duplicates, late messages, async disks",
	"calm":                      "no faults at all: a baseline",
	"leader-crash":              "the leader crashes every 150 ticks and returns 40 ticks later",
	"leader-partition-minority": "every 200 ticks the leader is cut off with one follower for 80 ticks",
	"flapping-links":            "links go down and up every few ticks, some one way, with message loss",
	"figure8":                   "the paper's Figure 8 over and over: old-term entries on a majority, then overwritten",
	"churn":                     "membership changes, transfers, compaction and lease reads at high rates",
	"quiet":                     "the default faults with idle stretches: groups quiesce and hosts wake them",
	"reconfig":                  "membership changes, self-removals and transfers under a busy workload, with faults right after changes",
	"membership":                "3 nodes and 2 spares, no faults: learners added, promoted, removed; joint changes (tour chapter 6)",
	"snapshots":                 "3 nodes, no faults but node 3 down while the others compact: it catches up by snapshot (tour chapter 6)",
	"reads":                     "3 nodes, a read-heavy workload on every read path while the leader is cut off now and then (tour chapter 6)",
	"playground":                "3 nodes and no faults but those you click: the default of -playground",
}

// ScenarioSummary says in one line what the named scenario does; "" for an
// unknown name.
func ScenarioSummary(name string) string { return scenarioSummaries[name] }

// ScenarioNames lists the named scenarios.
func ScenarioNames() []string {
	return []string{"default", "calm", "leader-crash", "leader-partition-minority", "flapping-links", "figure8", "churn", "quiet", "reconfig",
		"membership", "snapshots", "reads", "playground"}
}

// ScenarioNamed returns the named scenario.
//
//   - default: 5 nodes, every fault: crashes (also mid-write, losing a
//     suffix of the unacknowledged writes), partitions (symmetric, one-way,
//     isolation), flapping links, drops, duplicates, reordering, skewed
//     clocks, asynchronous disks.
//   - calm: no faults at all; a baseline.
//   - leader-crash: the leader crashes every 150 ticks and comes back 40
//     ticks later.
//   - leader-partition-minority: every 200 ticks the leader is cut off with
//     one follower for 80 ticks, while clients keep talking to it.
//   - flapping-links: links go down and up every few ticks, some one way,
//     with message loss.
//   - figure8: the situation of the paper's Figure 8, over and over:
//     leaders are cut off in a minority while appending, new leaders are
//     cut off the moment they win, leaders crash and come back quickly, so
//     entries of old terms reach a majority through later leaders without
//     being committed, and are then overwritten (about once or twice a run;
//     see Stats.Figure8). Pre-vote is off so terms move fast.
//   - churn: the core features at high rates: membership changes every
//     few dozen ticks (two spares), leadership transfers, compaction with
//     no retained entries (so lagging followers get snapshots), lease
//     reads, with crashes and message loss.
//   - quiet: the default faults with quiescence on (QuiesceAfterTicks),
//     the workload pausing often so groups go quiet, the hosts' failure
//     detectors calling Wake, and the last node a witness.
//   - reconfig: the default faults with membership changes at a high rate
//     (learners added, promoted and demoted, joint replacements, the
//     leader removing itself), a crash or a partition right after a third
//     of the changes, so joint configurations are entered and left under
//     partitions, transfers under a busy workload, and reads racing
//     leader changes on a reordering network.
func ScenarioNamed(name string) (Scenario, bool) {
	switch name {
	case "default", "":
		return DefaultScenario(), true
	case "calm":
		return calm("calm"), true
	case "leader-crash":
		s := calm("leader-crash")
		s.Schedule = []ScheduledFault{{At: 100, Every: 150, Duration: 40, Kind: FaultCrash, Leader: true}}
		return s, true
	case "leader-partition-minority":
		s := calm("leader-partition-minority")
		s.Schedule = []ScheduledFault{{At: 100, Every: 200, Duration: 80, Kind: FaultLeaderMinority, Leader: true}}
		return s, true
	case "flapping-links":
		s := calm("flapping-links")
		s.Network.Drop = 0.05
		s.Network.Reorder = 0.05
		s.Network.ReorderDelay = Ticks(2)
		s.Faults = FaultOptions{Flap: 0.5, FlapMin: 1, FlapMax: 8, OneWay: 0.01, FaultMin: 5, FaultMax: 30}
		return s, true
	case "churn":
		s := calm("churn")
		s.Raft.EnableLeaseReads = true
		s.Network.Drop = 0.05
		s.Faults = FaultOptions{Crash: 0.01, DownMin: 5, DownMax: 40, LeaderBias: 0.3, Flap: 0.02, FlapMin: 1, FlapMax: 10}
		s.Features = FeatureOptions{Compact: 0.05, Retain: 0, Spares: 2, Membership: 0.04, Transfer: 0.01}
		return s, true
	case "playground":
		// The live playground's default: three nodes and no faults but
		// the ones the learner clicks; clients keep writing and reading.
		s := calm("playground")
		s.Nodes = 3
		return s, true
	case "membership":
		// Tour chapter 6: changes only, no faults, so every message in
		// the timeline belongs to one. Two spares are added as learners,
		// promoted, removed; voters are replaced through joint consensus.
		s := calm("membership")
		s.Nodes, s.Ticks = 3, 600
		s.Features = FeatureOptions{Spares: 2, Membership: 0.05}
		return s, true
	case "snapshots":
		// Tour chapter 6: node 3 is down while the others compact their
		// logs, so when it returns its next entry is gone and the leader
		// must send it a snapshot.
		s := calm("snapshots")
		s.Nodes, s.Ticks = 3, 600
		s.Features = FeatureOptions{Compact: 0.05}
		s.Schedule = []ScheduledFault{{At: 100, Duration: 200, Kind: FaultCrash, Node: 3}}
		return s, true
	case "reads":
		// Tour chapter 6: a read-heavy workload through every read path
		// (ReadIndex on the leader, forwarded by followers, leases) while
		// the leader is cut off in a minority now and then.
		s := calm("reads")
		s.Nodes, s.Ticks = 3, 600
		s.Raft.EnableLeaseReads = true
		s.Workload.Gets = 12
		s.Schedule = []ScheduledFault{{At: 150, Every: 200, Duration: 80, Kind: FaultLeaderMinority, Leader: true}}
		return s, true
	case "quiet":
		s := DefaultScenario()
		s.Name = "quiet"
		s.Raft.QuiesceAfterTicks = 6
		s.Faults.IsolateNewLeader = 0.02
		s.Features.Idle, s.Features.IdleMin, s.Features.IdleMax = 0.02, 20, 120
		s.Features.Campaign = 0.01
		s.Features.Witness = true
		return s, true
	case "reconfig":
		s := DefaultScenario()
		s.Name = "reconfig"
		s.Network.Reorder, s.Network.ReorderDelay = 0.05, Ticks(6)
		s.Features.Membership, s.Features.SelfRemoval, s.Features.ChangeFault = 0.04, 0.01, 0.3
		s.Features.Transfer, s.Features.Campaign = 0.02, 0.005
		s.Workload.Clients, s.Workload.ThinkMax = 6, Ticks(2)
		return s, true
	case "figure8":
		// Tuned so that the Figure 8 situation — entries of an old term
		// durable on a majority, never committed, then overwritten — occurs
		// about once or twice per run (Stats.Figure8, TestFigure8Happens):
		// a leader cut off in a minority keeps appending; the majority's
		// new leader is often cut off the moment it wins, so its entries
		// stay on it alone; small messages make a later leader replicate
		// old entries one by one, ahead of its own no-op, and crashes and
		// partitions interrupt it.
		s := calm("figure8")
		s.Raft.DisablePreVote = true
		s.Raft.MaxMsgBytes, s.Raft.MaxInflightMsgs = 64, 2
		s.Network.Drop = 0.1
		s.Network.Reorder = 0.1
		s.Network.ReorderDelay = Ticks(2)
		s.Disk.DelayMax = Ticks(3)
		s.Faults = FaultOptions{Crash: 0.03, DownMin: 1, DownMax: 10, MaxDown: 2, LeaderBias: 0.9,
			IsolateNewLeader: 0.7, FaultMin: 5, FaultMax: 30}
		s.Schedule = []ScheduledFault{{At: 50, Every: 40, Duration: 12, Kind: FaultLeaderMinority, Leader: true}}
		s.Workload.Clients, s.Workload.ThinkMax = 6, Tick
		return s, true
	}
	return Scenario{}, false
}

// Validate reports the first field of s that is out of range.
func (s *Scenario) Validate() error {
	bad := func(format string, args ...any) error {
		return fmt.Errorf("raftsim: scenario %q: %s", s.Name, fmt.Sprintf(format, args...))
	}
	switch {
	case s.Nodes < 1 || s.Nodes > 9:
		return bad("Nodes is %d, must be 1..9", s.Nodes)
	case s.Ticks < 0 || s.LivenessTicks < 1:
		return bad("Ticks (%d) must be >= 0 and LivenessTicks (%d) >= 1", s.Ticks, s.LivenessTicks)
	case s.TickSkew < 0 || s.TickSkew > 0.5:
		return bad("TickSkew %v outside [0, 0.5]", s.TickSkew)
	case s.Network.LatencyMin < 1 || s.Network.LatencyMax < s.Network.LatencyMin || s.Network.Jitter < 0 || s.Network.ReorderDelay < 0 || s.Network.LateDelay < 0:
		return bad("network latencies must satisfy 1 <= LatencyMin <= LatencyMax, Jitter, ReorderDelay, LateDelay >= 0")
	case s.Disk.DelayMin < 0 || s.Disk.DelayMax < s.Disk.DelayMin:
		return bad("disk delays must satisfy 0 <= DelayMin <= DelayMax")
	case s.Faults.DownMin < 0 || s.Faults.DownMax < s.Faults.DownMin || s.Faults.FaultMin < 0 || s.Faults.FaultMax < s.Faults.FaultMin ||
		s.Faults.FlapMin < 0 || s.Faults.FlapMax < s.Faults.FlapMin || s.Faults.MaxDown < 0:
		return bad("fault durations must satisfy 0 <= Min <= Max")
	case s.Features.Spares < 0 || s.Nodes+s.Features.Spares > 11 || s.Features.Retain < 0:
		return bad("Spares (%d) must be >= 0 with Nodes+Spares <= 11, Retain (%d) >= 0", s.Features.Spares, s.Features.Retain)
	case s.Features.IdleMin < 0 || s.Features.IdleMax < s.Features.IdleMin || s.Features.DetectMin < 0 || s.Features.DetectMax < s.Features.DetectMin:
		return bad("idle and failure-detection delays must satisfy 0 <= Min <= Max")
	case s.Features.Witness && s.Nodes < 2:
		return bad("Witness needs Nodes >= 2 (a witness never leads)")
	case s.Workload.Clients < 0 || s.Workload.Clients > 1000:
		return bad("Clients is %d, must be 0..1000", s.Workload.Clients)
	case s.Workload.Keys < 1:
		return bad("Keys must be >= 1")
	case s.Workload.Puts < 0 || s.Workload.Appends < 0 || s.Workload.Gets < 0 || s.Workload.Puts+s.Workload.Appends+s.Workload.Gets == 0:
		return bad("operation weights must be >= 0 and not all 0")
	case s.Workload.ThinkMin < 0 || s.Workload.ThinkMax < s.Workload.ThinkMin || s.Workload.Timeout < 1 ||
		s.Workload.BackoffMin < 1 || s.Workload.BackoffMax < s.Workload.BackoffMin:
		return bad("client timers must satisfy 0 <= ThinkMin <= ThinkMax, Timeout >= 1, 1 <= BackoffMin <= BackoffMax")
	}
	for _, p := range []float64{s.Network.Drop, s.Network.Duplicate, s.Network.Reorder, s.Network.Late, s.Faults.Crash,
		s.Faults.LeaderBias, s.Faults.Partition, s.Faults.OneWay, s.Faults.Isolate, s.Faults.Flap, s.Faults.IsolateNewLeader,
		s.Features.Compact, s.Features.Membership, s.Features.Transfer, s.Features.Idle, s.Features.Campaign,
		s.Features.SelfRemoval, s.Features.ChangeFault} {
		if !(p >= 0 && p <= 1) {
			return bad("probability %v outside [0, 1]", p)
		}
	}
	for i, f := range s.Schedule {
		if f.Kind < FaultCrash || f.Kind > FaultPropose || f.At < 0 || f.Every < 0 || f.Duration < 0 || int(f.Node) > s.totalNodes() {
			return bad("schedule entry %d (%+v) is invalid", i, f)
		}
	}
	cfg := s.raftConfig(1, 0)
	if err := cfg.Validate(); err != nil {
		return bad("%v", err)
	}
	return nil
}

// totalNodes counts the voters at start and the spare nodes.
func (s *Scenario) totalNodes() int { return s.Nodes + s.Features.Spares }

func (s *Scenario) maxDown() int {
	if s.Faults.MaxDown > 0 {
		return min(s.Faults.MaxDown, s.Nodes)
	}
	return max(1, (s.Nodes-1)/2)
}

func (s *Scenario) raftConfig(id raft.NodeID, seed uint64) raft.Config {
	return raft.Config{
		ID: id, Seed: seed,
		ElectionTicks: s.Raft.ElectionTicks, HeartbeatTicks: s.Raft.HeartbeatTicks,
		DisablePreVote: s.Raft.DisablePreVote, DisableCheckQuorum: s.Raft.DisableCheckQuorum,
		DisableProposalForwarding: s.Raft.DisableProposalForwarding,
		MaxMsgBytes:               s.Raft.MaxMsgBytes, MaxInflightMsgs: s.Raft.MaxInflightMsgs,
		MaxEntryBytes: s.Raft.MaxMsgBytes, EnableLeaseReads: s.Raft.EnableLeaseReads,
		QuiesceAfterTicks: s.Raft.QuiesceAfterTicks,
	}
}

// scenarioFlag binds one scenario field to a command-line flag. The same
// table registers the flags and writes replay commands, so the two cannot
// drift apart.
type scenarioFlag struct {
	name, usage string
	get         func(*Scenario) string
	set         func(*Scenario, string) error
	isBool      bool
}

func intFlag(name, usage string, f func(*Scenario) *int) scenarioFlag {
	return scenarioFlag{name, usage,
		func(s *Scenario) string { return strconv.Itoa(*f(s)) },
		func(s *Scenario, v string) error {
			n, err := strconv.Atoi(v)
			if err == nil {
				*f(s) = n
			}
			return err
		}, false}
}

func floatFlag(name, usage string, f func(*Scenario) *float64) scenarioFlag {
	return scenarioFlag{name, usage,
		func(s *Scenario) string { return strconv.FormatFloat(*f(s), 'g', -1, 64) },
		func(s *Scenario, v string) error {
			x, err := strconv.ParseFloat(v, 64)
			if err == nil {
				*f(s) = x
			}
			return err
		}, false}
}

func boolFlag(name, usage string, f func(*Scenario) *bool) scenarioFlag {
	return scenarioFlag{name, usage,
		func(s *Scenario) string { return strconv.FormatBool(*f(s)) },
		func(s *Scenario, v string) error {
			b, err := strconv.ParseBool(v)
			if err == nil {
				*f(s) = b
			}
			return err
		}, true}
}

func timeFlag(name, usage string, f func(*Scenario) *Time) scenarioFlag {
	return scenarioFlag{name, usage + " (ticks)",
		func(s *Scenario) string { return f(s).String() },
		func(s *Scenario, v string) error {
			t, err := parseTime(v)
			if err == nil {
				*f(s) = t
			}
			return err
		}, false}
}

var scenarioFlags = []scenarioFlag{
	intFlag("nodes", "number of nodes, 1-9", func(s *Scenario) *int { return &s.Nodes }),
	scheduleFlag(),
	intFlag("ticks", "length of the faulty phase in ticks", func(s *Scenario) *int { return &s.Ticks }),
	intFlag("liveness-ticks", "ticks allowed after healing to elect a leader and commit", func(s *Scenario) *int { return &s.LivenessTicks }),
	floatFlag("skew", "largest relative deviation of a node's tick rate", func(s *Scenario) *float64 { return &s.TickSkew }),
	intFlag("election-ticks", "raft election timeout in ticks", func(s *Scenario) *int { return &s.Raft.ElectionTicks }),
	intFlag("heartbeat-ticks", "raft heartbeat interval in ticks", func(s *Scenario) *int { return &s.Raft.HeartbeatTicks }),
	boolFlag("no-prevote", "disable pre-vote", func(s *Scenario) *bool { return &s.Raft.DisablePreVote }),
	boolFlag("no-checkquorum", "disable check-quorum", func(s *Scenario) *bool { return &s.Raft.DisableCheckQuorum }),
	boolFlag("no-forwarding", "disable proposal forwarding", func(s *Scenario) *bool { return &s.Raft.DisableProposalForwarding }),
	timeFlag("latency-min", "smallest base link latency", func(s *Scenario) *Time { return &s.Network.LatencyMin }),
	timeFlag("latency-max", "largest base link latency", func(s *Scenario) *Time { return &s.Network.LatencyMax }),
	timeFlag("jitter", "per-message latency jitter", func(s *Scenario) *Time { return &s.Network.Jitter }),
	floatFlag("drop", "per-message drop probability", func(s *Scenario) *float64 { return &s.Network.Drop }),
	floatFlag("dup", "per-message duplication probability", func(s *Scenario) *float64 { return &s.Network.Duplicate }),
	floatFlag("reorder", "per-message probability of being held back", func(s *Scenario) *float64 { return &s.Network.Reorder }),
	timeFlag("reorder-delay", "longest extra delay of a held-back message", func(s *Scenario) *Time { return &s.Network.ReorderDelay }),
	floatFlag("late", "per-message probability of arriving very late (past timeouts)", func(s *Scenario) *float64 { return &s.Network.Late }),
	timeFlag("late-delay", "longest extra delay of a very late message", func(s *Scenario) *Time { return &s.Network.LateDelay }),
	boolFlag("sync", "synchronous disks (acknowledge every persist at once)", func(s *Scenario) *bool { return &s.Disk.Sync }),
	timeFlag("disk-min", "shortest asynchronous write", func(s *Scenario) *Time { return &s.Disk.DelayMin }),
	timeFlag("disk-max", "longest asynchronous write", func(s *Scenario) *Time { return &s.Disk.DelayMax }),
	boolFlag("partial-loss", "a crash may keep a prefix of the in-flight writes", func(s *Scenario) *bool { return &s.Disk.PartialLoss }),
	floatFlag("crash", "per-tick probability of a node crash", func(s *Scenario) *float64 { return &s.Faults.Crash }),
	intFlag("down-min", "shortest downtime in ticks", func(s *Scenario) *int { return &s.Faults.DownMin }),
	intFlag("down-max", "longest downtime in ticks", func(s *Scenario) *int { return &s.Faults.DownMax }),
	intFlag("max-down", "most nodes down at once (0: a minority)", func(s *Scenario) *int { return &s.Faults.MaxDown }),
	floatFlag("leader-bias", "probability a crash or isolation targets the leader", func(s *Scenario) *float64 { return &s.Faults.LeaderBias }),
	floatFlag("partition", "per-tick probability of a symmetric partition", func(s *Scenario) *float64 { return &s.Faults.Partition }),
	floatFlag("oneway", "per-tick probability of one-way link cuts", func(s *Scenario) *float64 { return &s.Faults.OneWay }),
	floatFlag("isolate", "per-tick probability of isolating a node", func(s *Scenario) *float64 { return &s.Faults.Isolate }),
	intFlag("fault-min", "shortest network fault in ticks", func(s *Scenario) *int { return &s.Faults.FaultMin }),
	intFlag("fault-max", "longest network fault in ticks", func(s *Scenario) *int { return &s.Faults.FaultMax }),
	floatFlag("flap", "per-tick probability that a link goes down briefly", func(s *Scenario) *float64 { return &s.Faults.Flap }),
	intFlag("flap-min", "shortest link flap in ticks", func(s *Scenario) *int { return &s.Faults.FlapMin }),
	intFlag("flap-max", "longest link flap in ticks", func(s *Scenario) *int { return &s.Faults.FlapMax }),
	floatFlag("isolate-new-leader", "probability that a node is cut off the moment it becomes leader", func(s *Scenario) *float64 { return &s.Faults.IsolateNewLeader }),
	intFlag("clients", "concurrent clients", func(s *Scenario) *int { return &s.Workload.Clients }),
	intFlag("keys", "distinct keys", func(s *Scenario) *int { return &s.Workload.Keys }),
	intFlag("puts", "relative weight of puts", func(s *Scenario) *int { return &s.Workload.Puts }),
	intFlag("appends", "relative weight of appends", func(s *Scenario) *int { return &s.Workload.Appends }),
	intFlag("gets", "relative weight of gets", func(s *Scenario) *int { return &s.Workload.Gets }),
	timeFlag("think-max", "longest pause between a client's operations", func(s *Scenario) *Time { return &s.Workload.ThinkMax }),
	timeFlag("timeout", "client retry timeout", func(s *Scenario) *Time { return &s.Workload.Timeout }),
	{"reads", "read path: 0 log, 1 ReadIndex, 2 LeaseRead, 3 mixed",
		func(s *Scenario) string { return strconv.Itoa(int(s.Workload.Reads)) },
		func(s *Scenario, v string) error {
			n, err := strconv.Atoi(v)
			if err == nil && (n < 0 || n > int(ReadMixed)) {
				err = fmt.Errorf("read mode %d out of range", n)
			}
			if err == nil {
				s.Workload.Reads = ReadMode(n)
			}
			return err
		}, false},
	boolFlag("lease-reads", "enable lease reads (EnableLeaseReads)", func(s *Scenario) *bool { return &s.Raft.EnableLeaseReads }),
	floatFlag("compact", "per-node per-tick probability of compacting the log", func(s *Scenario) *float64 { return &s.Features.Compact }),
	intFlag("retain", "entries kept before the compaction index", func(s *Scenario) *int { return &s.Features.Retain }),
	intFlag("spares", "spare nodes outside the initial configuration", func(s *Scenario) *int { return &s.Features.Spares }),
	floatFlag("membership", "per-tick probability of a membership change", func(s *Scenario) *float64 { return &s.Features.Membership }),
	floatFlag("transfer", "per-tick probability of a leadership transfer", func(s *Scenario) *float64 { return &s.Features.Transfer }),
	floatFlag("campaign", "per-tick probability that a random node is told to Campaign", func(s *Scenario) *float64 { return &s.Features.Campaign }),
	floatFlag("self-removal", "per-tick probability that the leader proposes its own removal", func(s *Scenario) *float64 { return &s.Features.SelfRemoval }),
	floatFlag("change-fault", "probability that a crash or partition follows a membership change at once", func(s *Scenario) *float64 { return &s.Features.ChangeFault }),
	boolFlag("witness", "bootstrap the last node as a witness", func(s *Scenario) *bool { return &s.Features.Witness }),
	intFlag("quiesce", "raft QuiesceAfterTicks (0: never quiesce)", func(s *Scenario) *int { return &s.Raft.QuiesceAfterTicks }),
	boolFlag("ticker", "tick each node through a raft.Ticker instead of Node.Tick", func(s *Scenario) *bool { return &s.Raft.Ticker }),
	floatFlag("idle", "per-tick probability that the workload pauses", func(s *Scenario) *float64 { return &s.Features.Idle }),
	intFlag("idle-min", "shortest workload pause in ticks", func(s *Scenario) *int { return &s.Features.IdleMin }),
	intFlag("idle-max", "longest workload pause in ticks", func(s *Scenario) *int { return &s.Features.IdleMax }),
	intFlag("detect-min", "fastest failure detection (then Wake) in ticks", func(s *Scenario) *int { return &s.Features.DetectMin }),
	intFlag("detect-max", "slowest failure detection (then Wake) in ticks", func(s *Scenario) *int { return &s.Features.DetectMax }),
}

// flagValue adapts one scenarioFlag to flag.Value, writing into *s.
type flagValue struct {
	s *Scenario
	f *scenarioFlag
}

func (v flagValue) String() string {
	if v.s == nil {
		return ""
	}
	return v.f.get(v.s)
}
func (v flagValue) Set(x string) error { return v.f.set(v.s, x) }

// IsBoolFlag lets boolean fields be set with a bare -flag.
func (v flagValue) IsBoolFlag() bool { return v.f.isBool }

// RegisterFlags defines one flag per tunable field of s on fs; parsing the
// flags writes into s. Set s to the chosen named scenario before parsing so
// the flags override it (cmd/raftsim parses twice for that reason).
func (s *Scenario) RegisterFlags(fs *flag.FlagSet) {
	for i := range scenarioFlags {
		fs.Var(flagValue{s, &scenarioFlags[i]}, scenarioFlags[i].name, scenarioFlags[i].usage)
	}
}

// FlagArgs returns the flags that turn the named scenario s derives from
// into s, e.g. ["-nodes=3", "-drop=0"]. Fields without a flag (custom
// schedules) are not represented.
func (s Scenario) FlagArgs() []string {
	base, ok := ScenarioNamed(s.Name)
	if !ok {
		base = DefaultScenario()
	}
	var args []string
	for i := range scenarioFlags {
		f := &scenarioFlags[i]
		if v := f.get(&s); v != f.get(&base) {
			args = append(args, "-"+f.name+"="+v)
		}
	}
	return args
}

// ReplayCommand is the command line that reruns s with seed.
func (s Scenario) ReplayCommand(seed uint64) string {
	name := s.Name
	if _, ok := ScenarioNamed(name); !ok {
		name = "default"
	}
	parts := []string{"go run ./cmd/raftsim", "-scenario", name, "-seed", strconv.FormatUint(seed, 10)}
	return strings.Join(append(parts, s.FlagArgs()...), " ")
}

// ApplyFlagArgs parses args as produced by FlagArgs into s.
func (s *Scenario) ApplyFlagArgs(args []string) error {
	fs := flag.NewFlagSet("raftsim", flag.ContinueOnError)
	s.RegisterFlags(fs)
	if err := fs.Parse(args); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return errors.New("raftsim: unexpected arguments " + strings.Join(fs.Args(), " "))
	}
	return nil
}

// faultFree reports whether the scenario injects no fault at all: no
// crash, cut, flap, drop, duplicate, reordering or late message, and no
// scripted fault.
func (s *Scenario) faultFree() bool {
	f, nw := &s.Faults, &s.Network
	return len(s.Schedule) == 0 && f.Crash == 0 && f.Partition == 0 && f.OneWay == 0 && f.Isolate == 0 &&
		f.Flap == 0 && f.IsolateNewLeader == 0 && nw.Drop == 0 && nw.Duplicate == 0 && nw.Reorder == 0 && nw.Late == 0
}
