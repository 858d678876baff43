package raftsim

import (
	"fmt"
	"testing"

	"github.com/pureraft/raft"
)

// TestRuleSweep is the sweep that catches the bug classes of the rule
// checks (rules.go): the reconfig scenario, 3 and 5 nodes, with lease
// reads on every other seed and quiescence on every third (idle
// stretches, failure detectors calling Wake). Each class, planted in the
// core, fails it within these seeds (docs/testing.md, "Bug classes the
// tests must catch"). More seeds: RAFTSIM_RULE_SEEDS=500.
func TestRuleSweep(t *testing.T) {
	seeds := uint64(envInt(t, "RAFTSIM_RULE_SEEDS", 40))
	for _, nodes := range []int{3, 5} {
		for shard := uint64(0); shard < 2; shard++ {
			t.Run(fmt.Sprintf("nodes=%d/shard=%d", nodes, shard), func(t *testing.T) {
				t.Parallel()
				failures := 0
				for seed := 1 + shard; seed <= seeds; seed += 2 {
					res, err := Run(ruleSweepScenario(nodes, seed), seed, Options{})
					if err != nil {
						t.Fatal(err)
					}
					if res.Failed() {
						t.Error(res.Report())
						if failures++; failures == 3 {
							t.Fatal("stopping after 3 failures")
						}
					}
				}
			})
		}
	}
}

// ruleSweepScenario is the scenario TestRuleSweep runs for seed.
func ruleSweepScenario(nodes int, seed uint64) Scenario {
	sc, _ := ScenarioNamed("reconfig")
	sc.Nodes = nodes
	sc.Raft.EnableLeaseReads = seed%2 == 1
	if seed%3 == 0 {
		sc.Raft.QuiesceAfterTicks = 3 + int(seed/3%6)
		sc.Features.Idle = 0.02
	}
	return sc
}

// ruleBroken wraps a node and breaks one protocol rule through its
// inputs, to show the rule checks (rules.go) catch it without planting the
// bug in the core.
type ruleBroken struct {
	*raft.Node
	extra []raft.Action // emitted before the node's own actions
	// ignoreHeartbeatsWhenQuiet: a quiescent node drops every heartbeat.
	ignoreHeartbeatsWhenQuiet bool
	// readsAtOnce: a leader makes ReadIndex reads ready at once, at its
	// commit index, with no heartbeat round.
	readsAtOnce bool
	// timeoutNowAtOnce: a transfer tells its target to campaign at once.
	timeoutNowAtOnce bool
}

func (b *ruleBroken) Actions() []raft.Action {
	acts := b.Node.Actions()
	if len(b.extra) == 0 {
		return acts
	}
	out := append(b.extra, acts...)
	b.extra = nil
	return out
}

func (b *ruleBroken) HasActions() bool { return len(b.extra) > 0 || b.Node.HasActions() }

func (b *ruleBroken) Step(m raft.Message) error {
	if b.ignoreHeartbeatsWhenQuiet && b.Quiescent() && m.Type == raft.MsgHeartbeat {
		return nil
	}
	return b.Node.Step(m)
}

func (b *ruleBroken) ReadIndex(id uint64) error {
	if st := b.Status(); b.readsAtOnce && st.Role == raft.RoleLeader {
		b.extra = append(b.extra, raft.Action{Kind: raft.ActionReadReady, Read: raft.ReadResult{ID: id, Index: st.Commit}})
		return nil
	}
	return b.Node.ReadIndex(id)
}

func (b *ruleBroken) TransferLeadership(to raft.NodeID) error {
	err := b.Node.TransferLeadership(to)
	if st := b.Status(); err == nil && b.timeoutNowAtOnce {
		b.extra = append(b.extra, raft.Action{Kind: raft.ActionSend, Message: raft.Message{Type: raft.MsgTimeoutNow, From: st.ID, To: to, Term: st.Term}})
	}
	return err
}

func ruleWrap(set func(*ruleBroken)) Options {
	return Options{WrapNode: func(id raft.NodeID, n *raft.Node) Core {
		b := &ruleBroken{Node: n}
		set(b)
		return b
	}}
}

// A quiescent node that drops its leader's heartbeats stays asleep through
// a new round: the quiescence rule check fires.
func TestPlantedQuiescentNodeIgnoresHeartbeats(t *testing.T) {
	sc := short("quiet")
	expectCaught(t, sc, ruleWrap(func(b *ruleBroken) { b.ignoreHeartbeatsWhenQuiet = true }), Protocol, 20)
}

// Thesis §6.4: a leader that makes a ReadIndex read ready with no heartbeat
// round after it breaks the read rule check, stale or not.
func TestPlantedReadWithoutHeartbeatRound(t *testing.T) {
	sc := short("reconfig")
	sc.Workload.Reads = ReadIndex
	expectCaught(t, sc, ruleWrap(func(b *ruleBroken) { b.readsAtOnce = true }), Protocol, 20)
}

// Thesis §3.10: a transfer that sends MsgTimeoutNow before the target holds
// the leader's whole log breaks the transfer rule check.
func TestPlantedTimeoutNowBeforeCatchUp(t *testing.T) {
	sc := short("reconfig")
	sc.Features.Transfer = 0.05
	expectCaught(t, sc, ruleWrap(func(b *ruleBroken) { b.timeoutNowAtOnce = true }), Protocol, 20)
}
