package raftsim

import (
	"errors"
	"fmt"
	"strconv"
	"time"

	"github.com/anishathalye/porcupine"
	"github.com/pureraft/raft"
)

// Core is the part of a raft.Node the simulator drives; *raft.Node
// implements it. Options.WrapNode may wrap it, which is how tests plant
// bugs (and how a user could inject faults of their own between the
// simulator and the node).
type Core interface {
	// Tick advances the node's clock, as raft.Node.Tick.
	Tick()
	// Step hands the node a delivered message, as raft.Node.Step.
	Step(raft.Message) error
	// Propose submits a client command, as raft.Node.Propose.
	Propose(data []byte) (raft.Index, raft.Term, error)
	// Actions collects the node's pending work, as raft.Node.Actions.
	Actions() []raft.Action
	// AckPersist reports a write durable, as raft.Node.AckPersist.
	AckPersist(id uint64) error
	// Status reports the node's state, which the checker compares with
	// what it observed, as raft.Node.Status.
	Status() raft.Status
}

// Options are the parts of a run that are code rather than data.
type Options struct {
	// Workload supplies the state machine, the operations and the
	// linearizability model; nil selects the key-value workload configured
	// by Scenario.Workload.
	Workload Workload
	// WrapNode, if set, wraps every node (at start and at each restart).
	// With Scenario.Raft.Ticker the node's clock is driven by its
	// raft.Ticker, so the wrapper's Tick is not called.
	WrapNode func(id raft.NodeID, n *raft.Node) Core
	// FullTrace keeps every trace event (needed for the HTML timeline and
	// the text trace); otherwise only the most recent ones are kept, for
	// failure reports.
	FullTrace bool
	// SkipLinearizability skips the final porcupine check.
	SkipLinearizability bool
	// LinearizabilityTimeout bounds the porcupine check in wall-clock time
	// (0: unbounded). A check that times out reports "unknown", not a
	// failure; leave it 0 in tests to keep them deterministic.
	LinearizabilityTimeout time.Duration

	// lyingDisk (tests only) acknowledges every write as soon as it is
	// queued, although it becomes durable only later: the bug of a disk
	// that ignores fsync. The checker must catch what follows.
	lyingDisk bool
	// ignore (tests only) mutes invariants, to show that the others catch
	// the consequences of a planted bug.
	ignore []Invariant
	// afterStep (tests only) is called after every step.
	afterStep func(*Sim)
}

type phase uint8

const (
	phaseFaulty  phase = iota // faults and workload
	phaseHealing              // everything healed; waiting for liveness
	phaseDone
)

// Sim is one simulated run. Build it with [New], run it with [Sim.Run];
// [Run] does both.
type Sim struct {
	sc   Scenario
	seed uint64
	opts Options

	now  Time
	step uint64
	seq  uint64 // event sequence numbers
	// logs records the changes the HTML log view replays (nil without
	// Options.FullTrace).
	logs *logView
	// schedSeqBase is the event sequence number before the scripted
	// faults were queued: scripted fault k has sequence number
	// schedSeqBase+k+1, which Live gives the faults it adds too, so that a
	// session and its replay order simultaneous events alike.
	schedSeqBase uint64
	// ownProposals counts the proposals of FaultPropose.
	ownProposals uint64
	stamp        int64 // porcupine timestamps
	msgID        uint64
	queue        eventQueue
	phase        phase

	// rulesState: what the protocol rule checks remember (rules.go).
	rulesState ruleState

	nodes   []*simNode
	net     *simNetwork
	work    Workload
	model   porcupine.Model
	clients []*client // [0] is the liveness probe
	history []Operation
	chk     *checker
	trace   *Trace
	// configs are the configuration entries the simulated operator
	// proposed, each with the configuration it holds (see shutDownLeavers).
	configs []proposedConfig

	diskRng, workRng                                  *Rand
	crashRng, partRng, onewayRng, isolateRng, flapRng *Rand
	newLeaderRng                                      *Rand
	compactRng, snapRng, memberRng, transferRng       *Rand
	reconfRng                                         *Rand // SelfRemoval, ChangeFault
	schedRng                                          *Rand
	idleRng, detectRng, campaignRng                   *Rand
	idleUntil                                         Time
	netGen                                            uint64
	healAt, recoveredAt                               Time
	probeDone                                         bool
	faultsEnd                                         Time
	nemesisOn                                         bool

	// Stats are the run's counters.
	Stats Stats
}

