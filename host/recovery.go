package host

// Recovery from the permanent loss of a quorum (Config.ForceNewCluster).

import (
	"fmt"

	"github.com/pureraft/raft"
)

// forceNewCluster rebuilds the recovered state as a single-voter cluster
// of this node, makes the change durable in the WAL, and builds the node.
// Run it once: started again with the flag, the node would append another
// single-voter configuration, dropping the members added back since.
func (g *Group) forceNewCluster(cfg raft.Config, old raft.PersistentState) (*raft.Node, error) {
	st, p, err := raft.ForceNewCluster(old, g.nodeID)
	if err != nil {
		return nil, fmt.Errorf("force new cluster: %w", err)
	}
	// Open runs this before the storage goroutine starts: the WAL is ours.
	if err := g.h.wal.SaveGroups([]GroupPersist{{Group: g.gid, Persist: &p}}); err != nil {
		return nil, fmt.Errorf("force new cluster: %w", err)
	}
	// Every other server the address book knows is out of the cluster now:
	// its ID is retired like a removed member's — here at once and
	// durably, in the replicated book once the node runs (retireLoop).
	for id, a := range g.h.peers {
		if id != g.nodeID && !a.Removed {
			a.Removed = true
			g.h.peers[id] = a
			g.retireIDs = append(g.retireIDs, id)
		}
	}
	if err := savePeers(g.cfg.Dir, g.h.peers); err != nil {
		return nil, fmt.Errorf("force new cluster: %w", err)
	}
	g.log.Warn("FORCED A NEW CLUSTER: this node is now the only voter; wipe the lost members and add them back with --join, and restart this node without --force-new-cluster",
		"voters", []raft.NodeID{g.nodeID}, "index", p.Entries[0].Index, "term", p.HardState.Term, "commit", p.HardState.Commit)
	return raft.NewNode(cfg, st)
}
