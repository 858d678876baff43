package raft

import (
	"bytes"
	"log/slog"
	"strings"
	"testing"
)

// Config.Logger: role changes and rare events reach the log with the node's
// ID and term — here an election, then a leader cut off from its quorum
// stepping down by check-quorum (thesis §6.2) — and nothing is logged per
// message: a stream of heartbeats adds no line.
func TestLoggerRecordsRoleChangesAndStepDown(t *testing.T) {
	var buf bytes.Buffer
	logger := slog.New(slog.NewTextHandler(&buf, &slog.HandlerOptions{Level: slog.LevelDebug}))
	tn := newTestNet(t, 3, testCfg(func(c *Config) { c.Logger = logger }))
	tn.campaign(1)
	for _, want := range []string{
		`msg="raft: role changed" role=PreCandidate leader=0 last_index=0 node=1 term=0`,
		`msg="raft: role changed" role=Candidate leader=0 last_index=0 node=1 term=1`,
		`msg="raft: role changed" role=Leader leader=1 last_index=1 node=1 term=1`,
		`msg="raft: role changed" role=Follower leader=1 last_index=0 node=2 term=1`,
	} {
		if !strings.Contains(buf.String(), want) {
			t.Errorf("log lacks %s; log:\n%s", want, buf.String())
		}
	}
	before := strings.Count(buf.String(), "\n")
	tn.tickAll(3) // heartbeats, acknowledged
	if after := strings.Count(buf.String(), "\n"); after != before {
		t.Errorf("a steady leader logged %d lines in 3 ticks; log:\n%s", after-before, buf.String())
	}
	tn.isolate(1)
	tn.tick(1, 2*defaultTestConfig(1).ElectionTicks)
	for _, want := range []string{
		`level=WARN msg="raft: leader stepping down: no quorum heard from in an election timeout" node=1 term=1`,
		`msg="raft: role changed" role=Follower leader=0 last_index=1 node=1 term=1`,
	} {
		if !strings.Contains(buf.String(), want) {
			t.Errorf("log lacks %s; log:\n%s", want, buf.String())
		}
	}
}
