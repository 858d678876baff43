package raft_test

import (
	"fmt"

	raft "github.com/pureraft/raft"
)

// storage is a toy durable store: what persist actions wrote.
type storage struct {
	hs raft.HardState
	// snap is the last snapshot written; entries follow it.
	snap    raft.SnapshotMeta
	entries []raft.Entry
}

// write stores p the way the contract says: the snapshot (which replaces
// the whole log), entries (deleting any stored suffix from the first one's
// index on), then the hard state.
func (s *storage) write(p raft.Persist) {
	if p.Snapshot != nil {
		s.snap, s.entries = *p.Snapshot, nil
	}
	if len(p.Entries) > 0 {
		keep := p.Entries[0].Index - s.snap.Index - 1
		s.entries = append(s.entries[:keep:keep], p.Entries...)
	}
	if p.HasHardState {
		s.hs = p.HardState
	}
}

// The action loop of a synchronous caller, on a one-node cluster: take the
// actions, and for each persist write it and acknowledge it at once, for
// each send deliver the message, for each apply apply the entries. Repeat
// until the node has nothing more to do.
func Example_synchronous() {
	node, err := raft.Bootstrap(raft.Config{ID: 1}, []raft.NodeID{1})
	if err != nil {
		panic(err)
	}
	var disk storage
	loop := func() {
		for node.HasActions() {
			for _, a := range node.Actions() {
				switch a.Kind {
				case raft.ActionPersist:
					disk.write(a.Persist) // fsync here if a.Persist.Sync
					if err := node.AckPersist(a.Persist.ID); err != nil {
						panic(err)
					}
				case raft.ActionSend:
					// A one-node cluster sends nothing.
				case raft.ActionApply:
					for _, e := range a.Apply.Entries {
						if e.Type == raft.EntryNormal {
							fmt.Printf("apply %d: %s\n", e.Index, e.Data)
						}
					}
				}
			}
		}
	}
	loop()
	node.Campaign() // or tick until the election timeout
	loop()
	st := node.Status()
	fmt.Printf("node %d is %v of term %d\n", st.ID, st.Role, st.Term)

	idx, term, _ := node.Propose([]byte("x=1"))
	fmt.Printf("proposed at index %d, term %d\n", idx, term)
	loop()
	fmt.Printf("stored %d entries, commit %d\n", len(disk.entries), disk.hs.Commit)
	// Output:
	// node 1 is Leader of term 1
	// proposed at index 2, term 1
	// apply 2: x=1
	// stored 2 entries, commit 2
}

// The action loop of an asynchronous caller: persist actions are queued to
// a disk writer and acknowledged when the write completes, later, while the
// node keeps taking input. Nothing is applied (or acknowledged to peers)
// before the write that holds it is acknowledged.
func Example_asynchronous() {
	node, err := raft.Bootstrap(raft.Config{ID: 1}, []raft.NodeID{1})
	if err != nil {
		panic(err)
	}
	var disk storage
	var queued []raft.Persist // writes in progress, in order
	verbose := false
	// handle starts the node's actions: writes are only queued.
	handle := func() {
		for _, a := range node.Actions() {
			switch a.Kind {
			case raft.ActionPersist:
				if verbose {
					fmt.Printf("write %d queued (%d entries)\n", a.Persist.ID, len(a.Persist.Entries))
				}
				queued = append(queued, a.Persist)
			case raft.ActionApply:
				for _, e := range a.Apply.Entries {
					if e.Type == raft.EntryNormal {
						fmt.Printf("apply %d: %s\n", e.Index, e.Data)
					}
				}
			}
		}
	}
	// writesDone plays the disk writer completing every queued write, in
	// order, and acknowledges them.
	writesDone := func() {
		for _, p := range queued {
			disk.write(p)
			if verbose {
				fmt.Printf("write %d done\n", p.ID)
			}
			if err := node.AckPersist(p.ID); err != nil {
				panic(err)
			}
		}
		queued = nil
	}
	settle := func() {
		for node.HasActions() || len(queued) > 0 {
			handle()
			writesDone()
		}
	}

	settle()
	node.Campaign()
	settle()
	verbose = true

	node.Propose([]byte("a"))
	handle() // "a" is being written...
	node.Propose([]byte("b"))
	node.Tick()
	handle() // ...while the node takes more input
	fmt.Println("commit while writing:", node.Status().Commit)
	writesDone()
	fmt.Println("commit once written:", node.Status().Commit)
	handle()
	writesDone()
	// Output:
	// write 5 queued (1 entries)
	// write 6 queued (1 entries)
	// commit while writing: 1
	// write 5 done
	// write 6 done
	// commit once written: 3
	// write 7 queued (0 entries)
	// apply 2: a
	// apply 3: b
	// write 7 done
}

