package host

// Recovering a group at start-up: its WAL, its latest snapshot, its
// machine, and the node built from them.

import (
	"fmt"

	"github.com/pureraft/raft"
)

// recover brings the machine in line with the group's state from the WAL
// (st; nil: none) and its snapshot, and builds the node. With no stored
// state it bootstraps with voters, or (join, or no voters) starts empty to
// be added to an existing group. torn: the WAL's tail was cut at open, so
// this group may have lost records it had acknowledged.
func (g *Group) recover(voters []raft.NodeID, join bool, st *WALState, torn bool) error {
	suspect := g.h.suspect
	if st == nil {
		st = &WALState{}
	}
	var err error
	snapIndex := uint64(st.Snapshot.Index)
	snapOK := g.verifySnapshots(snapIndex)
	var applied uint64
	switch {
	case suspect && snapIndex > 0:
		// The machine's files are not trusted, not even to say what they
		// applied (reading them may fail or mislead): rebuild them.
		g.log.Warn("unclean shutdown before a reboot: rebuilding the machine from the snapshot", "snapshot", snapIndex)
	case suspect:
		g.log.Warn("unclean shutdown before a reboot: rebuilding the machine from the log")
		if err := g.m.Restore(nil, 0); err != nil {
			return err
		}
	default:
		if applied, err = g.m.Applied(); err != nil {
			return fmt.Errorf("machine: %w", err)
		}
	}
	if snapIndex > 0 && applied < snapIndex {
		if !snapOK {
			return fmt.Errorf("%w: the machine needs snapshot %d to rebuild and its file is corrupt or missing: "+
				"this member cannot recover locally; remove it from the cluster, wipe its data directory and join it again", ErrStateCorrupt, snapIndex)
		}
		if err := g.restoreFromFile(snapIndex); err != nil {
			return err
		}
		applied = snapIndex
	}
	g.lastSnapIndex = snapIndex
	if !snapOK {
		// The machine holds the snapshot's state or more: a new file is
		// taken as soon as the group runs, for followers that need one.
		g.lastSnapIndex, g.resnapshot = 0, true
	}
	last := snapIndex
	if k := len(st.Entries); k > 0 {
		last = uint64(st.Entries[k-1].Index)
	}
	g.skipThrough = applied
	if torn {
		g.repairTarget = max(applied, last+1)
	}
	if applied > last {
		// The machine holds entries the log lost (a cut tail): they were
		// committed, so the leader will send the same ones again; skip
		// them when they are applied.
		g.log.Warn("machine is ahead of the log; the log will be repaired from the leader", "applied", applied, "last", last)
		applied = last
	}
	g.applied = applied
	hs := st.HardState
	if uint64(hs.Commit) > last {
		hs.Commit = raft.Index(last)
	}
	fresh := !st.HasSnapshot && hs.IsZero() && len(st.Entries) == 0
	g.fresh = fresh
	// Only a member with state of its own has anything to check before it
	// serves reads; a machine that cannot hash cannot be checked.
	_, hashes := g.m.(Hasher)
	g.verified.Store(fresh || !hashes || g.cfg.ForceNewCluster)
	cfg := g.nodeConfig()
	ps := raft.PersistentState{HardState: hs, Snapshot: st.Snapshot, Entries: st.Entries, Applied: raft.Index(applied)}
	switch {
	case g.cfg.ForceNewCluster && !fresh:
		g.node, err = g.forceNewCluster(cfg, ps)
	case !fresh:
		g.node, err = raft.NewNode(cfg, ps)
		g.log.Info("restarted", "term", hs.Term, "commit", hs.Commit, "snapshot", snapIndex, "last", last, "applied", applied)
	default:
		if m := loadMembers(g.dir); len(m) > 0 {
			// Created by CreateGroup, and the process died before its
			// first write was durable: bootstrap again with the same
			// voters.
			voters, join = m, false
		}
		if join || len(voters) == 0 {
			g.node, err = raft.NewNode(cfg, raft.PersistentState{})
			g.log.Info("joining: waiting for the leader")
			break
		}
		g.node, err = raft.Bootstrap(cfg, voters)
		g.log.Info("bootstrapping a new group", "voters", voters)
	}
	return err
}

// restoreFromFile resets the machine to the snapshot file at index.
func (g *Group) restoreFromFile(index uint64) error {
	r, err := g.snaps.open(index)
	if err != nil {
		return fmt.Errorf("snapshot %d: %w", index, err)
	}
	defer r.Close()
	// The address book first: once the machine records the snapshot as
	// applied, no restart restores it again, so a crash between the two
	// must not lose the addresses it carries.
	if err := g.h.mergePeers(r.Peers); err != nil {
		return err
	}
	if err := g.m.Restore(r.Data, index); err != nil {
		return fmt.Errorf("restore snapshot %d: %w", index, err)
	}
	return nil
}
