package raft_test

import (
	"fmt"

	raft "github.com/pureraft/raft"
)

// A complete program: three nodes in one process, each with its own
// synchronous action loop and store, joined by a network that encodes every
// message to bytes and decodes it on the other side, as a real transport
// would. It prints every message it delivers, so you can watch an election
// (pre-vote, then vote), the new leader's no-op entry, and a proposal made
// at a follower travel to the leader and back out to everyone.
func Example_messagesBetweenNodes() {
	ids := []raft.NodeID{1, 2, 3}
	nodes := map[raft.NodeID]*raft.Node{}
	stores := map[raft.NodeID]*storage{}
	for _, id := range ids {
		n, err := raft.Bootstrap(raft.Config{ID: id, Seed: 1}, ids)
		if err != nil {
			panic(err)
		}
		nodes[id], stores[id] = n, &storage{}
	}

	// The wire: encoded messages waiting to be delivered, in order.
	var wire [][]byte

	// handle runs one node's action loop until it has nothing to do.
	handle := func(id raft.NodeID) {
		n := nodes[id]
		for n.HasActions() {
			for _, a := range n.Actions() {
				switch a.Kind {
				case raft.ActionPersist:
					stores[id].write(a.Persist)
					n.AckPersist(a.Persist.ID)
				case raft.ActionSend:
					b, err := a.Message.MarshalBinary()
					if err != nil {
						panic(err)
					}
					wire = append(wire, b)
				case raft.ActionApply:
					for _, e := range a.Apply.Entries {
						if e.Type == raft.EntryNormal {
							fmt.Printf("   node %d applies entry %d: %s\n", id, e.Index, e.Data)
						}
					}
				}
			}
		}
	}

	// run delivers messages until the cluster is quiet.
	run := func() {
		for _, id := range ids {
			handle(id)
		}
		for len(wire) > 0 {
			b := wire[0]
			wire = wire[1:]
			var m raft.Message
			if err := raft.Decode(b, &m, raft.DefaultDecodeLimits); err != nil {
				fmt.Println("dropped a malformed message:", err)
				continue
			}
			fmt.Printf("%d -> %d %-14s term %d, index %d, commit %d, %d entries\n", m.From, m.To, m.Type, m.Term, m.Index, m.Commit, len(m.Entries))
			if err := nodes[m.To].Step(m); err != nil {
				fmt.Println("step:", err)
			}
			handle(m.To)
		}
	}

	fmt.Println("node 1 campaigns:")
	nodes[1].Campaign()
	run()
	fmt.Println("node 3, a follower, proposes \"hello\":")
	nodes[3].Propose([]byte("hello"))
	run()
	// Output:
	// node 1 campaigns:
	// 1 -> 2 MsgPreVote     term 1, index 0, commit 0, 0 entries
	// 1 -> 3 MsgPreVote     term 1, index 0, commit 0, 0 entries
	// 2 -> 1 MsgPreVoteResp term 1, index 0, commit 0, 0 entries
	// 3 -> 1 MsgPreVoteResp term 1, index 0, commit 0, 0 entries
	// 1 -> 2 MsgVote        term 1, index 0, commit 0, 0 entries
	// 1 -> 3 MsgVote        term 1, index 0, commit 0, 0 entries
	// 2 -> 1 MsgVoteResp    term 1, index 0, commit 0, 0 entries
	// 3 -> 1 MsgVoteResp    term 1, index 0, commit 0, 0 entries
	// 1 -> 2 MsgApp         term 1, index 0, commit 0, 1 entries
	// 1 -> 3 MsgApp         term 1, index 0, commit 0, 1 entries
	// 2 -> 1 MsgAppResp     term 1, index 1, commit 0, 0 entries
	// 3 -> 1 MsgAppResp     term 1, index 1, commit 0, 0 entries
	// 1 -> 2 MsgApp         term 1, index 1, commit 1, 0 entries
	// 1 -> 3 MsgApp         term 1, index 1, commit 1, 0 entries
	// 2 -> 1 MsgAppResp     term 1, index 1, commit 0, 0 entries
	// 3 -> 1 MsgAppResp     term 1, index 1, commit 0, 0 entries
	// node 3, a follower, proposes "hello":
	// 3 -> 1 MsgProp        term 0, index 0, commit 0, 1 entries
	// 1 -> 2 MsgApp         term 1, index 1, commit 1, 1 entries
	// 1 -> 3 MsgApp         term 1, index 1, commit 1, 1 entries
	// 2 -> 1 MsgAppResp     term 1, index 2, commit 0, 0 entries
	//    node 1 applies entry 2: hello
	// 3 -> 1 MsgAppResp     term 1, index 2, commit 0, 0 entries
	// 1 -> 2 MsgApp         term 1, index 2, commit 2, 0 entries
	//    node 2 applies entry 2: hello
	// 1 -> 3 MsgApp         term 1, index 2, commit 2, 0 entries
	//    node 3 applies entry 2: hello
	// 2 -> 1 MsgAppResp     term 1, index 2, commit 0, 0 entries
	// 3 -> 1 MsgAppResp     term 1, index 2, commit 0, 0 entries
}
