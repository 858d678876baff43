package raft

import (
	"fmt"
	"slices"
)

// This file holds recovery from the permanent loss of a quorum: the one
// step outside Raft's rules an operator may have to take when a majority
// of the voters is gone for good (etcd's --force-new-cluster).

// ForceNewCluster rebuilds one server's stored state as a single-voter
// cluster, for when a majority of the voters is lost for good and no
// leader can ever be elected again. It returns the state to pass to
// NewNode and the write that makes it durable: the caller must store p
// (and have it synced) before calling NewNode with st.
//
// The new state appends, after the server's last entry, a configuration
// entry whose only voter is the server, in a new term, and commits the
// whole log with it. Every entry the server holds becomes committed,
// including ones the old cluster never committed (a write whose client
// saw a timeout may take effect), and entries only the lost servers held
// are gone: pick the survivor with the longest log. The lost servers must
// never come back with their old data — their logs may conflict with the
// new configuration entry; wipe them and add them as new learners.
//
// This breaks Raft's guarantees by design (thesis §4: a configuration
// change normally needs the old majority); it is for disaster recovery
// only, once, on one server. A witness cannot be recovered from: it holds
// no payloads.
func ForceNewCluster(old PersistentState, id NodeID) (st PersistentState, p Persist, err error) {
	if id == None {
		return PersistentState{}, Persist{}, fmt.Errorf("%w: node ID 0", ErrInvalidState)
	}
	if err := old.validate(); err != nil {
		return PersistentState{}, Persist{}, err
	}
	m := old.Snapshot.Membership
	last, lastTerm := old.Snapshot.Index, old.Snapshot.Term
	for _, e := range old.Entries {
		if e.Index <= old.Snapshot.Index {
			continue
		}
		last, lastTerm = e.Index, e.Term
		if e.Type == EntryConfig {
			if m, err = decodeMembership(e.Data); err != nil {
				return PersistentState{}, Persist{}, fmt.Errorf("%w: configuration entry %d: %v", ErrInvalidState, e.Index, err)
			}
		}
	}
	if len(m.Voters) == 0 {
		return PersistentState{}, Persist{}, fmt.Errorf("%w: the stored state holds no configuration (an empty server has nothing to recover)", ErrInvalidState)
	}
	if !m.IsMember(id) {
		return PersistentState{}, Persist{}, fmt.Errorf("%w: node %d is not a member of the stored configuration %v (a mistyped ID would found a cluster whose only voter does not exist)", ErrInvalidState, id, m.Voters)
	}
	if m.IsWitness(id) {
		return PersistentState{}, Persist{}, fmt.Errorf("%w: node %d is a witness: it holds no payloads to recover from", ErrInvalidState, id)
	}
	// A new term, above every term this server knows of, so that the new
	// entry shares no index and term with an entry this server or a leader
	// it heard from wrote. Servers it never heard from may have used that
	// term too: that is why the lost servers must never return with their
	// data.
	term := max(old.HardState.Term, lastTerm) + 1
	e := Entry{Index: last + 1, Term: term, Type: EntryConfig, Data: encodeMembership(Membership{Voters: []NodeID{id}})}
	// The read tokens stay reserved: an answer to a read forwarded before
	// the recovery may still be in flight (readtoken.go).
	hs := HardState{Term: term, Vote: id, Commit: e.Index, ReadTokenLimit: old.HardState.ReadTokenLimit}
	st = old
	st.HardState = hs
	st.Entries = append(slices.Clone(old.Entries), e)
	p = Persist{HasHardState: true, HardState: hs, Entries: []Entry{e}, Sync: true}
	return st, p, nil
}
