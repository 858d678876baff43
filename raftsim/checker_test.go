package raftsim

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/anishathalye/porcupine"
	"github.com/pureraft/raft"
)

// Every invariant has tests that plant a violation and show it is caught:
// doctored observations fed straight to the checker, and deliberately
// broken nodes (Core wrappers), disks or read paths run through the whole
// simulator.

// --- doctored observations ---------------------------------------------

// fixture is a checker with one disk per node, plus helpers that feed it
// what a node would emit.
type fixture struct {
	t     *testing.T
	c     *checker
	disks []*simDisk
	hs    []raft.HardState
}

func newFixture(t *testing.T, n int) *fixture {
	f := &fixture{t: t, c: newChecker(n)}
	for i := 0; i < n; i++ {
		f.disks = append(f.disks, &simDisk{})
		f.hs = append(f.hs, raft.HardState{})
	}
	return f
}

func entry(i raft.Index, t raft.Term, data string) raft.Entry {
	return raft.Entry{Index: i, Term: t, Type: raft.EntryNormal, Data: []byte(data)}
}

// persist makes node id emit entries (and the hard state, if term > 0),
// durable at once.
func (f *fixture) persist(id raft.NodeID, st raft.Status, term raft.Term, vote raft.NodeID, commit raft.Index, ents ...raft.Entry) {
	p := raft.Persist{ID: 1, Entries: ents}
	if term > 0 {
		p.HasHardState, p.HardState = true, raft.HardState{Term: term, Vote: vote, Commit: commit}
	}
	f.c.onPersist(id, &st, &p)
	before := f.disks[id-1].HardState()
	if err := f.disks[id-1].write(&p, nil); err != nil {
		f.t.Fatal(err)
	}
	f.c.onDurable(id, before, f.disks[id-1], &p)
}

// status reports node id's status; the log fields come from its shadow.
func (f *fixture) status(id raft.NodeID, role raft.Role, term raft.Term, commit raft.Index) {
	v := f.c.view(id)
	st := raft.Status{ID: id, Role: role, Term: term, Commit: commit, LastIndex: v.lastIndex(), LastTerm: v.lastTerm()}
	f.c.onStatus(id, &st)
}

func (f *fixture) apply(id raft.NodeID, e raft.Entry) { f.c.onApply(id, &e, f.disks[id-1]) }

func (f *fixture) want(inv Invariant) {
	f.t.Helper()
	v := f.c.violation
	if v == nil {
		f.t.Fatalf("no violation; want %s", inv)
	}
	if v.Invariant != inv {
		f.t.Fatalf("got %v; want %s", v, inv)
	}
	f.t.Logf("caught: %v", v)
}

func (f *fixture) clean() {
	f.t.Helper()
	if f.c.violation != nil {
		f.t.Fatalf("unexpected violation before the planted one: %v", f.c.violation)
	}
}

var (
	leader   = raft.RoleLeader
	follower = raft.RoleFollower
)

func TestCatchElectionSafety(t *testing.T) {
	t.Run("two leaders reported", func(t *testing.T) {
		f := newFixture(t, 3)
		f.status(1, leader, 2, 0)
		f.status(2, follower, 2, 0)
		f.clean()
		f.status(2, leader, 2, 0)
		f.want(ElectionSafety)
	})
	t.Run("append sent by a second leader", func(t *testing.T) {
		f := newFixture(t, 3)
		f.status(1, leader, 4, 0)
		m := raft.Message{Type: raft.MsgHeartbeat, From: 3, To: 2, Term: 4}
		f.c.onSend(3, &m, f.disks[2])
		f.want(ElectionSafety)
	})
	t.Run("leaders of different terms are fine", func(t *testing.T) {
		f := newFixture(t, 3)
		f.status(1, leader, 2, 0)
		f.status(2, leader, 3, 0)
		f.clean()
	})
}

