package raftsim

import (
	"encoding/json"
	"fmt"
	"strconv"
	"strings"

	"github.com/pureraft/raft"
)

// Live runs a simulation under outside control, a tick at a time: the
// playground's clicks (cmd/raftsim -playground), or any program that wants
// to inject faults by hand while watching. Every check runs after every
// step, as in Run, so a violation shows the moment it happens.
//
// Each action takes effect at the start of the next whole tick and is
// recorded in the scenario's Schedule, so that Run with the scenario
// Live.Scenario returns and the same seed replays the session exactly,
// and ReplayCommand gives the command line for it.
type Live struct {
	s *Sim
	// pending actions wait for the next whole tick.
	pending []ScheduledFault
}

// NewLive starts a live run of sc with seed. The scenario's faulty phase
// is stretched to the limit of a session (liveTicks): a live run ends when
// the user stops watching, not at sc.Ticks.
func NewLive(sc Scenario, seed uint64) (*Live, error) {
	sc.Ticks = liveTicks
	s, err := New(sc, seed, Options{FullTrace: true, SkipLinearizability: true})
	if err != nil {
		return nil, err
	}
	return &Live{s: s}, nil
}

// liveTicks bounds a live session (about three hours at ten ticks per
// second).
const liveTicks = 100_000

// Now is the simulated time.
func (l *Live) Now() Time { return l.s.now }

// Violation is the first invariant broken so far, or nil.
func (l *Live) Violation() *Violation { return l.s.chk.violation }

// Advance runs the simulation until ticks more have passed, or until a
// violation stops it.
func (l *Live) Advance(ticks float64) {
	s := l.s
	until := s.now + Time(ticks*float64(Tick))
	for s.chk.violation == nil && len(s.queue) > 0 {
		// Actions start at a whole tick, tick 2 at the earliest: before
		// that, events queued at the start could sort after them in a
		// replay.
		next := max((s.now/Tick+1)*Tick, Ticks(2))
		if len(l.pending) > 0 && s.queue.peek().at >= next && next <= until {
			l.apply(int(next / Tick))
			continue
		}
		if s.queue.peek().at > until {
			break
		}
		ev := s.queue.pop()
		s.now = ev.at
		s.step++
		s.chk.step, s.chk.now = s.step, s.now
		s.handleRecovering(&ev)
	}
	s.now = max(s.now, until)
}

// apply schedules the pending actions at tick at, in the scenario's
// Schedule, exactly as New schedules a scenario's faults.
func (l *Live) apply(at int) {
	s := l.s
	for _, f := range l.pending {
		f.At = at
		s.sc.Schedule = append(s.sc.Schedule, f)
		s.pushScripted(len(s.sc.Schedule) - 1)
	}
	l.pending = l.pending[:0]
	s.now = Ticks(at)
}

// Do asks for a fault on node id (0: the leader, for the kinds that take a
// target) at the start of the next tick: crash, restart, isolate, heal,
// campaign (its election timer runs out) or propose. duration, in ticks,
// bounds a crash or an isolation (0: until undone).
func (l *Live) Do(kind FaultKind, id raft.NodeID, duration int) error {
	if kind < FaultCrash || kind > FaultPropose {
		return fmt.Errorf("raftsim: unknown action %d", kind)
	}
	if int(id) > len(l.s.nodes) {
		return fmt.Errorf("raftsim: no node %d", id)
	}
	// Node 0 means the leader for the faults aimed at one node; for a
	// restart it means every node that is down.
	leader := id == 0 && kind != FaultHeal && kind != FaultRestart
	l.pending = append(l.pending, ScheduledFault{Kind: kind, Node: id, Leader: leader, Duration: duration})
	return nil
}

// Scenario is the scenario the session replays as: the one started, with
// every action taken so far in its Schedule.
func (l *Live) Scenario() Scenario {
	sc := l.s.sc
	sc.Ticks = int(l.s.now/Tick) + 2 // past the last action's tick
	sc.Schedule = append([]ScheduledFault(nil), sc.Schedule...)
	return sc
}

// ReplayCommand is the command line that replays the session so far.
func (l *Live) ReplayCommand() string { return l.Scenario().ReplayCommand(l.s.seed) }

// Snapshot is the run so far, as a Result (linearizability is checked only
// at the end of a run, not here).
func (l *Live) Snapshot() *Result { return l.s.snapshot() }

// forceCampaign makes node n start an election now, as a scripted fault.
func (s *Sim) forceCampaign(n *simNode) {
	f := n.feat()
	if f == nil {
		return
	}
	if err := f.Campaign(); err != nil {
		s.record(TraceEvent{Kind: TrNote, Node: n.id, Text: "scripted campaign refused: " + err.Error()})
	} else {
		s.Stats.Campaigns++
		s.record(TraceEvent{Kind: TrNote, Node: n.id, Text: "scripted campaign: election timer ran out"})
	}
	s.drain(n)
}

