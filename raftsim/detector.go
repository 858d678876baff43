package raftsim

import (
	"fmt"

	"github.com/pureraft/raft"
)

// This file models the host's side of quiescence (raft.Config.
// QuiesceAfterTicks): a quiescent follower does not notice that its leader
// died, so the program around a node must learn it from its transport (a
// broken connection, a failed health check) and call Wake.
//
// The model is a failure detector with delay: when a node crashes, or a
// link between two nodes goes down (a partition, a one-way cut, an
// isolation, a flapping link), the host of every node concerned — every
// other node for a crash, both ends for a link — notices after a delay
// drawn from [DetectMin, DetectMax] ticks, if the fault still holds then
// (a fault shorter than the delay goes unnoticed, as with a real
// timeout-based detector), and calls Wake on its node. Message loss is not
// detected: a lost MsgQuiesce leaves its follower awake, which the core
// handles on its own. The detector never suspects a healthy peer.
//
// Idle stretches of the workload (FeatureOptions.Idle) let groups go
// quiet in the first place.

// detectLater schedules the hosts' detection of a fault: peer crashed
// (gen 0; epoch is the crashed incarnation's successor) or the links
// between peer and other nodes went down (gen: the network fault's
// generation).
func (s *Sim) detectLater(peer raft.NodeID, epoch uint32, gen uint64) {
	if s.sc.Raft.QuiesceAfterTicks == 0 || s.phase != phaseFaulty {
		return
	}
	for _, o := range s.nodes {
		if o.id != peer {
			s.detectOne(o.id, peer, epoch, gen)
		}
	}
}

func (s *Sim) detectOne(observer, peer raft.NodeID, epoch uint32, gen uint64) {
	f := &s.sc.Features
	delay := Time(s.detectRng.Range(int64(Ticks(f.DetectMin)), int64(Ticks(f.DetectMax))))
	s.push(event{at: s.now + max(1, delay), kind: evDetect, node: observer, gen: uint64(peer), epoch: epoch, msgID: gen})
}

// detectCuts schedules detection for both ends of every cut link.
func (s *Sim) detectCuts(cuts [][2]raft.NodeID, gen uint64) {
	if s.sc.Raft.QuiesceAfterTicks == 0 || s.phase != phaseFaulty {
		return
	}
	seen := map[[2]raft.NodeID]bool{}
	for _, c := range cuts {
		for _, p := range [][2]raft.NodeID{{c[1], c[0]}, {c[0], c[1]}} {
			if !seen[p] {
				seen[p] = true
				s.detectOne(p[0], p[1], 0, gen)
			}
		}
	}
}

// detected: node ev.node's host may have noticed the failure of peer
// ev.gen; if the fault still holds, it wakes its node.
func (s *Sim) detected(ev *event) {
	o := s.nodes[ev.node-1]
	peer := raft.NodeID(ev.gen)
	p := s.nodes[peer-1]
	var what string
	if ev.msgID == 0 {
		if p.core != nil || p.epoch != ev.epoch {
			return // back up already
		}
		what = fmt.Sprintf("n%d down", peer)
	} else {
		if s.net.Up(o.id, peer, s.now) && s.net.Up(peer, o.id, s.now) {
			return // healed already
		}
		what = fmt.Sprintf("n%d unreachable", peer)
	}
	f := o.feat()
	if o.core == nil || f == nil {
		return
	}
	s.Stats.Detections++
	text := "host detects " + what + ": Wake"
	if o.last.Quiescent {
		s.Stats.Wakes++
		text += " (quiescent)"
	}
	s.record(TraceEvent{Kind: TrNote, Node: o.id, Peer: peer, Text: text})
	f.Wake()
	s.drain(o)
}

// maybeIdle starts an idle stretch of the workload now and then.
func (s *Sim) maybeIdle() {
	f := &s.sc.Features
	if f.Idle == 0 || s.now < s.idleUntil || !s.idleRng.Chance(f.Idle) {
		return
	}
	ticks := int(s.idleRng.Range(int64(f.IdleMin), int64(f.IdleMax)))
	s.idleUntil = s.now + Ticks(ticks)
	s.Stats.IdleStretches++
	s.record(TraceEvent{Kind: TrNote, Text: fmt.Sprintf("workload idle for %d ticks", ticks)})
	s.push(event{at: s.idleUntil, kind: evIdleEnd})
}

// idle reports whether the workload is paused.
func (s *Sim) idle() bool { return s.now < s.idleUntil }
