package raft

import (
	"fmt"
	"log/slog"
)

// This file holds log compaction and snapshot transfer (thesis chapter 5,
// paper §7). The caller owns snapshot data; the node owns the metadata and
// decides when a follower needs a snapshot, when one may be installed, and
// when its state may be applied.

// Compact tells the node the caller has durably saved a snapshot of its
// state machine as of index, an index already applied. The node returns the
// metadata to store with the snapshot (index, term, and the configuration
// in force there, thesis §5.1) and forgets its log up to index-retain: the
// last retain entries stay so that slightly lagging followers can catch up
// without a snapshot. The caller may then delete stored entries up to
// Status().FirstIndex-1. Compacting to an index older than the current
// snapshot, or not yet applied, or (on a server added after the cluster
// started) below the first configuration entry it received, is an error
// and changes nothing.
func (n *Node) Compact(index Index, retain uint64) (SnapshotMeta, error) {
	if t := n.cfg.Ticker; t != nil {
		t.catchUp(n)
		defer t.reschedule(n)
	}
	switch {
	case n.pendingApply != nil:
		return SnapshotMeta{}, fmt.Errorf("raft: cannot compact while a received snapshot awaits application")
	case index > n.log.applied:
		return SnapshotMeta{}, fmt.Errorf("raft: cannot compact to %d: only %d applied", index, n.log.applied)
	case index < n.snapshotIndex:
		return SnapshotMeta{}, fmt.Errorf("raft: cannot compact to %d: the snapshot already covers %d", index, n.snapshotIndex)
	}
	if _, ok := n.log.term(index); !ok {
		return SnapshotMeta{}, fmt.Errorf("raft: cannot compact to %d: entry already compacted", index)
	}
	if len(n.configs.at(index).Voters) == 0 {
		// A server added after the cluster started receives the log from
		// index 1, not the bootstrap snapshot holding the initial
		// configuration: until the entry that added it, it does not know
		// the configuration a snapshot there must record (thesis §5.1).
		return SnapshotMeta{}, fmt.Errorf("raft: cannot compact to %d: the configuration in force there is unknown to this node (it joined later)", index)
	}
	n.snapshotIndex = index
	if keep := Index(min(retain, uint64(index))); index-keep > n.log.snapIndex {
		boundary := index - keep
		n.log.compactTo(boundary)
		n.configs.compactTo(boundary) // keeps the configuration at index
	}
	return *n.snapshotMeta(), nil
}

// snapshotMeta returns the latest snapshot's metadata, made afresh (it is
// needed only to send or persist a snapshot, and to report a compaction).
// Its term and configuration are still known: nothing at or before the
// snapshot's index is ever truncated, compaction keeps the entry at that
// index (or makes it the log's snapshot boundary, whose term the log
// keeps), and it keeps the configuration at the boundary as the base.
func (n *Node) snapshotMeta() *SnapshotMeta {
	term, ok := n.log.term(n.snapshotIndex)
	if !ok {
		panic(fmt.Sprintf("raft: the term of snapshot index %d is lost (log starts at %d)", n.snapshotIndex, n.log.firstIndex()))
	}
	return &SnapshotMeta{Index: n.snapshotIndex, Term: term, Membership: n.configs.at(n.snapshotIndex).Clone()}
}

// ReportSnapshot tells a leader how the transfer of a snapshot to member to
// ended: err == nil when the data arrived, otherwise why it failed. Either
// way the leader resumes probing the member — at once after a success, after
// the next heartbeat after a failure, when it sends the snapshot again. A
// transfer never reported times out after Config.SnapshotTimeoutTicks.
func (n *Node) ReportSnapshot(to NodeID, err error) {
	if t := n.cfg.Ticker; t != nil {
		t.catchUp(n)
		defer t.reschedule(n)
	}
	pr := n.progressOf(to)
	if pr == nil || pr.State != ProgressSnapshot {
		return
	}
	if err == nil {
		pr.becomeProbe(pr.pendingSnapshot + 1)
	} else {
		pr.becomeProbe(pr.Match + 1)
	}
	pr.probeSent = true // wait for the member's answer or the next heartbeat
}

// sendSnapshot asks the caller to ship the latest snapshot to pr, whose
// next entry is compacted away. A witness needs no state machine data
// (thesis §11.7.2), so once its role is committed it is sent the metadata
// alone as an ordinary message.
func (n *Node) sendSnapshot(pr *progress) {
	meta := n.snapshotMeta()
	pr.becomeSnapshot(meta.Index)
	m := Message{Type: MsgSnap, From: n.id, To: pr.id, Term: n.term, Snapshot: meta}
	if n.stripsPayloads(pr) {
		n.outbox = append(n.outbox, m)
		return
	}
	n.outboxSnapshots = append(n.outboxSnapshots, m)
}

// tickSnapshots times out snapshot transfers nobody reported, so a lost
// transfer is retried instead of blocking the member forever.
func (n *Node) tickSnapshots() {
	for i := range n.ldr.progress {
		pr := &n.ldr.progress[i]
		if pr.State != ProgressSnapshot {
			continue
		}
		pr.snapshotElapsed++
		if pr.snapshotElapsed >= n.cfg.SnapshotTimeoutTicks {
			pr.becomeProbe(pr.Match + 1)
		}
	}
}

// handleSnapshot is the follower's side of InstallSnapshot (paper §7,
// Figure 13). A snapshot no newer than the commit index is stale. One whose
// last entry the log already holds just advances the commit index, keeping
// the entries after it. Otherwise the snapshot replaces the whole log: it is
// persisted, then applied, and the configuration it carries takes effect.
func (n *Node) handleSnapshot(m Message) {
	meta := m.Snapshot
	switch {
	case meta.Index <= n.log.committed:
	case n.log.matchTerm(meta.Index, meta.Term):
		n.log.commitTo(meta.Index)
	default:
		n.installSnapshot(meta)
	}
	n.send(Message{Type: MsgAppResp, To: m.From, Index: n.log.committed})
}

// installSnapshot discards the log for meta. Nothing of it is applied until
// the snapshot is durable.
func (n *Node) installSnapshot(meta *SnapshotMeta) {
	n.log.restore(meta.Index, meta.Term)
	n.configs = configHistory{base: meta.Membership.Clone()}
	n.snapshotIndex = meta.Index
	n.pendingApply = meta
	n.persist.snapshot = meta
	if n.cfg.Logger != nil {
		n.logEvent(slog.LevelInfo, "raft: installing snapshot from leader", slog.Uint64("index", uint64(meta.Index)), slog.Uint64("snapshot_term", uint64(meta.Term)))
	}
}