func TestCatchLeaderAppendOnly(t *testing.T) {
	f := newFixture(t, 3)
	f.persist(1, raft.Status{}, 2, 1, 0, entry(1, 1, "a"), entry(2, 2, "b"), entry(3, 2, "c"))
	f.status(1, leader, 2, 0)
	f.clean()
	// The leader of term 2 rewrites its log from index 2.
	f.persist(1, raft.Status{Role: leader, Term: 2}, 0, 0, 0, entry(2, 2, "b"))
	f.want(LeaderAppendOnly)
}

func TestCatchLogMatching(t *testing.T) {
	t.Run("same index and term, different entry", func(t *testing.T) {
		f := newFixture(t, 3)
		f.persist(1, raft.Status{}, 1, 1, 0, entry(1, 1, "x"))
		f.persist(2, raft.Status{}, 1, 1, 0, entry(1, 1, "y"))
		f.want(LogMatching)
	})
	t.Run("same entry after different prefixes", func(t *testing.T) {
		f := newFixture(t, 3)
		f.persist(1, raft.Status{}, 3, 1, 0, entry(1, 1, "a"), entry(2, 3, "c"))
		f.persist(2, raft.Status{}, 3, 1, 0, entry(1, 2, "b"), entry(2, 3, "c"))
		f.want(LogMatching)
	})
	t.Run("identical logs are fine", func(t *testing.T) {
		f := newFixture(t, 3)
		for id := raft.NodeID(1); id <= 3; id++ {
			f.persist(id, raft.Status{}, 3, 1, 0, entry(1, 1, "a"), entry(2, 3, "c"))
		}
		f.clean()
	})
}

func TestCatchLeaderCompleteness(t *testing.T) {
	t.Run("new leader lacks a committed entry", func(t *testing.T) {
		f := newFixture(t, 3)
		f.persist(1, raft.Status{}, 2, 1, 2, entry(1, 1, "a"), entry(2, 2, "b"))
		f.status(1, leader, 2, 2) // entries 1 and 2 committed in term 2
		f.persist(2, raft.Status{}, 3, 2, 0, entry(1, 1, "a"))
		f.clean()
		f.status(2, leader, 3, 0)
		f.want(LeaderCompleteness)
	})
	t.Run("sitting leader lacks an entry committed earlier", func(t *testing.T) {
		f := newFixture(t, 3)
		f.persist(1, raft.Status{}, 1, 1, 0, entry(1, 1, "a"))
		f.persist(2, raft.Status{}, 1, 1, 0, entry(1, 1, "a"), entry(2, 1, "b"))
		f.persist(3, raft.Status{}, 3, 3, 0, entry(1, 1, "a"))
		f.status(3, leader, 3, 0)
		f.clean()
		// Node 2, still in term 1, reports entry 2 committed: it was
		// committed by term 1, so the leader of term 3 must hold it.
		f.status(2, follower, 1, 2)
		f.want(LeaderCompleteness)
	})
}

func TestCatchStateMachineSafety(t *testing.T) {
	t.Run("two nodes apply different entries", func(t *testing.T) {
		f := newFixture(t, 3)
		f.persist(1, raft.Status{}, 1, 1, 0, entry(1, 1, "a"))
		f.persist(2, raft.Status{}, 2, 2, 0, entry(1, 2, "b"))
		f.apply(1, entry(1, 1, "a"))
		f.clean()
		f.apply(2, entry(1, 2, "b"))
		f.want(StateMachineSafety)
	})
	t.Run("two nodes commit different entries", func(t *testing.T) {
		f := newFixture(t, 3)
		f.persist(1, raft.Status{}, 1, 1, 1, entry(1, 1, "a"))
		f.persist(2, raft.Status{}, 2, 2, 1, entry(1, 2, "b"))
		f.status(1, follower, 1, 1)
		f.clean()
		f.status(2, follower, 2, 1)
		f.want(StateMachineSafety)
	})
	t.Run("an entry applied twice", func(t *testing.T) {
		f := newFixture(t, 3)
		f.persist(1, raft.Status{}, 1, 1, 0, entry(1, 1, "a"))
		f.apply(1, entry(1, 1, "a"))
		f.apply(1, entry(1, 1, "a"))
		f.want(StateMachineSafety)
	})
}