// Three nodes in one process, with a synchronous caller for each and an
// in-memory network: node 1 is elected, and a proposal made at node 3 (a
// follower, which forwards it to the leader) is applied everywhere.
func Example_threeNodes() {
	ids := []raft.NodeID{1, 2, 3}
	nodes := map[raft.NodeID]*raft.Node{}
	disks := map[raft.NodeID]*storage{}
	for _, id := range ids {
		n, err := raft.Bootstrap(raft.Config{ID: id, Seed: 1}, ids)
		if err != nil {
			panic(err)
		}
		nodes[id], disks[id] = n, &storage{}
	}
	var network []raft.Message
	// run carries out every node's actions and delivers every message
	// until the cluster is quiet.
	run := func() {
		for {
			for _, id := range ids {
				n := nodes[id]
				for n.HasActions() {
					for _, a := range n.Actions() {
						switch a.Kind {
						case raft.ActionPersist:
							disks[id].write(a.Persist)
							n.AckPersist(a.Persist.ID)
						case raft.ActionSend:
							network = append(network, a.Message)
						case raft.ActionApply:
							for _, e := range a.Apply.Entries {
								if e.Type == raft.EntryNormal {
									fmt.Printf("node %d applies %d: %s\n", id, e.Index, e.Data)
								}
							}
						}
					}
				}
			}
			if len(network) == 0 {
				return
			}
			msgs := network
			network = nil
			for _, m := range msgs {
				// A real transport would encode m (m.MarshalBinary) and the
				// receiver decode it (raft.Decode) before Step.
				if err := nodes[m.To].Step(m); err != nil {
					fmt.Println("step:", err)
				}
			}
		}
	}
	run()
	nodes[1].Campaign()
	run()
	for _, id := range ids {
		st := nodes[id].Status()
		fmt.Printf("node %d: %v, term %d, leader %d\n", id, st.Role, st.Term, st.Leader)
	}
	nodes[3].Propose([]byte("hello"))
	run()
	// Output:
	// node 1: Leader, term 1, leader 1
	// node 2: Follower, term 1, leader 1
	// node 3: Follower, term 1, leader 1
	// node 1 applies 2: hello
	// node 2 applies 2: hello
	// node 3 applies 2: hello
}

// A host of many groups drives their clocks with one Ticker instead of
// calling Tick on every node: Ticker.Tick touches only the nodes that have
// something to do on that tick, so idle groups cost next to nothing. Here
// three one-node groups, built with the same Ticker, elect themselves.
func ExampleTicker() {
	ticker := raft.NewTicker()
	var groups []*raft.Node
	for range 3 {
		node, err := raft.Bootstrap(raft.Config{ID: 1, Ticker: ticker}, []raft.NodeID{1})
		if err != nil {
			panic(err)
		}
		groups = append(groups, node)
	}
	for range 2 * raft.DefaultElectionTicks {
		// Not node.Tick(): the Ticker drives these nodes. Only the nodes
		// it returns can have new work from the tick (a real host would
		// also handle the nodes that received messages or requests).
		for _, node := range ticker.Tick() {
			for _, a := range node.Actions() {
				if a.Kind == raft.ActionPersist {
					// Write a.Persist durably first, then:
					if err := node.AckPersist(a.Persist.ID); err != nil {
						panic(err)
					}
				}
			}
		}
	}
	for i, node := range groups {
		fmt.Printf("group %d: %v of term %d\n", i+1, node.Status().Role, node.Status().Term)
	}
	fmt.Println("nodes driven:", ticker.Len())
	// Output:
	// group 1: Leader of term 1
	// group 2: Leader of term 1
	// group 3: Leader of term 1
	// nodes driven: 3
}
