package raft_test

import (
	"log"
	"testing"
	"time"

	raft "github.com/pureraft/raft"
)

// This file compiles the action loop README.md shows, line for line
// (TestDocListingsCompile checks that the README's listing is an excerpt of
// it), and runs it on a one-node cluster, so the loop a newcomer copies is
// known to work.

// snapshotReport is how the README's transport tells the loop that a
// snapshot it shipped arrived (Err nil) or failed.
type snapshotReport struct {
	To  raft.NodeID
	Err error
}

// loopEnv is what the README's loop talks to: the embedder's storage,
// transport, state machine and read bookkeeping.
type loopEnv struct {
	storage   interface{ Write(raft.Persist) }
	transport interface {
		Send(raft.Message)
		SendSnapshot(m raft.Message, data []byte)
	}
	stateMachine interface{ Apply(raft.Apply) }
	reads        interface {
		ServeOnceApplied(id uint64, index raft.Index)
		Fail(id uint64, err error)
	}
	snapshotData []byte
}

// readmeLoop is the README's action loop. Like the README's, it never
// returns.
func readmeLoop(env loopEnv, ticker *time.Ticker, inbox <-chan raft.Message, proposals <-chan []byte, snapshotReports <-chan snapshotReport) {
	storage, transport, stateMachine, reads, snapshotData := env.storage, env.transport, env.stateMachine, env.reads, env.snapshotData
	node, _ := raft.Bootstrap(raft.Config{ID: 1, Seed: 1}, []raft.NodeID{1})
	for {
		select {
		case <-ticker.C:
			node.Tick()
		case m := <-inbox:
			if err := node.Step(m); err != nil {
				log.Printf("dropped message: %v", err) // malformed; node unchanged
			}
		case p := <-proposals:
			node.Propose(p) // returns (index, term) or a typed error
		case r := <-snapshotReports:
			node.ReportSnapshot(r.To, r.Err) // the snapshot arrived, or why not
		}
		for node.HasActions() { // an acknowledgement can release more work
			for _, a := range node.Actions() {
				switch a.Kind {
				case raft.ActionPersist: // snapshot, then entries, then hard state
					storage.Write(a.Persist) // fsync if a.Persist.Sync
					node.AckPersist(a.Persist.ID)
				case raft.ActionSend:
					transport.Send(a.Message) // may be lost, duplicated, reordered
				case raft.ActionSendSnapshot:
					transport.SendSnapshot(a.Message, snapshotData)
				case raft.ActionApply:
					stateMachine.Apply(a.Apply) // committed and durable locally
				case raft.ActionReadReady: // from node.ReadIndex(id)
					reads.ServeOnceApplied(a.Read.ID, a.Read.Index)
				case raft.ActionReadFailed:
					reads.Fail(a.Read.ID, a.Read.Err) // not leader, leadership lost, ...
				}
			}
		}
	}
}

// fakeEnv records what the README's loop does.
type fakeEnv struct {
	persisted int
	applied   chan string
}

func (f *fakeEnv) Write(raft.Persist)                  { f.persisted++ }
func (f *fakeEnv) Send(raft.Message)                   {}
func (f *fakeEnv) SendSnapshot(raft.Message, []byte)   {}
func (f *fakeEnv) ServeOnceApplied(uint64, raft.Index) {}
func (f *fakeEnv) Fail(uint64, error)                  {}
func (f *fakeEnv) Apply(a raft.Apply) {
	for _, e := range a.Entries {
		if e.Type == raft.EntryNormal {
			f.applied <- string(e.Data)
		}
	}
}

// TestReadmeLoopRuns runs the README's loop on a one-node cluster: ticks
// elect the node (within two election timeouts), and a proposal is
// persisted and applied. The ticks come from a channel the test feeds, not
// a clock.
func TestReadmeLoopRuns(t *testing.T) {
	f := &fakeEnv{applied: make(chan string, 1)}
	ticks := make(chan time.Time)
	inbox, proposals, reports := make(chan raft.Message), make(chan []byte), make(chan snapshotReport)
	// The loop never returns: once the test is done it stays blocked in
	// its select until the test binary exits.
	go readmeLoop(loopEnv{storage: f, transport: f, stateMachine: f, reads: f}, &time.Ticker{C: ticks}, inbox, proposals, reports)
	for range 2 * raft.DefaultElectionTicks {
		ticks <- time.Time{}
	}
	proposals <- []byte("hello")
	if got := <-f.applied; got != "hello" {
		t.Errorf("applied %q, want hello", got)
	}
	if f.persisted == 0 { // written before the apply that was received
		t.Error("the loop persisted nothing")
	}
}