func TestCatchCommitMonotonic(t *testing.T) {
	t.Run("durable commit goes back", func(t *testing.T) {
		f := newFixture(t, 3)
		f.persist(1, raft.Status{}, 1, 1, 2, entry(1, 1, "a"), entry(2, 1, "b"))
		f.clean()
		f.persist(1, raft.Status{}, 1, 1, 1)
		f.want(CommitMonotonic)
	})
	t.Run("in-memory commit goes back", func(t *testing.T) {
		f := newFixture(t, 3)
		f.persist(1, raft.Status{}, 1, 1, 0, entry(1, 1, "a"), entry(2, 1, "b"))
		f.status(1, follower, 1, 2)
		f.clean()
		f.status(1, follower, 1, 1)
		f.want(CommitMonotonic)
	})
}

func TestCatchDurability(t *testing.T) {
	t.Run("vote granted before it is durable", func(t *testing.T) {
		f := newFixture(t, 3)
		m := raft.Message{Type: raft.MsgVoteResp, From: 2, To: 1, Term: 1}
		f.c.onSend(2, &m, f.disks[1])
		f.want(Durability)
	})
	t.Run("append acknowledged before it is durable", func(t *testing.T) {
		f := newFixture(t, 3)
		f.persist(2, raft.Status{}, 1, 1, 0, entry(1, 1, "a"))
		m := raft.Message{Type: raft.MsgAppResp, From: 2, To: 1, Term: 1, Index: 2}
		f.c.onSend(2, &m, f.disks[1])
		f.want(Durability)
	})
	t.Run("entry applied before it is durable", func(t *testing.T) {
		f := newFixture(t, 3)
		f.apply(1, entry(1, 1, "a"))
		f.want(Durability)
	})
	t.Run("durable vote changed within a term", func(t *testing.T) {
		f := newFixture(t, 3)
		f.persist(3, raft.Status{}, 5, 1, 0)
		f.clean()
		f.persist(3, raft.Status{}, 5, 2, 0)
		f.want(Durability)
	})
	t.Run("durable state consistent", func(t *testing.T) {
		f := newFixture(t, 3)
		f.persist(2, raft.Status{}, 1, 1, 1, entry(1, 1, "a"))
		for _, m := range []raft.Message{
			{Type: raft.MsgVoteResp, From: 2, To: 1, Term: 1},
			{Type: raft.MsgAppResp, From: 2, To: 1, Term: 1, Index: 1},
		} {
			f.c.onSend(2, &m, f.disks[1])
		}
		f.apply(2, entry(1, 1, "a"))
		f.clean()
	})
}

func TestCatchProtocol(t *testing.T) {
	t.Run("persist leaves a gap", func(t *testing.T) {
		f := newFixture(t, 3)
		st := raft.Status{}
		p := raft.Persist{ID: 1, Entries: []raft.Entry{entry(3, 1, "c")}}
		f.c.onPersist(1, &st, &p)
		f.want(Protocol)
	})
	t.Run("status disagrees with the persisted log", func(t *testing.T) {
		f := newFixture(t, 3)
		st := raft.Status{ID: 1, Term: 1, LastIndex: 1, LastTerm: 1}
		f.c.onStatus(1, &st)
		f.want(Protocol)
	})
}