// Stats count what happened in a run.
type Stats struct {
	// Steps counts the simulator's events (ticks, deliveries, disk
	// completions, client and fault events), the unit of trace positions.
	Steps uint64
	// NodeTicks counts Tick calls, summed over the nodes.
	NodeTicks uint64
	// ShutDown counts the servers stopped at healing because they left
	// the configuration (only with pre-vote and check-quorum off).
	ShutDown  int
	Elections int // terms in which a leader was seen
	// MaxTerm is the highest term any node reported.
	MaxTerm raft.Term
	// MaxCommit is the highest commit index any node reported.
	MaxCommit raft.Index
	// Applied counts entries applied, summed over the nodes (replays after
	// a restart included).
	Applied int
	// Persists counts persist actions handed to the disks.
	Persists int
	// DiskWrites counts the persist actions that reached the disks (the
	// others were lost in crashes).
	DiskWrites int
	// Writes lost in crashes, and writes that survived a crash unacknowledged.
	LostWrites, SurvivedWrites int
	// Crashes and Restarts count nodes going down and coming back.
	Crashes, Restarts int
	// Partitions and OneWay count partitions and one-way link cuts begun
	// (scheduled and random ones alike).
	Partitions, OneWay int
	// Isolations counts nodes cut off, Flaps links taken down briefly.
	Isolations, Flaps int
	// Sent counts messages the nodes sent; Delivered those handed to
	// Step; Dropped those lost (link down or receiver down).
	Sent, Delivered, Dropped int
	// Duplicated and Reordered count messages the network copied or held
	// back; Late those it held back past timeouts (NetworkOptions.Late).
	Duplicated, Reordered, Late int
	// RefusedForwards counts messages a node rightly refused: forwarded
	// proposals that reached a node no longer leader, and messages from
	// servers outside the receiver's configuration.
	RefusedForwards int
	// Compactions counts log compactions; SnapshotsSent counts snapshot
	// transfers started, SnapshotsLost those that failed on the way, and
	// SnapshotsInstalled snapshots a node applied.
	Compactions, SnapshotsSent, SnapshotsLost, SnapshotsInstalled int
	// IndexReads and LeaseReads count reads requested by each path;
	// ReadsServed and ReadsFailed their outcomes.
	IndexReads, LeaseReads, ReadsServed, ReadsFailed int
	// ReadIDsReused counts reads issued with an ID that an earlier read
	// in the same life of the node used (allowed once that read ended).
	// After a restart every ID is new to the node, and old to the network.
	ReadIDsReused int
	// MembershipChanges counts changes proposed and MembershipRefused those
	// the leader refused; Transfers counts leadership transfers begun.
	MembershipChanges, MembershipRefused, Transfers int
	// Campaigns counts elections a host forced with Campaign.
	Campaigns int
	// Overwritten counts log entries deleted by a later leader's entries;
	// Figure8 those among them that had been durable on a majority of
	// nodes, yet never committed (the situation of the paper's Figure 8).
	Overwritten, Figure8 int
	// Ops counts client operations invoked; OpsDone those that returned;
	// OpsPending those that never did (linearizability allows either
	// outcome for them).
	Ops, OpsDone, OpsPending int
	// Attempts counts the nodes tried, summed over operations; Timeouts
	// the attempts abandoned for lack of an answer.
	Attempts, Timeouts int
	// RecoveryTime is how long after healing the liveness probe committed
	// (-1 if it did not).
	RecoveryTime Time
	// Witnesses counts nodes started as witnesses (bootstrapped, or added
	// by a membership change); WitnessesConverted the witnesses whose role
	// never committed that were added back as data members;
	// WitnessRefusals the client operations a witness turned away.
	Witnesses, WitnessesConverted, WitnessRefusals int
	// IdleStretches counts pauses of the workload; Quiesced counts nodes
	// going quiet; Detections the failures a host's failure detector
	// noticed (then calling Wake), and Wakes those that found the node
	// quiescent.
	IdleStretches, Quiesced, Detections, Wakes int
}

// simNode is one server: its core (nil while crashed), disk and state
// machine.
type simNode struct {
	id   raft.NodeID
	core Core
	// ticker drives core's clock when Scenario.Raft.Ticker is on; nil
	// otherwise (core.Tick is called).
	ticker  *raft.Ticker
	disk    *simDisk
	rep     *replica
	period  Time
	epoch   uint32 // incarnation; stale ticks and disk events carry an older one
	waiters []waiter
	last    raft.Status
	// Reads under way (volatile), and the highest read ID used since the
	// node last started (volatile too: a host's counter restarts with it).
	reads   []readWait
	maxRead uint64
	// latest is the last snapshot this node took (volatile); recv the
	// last snapshot data received, stored aside until the node persists it.
	latest, recv *smSnap
	// witness: the host runs this node as a witness: no state machine, no
	// clients, snapshots without data (thesis §11.7.2). stripped: its
	// witness role committed at some point, so its storage may hold
	// entries without payloads: it never becomes a data member.
	witness, stripped bool
}

