package raftsim

import (
	"fmt"
	"strings"

	"github.com/pureraft/raft"
)

// This file is the fault injector ("nemesis"): random faults at the rates
// of Scenario.Faults, drawn every nominal tick, each kind from its own
// random stream, and the scripted faults of Scenario.Schedule.

func (s *Sim) nemesis() {
	if s.phase != phaseFaulty {
		return
	}
	f := &s.sc.Faults
	s.maybeIdle()
	if s.sc.Features.Membership > 0 && s.memberRng.Chance(s.sc.Features.Membership) {
		s.changeMembership()
	}
	if s.sc.Features.SelfRemoval > 0 && s.reconfRng.Chance(s.sc.Features.SelfRemoval) {
		s.removeLeader()
	}
	if s.sc.Features.Transfer > 0 && s.transferRng.Chance(s.sc.Features.Transfer) {
		s.transferLeadership()
	}
	if s.sc.Features.Campaign > 0 && s.campaignRng.Chance(s.sc.Features.Campaign) {
		s.campaign()
	}
	if s.crashRng.Chance(f.Crash) && s.down() < s.sc.maxDown() {
		if n := s.pickTarget(s.crashRng, f.LeaderBias); n != nil {
			s.crash(n, "random crash")
			s.scheduleRestart(n, int(s.crashRng.Range(int64(f.DownMin), int64(f.DownMax))))
		}
	}
	if s.partRng.Chance(f.Partition) {
		a, b := s.randomSplit(s.partRng)
		s.Stats.Partitions++
		s.netFault(splitCuts(a, b), s.faultTicks(s.partRng), "partition "+groupString(a)+" | "+groupString(b))
	}
	if s.onewayRng.Chance(f.OneWay) && len(s.nodes) > 1 {
		k := 1 + s.onewayRng.Intn(len(s.nodes))
		var cuts [][2]raft.NodeID
		for range k {
			from := raft.NodeID(1 + s.onewayRng.Intn(len(s.nodes)))
			to := raft.NodeID(1 + s.onewayRng.Intn(len(s.nodes)-1))
			if to >= from {
				to++
			}
			cuts = append(cuts, [2]raft.NodeID{from, to})
		}
		s.Stats.OneWay++
		s.netFault(cuts, s.faultTicks(s.onewayRng), "one-way cuts "+cutsString(cuts))
	}
	if s.isolateRng.Chance(f.Isolate) && len(s.nodes) > 1 {
		if n := s.pickTarget(s.isolateRng, f.LeaderBias); n != nil {
			s.Stats.Isolations++
			s.netFault(isolateCuts(n.id, len(s.nodes)), s.faultTicks(s.isolateRng), fmt.Sprintf("isolate n%d", n.id))
		}
	}
	if s.flapRng.Chance(f.Flap) && len(s.nodes) > 1 {
		from := raft.NodeID(1 + s.flapRng.Intn(len(s.nodes)))
		to := raft.NodeID(1 + s.flapRng.Intn(len(s.nodes)-1))
		if to >= from {
			to++
		}
		ticks := int(s.flapRng.Range(int64(f.FlapMin), int64(f.FlapMax)))
		s.net.flap(from, to, s.now+Ticks(ticks))
		s.detectCuts([][2]raft.NodeID{{from, to}}, 1)
		s.Stats.Flaps++
		s.record(TraceEvent{Kind: TrFault, Node: from, Peer: to, Aux: uint64(ticks), Text: fmt.Sprintf("link %d->%d down for %d ticks", from, to, ticks)})
	}
	if next := s.now + Tick; next < s.faultsEnd {
		s.push(event{at: next, kind: evNemesis})
	}
}

func (s *Sim) faultTicks(r *Rand) int {
	return int(r.Range(int64(s.sc.Faults.FaultMin), int64(s.sc.Faults.FaultMax)))
}

// pickTarget picks the leader with probability bias (if there is one),
// otherwise a random node that is up; nil if none is.
func (s *Sim) pickTarget(r *Rand, bias float64) *simNode {
	if r.Chance(bias) {
		if l := s.leader(); l != nil {
			return l
		}
	}
	var up []*simNode
	for _, n := range s.nodes {
		if n.core != nil {
			up = append(up, n)
		}
	}
	if len(up) == 0 {
		return nil
	}
	return up[r.Intn(len(up))]
}

func (s *Sim) scheduleRestart(n *simNode, ticks int) {
	s.push(event{at: s.now + Ticks(max(ticks, 1)), kind: evRestart, node: n.id, epoch: n.epoch})
}

// netFault replaces the current network fault by cuts, for ticks (0: until
// a later fault or the final healing).
func (s *Sim) netFault(cuts [][2]raft.NodeID, ticks int, text string) {
	s.netGen++
	s.net.healPartitions()
	for _, c := range cuts {
		s.net.setCut(c[0], c[1], true)
	}
	s.detectCuts(cuts, s.netGen)
	s.record(TraceEvent{Kind: TrFault, Text: text})
	if ticks > 0 {
		s.push(event{at: s.now + Ticks(ticks), kind: evNetHeal, gen: s.netGen})
	}
}