func TestCatchLinearizabilityDoctored(t *testing.T) {
	put := porcupine.Operation{ClientId: 0, Input: KVInput{Op: KVPut, Key: "k", Value: "1"}, Output: KVOutput{}, Call: 1, Return: 2}
	staleGet := porcupine.Operation{ClientId: 1, Input: KVInput{Op: KVGet, Key: "k"}, Output: KVOutput{Value: ""}, Call: 3, Return: 4}
	freshGet := staleGet
	freshGet.Output = KVOutput{Value: "1"}
	if got := checkLinearizable(KVModel(), []porcupine.Operation{put, staleGet}, 0); got != "illegal" {
		t.Fatalf("a read after a completed write returned the old value: verdict %q, want illegal", got)
	}
	if got := checkLinearizable(KVModel(), []porcupine.Operation{put, freshGet}, 0); got != "ok" {
		t.Fatalf("verdict %q, want ok", got)
	}
	// A write that never returned may have happened, or not.
	pending := put
	pending.Return = 1 << 62
	freshGet.Call, freshGet.Return = 3, 4
	staleGet.Call, staleGet.Return = 5, 6
	if got := checkLinearizable(KVModel(), []porcupine.Operation{pending, staleGet, freshGet}, 0); got != "illegal" {
		t.Fatalf("the value must not disappear once read: verdict %q", got)
	}
	staleGet.Call, staleGet.Return = 3, 4
	freshGet.Call, freshGet.Return = 5, 6
	if got := checkLinearizable(KVModel(), []porcupine.Operation{pending, staleGet, freshGet}, 0); got != "ok" {
		t.Fatalf("a pending write taking effect late: verdict %q, want ok", got)
	}
}

// --- broken nodes, disks and read paths in full runs ---------------------

// broken wraps a node and doctors what it emits or reports.
type broken struct {
	*raft.Node
	actions func(id raft.NodeID, acts []raft.Action) []raft.Action
	status  func(id raft.NodeID, st raft.Status) raft.Status
	n       int // calls so far, for the doctors' use
}

func (b *broken) Actions() []raft.Action {
	acts := b.Node.Actions()
	if b.actions == nil {
		return acts
	}
	b.n++
	return b.actions(b.Node.ID(), acts)
}

func (b *broken) Status() raft.Status {
	st := b.Node.Status()
	if b.status != nil {
		st = b.status(b.Node.ID(), st)
	}
	return st
}

func wrapWith(mk func() *broken) func(raft.NodeID, *raft.Node) Core {
	return func(id raft.NodeID, n *raft.Node) Core {
		b := mk()
		b.Node = n
		return b
	}
}

// corrupt returns a copy of ents whose normal entries' payloads differ.
func corrupt(ents []raft.Entry) []raft.Entry {
	out := append([]raft.Entry(nil), ents...)
	for i := range out {
		if out[i].Type == raft.EntryNormal {
			out[i].Data = append(append([]byte(nil), out[i].Data...), '!')
		}
	}
	return out
}

// expectCaught runs sc until a seed breaks inv (at most maxSeeds), and
// checks the report carries what a failure report must.
func expectCaught(t *testing.T, sc Scenario, opts Options, inv Invariant, maxSeeds uint64) *Result {
	t.Helper()
	for seed := uint64(1); seed <= maxSeeds; seed++ {
		res, err := Run(sc, seed, opts)
		if err != nil {
			t.Fatal(err)
		}
		if !res.Failed() {
			continue
		}
		if res.Violation.Invariant != inv {
			t.Fatalf("seed %d: got %v, want %s", seed, res.Violation, inv)
		}
		rep := res.Report()
		for _, want := range []string{fmt.Sprintf("seed %d", seed), inv.String(), "go run ./cmd/raftsim -scenario", "last 30 trace events"} {
			if !strings.Contains(rep, want) {
				t.Fatalf("report lacks %q:\n%s", want, rep)
			}
		}
		if lines := strings.Count(rep, "\n"); lines < 10 {
			t.Fatalf("report has only %d lines:\n%s", lines, rep)
		}
		t.Logf("seed %d: %v", seed, res.Violation)
		return res
	}
	t.Fatalf("no seed in 1..%d broke %s", maxSeeds, inv)
	return nil
}

func short(name string) Scenario {
	sc, _ := ScenarioNamed(name)
	sc.Ticks = 400
	return sc
}