// New prepares a run of scenario sc with seed.
func New(sc Scenario, seed uint64, opts Options) (*Sim, error) {
	if err := sc.Validate(); err != nil {
		return nil, err
	}
	sc.Schedule = append([]ScheduledFault(nil), sc.Schedule...)
	root := NewRand(seed)
	s := &Sim{
		sc: sc, seed: seed, opts: opts,
		chk:          newChecker(sc.totalNodes()),
		trace:        newTrace(opts.FullTrace),
		diskRng:      root.Stream("disk"),
		workRng:      root.Stream("workload"),
		crashRng:     root.Stream("crash"),
		partRng:      root.Stream("partition"),
		onewayRng:    root.Stream("oneway"),
		isolateRng:   root.Stream("isolate"),
		flapRng:      root.Stream("flap"),
		newLeaderRng: root.Stream("new-leader"),
		schedRng:     root.Stream("schedule"),
		compactRng:   root.Stream("compact"),
		snapRng:      root.Stream("snapshot"),
		memberRng:    root.Stream("membership"),
		transferRng:  root.Stream("transfer"),
		idleRng:      root.Stream("idle"),
		detectRng:    root.Stream("detect"),
		campaignRng:  root.Stream("campaign"),
		reconfRng:    root.Stream("reconfig"),
		faultsEnd:    Ticks(sc.Ticks),
	}
	if opts.FullTrace {
		s.logs = newLogView()
	}
	for _, inv := range opts.ignore {
		s.chk.ignore[inv] = true
	}
	s.chk.witnessInLog = func(id raft.NodeID) bool {
		f := s.nodes[id-1].feat()
		return f != nil && f.Membership().IsWitness(id)
	}
	s.net = newNetwork(sc.totalNodes(), sc.Network, root.Stream("network"))
	s.work = opts.Workload
	if s.work == nil {
		s.work = NewKVWorkload(sc.Workload)
	}
	s.model = s.work.Model()
	s.Stats.RecoveryTime = -1

	skew := root.Stream("skew")
	ids := s.initialVoters()
	for k := 1; k <= sc.totalNodes(); k++ {
		id := raft.NodeID(k)
		u := skew.Float64()*2 - 1
		period := Time(float64(Tick)*(1+sc.TickSkew*u) + 0.5)
		n := &simNode{id: id, disk: &simDisk{}, rep: newReplica(s.work.NewStateMachine()), period: max(1, period)}
		var node *raft.Node
		var err error
		cfg := s.nodeConfig(id, 0)
		switch {
		case k <= sc.Nodes && sc.Features.Witness:
			// Node Nodes is a witness from the start: every initial
			// server starts from the same configuration, which the host
			// stores itself (Bootstrap takes voters only).
			m := raft.Membership{Voters: ids, Witnesses: []raft.NodeID{raft.NodeID(sc.Nodes)}}
			n.disk.snap = raft.SnapshotMeta{Membership: m.Clone()}
			node, err = raft.NewNode(cfg, n.disk.State(0))
			if k == sc.Nodes {
				n.witness, n.rep.witness = true, true
				s.chk.setWitness(id, true, entryKey{})
				s.Stats.Witnesses++
			}
		case k <= sc.Nodes:
			node, err = raft.Bootstrap(cfg, ids)
		default:
			// A spare: outside the configuration, empty until added.
			node, err = raft.NewNode(cfg, raft.PersistentState{})
		}
		if err != nil {
			return nil, fmt.Errorf("raftsim: bootstrap node %d: %w", id, err)
		}
		n.core, n.ticker = s.wrap(id, node), cfg.Ticker
		s.nodes = append(s.nodes, n)
		s.push(event{at: Time(skew.Range(0, int64(n.period)-1)), kind: evTick, node: id})
	}
	s.clients = append(s.clients, &client{id: probeClient, rng: root.Stream("probe"), hist: -1})
	for i := 1; i <= sc.Workload.Clients; i++ {
		c := &client{id: i, rng: root.Stream("client/" + strconv.Itoa(i))}
		s.clients = append(s.clients, c)
		s.setTimer(c, Time(c.rng.Range(int64(sc.Workload.ThinkMin), int64(sc.Workload.ThinkMax))))
	}
	f := &sc.Faults
	if f.Crash > 0 || f.Partition > 0 || f.OneWay > 0 || f.Isolate > 0 || f.Flap > 0 || sc.Features.Membership > 0 || sc.Features.Transfer > 0 || sc.Features.Idle > 0 || sc.Features.Campaign > 0 {
		s.nemesisOn = true
		s.push(event{at: Tick, kind: evNemesis})
	}
	s.schedSeqBase = s.seq
	for k, sf := range sc.Schedule {
		if at := Ticks(sf.At); at < s.faultsEnd {
			s.push(event{at: at, kind: evScheduled, gen: uint64(k)})
		}
	}
	s.push(event{at: s.faultsEnd, kind: evEndFaults})
	for _, n := range s.nodes {
		s.drain(n) // the bootstrap persist
	}
	return s, nil
}

