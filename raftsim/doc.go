// Package raftsim is a deterministic simulator of a pureraft cluster.
//
// One seed drives everything: N nodes running the real [raft.Node], each
// with a simulated disk that separates acknowledged from in-flight writes
// (a crash loses the latter, or all but a prefix of them), a key-value
// state machine (or the caller's own, see [Workload]) and a clock that
// ticks at its own slightly skewed rate; a network with per-link latency,
// drops, duplicates, reordering, symmetric and one-way partitions and
// flapping links; clients that put, append and get through any node and
// retry elsewhere, with sessions so that a retried write applies once,
// and read through the log, ReadIndex (on the leader or a follower) or the
// leader's lease. Nodes compact their logs and ship snapshots through the
// faulty network; leaders change the membership (spare nodes join empty,
// learners are promoted once caught up, voters are replaced through joint
// configurations) and transfer leadership.
// There are no goroutines, no wall clock and no global randomness in the
// simulation: a seed replays bit for bit.
//
// After every step the simulator checks election safety, leader
// append-only, log matching, leader completeness, state machine safety,
// that commit indexes never go back, and the persistence contract
// (see [Invariant]). At the end it checks the client history for
// linearizability with porcupine, and that once every fault is healed a
// leader is elected and a new entry commits within a bound.
//
// A failed run ([Result.Report]) names the seed, the broken invariant, the
// last trace events and the command that replays it; [Shrink] looks for a
// simpler failing scenario. [WriteHTML] draws a run as a self-contained
// HTML timeline. Scenarios are plain data ([Scenario], [ScenarioNamed]).
//
//	res, err := raftsim.Run(raftsim.DefaultScenario(), seed, raftsim.Options{})
//	if err != nil { ... }
//	if res.Failed() {
//		t.Fatal(res.Report())
//	}
//
// cmd/raftsim is the command-line front end; docs/raftsim.md describes the
// design.
package raftsim