func TestPlantedFollowerClaimsLeadership(t *testing.T) {
	// Node 2 reports itself leader of whatever term it follows a leader in.
	opts := Options{WrapNode: wrapWith(func() *broken {
		return &broken{status: func(id raft.NodeID, st raft.Status) raft.Status {
			if id == 2 && st.Role == raft.RoleFollower && st.Leader != raft.None {
				st.Role = raft.RoleLeader
			}
			return st
		}}
	})}
	expectCaught(t, short("calm"), opts, ElectionSafety, 5)
}

func TestPlantedCorruptLog(t *testing.T) {
	// Node 3 writes corrupted payloads (as a buggy codec would).
	opts := Options{WrapNode: wrapWith(func() *broken {
		return &broken{actions: func(id raft.NodeID, acts []raft.Action) []raft.Action {
			if id != 3 {
				return acts
			}
			for i := range acts {
				if acts[i].Kind == raft.ActionPersist {
					acts[i].Persist.Entries = corrupt(acts[i].Persist.Entries)
				}
			}
			return acts
		}}
	})}
	expectCaught(t, short("calm"), opts, LogMatching, 5)
}

func TestPlantedCorruptApply(t *testing.T) {
	// Node 4 applies corrupted payloads from index 10 on.
	opts := Options{WrapNode: wrapWith(func() *broken {
		return &broken{actions: func(id raft.NodeID, acts []raft.Action) []raft.Action {
			if id != 4 {
				return acts
			}
			for i := range acts {
				if a := &acts[i]; a.Kind == raft.ActionApply && len(a.Apply.Entries) > 0 && a.Apply.Entries[0].Index >= 10 {
					a.Apply.Entries = corrupt(a.Apply.Entries)
				}
			}
			return acts
		}}
	})}
	expectCaught(t, short("calm"), opts, StateMachineSafety, 5)
}

func TestPlantedCommitRegression(t *testing.T) {
	// Node 1 once persists a commit index far below the one on disk.
	opts := Options{WrapNode: wrapWith(func() *broken {
		b := &broken{}
		done := false
		b.actions = func(id raft.NodeID, acts []raft.Action) []raft.Action {
			for i := range acts {
				if p := &acts[i].Persist; id == 1 && !done && acts[i].Kind == raft.ActionPersist && p.HasHardState && p.HardState.Commit > 20 {
					p.HardState.Commit = 1
					done = true
				}
			}
			return acts
		}
		return b
	})}
	expectCaught(t, short("calm"), opts, CommitMonotonic, 5)
}

func TestPlantedLyingDisk(t *testing.T) {
	// A disk that acknowledges writes before they are durable: a vote or
	// an append acknowledgement leaves while the disk does not hold it.
	expectCaught(t, short("figure8"), Options{lyingDisk: true}, Durability, 5)
}

// amnesia is a 3-node cluster whose nodes crash often, each with many
// slow writes in flight: with a lying disk, a crashed node forgets votes
// and entries it acknowledged.
func amnesia() Scenario {
	sc, _ := ScenarioNamed("figure8")
	sc.Nodes, sc.Ticks = 3, 600
	sc.Disk.DelayMin, sc.Disk.DelayMax = Ticks(2), Ticks(12)
	sc.Faults = FaultOptions{Crash: 0.25, DownMin: 1, DownMax: 4, MaxDown: 1, LeaderBias: 0.3}
	sc.Schedule = nil
	sc.Network.Late = 0 // crashes alone make the amnesia
	return sc
}

func TestPlantedLyingDiskConsequences(t *testing.T) {
	// With the durability check muted — with every check muted but one —
	// the lying disk's consequences are caught by each safety property in
	// turn: two leaders in a term (a forgotten vote), a leader without a
	// committed entry, nodes applying different entries, logs that differ
	// before a matching entry, and a non-linearizable history.
	for _, inv := range []Invariant{ElectionSafety, LeaderCompleteness, StateMachineSafety, LogMatching, Linearizability} {
		t.Run(inv.String(), func(t *testing.T) {
			var ignore []Invariant
			for _, other := range Invariants() {
				if other != inv {
					ignore = append(ignore, other)
				}
			}
			expectCaught(t, amnesia(), Options{lyingDisk: true, ignore: ignore}, inv, 300)
		})
	}
}