// initialVoters returns the IDs of the initial servers, 1..Nodes.
func (s *Sim) initialVoters() []raft.NodeID {
	ids := make([]raft.NodeID, s.sc.Nodes)
	for i := range ids {
		ids[i] = raft.NodeID(i + 1)
	}
	return ids
}

func (s *Sim) nodeConfig(id raft.NodeID, epoch uint32) raft.Config {
	c := s.sc.raftConfig(id, mix64(s.seed^uint64(id)<<40^uint64(epoch)))
	if s.sc.Raft.Ticker {
		// Each incarnation gets a Ticker of its own: nodes tick at
		// their own (skewed) pace here, so they cannot share one.
		c.Ticker = raft.NewTicker()
	}
	return c
}

func (s *Sim) wrap(id raft.NodeID, n *raft.Node) Core {
	if s.opts.WrapNode != nil {
		return s.opts.WrapNode(id, n)
	}
	return n
}

func (s *Sim) push(e event) {
	s.seq++
	e.seq = s.seq
	s.queue.push(e)
}

// pushScripted queues scripted fault k of the schedule with the sequence
// number a run that had it in its scenario from the start gives it.
func (s *Sim) pushScripted(k int) {
	e := event{at: Ticks(s.sc.Schedule[k].At), kind: evScheduled, gen: uint64(k), seq: s.schedSeqBase + uint64(k) + 1}
	s.queue.push(e)
}

func (s *Sim) record(e TraceEvent) {
	e.Step, e.Time = s.step, s.now
	s.trace.add(e)
}

// Run runs the scenario to the end, or to the first violation.
func (s *Sim) Run() *Result {
	for s.phase != phaseDone && s.chk.violation == nil && len(s.queue) > 0 {
		ev := s.queue.pop()
		s.now = ev.at
		s.step++
		s.chk.step, s.chk.now = s.step, s.now
		s.handleRecovering(&ev)
		if s.opts.afterStep != nil {
			s.opts.afterStep(s)
		}
		if s.phase == phaseHealing && s.probeDone && s.clientsIdle() {
			s.phase = phaseDone
		}
	}
	return s.finish()
}

// Run runs scenario sc with seed; see [Sim].
func Run(sc Scenario, seed uint64, opts Options) (*Result, error) {
	s, err := New(sc, seed, opts)
	if err != nil {
		return nil, err
	}
	return s.Run(), nil
}

func (s *Sim) clientsIdle() bool {
	for _, c := range s.clients[1:] {
		if c.busy {
			return false
		}
	}
	return true
}

