package raft

import "slices"

// This file holds the two quorum questions Raft asks: which index has a
// majority stored (commitment, §5.3/§5.4), and has a majority granted a vote
// (election, §5.2). Joint configurations (thesis §4.3) need a majority of
// each half.

// quorumIndex returns the highest index that a majority of voters have
// acknowledged, where acked reports one voter's acknowledged index. An empty
// voter set places no constraint and returns the maximum index. It does not
// allocate for clusters of up to MaxMembers voters.
func quorumIndex(voters []NodeID, acked func(NodeID) Index) Index {
	if len(voters) == 0 {
		return ^Index(0)
	}
	if len(voters) <= smallQuorum {
		// A buffer of the small size: zeroing MaxMembers slots would cost
		// more than the counting.
		var buf [smallQuorum]Index
		for i, id := range voters {
			buf[i] = acked(id)
		}
		return majorityIndexSmall(buf[:len(voters)])
	}
	var buf [MaxMembers]Index
	idx := buf[:0]
	for _, id := range voters {
		idx = append(idx, acked(id))
	}
	slices.Sort(idx)
	// With n voters sorted ascending, the entry at n-(n/2+1) is held by
	// n/2+1 voters: a majority.
	return idx[len(idx)-(len(idx)/2+1)]
}

// smallQuorum is the largest voter set majorityIndexSmall handles. Up to
// seven voters (every cluster size in common use) counting beats sorting:
// n*n comparisons of values in registers, no calls, no writes (the
// leader's commit rule runs once per acknowledgement).
const smallQuorum = 7

// majorityIndexSmall returns the highest of idx that at least a majority of
// idx are at or above — the same element sorting would pick.
func majorityIndexSmall(idx []Index) Index {
	if len(idx) == 3 {
		// The median of three, the commonest cluster, without loops.
		a, b, c := idx[0], idx[1], idx[2]
		return max(min(a, b), min(max(a, b), c))
	}
	need := len(idx)/2 + 1
	var best Index
	for _, v := range idx {
		if v <= best {
			continue // cannot improve on best
		}
		n := 0
		for _, w := range idx {
			if w >= v {
				n++
			}
		}
		if n >= need {
			best = v
		}
	}
	return best
}

// jointQuorumIndex is quorumIndex over a possibly joint membership.
func jointQuorumIndex(m *Membership, acked func(NodeID) Index) Index {
	return min(quorumIndex(m.Voters, acked), quorumIndex(m.OutgoingVoters, acked))
}

// voteOutcome is the state of an election from the candidate's view.
type voteOutcome uint8

const (
	votePending voteOutcome = iota
	voteWon
	voteLost
)

// majorityVote tallies one voter set. vote reports (granted, known).
func majorityVote(voters []NodeID, vote func(NodeID) (granted, known bool)) voteOutcome {
	if len(voters) == 0 {
		return voteWon
	}
	var yes, no int
	for _, id := range voters {
		granted, known := vote(id)
		switch {
		case !known:
		case granted:
			yes++
		default:
			no++
		}
	}
	need := len(voters)/2 + 1
	switch {
	case yes >= need:
		return voteWon
	case len(voters)-no < need:
		return voteLost
	}
	return votePending
}

// jointVote tallies a possibly joint membership: won only if both halves
// are won, lost if either half is lost.
func jointVote(m *Membership, vote func(NodeID) (granted, known bool)) voteOutcome {
	in, out := majorityVote(m.Voters, vote), majorityVote(m.OutgoingVoters, vote)
	switch {
	case in == voteWon && out == voteWon:
		return voteWon
	case in == voteLost || out == voteLost:
		return voteLost
	}
	return votePending
}