func TestPlantedDroppedPersist(t *testing.T) {
	// Node 2 silently skips its persist actions after the first few.
	opts := Options{WrapNode: wrapWith(func() *broken {
		b := &broken{}
		b.actions = func(id raft.NodeID, acts []raft.Action) []raft.Action {
			if id != 2 || b.n < 30 {
				return acts
			}
			out := acts[:0]
			for _, a := range acts {
				if a.Kind != raft.ActionPersist {
					out = append(out, a)
				}
			}
			return out
		}
		return b
	})}
	expectCaught(t, short("calm"), opts, Protocol, 5)
}

func TestPlantedNoVotes(t *testing.T) {
	// Every node loses its vote requests: no leader is ever elected, and
	// the liveness check fails after healing.
	sc := short("calm")
	sc.Ticks, sc.LivenessTicks = 50, 60
	opts := Options{WrapNode: wrapWith(func() *broken {
		return &broken{actions: func(id raft.NodeID, acts []raft.Action) []raft.Action {
			out := acts[:0]
			for _, a := range acts {
				if a.Kind == raft.ActionSend && (a.Message.Type == raft.MsgVote || a.Message.Type == raft.MsgPreVote) {
					continue
				}
				out = append(out, a)
			}
			return out
		}}
	})}
	expectCaught(t, sc, opts, Liveness, 2)
}

func TestPlantedStaleReads(t *testing.T) {
	// Reads answered by whichever node the client asked, from its local
	// state and without going through the leader: the history is not
	// linearizable, and porcupine says so.
	sc, _ := ScenarioNamed("leader-partition-minority")
	sc.Ticks = 600
	sc.Workload.Reads = readLocalUnsafe
	res := expectCaught(t, sc, Options{}, Linearizability, 30)
	// porcupine's visualization of the offending history.
	path := filepath.Join(t.TempDir(), "history.html")
	if err := res.WriteLinearizationHTML(path); err != nil {
		t.Fatal(err)
	}
	if fi, err := os.Stat(path); err != nil || fi.Size() < 1000 {
		t.Fatalf("visualization: %v", err)
	}
}

func TestPlantedReadIndexNoWait(t *testing.T) {
	// ReadIndex reads answered as soon as the read index is confirmed,
	// without waiting for the state machine to apply that far: a follower
	// that lags serves stale values, and porcupine says so.
	sc := DefaultScenario()
	sc.Ticks = 600
	sc.Workload.Reads = readIndexNoWait
	expectCaught(t, sc, Options{}, Linearizability, 40)
}

// TestShrink: a planted bug that needs no faults shrinks to a run with
// none, cut short after the failure.
func TestShrink(t *testing.T) {
	opts := Options{WrapNode: wrapWith(func() *broken {
		return &broken{actions: func(id raft.NodeID, acts []raft.Action) []raft.Action {
			for i := range acts {
				if a := &acts[i]; id == 4 && a.Kind == raft.ActionApply && len(a.Apply.Entries) > 0 && a.Apply.Entries[0].Index >= 200 {
					a.Apply.Entries = corrupt(a.Apply.Entries)
				}
			}
			return acts
		}}
	})}
	sc := DefaultScenario()
	res, _ := Run(sc, 5, opts)
	if !res.Failed() || res.Violation.Invariant != StateMachineSafety {
		t.Fatalf("planted bug not caught: %v", res.Violation)
	}
	s := Shrink(sc, 5, opts, res, 40)
	t.Logf("removed %v in %d runs; replay: %s", s.Removed, s.Runs, s.Scenario.ReplayCommand(5))
	if s.Result.Violation.Invariant != StateMachineSafety {
		t.Fatalf("shrunk run fails differently: %v", s.Result.Violation)
	}
	if s.Scenario.Ticks >= sc.Ticks || s.Scenario.Faults.Crash != 0 || s.Scenario.Network.Drop != 0 {
		t.Fatalf("not shrunk: %+v", s.Scenario)
	}
	// The shrunk scenario's replay flags rebuild it.
	back := DefaultScenario()
	if err := back.ApplyFlagArgs(s.Scenario.FlagArgs()); err != nil {
		t.Fatal(err)
	}
	again, _ := Run(back, 5, opts)
	if again.Violation == nil || again.Violation.Step != s.Result.Violation.Step {
		t.Fatalf("replaying the shrunk scenario: %v, want %v", again.Violation, s.Result.Violation)
	}
}