func (s *Sim) handle(ev *event) {
	switch ev.kind {
	case evTick:
		n := s.nodes[ev.node-1]
		if n.core == nil || n.epoch != ev.epoch {
			return
		}
		s.rules().ticking = true
		if n.ticker != nil {
			n.ticker.Tick()
		} else {
			n.core.Tick()
		}
		s.Stats.NodeTicks++
		s.record(TraceEvent{Kind: TrTick, Node: n.id})
		s.drain(n)
		s.rules().ticking = false
		if s.phase == phaseFaulty && s.sc.Features.Compact > 0 && s.compactRng.Chance(s.sc.Features.Compact) {
			s.maybeCompact(n)
		}
		s.push(event{at: s.now + n.period, kind: evTick, node: n.id, epoch: n.epoch})
	case evDeliver:
		s.deliver(ev)
	case evDisk:
		n := s.nodes[ev.node-1]
		if n.core != nil && n.epoch == ev.epoch {
			s.diskDone(n)
		}
	case evClient:
		s.clientTimer(s.clients[ev.node], ev.gen)
	case evNemesis:
		s.nemesis()
	case evScheduled:
		s.scheduled(int(ev.gen))
	case evRestart:
		n := s.nodes[ev.node-1]
		if n.core == nil && n.epoch == ev.epoch && s.phase == phaseFaulty {
			s.restart(n)
		}
	case evNetHeal:
		if ev.gen == s.netGen && s.phase == phaseFaulty {
			s.net.healPartitions()
			s.record(TraceEvent{Kind: TrHeal, Text: "network fault over"})
		}
	case evEndFaults:
		s.endFaults()
	case evSnapshot:
		s.deliverSnapshot(ev)
	case evSnapshotReport:
		s.snapshotReport(ev)
	case evDetect:
		s.detected(ev)
	case evIdleEnd:
		if s.now >= s.idleUntil {
			s.record(TraceEvent{Kind: TrNote, Text: "workload resumes"})
		}
	case evDeadline:
		if !s.probeDone {
			s.chk.fail(Liveness, 0, "%s", s.livenessDetail())
		}
		s.phase = phaseDone
	}
}

func (s *Sim) deliver(ev *event) {
	m := &ev.msg
	n := s.nodes[m.To-1]
	switch {
	case !s.net.Up(m.From, m.To, s.now):
		s.Stats.Dropped++
		s.recordMsg(TrDrop, m, ev.msgID, "link down in flight")
		return
	case n.core == nil:
		s.Stats.Dropped++
		s.recordMsg(TrDrop, m, ev.msgID, "receiver down")
		return
	}
	s.Stats.Delivered++
	s.recordMsg(TrDeliver, m, ev.msgID, "")
	prev := n.last
	s.ruleBeforeStep(n, m)
	if err := n.core.Step(*m); err != nil {
		s.stepError(n, m, err)
	}
	s.drain(n)
	s.ruleAfterStep(n, m, &prev)
}

func (s *Sim) stepError(n *simNode, m *raft.Message, err error) {
	if m.Type == raft.MsgProp && (errors.Is(err, raft.ErrNotLeader) || errors.Is(err, raft.ErrProposalDropped)) {
		// A forwarded proposal reached a node that is no longer leader
		// (or is full): the client will time out and retry.
		s.Stats.RefusedForwards++
		s.record(TraceEvent{Kind: TrStepErr, Node: n.id, Peer: m.From, Text: "forwarded proposal refused: " + err.Error()})
		return
	}
	if f := n.feat(); f != nil && errors.Is(err, raft.ErrUnknownPeer) && (!isMember(f.Membership(), m.From) || !isVoter(f.Membership(), m.From)) {
		// A server outside the receiver's configuration (removed, or
		// not yet added as far as the receiver knows), or a vote from a
		// non-voter: refused, rightly.
		s.Stats.RefusedForwards++
		s.record(TraceEvent{Kind: TrStepErr, Node: n.id, Peer: m.From, Text: "from a non-member: " + err.Error()})
		return
	}
	s.record(TraceEvent{Kind: TrStepErr, Node: n.id, Peer: m.From, Text: err.Error()})
	s.chk.fail(Protocol, n.id, "node %d rejected %s from node %d, a correct peer: %v", n.id, m.Type, m.From, err)
}

func (s *Sim) recordMsg(k TraceKind, m *raft.Message, id uint64, text string) {
	s.record(TraceEvent{
		Kind: k, Node: m.From, Peer: m.To, Msg: m.Type, Term: m.Term, LogTerm: m.LogTerm,
		Index: m.Index, Commit: m.Commit, N: len(m.Entries), Reject: m.Reject, Aux: id, Text: text,
	})
}

// drain carries out every action node n has, until it has none, then
// checks its state.
func (s *Sim) drain(n *simNode) {
	for n.core != nil {
		acts := n.core.Actions()
		if len(acts) == 0 {
			break
		}
		var st raft.Status
		for i := range acts {
			a := &acts[i]
			switch a.Kind {
			case raft.ActionPersist:
				if st.ID == 0 {
					st = n.core.Status()
				}
				s.persist(n, &st, &a.Persist)
			case raft.ActionSend:
				s.send(n, &a.Message)
			case raft.ActionApply:
				if a.Apply.Snapshot != nil {
					s.applySnapshot(n, a.Apply.Snapshot)
					continue
				}
				s.apply(n, a.Apply.Entries)
			case raft.ActionSendSnapshot:
				s.sendSnapshot(n, &a.Message)
			case raft.ActionReadReady:
				s.readReady(n, &a.Read)
			case raft.ActionReadFailed:
				s.readFailed(n, &a.Read)
			default:
				s.chk.fail(Protocol, n.id, "node %d emitted an action of unknown kind %v", n.id, a.Kind)
			}
		}
	}
	if n.core != nil {
		s.observe(n)
	}
}

