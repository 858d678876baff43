package raftsim

import (
	"strings"
	"testing"

	"github.com/pureraft/raft"
)

// traceUntil is the text of every event of a run up to time end.
func traceUntil(r *Result, end Time) []string {
	var out []string
	for _, e := range r.Trace.Events() {
		if e.Time <= end && e.Kind != TrTick {
			out = append(out, e.String())
		}
	}
	return out
}

// TestLiveSessionReplays: a live session with actions taken at odd moments
// (a crash of the leader, a forced election, a proposal, an isolation and
// its healing, a restart) is replayed event for event by Run with the
// scenario the session reports, and by the command line it prints.
func TestLiveSessionReplays(t *testing.T) {
	sc, _ := ScenarioNamed("calm")
	sc.Nodes = 3
	l, err := NewLive(sc, 7)
	if err != nil {
		t.Fatal(err)
	}
	l.Advance(30.4)
	actions := []struct {
		kind FaultKind
		node raft.NodeID
		then float64
	}{
		{FaultCrash, 0, 17.3}, {FaultCampaign, 2, 5.5}, {FaultPropose, 0, 9}, {FaultIsolate, 3, 12.25},
		{FaultHeal, 0, 3}, {FaultRestart, 1, 25},
	}
	for _, a := range actions {
		if err := l.Do(a.kind, a.node, 0); err != nil {
			t.Fatal(err)
		}
		l.Advance(a.then)
	}
	if v := l.Violation(); v != nil {
		t.Fatalf("live session: %v", v)
	}
	live := l.Snapshot()
	replaySc := l.Scenario()
	if len(replaySc.Schedule) != len(actions) {
		t.Fatalf("the session's schedule has %d faults, want %d: %s", len(replaySc.Schedule), len(actions), FormatSchedule(replaySc.Schedule))
	}
	cmd := l.ReplayCommand()
	if !strings.Contains(cmd, "-schedule=") {
		t.Fatalf("replay command lacks the schedule: %s", cmd)
	}
	// The command line's flags give back the same scenario.
	parsed, _ := ScenarioNamed("calm")
	args := strings.Fields(cmd)[7:] // after go run ./cmd/raftsim -scenario calm -seed 7
	if err := parsed.ApplyFlagArgs(args); err != nil {
		t.Fatalf("%s: %v", cmd, err)
	}
	if FormatSchedule(parsed.Schedule) != FormatSchedule(replaySc.Schedule) || parsed.Nodes != 3 {
		t.Fatalf("the replay command gives schedule %s and %d nodes, want %s and 3", FormatSchedule(parsed.Schedule), parsed.Nodes, FormatSchedule(replaySc.Schedule))
	}
	res, err := Run(parsed, 7, Options{FullTrace: true})
	if err != nil {
		t.Fatal(err)
	}
	want, got := traceUntil(live, live.End), traceUntil(res, live.End)
	if len(want) < 100 {
		t.Fatalf("the session traced only %d events", len(want))
	}
	for i := range want {
		if i >= len(got) || got[i] != want[i] {
			g := "(nothing)"
			if i < len(got) {
				g = got[i]
			}
			t.Fatalf("replay diverges at event %d of %d:\nsession: %s\nreplay:  %s", i, len(want), want[i], g)
		}
	}
}

func TestParseScheduleRejects(t *testing.T) {
	for _, bad := range []string{"x:crash", "5:explode", "5:crash:12", "5:crash:1:-3", "5", "1:crash:1:2:3:4"} {
		if _, err := ParseSchedule(bad); err == nil {
			t.Errorf("ParseSchedule(%q) accepted it", bad)
		}
	}
	fs, err := ParseSchedule("100:crash:leader:40:150,7:heal")
	if err != nil || len(fs) != 2 || !fs[0].Leader || fs[0].Duration != 40 || fs[0].Every != 150 || fs[1].Kind != FaultHeal {
		t.Fatalf("ParseSchedule: %+v, %v", fs, err)
	}
}