func TestCatchWitnessNeverLeads(t *testing.T) {
	t.Run("a witness reports leadership", func(t *testing.T) {
		f := newFixture(t, 3)
		f.c.setWitness(3, true, entryKey{})
		f.status(1, leader, 2, 0)
		f.status(3, follower, 2, 0)
		f.clean()
		f.status(3, leader, 3, 0)
		f.want(WitnessNeverLeads)
	})
	t.Run("a witness sends appends", func(t *testing.T) {
		f := newFixture(t, 3)
		f.c.setWitness(2, true, entryKey{})
		m := raft.Message{Type: raft.MsgApp, From: 2, To: 1, Term: 4}
		f.c.onSend(2, &m, f.disks[1])
		f.want(WitnessNeverLeads)
	})
	t.Run("a leader whose log lacks payloads", func(t *testing.T) {
		f := newFixture(t, 3)
		f.persist(1, raft.Status{}, 1, 1, 0, entry(1, 1, "a"))
		f.c.setWitness(3, true, entryKey{})
		f.persist(3, raft.Status{}, 1, 1, 0, entry(1, 1, ""))
		f.clean()
		// Its host wrongly runs it as a data server from now on.
		f.c.setWitness(3, false, entryKey{})
		f.status(3, leader, 2, 0)
		f.want(WitnessNeverLeads)
	})
}

func TestCatchPayloadlessEntries(t *testing.T) {
	t.Run("on a data member", func(t *testing.T) {
		f := newFixture(t, 3)
		f.persist(1, raft.Status{}, 1, 1, 0, entry(1, 1, "a"))
		f.persist(2, raft.Status{}, 1, 1, 0, entry(1, 1, ""))
		f.want(LogMatching)
	})
	t.Run("on a witness whose role is not committed", func(t *testing.T) {
		f := newFixture(t, 3)
		f.persist(1, raft.Status{}, 1, 1, 0, entry(1, 1, "a"), entry(2, 1, "b"))
		f.c.setWitness(3, true, entryKey{2, 1}) // index 2 is not committed
		f.persist(3, raft.Status{}, 1, 1, 0, entry(1, 1, ""))
		f.want(LogMatching)
	})
	t.Run("on a witness whose role is committed: fine", func(t *testing.T) {
		f := newFixture(t, 3)
		f.persist(1, raft.Status{}, 1, 1, 0, entry(1, 1, "a"), entry(2, 1, "b"), entry(3, 1, "c"))
		f.status(1, leader, 1, 2)
		f.c.setWitness(3, true, entryKey{2, 1})
		f.persist(3, raft.Status{}, 1, 1, 0, entry(1, 1, ""), entry(2, 1, ""), entry(3, 1, ""))
		f.apply(3, entry(1, 1, ""))
		f.apply(1, entry(1, 1, "a"))
		f.status(3, follower, 1, 2)
		f.clean()
		// The payload still counts on data members.
		f.persist(2, raft.Status{}, 1, 1, 0, entry(1, 1, "a"))
		f.clean()
		f.apply(2, entry(1, 1, "x"))
		f.want(StateMachineSafety)
	})
}