func (s *Sim) persist(n *simNode, st *raft.Status, p *raft.Persist) {
	s.Stats.Persists++
	s.chk.onPersist(n.id, st, p)
	s.ruleOnPersist(n, st, p)
	s.record(persistEvent(TrPersist, n.id, p))
	s.logs.persisted(s.now, n.id, p, false)
	var data *smSnap
	if p.Snapshot != nil && p.Snapshot.Index > 0 {
		// A snapshot received from the leader: its data arrived first.
		if data = n.snapFor(p.Snapshot); data == nil && !(n.witness && s.chk.witnessCommitted(n.id)) {
			// (A witness is sent the metadata alone.)
			s.chk.fail(Protocol, n.id, "node %d persists snapshot %d/%d, whose data it never received", n.id, p.Snapshot.Index, p.Snapshot.Term)
			return
		}
	}
	if s.sc.Disk.Sync {
		s.writeDurable(n, p, data)
		if err := n.core.AckPersist(p.ID); err != nil {
			s.chk.fail(Protocol, n.id, "node %d refused the acknowledgement of persist %d: %v", n.id, p.ID, err)
		}
		return
	}
	due := n.disk.enqueue(*p, data, s.now+Time(s.diskRng.Range(int64(s.sc.Disk.DelayMin), int64(s.sc.Disk.DelayMax))))
	s.push(event{at: due, kind: evDisk, node: n.id, epoch: n.epoch})
	if s.opts.lyingDisk {
		if err := n.core.AckPersist(p.ID); err != nil {
			s.chk.fail(Protocol, n.id, "node %d refused the acknowledgement of persist %d: %v", n.id, p.ID, err)
		}
	}
}

func persistEvent(k TraceKind, id raft.NodeID, p *raft.Persist) TraceEvent {
	e := TraceEvent{Kind: k, Node: id, Aux: p.ID, N: len(p.Entries)}
	if p.Sync {
		e.Flags |= FlagSync
	}
	if p.HasHardState {
		e.Flags |= FlagHardState
		e.Term, e.Leader, e.Commit = p.HardState.Term, p.HardState.Vote, p.HardState.Commit
	}
	if len(p.Entries) > 0 {
		e.Index, e.LogTerm = p.Entries[0].Index, p.Entries[len(p.Entries)-1].Term
	}
	if p.Snapshot != nil {
		e.Flags |= FlagSnapshot
		e.Aux2 = uint64(p.Snapshot.Index)
	}
	return e
}

// writeDurable makes p durable on n's disk.
func (s *Sim) writeDurable(n *simNode, p *raft.Persist, data *smSnap) {
	before := n.disk.HardState()
	if len(p.Entries) > 0 {
		// Entries the write deletes from the disk (overwritten).
		last := n.disk.LastIndex()
		for i := max(p.Entries[0].Index, n.disk.snap.Index+1); i <= last; i++ {
			n.chkLost(s, i)
		}
	}
	if err := n.disk.write(p, data); err != nil {
		s.chk.fail(Protocol, n.id, "node %d: %v", n.id, err)
		return
	}
	s.Stats.DiskWrites++
	s.chk.onDurable(n.id, before, n.disk, p)
	s.record(persistEvent(TrDurable, n.id, p))
	s.logs.persisted(s.now, n.id, p, true)
}

// diskDone completes node n's due writes, one at a time, acknowledging
// each before the next is written (so a message the node releases on an
// acknowledgement leaves while the disk holds exactly that write).
func (s *Sim) diskDone(n *simNode) {
	for n.core != nil && s.chk.violation == nil {
		w, ok := n.disk.nextDue(s.now)
		if !ok {
			return
		}
		id := w.p.ID
		s.writeDurable(n, &w.p, w.data)
		n.disk.popDue()
		if err := n.core.AckPersist(id); err != nil {
			s.chk.fail(Protocol, n.id, "node %d refused the acknowledgement of persist %d: %v", n.id, id, err)
		}
		s.drain(n)
	}
}

