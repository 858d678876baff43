package raft

import (
	"fmt"
	"slices"
)

// This file holds the operator's safety check for membership changes
// (thesis §4.2.1 and §4.4): rules that keep a valid change from leaving
// the cluster without a working quorum. ProposeMembershipChange enforces
// only what Raft's safety needs; an application that lets people change
// the membership calls CheckMembershipChange first.

// Reasons CheckMembershipChange refuses a change, each wrapping
// ErrMembershipChangeRefused.
var (
	// ErrPromoteNonLearner: AddVoter named a server that is not a learner.
	// A new server must join as a learner and catch up first (thesis
	// §4.2.1); a voter added directly counts toward every quorum before it
	// holds any of the log, and one that never comes up bricks the cluster.
	ErrPromoteNonLearner = fmt.Errorf("%w: only a learner can be promoted; add the server as a learner first", ErrMembershipChangeRefused)
	// ErrNotCaughtUp: the learner's log is further behind the leader's
	// than the caller allows (thesis §4.2.1).
	ErrNotCaughtUp = fmt.Errorf("%w: the learner has not caught up with the leader's log", ErrMembershipChangeRefused)
	// ErrQuorumNotConnected: after the change, the voters the leader has
	// heard from recently would not form a quorum (thesis §4.4), so the
	// cluster could not commit the change's successors, or even the change.
	ErrQuorumNotConnected = fmt.Errorf("%w: the voters connected to the leader would not form a quorum after the change", ErrMembershipChangeRefused)
	// ErrConnectivityUnknown: the leader cannot tell which voters are
	// connected — check-quorum is off, so the record of who answered is
	// never cleared, or the group is quiescent, so it is frozen. Enable
	// check-quorum, or Wake the group and retry after an election timeout.
	ErrConnectivityUnknown = fmt.Errorf("%w: the leader does not know which voters are connected (check-quorum off, or the group is quiescent: wake it and retry after an election timeout)", ErrMembershipChangeRefused)
)

// CheckMembershipChange reports, on the leader, whether changes are safe to
// propose now, on top of the validity checks ProposeMembershipChange makes
// (which it runs too). It refuses:
//
//   - promoting (AddVoter) a server that is not a learner
//     (ErrPromoteNonLearner), or a learner more than maxLag entries behind
//     the leader's log (ErrNotCaughtUp);
//   - any change after which the voters that are connected — the leader
//     and the members that answered it within the last one or two election
//     timeouts (check-quorum's record) — would not form a quorum of the new
//     configuration, or of either half of a joint one
//     (ErrQuorumNotConnected).
//
// It proposes nothing and changes nothing. On a follower it returns a
// *NotLeaderError.
func (n *Node) CheckMembershipChange(maxLag uint64, changes ...MembershipChange) error {
	n.tickerSync()
	cur := n.members()
	next, err := n.nextConfig(changes, false, true)
	if err != nil {
		return err
	}
	for _, c := range changes {
		if c.Type != AddVoter {
			continue
		}
		if !slices.Contains(cur.Learners, c.Node) {
			return fmt.Errorf("%w: node %d", ErrPromoteNonLearner, c.Node)
		}
		if !n.CaughtUp(c.Node, maxLag) {
			var match Index
			if pr := n.progressOf(c.Node); pr != nil {
				match = pr.Match
			}
			return fmt.Errorf("%w: node %d holds the log to %d of %d (at most %d behind allowed)", ErrNotCaughtUp, c.Node, match, n.log.lastIndex(), maxLag)
		}
	}
	if n.cfg.DisableCheckQuorum || n.quiescent {
		return ErrConnectivityUnknown
	}
	connected := func(id NodeID) (bool, bool) { return n.connected(id), true }
	if jointVote(&next, connected) != voteWon {
		var up []NodeID
		next.forEachMember(func(id NodeID) {
			if next.IsVoter(id) && n.connected(id) {
				up = append(up, id)
			}
		})
		return fmt.Errorf("%w: voters after the change %v, connected %v", ErrQuorumNotConnected, next.Voters, up)
	}
	return nil
}

// connected reports whether the leader counts member id as connected: it
// is the leader, or it answered within the current or the previous
// check-quorum round (the current round alone is empty right after it
// starts, before the first heartbeat is answered).
func (n *Node) connected(id NodeID) bool {
	if id == n.id {
		return true
	}
	pr := n.progressOf(id)
	return pr != nil && (pr.RecentActive || pr.activeLastRound)
}