// randomSplit splits the nodes in two non-empty random groups.
func (s *Sim) randomSplit(r *Rand) (a, b []raft.NodeID) {
	ids := make([]raft.NodeID, len(s.nodes))
	for i := range ids {
		ids[i] = raft.NodeID(i + 1)
	}
	if len(ids) < 2 {
		return ids, nil
	}
	shuffle(r, ids)
	k := 1 + r.Intn(len(ids)-1)
	return ids[:k], ids[k:]
}

func splitCuts(a, b []raft.NodeID) [][2]raft.NodeID {
	var cuts [][2]raft.NodeID
	for _, x := range a {
		for _, y := range b {
			cuts = append(cuts, [2]raft.NodeID{x, y}, [2]raft.NodeID{y, x})
		}
	}
	return cuts
}

func isolateCuts(id raft.NodeID, n int) [][2]raft.NodeID {
	var cuts [][2]raft.NodeID
	for o := 1; o <= n; o++ {
		if raft.NodeID(o) != id {
			cuts = append(cuts, [2]raft.NodeID{id, raft.NodeID(o)}, [2]raft.NodeID{raft.NodeID(o), id})
		}
	}
	return cuts
}

func groupString(g []raft.NodeID) string {
	parts := make([]string, len(g))
	for i, id := range g {
		parts[i] = fmt.Sprint(id)
	}
	return "{" + strings.Join(parts, ",") + "}"
}

func cutsString(cuts [][2]raft.NodeID) string {
	parts := make([]string, len(cuts))
	for i, c := range cuts {
		parts[i] = fmt.Sprintf("%d->%d", c[0], c[1])
	}
	return strings.Join(parts, " ")
}

// scheduled applies scripted fault k.
func (s *Sim) scheduled(k int) {
	if s.phase != phaseFaulty {
		return
	}
	sf := s.sc.Schedule[k]
	if sf.Every > 0 {
		if next := s.now + Ticks(sf.Every); next < s.faultsEnd {
			s.push(event{at: next, kind: evScheduled, gen: uint64(k)})
		}
	}
	var target *simNode
	switch {
	case sf.Leader:
		target = s.leader()
		if target == nil {
			s.record(TraceEvent{Kind: TrNote, Text: fmt.Sprintf("scripted %s skipped: no leader", sf.Kind)})
			return
		}
	case sf.Node != 0:
		target = s.nodes[sf.Node-1]
	default:
		target = s.pickTarget(s.schedRng, 0)
	}
	n := len(s.nodes)
	switch sf.Kind {
	case FaultCrash:
		if target != nil && target.core != nil {
			s.crash(target, "scripted crash")
			if sf.Duration > 0 {
				s.scheduleRestart(target, sf.Duration)
			}
		}
	case FaultRestart:
		if sf.Leader || sf.Node == 0 {
			for _, x := range s.nodes {
				s.restart(x)
			}
		} else {
			s.restart(target)
		}
	case FaultIsolate:
		if target != nil {
			s.Stats.Isolations++
			s.netFault(isolateCuts(target.id, n), sf.Duration, fmt.Sprintf("isolate n%d", target.id))
		}
	case FaultLeaderMinority:
		l := s.leader()
		if l == nil {
			s.record(TraceEvent{Kind: TrNote, Text: "scripted leader-minority skipped: no leader"})
			return
		}
		others := make([]raft.NodeID, 0, n-1)
		for i := 1; i <= n; i++ {
			if raft.NodeID(i) != l.id {
				others = append(others, raft.NodeID(i))
			}
		}
		shuffle(s.schedRng, others)
		size := max(1, (n-1)/2) // the leader and size-1 followers
		minority := append([]raft.NodeID{l.id}, others[:size-1]...)
		s.Stats.Partitions++
		s.netFault(splitCuts(minority, others[size-1:]), sf.Duration,
			"leader minority "+groupString(minority)+" | "+groupString(others[size-1:]))
	case FaultPartition:
		a, b := s.randomSplit(s.schedRng)
		s.Stats.Partitions++
		s.netFault(splitCuts(a, b), sf.Duration, "partition "+groupString(a)+" | "+groupString(b))
	case FaultOneWay:
		if target != nil {
			var cuts [][2]raft.NodeID
			for o := 1; o <= n; o++ {
				if raft.NodeID(o) != target.id {
					cuts = append(cuts, [2]raft.NodeID{target.id, raft.NodeID(o)})
				}
			}
			s.Stats.OneWay++
			s.netFault(cuts, sf.Duration, fmt.Sprintf("n%d cannot send", target.id))
		}
	case FaultHeal:
		s.netGen++
		s.net.healPartitions()
		s.record(TraceEvent{Kind: TrHeal, Text: "scripted heal"})
	case FaultCampaign:
		if target != nil && target.core != nil {
			s.forceCampaign(target)
		}
	case FaultPropose:
		if target != nil && target.core != nil {
			s.proposeOwn(target)
		}
	}
}