func (s *Sim) send(n *simNode, m *raft.Message) {
	s.chk.onSend(n.id, m, n.disk)
	s.ruleOnSend(n, m)
	s.msgID++
	s.Stats.Sent++
	if m.To == n.id || m.To < 1 || int(m.To) > len(s.nodes) {
		s.chk.fail(Protocol, n.id, "node %d sent %s to unknown node %d", n.id, m.Type, m.To)
		return
	}
	if why := s.net.dropReason(m.From, m.To, s.now); why != "" {
		s.Stats.Dropped++
		s.recordMsg(TrDrop, m, s.msgID, why)
		return
	}
	at, copies, _ := s.net.arrivals(m.From, m.To, s.now)
	s.recordMsg(TrSend, m, s.msgID, "")
	for c := 0; c < copies; c++ {
		s.push(event{at: at[c], kind: evDeliver, msg: *m, msgID: s.msgID, sentAt: s.now})
	}
}

func (s *Sim) apply(n *simNode, ents []raft.Entry) {
	if len(ents) == 0 {
		return
	}
	for i := range ents {
		e := &ents[i]
		s.chk.onApply(n.id, e, n.disk)
		op := n.rep.apply(e)
		s.onApplied(n, e, op)
	}
	s.serveReads(n)
	s.Stats.Applied += len(ents)
	s.record(TraceEvent{Kind: TrApply, Node: n.id, Index: ents[len(ents)-1].Index, N: len(ents)})
	s.logs.add(s.now, n.id, "a", ents[len(ents)-1].Index, 0, nil)
}

// observe checks node n's state at the end of a step and traces changes.
func (s *Sim) observe(n *simNode) {
	st := n.core.Status()
	s.chk.onStatus(n.id, &st)
	s.ruleOnObserve(n, &st)
	if st.Role != n.last.Role || st.Term != n.last.Term || st.Leader != n.last.Leader {
		s.record(TraceEvent{Kind: TrRole, Node: n.id, Role: st.Role, Term: st.Term, Leader: st.Leader})
		if st.Role == raft.RoleLeader && s.phase == phaseFaulty && len(s.nodes) > 1 && s.newLeaderRng.Chance(s.sc.Faults.IsolateNewLeader) {
			s.Stats.Isolations++
			s.netFault(isolateCuts(n.id, len(s.nodes)), s.faultTicks(s.newLeaderRng), fmt.Sprintf("isolate n%d, just elected leader of term %d", n.id, st.Term))
		}
	}
	if st.Quiescent && !n.last.Quiescent {
		s.Stats.Quiesced++
		s.record(TraceEvent{Kind: TrNote, Node: n.id, Text: "quiescent"})
	}
	if st.Role == raft.RoleLeader {
		s.logs.leaderProgress(s.now, n.id, n.core)
	}
	if st.Commit > n.last.Commit {
		s.record(TraceEvent{Kind: TrCommit, Node: n.id, Index: st.Commit, Term: st.Term})
		s.logs.add(s.now, n.id, "c", st.Commit, 0, nil)
		if st.Role == raft.RoleLeader {
			s.checkCommitQuorum(n, &st)
		}
	}
	n.last = st
	s.Stats.MaxTerm = max(s.Stats.MaxTerm, st.Term)
	s.Stats.MaxCommit = max(s.Stats.MaxCommit, st.Commit)
}

func (n *simNode) chkLost(s *Sim, i raft.Index) {
	if t, ok := n.disk.Term(i); ok {
		s.chk.onDurableLost(n.id, entryKey{i, t})
	}
}

// leader returns the up node that believes it leads the highest term.
func (s *Sim) leader() *simNode {
	var best *simNode
	for _, n := range s.nodes {
		if n.core != nil && n.last.Role == raft.RoleLeader && (best == nil || n.last.Term > best.last.Term) {
			best = n
		}
	}
	return best
}

func (s *Sim) down() int {
	d := 0
	for _, n := range s.nodes {
		if n.core == nil {
			d++
		}
	}
	return d
}

