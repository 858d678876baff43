package host

// Safe reconfiguration: the checks a membership change passes before it is
// proposed. The core's CheckMembershipChange holds the Raft rules (promote
// only a caught-up learner; keep a connected quorum); the host adds what
// only it knows: where a server can be reached.

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"time"

	"github.com/pureraft/raft"
)

// Reasons the host refuses a membership change, each wrapping
// raft.ErrMembershipChangeRefused like the core's reasons.
var (
	// ErrAlreadyVoter: a voter asked to join again. If its data was lost
	// it must be removed and the server added back under a new ID; if it
	// still has its data it only needs restarting.
	ErrAlreadyVoter = fmt.Errorf("%w: already a voter; a voter cannot join again: if its data was lost, remove it from the cluster, then add the server under a new ID with an empty data directory; if it still has its data, restart it without joining", raft.ErrMembershipChangeRefused)
	// ErrRemovedID: a server asked to join under the ID of a removed
	// member. A removed ID is never used again: a blank server under an
	// old ID votes for any candidate, also a stale one whose configuration
	// still counts that ID, which can then win without the latest
	// committed entries (docs/membership.md, found by raftsim).
	ErrRemovedID = fmt.Errorf("%w: the ID was removed from the cluster and is never used again (a blank server under an old ID could vote a stale leader in): add the server under a new ID", raft.ErrMembershipChangeRefused)
	// ErrNoAddress: the server to promote has no address in the address
	// book, so no one could reach it.
	ErrNoAddress = fmt.Errorf("%w: no address is known for the server; add it as a learner with its address first", raft.ErrMembershipChangeRefused)
)

// safeChange runs on the node loop: it refuses a change the cluster could
// not survive, saying why.
func (g *Group) safeChange(ch raft.MembershipChange) error {
	if ch.Type == raft.AddVoter {
		g.h.peersMu.RLock()
		addr := g.h.peers[ch.Node].Raft
		g.h.peersMu.RUnlock()
		if addr == "" && slices.Contains(g.node.Membership().Learners, ch.Node) {
			return fmt.Errorf("%w: node %d", ErrNoAddress, ch.Node)
		}
	}
	err := g.node.CheckMembershipChange(g.cfg.PromoteMaxLag, ch)
	if errors.Is(err, raft.ErrMembershipChangeRefused) {
		g.log.Warn("membership change refused", "change", ch.Type.String(), "node", ch.Node, "err", err)
	}
	return err
}

// retire marks id removed in the replicated address book, so that no
// server joins under it again (ErrRemovedID).
func (g *Group) retire(ctx context.Context, id raft.NodeID) error {
	g.h.peersMu.RLock()
	a := g.h.peers[id]
	g.h.peersMu.RUnlock()
	a.Removed = true
	body, _ := json.Marshal(addressChange{ID: id, Addr: a})
	_, err := g.proposeEntry(ctx, entryAddress, body)
	return err
}

// retireLoop retires ids once the node can propose, retrying until it has.
func (g *Group) retireLoop(ids []raft.NodeID) {
	defer g.bgWG.Done()
	for len(ids) > 0 {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		err := g.retire(ctx, ids[0])
		cancel()
		if err == nil {
			ids = ids[1:]
			continue
		}
		select {
		case <-g.stopc:
			return
		case <-time.After(100 * time.Millisecond):
		}
	}
}
