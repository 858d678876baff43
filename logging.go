package raft

import (
	"context"
	"log/slog"
)

// Logging: with Config.Logger set, the node reports its role changes and
// the rare events an operator wants in a log — a check-quorum step-down, a
// configuration taking effect, a snapshot installed or taken, a leadership
// transfer, the group going quiet or waking. It never logs per message or
// per entry. With no Logger the node is silent, and each call site costs one
// nil check: no arguments are built and nothing allocates.

// logEvent records one event at level with the node's ID and term, if a Logger
// is configured. Call sites check n.cfg.Logger first, so that with none the
// attribute list is never built.
func (n *Node) logEvent(level slog.Level, msg string, attrs ...slog.Attr) {
	l := n.cfg.Logger
	if !l.Enabled(context.Background(), level) {
		return
	}
	attrs = append(attrs, slog.Uint64("node", uint64(n.id)), slog.Uint64("term", uint64(n.term)))
	l.LogAttrs(context.Background(), level, msg, attrs...)
}

// logRole records the role the node just took.
func (n *Node) logRole() {
	if n.cfg.Logger != nil {
		n.logEvent(slog.LevelInfo, "raft: role changed", slog.String("role", n.role.String()),
			slog.Uint64("leader", uint64(n.lead)), slog.Uint64("last_index", uint64(n.log.lastIndex())))
	}
}
