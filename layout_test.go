package raft

import (
	"os"
	"path/filepath"
	"strings"
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

// TestNodeFitsItsSizeClass guards the idle-group memory figure
// (docs/performance.md): a Node of at most 512 bytes is allocated from the
// 512-byte size class, which keeps an idle follower group under 1 KiB. A
// field that pushes it past 512 costs 64 bytes per group (the next class
// is 576): put state that idle followers do not use behind a pointer
// (leaderState, campaign, readQueue) instead, or update the figures.
func TestNodeFitsItsSizeClass(t *testing.T) {
	if size := unsafe.Sizeof(Node{}); size > 512 {
		t.Errorf("Node is %d bytes, more than the 512-byte size class", size)
	}
}

// TestBehaviourTestFilesIndexed keeps the behaviour tests findable by
// topic: every raft_*_test.go file that holds tests is listed in the index in raft_test.go
// and in docs/testing.md, so a reader looking for a rule's tests knows
// which file holds them.
func TestBehaviourTestFilesIndexed(t *testing.T) {
	files, _ := filepath.Glob("raft_*_test.go")
	index, err := os.ReadFile("raft_test.go")
	if err != nil {
		t.Fatal(err)
	}
	doc, err := os.ReadFile("docs/testing.md")
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range files {
		if src, _ := os.ReadFile(f); !strings.Contains(string(src), "\nfunc Test") {
			continue // helpers only
		}
		if !strings.Contains(string(index), "//\t"+f+" ") {
			t.Errorf("%s is not listed in the index in raft_test.go", f)
		}
		if !strings.Contains(string(doc), "`"+f+"`") {
			t.Errorf("%s is not listed in docs/testing.md", f)
		}
	}
}
