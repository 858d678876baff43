package raftsim

import (
	"testing"

	"github.com/pureraft/raft"
)

// replayLogView replays log view changes the way the page's script does
// (logsAt in html.go) and returns each node's in-memory log: the term of
// every entry after base, and the commit index.
func replayLogView(ops [][]any, nodes int) (logs [][]raft.Term, bases, commits []raft.Index) {
	logs, bases, commits = make([][]raft.Term, nodes+1), make([]raft.Index, nodes+1), make([]raft.Index, nodes+1)
	disk, diskBase := make([][]raft.Term, nodes+1), make([]raft.Index, nodes+1)
	write := func(log []raft.Term, base, first raft.Index, runs []raft.Term) []raft.Term {
		log = log[:min(len(log), int(first-base-1))]
		for r := 0; r < len(runs); r += 2 {
			for range runs[r+1] {
				log = append(log, runs[r])
			}
		}
		return log
	}
	for _, op := range ops {
		n, kind, a, terms := op[1].(raft.NodeID), op[2].(string), op[3].(raft.Index), op[5].([]raft.Term)
		switch kind {
		case "m":
			logs[n] = write(logs[n], bases[n], a, terms)
		case "d":
			disk[n] = write(disk[n], diskBase[n], a, terms)
		case "M":
			logs[n], bases[n] = nil, a
		case "D":
			disk[n], diskBase[n] = nil, a
		case "c":
			commits[n] = a
		case "x":
			logs[n], bases[n] = append([]raft.Term(nil), disk[n]...), diskBase[n]
			commits[n] = min(commits[n], diskBase[n]+raft.Index(len(disk[n])))
		}
	}
	return logs, bases, commits
}

// TestLogViewMatchesTheLogs: replaying the log view's changes up to any
// step gives, for every node up at that step, the log the checker's shadow
// log holds (built from the same persist actions and checked against the
// node's status at every step), in runs with crashes, compaction,
// snapshots and membership changes: the page draws the logs the nodes
// really had at the time it shows.
func TestLogViewMatchesTheLogs(t *testing.T) {
	for _, name := range []string{"default", "churn", "snapshots"} {
		for seed := uint64(1); seed <= 3; seed++ {
			sc, _ := ScenarioNamed(name)
			compared := 0
			check := func(s *Sim) {
				if s.step%500 != 0 {
					return
				}
				logs, bases, _ := replayLogView(s.logs.ops, sc.totalNodes())
				for id := 1; id <= sc.totalNodes(); id++ {
					v := s.chk.view(raft.NodeID(id))
					if !v.up || s.nodes[id-1].core == nil {
						continue
					}
					for i, e := range v.log {
						idx := v.snapIndex + raft.Index(i) + 1
						k := int(idx - bases[id] - 1)
						if k < 0 || k >= len(logs[id]) || logs[id][k] != e.term {
							t.Fatalf("%s seed %d step %d: node %d entry %d: the log view has base %d and %d entries, the node term %d",
								name, seed, s.step, id, idx, bases[id], len(logs[id]), e.term)
						}
						compared++
					}
					if last := bases[id] + raft.Index(len(logs[id])); last != v.snapIndex+raft.Index(len(v.log)) {
						t.Fatalf("%s seed %d step %d: node %d: the log view ends at %d, the node's log at %d", name, seed, s.step, id, last, v.snapIndex+raft.Index(len(v.log)))
					}
				}
			}
			res, err := Run(sc, seed, Options{FullTrace: true, afterStep: check})
			if err != nil {
				t.Fatal(err)
			}
			if res.Failed() {
				t.Fatalf("%s seed %d: %v", name, seed, res.Violation)
			}
			if compared == 0 {
				t.Fatalf("%s seed %d: compared no entry", name, seed)
			}
		}
	}
}
