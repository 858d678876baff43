package raft

import (
	"testing"
	"unsafe"
)

// TestTickFieldsShareACacheLine guards a performance property, not a Raft
// rule: every field a follower's Tick reads lies in the first 64 bytes of
// the Node, so ticking thousands of idle groups touches one cache line of
// each (docs/performance.md, optimisation 4). Moving one of these fields, or
// putting a field before them, fails here rather than silently slowing
// hosts down.
func TestTickFieldsShareACacheLine(t *testing.T) {
	var n Node
	fields := map[string]uintptr{
		"role":              unsafe.Offsetof(n.role) + unsafe.Sizeof(n.role),
		"quiescent":         unsafe.Offsetof(n.quiescent) + unsafe.Sizeof(n.quiescent),
		"ticks":             unsafe.Offsetof(n.ticks) + unsafe.Sizeof(n.ticks),
		"electionElapsed":   unsafe.Offsetof(n.electionElapsed) + unsafe.Sizeof(n.electionElapsed),
		"randomizedTimeout": unsafe.Offsetof(n.randomizedTimeout) + unsafe.Sizeof(n.randomizedTimeout),
		"reads":             unsafe.Offsetof(n.reads) + unsafe.Sizeof(n.reads),
	}
	for name, end := range fields {
		if end > 64 {
			t.Errorf("Node.%s ends at byte %d, beyond the first cache line", name, end)
		}
	}
}
