package host

// Routing what the transport receives to the group it belongs to.

import (
	"bufio"
	"net"

	"github.com/pureraft/raft"
)

// deliver hands each run of messages to its group. Messages for a group
// this host does not hold are dropped and counted: a group not created
// here yet, or removed, or an ID no one uses. The connection and the other
// groups go on; Raft tolerates the loss.
func (h *Host) deliver(batch []groupMsg) {
	for i := 0; i < len(batch); {
		gid := batch[i].g
		j := i + 1
		for j < len(batch) && batch[j].g == gid {
			j++
		}
		g, ok := h.Group(gid)
		if !ok {
			h.metrics.unknownGroup.Add(float64(j - i))
			h.log.Debug("dropped messages for a group this host does not hold", "group", uint64(gid), "from", batch[i].m.From, "messages", j-i)
		} else {
			msgs := make([]raft.Message, 0, j-i)
			for _, gm := range batch[i:j] {
				msgs = append(msgs, gm.m)
			}
			if !g.offer(msgs) {
				h.metrics.inboxFull.Add(float64(j - i))
				h.log.Debug("dropped messages for a group whose inbox is full", "group", uint64(gid), "messages", j-i)
			}
		}
		i = j
	}
}

// offer queues messages from a peer connection for the node loop, or
// reports that its inbox is full. It never waits: one connection carries
// every group's messages, and a group whose loop is stuck (a machine that
// does not return from Apply, say) must not stall the others. Raft
// tolerates the loss; the senders retry.
func (g *Group) offer(msgs []raft.Message) bool {
	select {
	case g.recvc <- msgs:
		return true
	default:
		return false
	}
}

// deliver queues messages for the node loop, waiting while the loop is
// behind, but not past the group's end: for a snapshot's MsgSnap, which
// arrives on a connection of its own and must not be lost after its data
// was received.
func (g *Group) deliver(msgs []raft.Message) {
	select {
	case g.recvc <- msgs:
	case <-g.stopc:
	}
}

// unknownConn refuses a snapshot, repair or hash connection about a group
// this host does not hold.
func (h *Host) unknownConn(conn net.Conn, from raft.NodeID, gid GroupID, kind string) (*Group, bool) {
	g, ok := h.Group(gid)
	if !ok {
		h.metrics.unknownGroup.Inc()
		h.log.Debug("refused a connection about a group this host does not hold", "kind", kind, "group", uint64(gid), "from", from)
		return nil, false
	}
	return g, true
}

func (h *Host) routeSnapshot(conn net.Conn, br *bufio.Reader, from raft.NodeID, gid GroupID) {
	// Refused by closing: the leader's transfer fails and it tries again
	// later (the group may be created here by then).
	if g, ok := h.unknownConn(conn, from, gid, "snapshot"); ok {
		g.receiveSnapshot(conn, br, from)
	}
}

func (h *Host) routeRepair(conn net.Conn, from raft.NodeID, gid GroupID) {
	if g, ok := h.unknownConn(conn, from, gid, "repair"); ok {
		g.serveRepair(conn, from)
	}
}

func (h *Host) routeHash(conn net.Conn, br *bufio.Reader, from raft.NodeID, gid GroupID) {
	if g, ok := h.unknownConn(conn, from, gid, "hash"); ok {
		g.serveHash(conn, br, from)
	}
}

// wakeGroupsOf wakes the quiescent groups that followed peer id when a
// connection with it fails: a quiescent follower starts no election by
// itself, so a leader that went away must be noticed here (see raft's
// quiesce.go). A quiescent group led from elsewhere (this host or a third
// one) has nothing to do, and stays quiet: waking it would cost every
// idle group a round of ticks and heartbeats whenever any peer restarts.
// A group that knows no leader is woken too, to be safe. A missed wake
// costs only time: the next proposal or read wakes the group anyway.
func (h *Host) wakeGroupsOf(id raft.NodeID) {
	for _, g := range h.allGroups() {
		if !g.gauges.quiescent.Load() {
			continue
		}
		if lead := raft.NodeID(g.gauges.leader.Load()); lead != id && lead != raft.None {
			continue
		}
		select {
		case g.wakec <- struct{}{}:
		default:
		}
	}
}
