package host

// Creating and removing groups while the host runs.
//
// CreateGroup and RemoveGroup act on this host only: a group with
// replicas on three hosts is created by calling CreateGroup with the same
// members on each of them (in any order: messages for a group a host does
// not hold yet are dropped, and the leader retries), and removed by
// calling RemoveGroup on each. To take one replica out of a group that
// lives on, remove it from the membership first (Group.Remove), then call
// RemoveGroup on its host.

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"

	"github.com/pureraft/raft"
)

// membersFile records the voters a group was created with, before any of
// its state exists: a crash between CreateGroup and the first durable
// write must not turn the group into an empty one that waits forever to be
// added. Bootstrapping again with the same voters writes the same first
// entry, so doing it twice is harmless.
const membersFile = "members.json"

// CreateGroup creates group g on this host, and starts it. With members
// (which must include this host, each with an address in the address
// book) the group bootstraps with them as voters; with none, it starts
// empty and waits to be added to an existing group (Group.AddLearner on
// its leader). Machine state comes from Config.NewMachine.
func (h *Host) CreateGroup(ctx context.Context, g GroupID, members ...raft.NodeID) (*Group, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	h.lifeMu.Lock()
	defer h.lifeMu.Unlock()
	if h.closing.Load() {
		return nil, ErrStopped
	}
	if g == 0 {
		return nil, fmt.Errorf("%w: group ID 0 is reserved", ErrNoGroup)
	}
	if _, ok := h.Group(g); ok {
		return nil, fmt.Errorf("%w: group %d", ErrGroupExists, g)
	}
	// The WAL refuses writes to a group it holds a removal record of: a
	// removed group's ID is not used again (other hosts may still hold
	// the old group).
	var werr error
	h.onStorage(func(w *WAL) { werr = w.writable(g) })
	if werr != nil {
		return nil, fmt.Errorf("host: create group %d: %w", g, werr)
	}
	members = slices.Clone(members)
	slices.Sort(members)
	members = slices.Compact(members)
	if len(members) > 0 {
		if !slices.Contains(members, h.id) {
			return nil, fmt.Errorf("host: create group %d: this host (%d) is not among its members %v", g, h.id, members)
		}
		h.peersMu.RLock()
		for _, id := range members {
			if a := h.peers[id]; a.Raft == "" || a.Removed {
				h.peersMu.RUnlock()
				return nil, fmt.Errorf("%w: create group %d: node %d", ErrNoAddress, g, id)
			}
		}
		h.peersMu.RUnlock()
		if err := os.MkdirAll(groupDir(h.cfg.Dir, g), 0o755); err != nil {
			return nil, err
		}
		b, _ := json.Marshal(members)
		if err := writeFileAtomic(filepath.Join(groupDir(h.cfg.Dir, g), membersFile), b); err != nil {
			return nil, err
		}
	}
	grp, err := h.openGroup(g, members, len(members) == 0, nil, false)
	if err != nil {
		return nil, fmt.Errorf("group %d: %w", g, err)
	}
	h.groupsMu.Lock()
	h.groups[g] = grp
	h.groupsMu.Unlock()
	grp.start()
	h.log.Info("created group", "group", uint64(g), "members", members)
	return grp, nil
}

// loadMembers returns the voters a group was created with (none: it was
// bootstrapped from Config.Peers, or created to join).
func loadMembers(dir string) []raft.NodeID {
	b, err := os.ReadFile(filepath.Join(dir, membersFile))
	if err != nil {
		return nil
	}
	var ids []raft.NodeID
	if json.Unmarshal(b, &ids) != nil {
		return nil
	}
	return ids
}

// RemoveGroup stops group g on this host and deletes its files (log,
// snapshots, and whatever its Machine kept in the group's directory,
// after Machine.Close). Messages that still arrive for it are dropped and
// counted like those for any group this host does not hold.
func (h *Host) RemoveGroup(ctx context.Context, g GroupID) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	h.lifeMu.Lock()
	defer h.lifeMu.Unlock()
	if h.closing.Load() {
		return ErrStopped
	}
	h.groupsMu.Lock()
	grp, ok := h.groups[g]
	delete(h.groups, g)
	h.groupsMu.Unlock()
	if !ok {
		return fmt.Errorf("%w: group %d", ErrNoGroup, g)
	}
	grp.stopLoop()
	grp.stopBackground()
	if err := grp.closeFiles(); err != nil {
		h.log.Warn("closing a removed group's machine", "group", uint64(g), "err", err)
	}
	// The directory is renamed aside first (durably), then the removal
	// recorded in the WAL, then the directory deleted. A crash after the
	// rename leaves a directory Open deletes and WAL records Open removes
	// (finishRemovals); a crash after the WAL record, only the directory.
	// Never a group directory whose log is gone, which Open would take
	// for a new group.
	dir := groupDir(h.cfg.Dir, g)
	gone := dir + ".removed"
	if err := os.Rename(dir, gone); err != nil {
		return fmt.Errorf("remove group %d: %w", g, err)
	}
	if err := syncDir(filepath.Dir(dir)); err != nil {
		return fmt.Errorf("remove group %d: %w", g, err)
	}
	var werr error
	h.onStorage(func(w *WAL) {
		if _, err := w.RemoveGroup(g); err != nil && !errors.Is(err, ErrUnknownGroup) {
			werr = err // ErrUnknownGroup: it never wrote anything
		}
	})
	if werr != nil {
		return fmt.Errorf("remove group %d: %w", g, werr)
	}
	if err := os.RemoveAll(gone); err != nil {
		return fmt.Errorf("remove group %d: %w", g, err)
	}
	h.log.Info("removed group", "group", uint64(g))
	return nil
}

// finishRemovals completes removals a crash interrupted: a group the WAL
// holds records of but whose directory is gone was being removed
// (RemoveGroup renames the directory aside before it records the removal).
// It runs in Open, before the storage goroutine starts.
func (h *Host) finishRemovals(found []GroupID, rec *WALRecovery) error {
	for gid := range rec.Groups {
		if slices.Contains(found, gid) {
			continue
		}
		if _, err := h.wal.RemoveGroup(gid); err != nil {
			return fmt.Errorf("finishing the removal of group %d: %w", gid, err)
		}
		delete(rec.Groups, gid)
		h.log.Info("finished removing a group", "group", uint64(gid))
	}
	return nil
}

// clearRemoved deletes what removals interrupted by a crash left behind.
func clearRemoved(dir string) {
	ents, _ := os.ReadDir(filepath.Join(dir, "groups"))
	for _, e := range ents {
		if strings.HasSuffix(e.Name(), ".removed") {
			os.RemoveAll(filepath.Join(dir, "groups", e.Name()))
		}
	}
}

// replicaElsewhere reports whether node id is a voter or learner of a
// group this host holds other than except.
func (h *Host) replicaElsewhere(ctx context.Context, id raft.NodeID, except GroupID) bool {
	for _, g := range h.allGroups() {
		if g.gid == except {
			continue
		}
		m, err := g.Membership(ctx)
		if err == nil && (slices.Contains(m.Voters, id) || slices.Contains(m.Learners, id)) {
			return true
		}
	}
	return false
}