// crash stops node n: its volatile state is gone, and so are the writes
// its disk had not completed (but a prefix of them, with PartialLoss).
func (s *Sim) crash(n *simNode, why string) {
	if n.core == nil {
		return
	}
	survive := 0
	if pend := n.disk.Pending(); pend > 0 && s.sc.Disk.PartialLoss {
		survive = s.diskRng.Intn(pend + 1)
	}
	lostBefore := n.disk.Lost
	kept := n.disk.crash(survive)
	lost := n.disk.Lost - lostBefore
	for i := range kept {
		s.writeDurable(n, &kept[i].p, kept[i].data)
	}
	n.core, n.rep, n.waiters = nil, nil, nil
	n.reads, n.latest, n.recv = nil, nil, nil
	n.maxRead = 0
	n.epoch++
	n.last = raft.Status{}
	s.chk.onCrash(n.id)
	s.detectLater(n.id, n.epoch, 0)
	s.Stats.Crashes++
	s.Stats.SurvivedWrites += len(kept)
	s.Stats.LostWrites += lost
	s.record(TraceEvent{Kind: TrCrash, Node: n.id, N: lost, Aux: uint64(len(kept)), Text: why})
	s.logs.add(s.now, n.id, "x", 0, 0, nil)
}

// restart rebuilds node n from its disk: a new state machine with the
// durable committed entries replayed into it, and raft.NewNode from the
// durable state with that applied index.
func (s *Sim) restart(n *simNode) {
	if n.core != nil {
		return
	}
	st := n.disk.State(0)
	s.chk.onRestart(n.id, &st)
	rep := newReplica(s.work.NewStateMachine())
	rep.witness = n.witness
	switch {
	case st.Snapshot.Index > 0 && n.witness:
		// A witness's snapshot has no data; it has no state machine.
		rep.applied = st.Snapshot.Index
	case st.Snapshot.Index > 0:
		if n.disk.snapData == nil || n.disk.snapData.index != st.Snapshot.Index {
			s.chk.fail(Durability, n.id, "node %d cannot restart: no snapshot data for its durable snapshot at %d", n.id, st.Snapshot.Index)
			return
		}
		rep = restoreReplica(s.work.NewStateMachine(), n.disk.snapData)
	}
	commit := max(st.HardState.Commit, st.Snapshot.Index)
	if commit > n.disk.LastIndex() {
		s.chk.fail(Durability, n.id, "node %d cannot restart: durable commit %d beyond durable log end %d", n.id, commit, n.disk.LastIndex())
		return
	}
	for i := st.Snapshot.Index + 1; i <= commit; i++ {
		e := n.disk.Entry(i)
		s.chk.onApply(n.id, e, n.disk)
		rep.apply(e)
	}
	st.Applied = commit
	var node *raft.Node
	var err error
	cfg := s.nodeConfig(n.id, n.epoch)
	if int(n.id) <= s.sc.Nodes && n.disk.Writes == 0 && len(n.disk.snap.Membership.Voters) == 0 {
		// An initial server whose bootstrap write never reached its disk
		// has never run, as far as anyone can tell (nothing it sent
		// promised anything before that write): its host bootstraps it
		// again. (With Features.Witness the host wrote the initial
		// configuration itself, so it is there.)
		node, err = raft.Bootstrap(cfg, s.initialVoters())
	} else {
		node, err = raft.NewNode(cfg, st)
	}
	if err != nil {
		s.chk.fail(Protocol, n.id, "node %d cannot restart from its own durable state: %v", n.id, err)
		return
	}
	n.core, n.rep, n.ticker = s.wrap(n.id, node), rep, cfg.Ticker
	s.ruleRestarted(n)
	s.Stats.Restarts++
	s.record(TraceEvent{Kind: TrRestart, Node: n.id, Term: st.HardState.Term, Commit: commit, Index: n.disk.LastIndex()})
	s.drain(n)
	s.push(event{at: s.now + n.period, kind: evTick, node: n.id, epoch: n.epoch})
}

// endFaults ends the faulty phase: every fault is healed, and the
// liveness probe starts.
func (s *Sim) endFaults() {
	s.phase = phaseHealing
	s.healAt = s.now
	s.netGen++
	s.net.healAll()
	s.record(TraceEvent{Kind: TrHeal, Text: "end of the faulty phase: every fault healed"})
	for _, n := range s.nodes {
		s.restart(n)
	}
	s.shutDownLeavers()
	p := s.clients[probeClient]
	p.seq++
	p.op, p.busy = Op{}, true
	s.traceClient(TrInvoke, p, 0, "liveness probe")
	s.attempt(p, s.pickNode(p))
	s.push(event{at: s.now + Ticks(s.sc.LivenessTicks), kind: evDeadline})
}

func (s *Sim) livenessDetail() string {
	l := s.leader()
	who := "no leader"
	if l != nil {
		who = fmt.Sprintf("node %d leads term %d, commit %d", l.id, l.last.Term, l.last.Commit)
	}
	return fmt.Sprintf("no new proposal committed within %d ticks after every fault was healed (%s)", s.sc.LivenessTicks, who)
}