// Issue 18: a role is the one the committed configuration gives a server
// (thesis §4.1: a configuration entry is effective when appended, and
// rolled back if truncated; once committed it stays). An entry that
// proposed a role and is not committed yet may still commit — from
// another leader's log — after a later proposal gave the server another
// role. The checker used to judge by the last proposal.
func TestCatchWitnessRoleByCommittedConfiguration(t *testing.T) {
	t.Run("proposed a witness, then a data member; the witness entry commits: payloads may be withheld", func(t *testing.T) {
		f := newFixture(t, 3)
		f.persist(1, raft.Status{}, 1, 1, 0, entry(1, 1, "a"), entry(2, 1, "b"), entry(3, 1, "c"))
		f.c.setWitness(3, true, entryKey{2, 1}) // one leader's proposal
		f.c.setWitness(3, false, entryKey{})    // its host told otherwise by another's
		f.c.setData(3, entryKey{2, 2})          // which is never committed
		f.status(1, leader, 1, 2)               // the first one commits
		f.persist(3, raft.Status{}, 1, 1, 0, entry(1, 1, ""), entry(2, 1, ""), entry(3, 1, ""))
		f.clean()
		if !f.c.witnessCommitted(3) || f.c.dataPending(3) {
			t.Errorf("witnessCommitted %v, dataPending %v: want true, false", f.c.witnessCommitted(3), f.c.dataPending(3))
		}
	})
	t.Run("proposed a witness by an entry never committed: it may lead", func(t *testing.T) {
		f := newFixture(t, 3)
		f.persist(1, raft.Status{}, 1, 1, 0, entry(1, 1, "a"), entry(2, 1, "b"))
		f.c.setWitness(3, true, entryKey{2, 7}) // overwritten: index 2 commits with term 1
		f.status(1, leader, 1, 2)
		f.status(1, follower, 2, 2)
		f.persist(3, raft.Status{}, 2, 3, 0, entry(1, 1, "a"), entry(2, 1, "b"))
		f.status(3, leader, 3, 0)
		f.clean()
		if !f.c.witnessRolledBack(3) {
			t.Errorf("witness entry 2/7 was overwritten by the committed 2/1, but the role is not rolled back")
		}
	})
	t.Run("a witness in its own log's configuration leads", func(t *testing.T) {
		f := newFixture(t, 3)
		f.c.witnessInLog = func(id raft.NodeID) bool { return id == 2 }
		f.status(2, leader, 4, 0)
		f.want(WitnessNeverLeads)
	})
}

func TestPlantedWitnessClaimsLeadership(t *testing.T) {
	// Node 3, a witness, reports itself leader of whatever term it
	// follows a leader in.
	sc := short("calm")
	sc.Nodes, sc.Features.Witness = 3, true
	opts := Options{WrapNode: wrapWith(func() *broken {
		return &broken{status: func(id raft.NodeID, st raft.Status) raft.Status {
			if id == 3 && st.Role == raft.RoleFollower && st.Leader != raft.None {
				st.Role = raft.RoleLeader
			}
			return st
		}}
	})}
	expectCaught(t, sc, opts, WitnessNeverLeads, 5)
}

func TestPlantedPayloadsStripped(t *testing.T) {
	// Node 2, a data member, stores its entries without payloads (as if
	// the leader treated it as a witness).
	opts := Options{WrapNode: wrapWith(func() *broken {
		return &broken{actions: func(id raft.NodeID, acts []raft.Action) []raft.Action {
			if id != 2 {
				return acts
			}
			for i := range acts {
				if a := &acts[i]; a.Kind == raft.ActionPersist {
					ents := append([]raft.Entry(nil), a.Persist.Entries...)
					for k := range ents {
						if ents[k].Type == raft.EntryNormal {
							ents[k].Data = nil
						}
					}
					a.Persist.Entries = ents
				}
			}
			return acts
		}}
	})}
	expectCaught(t, short("calm"), opts, LogMatching, 5)
}
