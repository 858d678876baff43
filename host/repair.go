package host

import (
	"context"
	"net"
	"time"

	"github.com/pureraft/raft"
)

// Repairing a log whose tail was cut.
//
// A torn write from a crash loses only records that were never
// acknowledged (acknowledgements wait for the fsync), and the leader
// simply sends them again. A corrupted tail can also lose records this
// node had acknowledged: the leader then believes the node holds entries
// it no longer has, and ignores the node's rejections as stale (Raft
// assumes acknowledged entries are durable). Such a node cannot catch up
// from that leader. A new leader starts with no such belief, so the node
// asks the leader to hand leadership to another voter: one election later
// the log is repaired from a peer like any lagging follower's.
//
// The node asks only if it is actually stuck: its log has not reached the
// point its machine had applied (or its old last index) within a second
// of hearing from a leader, and asks again every two seconds until it has
// caught up.

func (g *Group) repairLoop() {
	defer g.bgWG.Done()
	var asked time.Time
	heard := time.Time{}
	for {
		select {
		case <-g.stopc:
			return
		case <-time.After(100 * time.Millisecond):
		}
		st := g.Status()
		if uint64(st.LastIndex) >= g.repairTarget && st.Leader != raft.None {
			g.log.Info("log repaired from the leader", "last", st.LastIndex)
			return
		}
		if st.Leader == raft.None || st.Leader == g.nodeID {
			heard = time.Time{}
			continue
		}
		if heard.IsZero() {
			heard = time.Now()
		}
		if time.Since(heard) < time.Second || time.Since(asked) < 2*time.Second {
			continue
		}
		asked = time.Now()
		g.log.Warn("log lost acknowledged entries; asking the leader to step aside so a new one repairs it",
			"leader", st.Leader, "last", st.LastIndex, "target", g.repairTarget)
		conn, err := g.h.tr.dial(st.Leader, kindRepair, g.gid)
		if err != nil {
			continue
		}
		conn.SetReadDeadline(time.Now().Add(5 * time.Second))
		conn.Read(make([]byte, 1))
		conn.Close()
		heard = time.Time{}
	}
}

// serveRepair runs on the leader: hand leadership to the most up-to-date
// voter other than the one asking.
func (g *Group) serveRepair(conn net.Conn, from raft.NodeID) {
	defer conn.Write([]byte{0})
	if g.Status().Role != raft.RoleLeader {
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	var to raft.NodeID
	var best raft.Index
	var active bool
	g.do(ctx, func() {
		m := g.node.Membership()
		g.node.ForEachProgress(func(id raft.NodeID, p raft.Progress) {
			if id == from || !m.IsVoter(id) || m.IsWitness(id) {
				return
			}
			// Prefer a voter that answered recently, then the longest log.
			if to == raft.None || (p.RecentActive && !active) || (p.RecentActive == active && p.Match > best) {
				to, best, active = id, p.Match, p.RecentActive
			}
		})
	})
	if to == raft.None {
		g.log.Warn("a follower needs its log repaired but no other voter can take over", "follower", from)
		return
	}
	g.log.Info("handing leadership over so that a follower's lost entries are repaired", "follower", from, "to", to)
	if _, err := g.TransferLeadership(ctx, to); err != nil {
		g.log.Warn("leadership transfer for repair failed", "err", err)
	}
}
