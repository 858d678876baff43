package raftsim

import "github.com/pureraft/raft"

// This file records what the HTML timeline's log view draws: every node's
// log as Raft is about — entries coloured by term, which of them are
// durable, the commit and applied indexes, the snapshot boundary — and,
// for a leader, each follower's match and next index. The page replays
// these changes up to the time it shows (RaftScope draws the same picture
// from a model; here it comes from the real core).
//
// Each change is one array, oldest first: [time, node, kind, a, b, terms].
// Kinds:
//
//	"m" a persist action: the node's log now holds the entries from index a
//	    on with terms (run-length: term, count, term, count, ...); longer
//	    entries after them are gone (overwritten)
//	"d" those entries reached the disk (the durable log)
//	"M" / "D" a snapshot at index a replaced the in-memory / durable log
//	"C" the node compacted its log up to a (both logs)
//	"c" commit index is now a; "a" applied index is now a
//	"x" the node crashed: its log is what its disk holds
//	"p" leader node: follower a has match b and next terms[0]
type logView struct {
	ops [][]any
	// progress is the last match/next recorded per leader and follower,
	// so that only changes are recorded.
	progress map[[2]raft.NodeID][2]raft.Index
}

func newLogView() *logView {
	return &logView{ops: [][]any{}, progress: map[[2]raft.NodeID][2]raft.Index{}}
}

// termRuns encodes the entries' terms as (term, count) runs.
func termRuns(ents []raft.Entry) []raft.Term {
	var runs []raft.Term
	for i := range ents {
		if k := len(runs); k > 0 && runs[k-2] == ents[i].Term {
			runs[k-1]++
			continue
		}
		runs = append(runs, ents[i].Term, 1)
	}
	return runs
}

func (v *logView) add(at Time, id raft.NodeID, kind string, a, b raft.Index, terms []raft.Term) {
	if v == nil {
		return
	}
	if terms == nil {
		terms = []raft.Term{}
	}
	v.ops = append(v.ops, []any{at, id, kind, a, b, terms})
}

// persisted records a persist action handed to the disk (memory) or made
// durable (disk).
func (v *logView) persisted(at Time, id raft.NodeID, p *raft.Persist, durable bool) {
	if v == nil {
		return
	}
	snap, ents := "M", "m"
	if durable {
		snap, ents = "D", "d"
	}
	if p.Snapshot != nil {
		v.add(at, id, snap, p.Snapshot.Index, 0, nil)
	}
	if len(p.Entries) > 0 {
		v.add(at, id, ents, p.Entries[0].Index, 0, termRuns(p.Entries))
	}
}

// leaderProgress records the changes in a leader's view of its followers.
func (v *logView) leaderProgress(at Time, id raft.NodeID, core Core) {
	if v == nil {
		return
	}
	l, ok := core.(interface {
		ForEachProgress(func(raft.NodeID, raft.Progress))
	})
	if !ok {
		return
	}
	l.ForEachProgress(func(f raft.NodeID, pr raft.Progress) {
		key, now := [2]raft.NodeID{id, f}, [2]raft.Index{pr.Match, pr.Next}
		if v.progress[key] != now {
			v.progress[key] = now
			v.add(at, id, "p", raft.Index(f), pr.Match, []raft.Term{raft.Term(pr.Next)})
		}
	})
}