// removeLeader has the leader propose its own removal (Features.SelfRemoval):
// removed outright, demoted to learner, or replaced by a learner or an
// outside server through a joint configuration. Until the change commits
// it manages a configuration that does not count it (thesis §4.2.2).
func (s *Sim) removeLeader() {
	l := s.leader()
	if l == nil || l.feat() == nil {
		return
	}
	f, r := l.feat(), s.reconfRng
	m := f.Membership()
	if m.IsJoint() || len(m.Voters)-len(m.Witnesses) < 2 || len(m.Voters) <= max(1, s.sc.Nodes-1) {
		return // keep a data voter to lead, and a cluster as large as the others keep it
	}
	var ch []raft.MembershipChange
	joint := false
	switch r.Intn(3) {
	case 0:
		ch = []raft.MembershipChange{{Type: raft.RemoveMember, Node: l.id}}
	case 1:
		ch = []raft.MembershipChange{{Type: raft.AddLearner, Node: l.id}}
	default:
		// A replacement that holds data: a learner, or a server outside
		// the configuration that was never a witness.
		var cand []raft.NodeID
		cand = append(cand, m.Learners...)
		for _, n := range s.nodes {
			if !isMember(m, n.id) && !n.witness {
				cand = append(cand, n.id)
			}
		}
		if len(cand) == 0 {
			return
		}
		ch = []raft.MembershipChange{{Type: raft.RemoveMember, Node: l.id}, {Type: raft.AddVoter, Node: cand[r.Intn(len(cand))]}}
		joint = true
	}
	autoLeave := r.Intn(4) != 0
	s.proposeChange(l, f, fmt.Sprint("self-removal ", ch), ch, joint, autoLeave)
}

// changeFault: right after leader l proposed a membership change, with
// probability Features.ChangeFault, l crashes (its entry may be in flight
// to some servers, and not yet on its own disk) or is cut off with a random
// part of the cluster (which alone receives the entry).
func (s *Sim) changeFault(l *simNode) {
	r := s.reconfRng
	if s.sc.Features.ChangeFault == 0 || s.phase != phaseFaulty || !r.Chance(s.sc.Features.ChangeFault) {
		return
	}
	if r.Intn(2) == 0 && l.core != nil && s.down() < s.sc.maxDown() {
		s.crash(l, "crash right after a membership change")
		s.scheduleRestart(l, int(r.Range(int64(s.sc.Faults.DownMin), int64(s.sc.Faults.DownMax))))
		return
	}
	var with, rest []raft.NodeID
	with = append(with, l.id)
	for _, n := range s.nodes {
		if n.id == l.id {
			continue
		}
		if r.Intn(2) == 0 {
			with = append(with, n.id)
		} else {
			rest = append(rest, n.id)
		}
	}
	if len(rest) == 0 {
		return
	}
	s.Stats.Partitions++
	s.netFault(splitCuts(with, rest), s.faultTicks(r), "after a membership change: partition "+groupString(with)+" | "+groupString(rest))
}

// shutDownLeavers runs at healing, after every node restarted. With
// pre-vote and check-quorum both off, a server that left the configuration
// without learning it keeps timing out and campaigning with ever higher
// terms, and each vote request deposes the leader: the cluster may never
// settle (thesis §4.2.3). docs/membership.md tells the operator of that
// mode to shut such servers down once their removal is committed, and
// raftsim does it here, then expects liveness as in every other mode. A
// server is shut down when the committed configuration does not count it
// and no other server's latest configuration does either: a leader that
// removed itself must stay until its removal commits (thesis §4.2.2), and
// a server that an uncommitted change adds may yet be needed.
func (s *Sim) shutDownLeavers() {
	if !s.sc.Raft.DisablePreVote || !s.sc.Raft.DisableCheckQuorum {
		return
	}
	committed := s.committedConfig()
	for _, n := range s.nodes {
		if n.core == nil || isMember(committed, n.id) {
			continue
		}
		needed := false
		for _, o := range s.nodes {
			if f := o.feat(); o != n && f != nil && isMember(f.Membership(), n.id) {
				needed = true
			}
		}
		if !needed {
			s.crash(n, "shut down: it left the committed configuration (pre-vote and check-quorum off)")
			s.Stats.ShutDown++
		}
	}
}

// proposedConfig is a configuration entry the operator proposed.
type proposedConfig struct {
	key entryKey
	m   raft.Membership
}

// noteConfig records that the configuration entry key holds m.
func (s *Sim) noteConfig(key entryKey, m raft.Membership) {
	s.configs = append(s.configs, proposedConfig{key, m})
}

// committedConfig is the configuration of the last committed entry the
// operator proposed (the initial one if none is). The core's own entries —
// the automatic leave of a joint configuration — are not known here, but
// a joint configuration counts every member of the one that leaves it, so
// the result never misses a member of the committed configuration.
func (s *Sim) committedConfig() raft.Membership {
	var best *proposedConfig
	for i := range s.configs {
		c := &s.configs[i]
		if done, _ := s.chk.fate(c.key); done && (best == nil || c.key.index > best.key.index) {
			best = c
		}
	}
	if best != nil {
		return best.m
	}
	m := raft.Membership{}
	for id := 1; id <= s.sc.Nodes; id++ {
		m.Voters = append(m.Voters, raft.NodeID(id))
	}
	return m
}
