package raft

import (
	"errors"
	"testing"
)

// Thesis §11.7.2: a witness cannot change role, not even by removing and
// re-adding it in one change: its log has no payloads, so as a data voter
// or learner it would serve and replicate empty commands.
func TestWitnessCannotBeReaddedInOneChange(t *testing.T) {
	tn := witnessNet(t)
	for _, ct := range []ChangeType{AddVoter, AddLearner} {
		_, _, err := tn.nodes[1].ProposeMembershipChange(change(RemoveMember, 3), change(ct, 3))
		if !errors.Is(err, ErrWitnessRole) {
			t.Errorf("remove and %v of witness 3 in one change: err %v, want ErrWitnessRole", ct, err)
		}
	}
}