// proposeOwn has node n propose an entry outside the client workload: a
// probe envelope, which no state machine applies, so the clients' history
// is unchanged.
func (s *Sim) proposeOwn(n *simNode) {
	s.ownProposals++
	idx, term, err := n.core.Propose(encodeEnvelope(probeClient, 1<<40+s.ownProposals, nil))
	if err != nil {
		s.record(TraceEvent{Kind: TrNote, Node: n.id, Text: "scripted proposal refused: " + err.Error()})
	} else {
		s.record(TraceEvent{Kind: TrNote, Node: n.id, Index: idx, Term: term, Text: fmt.Sprintf("scripted proposal at %d (term %d)", idx, term)})
	}
	s.drain(n)
}

// FormatSchedule writes a schedule as the -schedule flag takes it: faults
// separated by commas, each "AT:KIND[:NODE][:DURATION][:EVERY]" with NODE
// a node ID, "leader" or "any".
func FormatSchedule(fs []ScheduledFault) string {
	parts := make([]string, len(fs))
	for i, f := range fs {
		node := "any"
		switch {
		case f.Leader:
			node = "leader"
		case f.Node != 0:
			node = strconv.Itoa(int(f.Node))
		}
		parts[i] = fmt.Sprintf("%d:%s:%s:%d:%d", f.At, f.Kind, node, f.Duration, f.Every)
	}
	return strings.Join(parts, ",")
}

// ParseSchedule reads a schedule written by FormatSchedule; DURATION and
// EVERY may be left out (0).
func ParseSchedule(s string) ([]ScheduledFault, error) {
	if s == "" {
		return nil, nil
	}
	var out []ScheduledFault
	for _, part := range strings.Split(s, ",") {
		fields := strings.Split(part, ":")
		if len(fields) < 2 || len(fields) > 5 {
			return nil, fmt.Errorf("raftsim: schedule entry %q: want AT:KIND[:NODE][:DURATION][:EVERY]", part)
		}
		var f ScheduledFault
		var err error
		if f.At, err = strconv.Atoi(fields[0]); err != nil || f.At < 0 {
			return nil, fmt.Errorf("raftsim: schedule entry %q: bad tick %q", part, fields[0])
		}
		for k := FaultCrash; k <= FaultPropose; k++ {
			if k.String() == fields[1] {
				f.Kind = k
			}
		}
		if f.Kind == 0 {
			return nil, fmt.Errorf("raftsim: schedule entry %q: unknown fault %q", part, fields[1])
		}
		if len(fields) > 2 {
			switch fields[2] {
			case "leader":
				f.Leader = true
			case "any":
			default:
				n, err := strconv.Atoi(fields[2])
				if err != nil || n < 1 || n > 9 {
					return nil, fmt.Errorf("raftsim: schedule entry %q: bad node %q", part, fields[2])
				}
				f.Node = raft.NodeID(n)
			}
		}
		for i, dst := range []*int{&f.Duration, &f.Every} {
			if len(fields) > 3+i {
				if *dst, err = strconv.Atoi(fields[3+i]); err != nil || *dst < 0 {
					return nil, fmt.Errorf("raftsim: schedule entry %q: bad number %q", part, fields[3+i])
				}
			}
		}
		out = append(out, f)
	}
	return out, nil
}

// scheduleFlag is the -schedule flag: the scripted faults, so that a
// replay line carries a scenario's schedule (a playground session's clicks
// among them).
func scheduleFlag() scenarioFlag {
	return scenarioFlag{"schedule", "scripted faults: AT:KIND[:NODE][:DURATION][:EVERY],... (kinds: crash restart isolate leader-minority partition one-way heal campaign propose; NODE: an ID, leader or any); false or empty: none; true: the scenario's own",
		func(s *Scenario) string {
			if len(s.Schedule) == 0 {
				return "false"
			}
			return FormatSchedule(s.Schedule)
		},
		func(s *Scenario, v string) error {
			switch v {
			case "true":
				return nil
			case "false":
				s.Schedule = nil
				return nil
			}
			fs, err := ParseSchedule(v)
			if err == nil {
				s.Schedule = fs
			}
			return err
		}, false}
}

// TimelineJSON is the data the HTML timeline draws (see WriteHTML), for
// the run so far, with the replay line of the session. Messages, events
// and client operations older than ticks before now are left out, so that
// a long session stays cheap to redraw; roles, faults and the log view's
// data are whole.
func (l *Live) TimelineJSON(ticks int) ([]byte, error) {
	tl := buildTimeline(l.Snapshot())
	tl.Replay = l.ReplayCommand()
	tl.Live = true
	since := l.s.now - Ticks(ticks)
	tl.Msgs = keepSince(tl.Msgs, 2, since)
	tl.Events = keepSince(tl.Events, 0, since)
	tl.Ops = keepSince(tl.Ops, 1, since)
	return json.Marshal(tl)
}

// keepSince keeps the rows whose time column is at or after since (or,
// for operations, that have not ended before it).
func keepSince(rows [][]any, col int, since Time) [][]any {
	out := rows[:0]
	for _, r := range rows {
		t, ok := r[col].(Time)
		if !ok || t >= since || (col == 1 && len(r) > 2 && (r[2].(Time) < 0 || r[2].(Time) >= since)) {
			out = append(out, r)
		}
	}
	return out
}
