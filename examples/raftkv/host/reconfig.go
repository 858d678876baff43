package host

// Safe reconfiguration: the checks a membership change passes before it is
// proposed. The core's CheckMembershipChange holds the Raft rules (promote
// only a caught-up learner; keep a connected quorum); the host adds what
// only it knows: where a server can be reached.

import (
	"errors"
	"fmt"
	"slices"

	"github.com/pureraft/raft"
)

// Reasons the host refuses a membership change, each wrapping
// raft.ErrMembershipChangeRefused like the core's reasons.
var (
	// ErrAlreadyVoter: a voter asked to join again. If its data was lost
	// it must be removed first and then join as a new server; if it still
	// has its data it only needs restarting.
	ErrAlreadyVoter = fmt.Errorf("%w: already a voter; a voter cannot join again: if its data was lost, remove it from the cluster first, then start it with an empty data directory and join; if it still has its data, restart it without joining", raft.ErrMembershipChangeRefused)
	// ErrNoAddress: the server to promote has no address in the address
	// book, so no one could reach it.
	ErrNoAddress = fmt.Errorf("%w: no address is known for the server; add it as a learner with its address first", raft.ErrMembershipChangeRefused)
)

// safeChange runs on the node loop: it refuses a change the cluster could
// not survive, saying why.
func (h *Host) safeChange(ch raft.MembershipChange) error {
	if ch.Type == raft.AddVoter {
		h.peersMu.RLock()
		addr := h.peers[ch.Node].Raft
		h.peersMu.RUnlock()
		if addr == "" && slices.Contains(h.node.Membership().Learners, ch.Node) {
			return fmt.Errorf("%w: node %d", ErrNoAddress, ch.Node)
		}
	}
	err := h.node.CheckMembershipChange(h.cfg.PromoteMaxLag, ch)
	if errors.Is(err, raft.ErrMembershipChangeRefused) {
		h.log.Warn("membership change refused", "change", ch.Type.String(), "node", ch.Node, "err", err)
	}
	return err
}
