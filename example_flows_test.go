package raft_test

import (
	"errors"
	"fmt"
	"slices"
	"strings"

	raft "github.com/pureraft/raft"
)

// The examples in this file each show one flow on the in-memory cluster of
// example_cluster_test.go (c.run carries out every node's actions and
// delivers every message until the cluster is quiet; c.tick ticks every
// node and runs).

// Adding a server (thesis §4.2.1): start it empty, add it as a learner so
// that it receives the log without counting toward any quorum, wait until
// the leader reports it caught up, then promote it to voter. Adding it as a
// voter straight away would leave the cluster short of a working quorum
// until the newcomer had copied the whole log.
func Example_membershipChange() {
	c := newCluster(raft.Config{Seed: 1}, 1, 2, 3)
	c.elect(1)
	c.propose(1, "a", "b", "c")
	leader := c.nodes[1]

	// The new server starts with no state: it waits to hear from the
	// leader, and learns the membership from the log.
	n4, err := raft.NewNode(raft.Config{ID: 4, Seed: 1}, raft.PersistentState{})
	if err != nil {
		panic(err)
	}
	c.add(n4)

	idx, _, err := leader.ProposeMembershipChange(raft.MembershipChange{Type: raft.AddLearner, Node: 4})
	if err != nil {
		panic(err)
	}
	fmt.Println("learner added by the entry at index", idx)
	fmt.Println("caught up before replication:", leader.CaughtUp(4, 0))
	c.run()
	fmt.Println("caught up after replication:", leader.CaughtUp(4, 0))
	fmt.Printf("node 4 applied %v\n", c.state[4])

	if _, _, err := leader.ProposeMembershipChange(raft.MembershipChange{Type: raft.AddVoter, Node: 4}); err != nil {
		panic(err)
	}
	// One change at a time (thesis §4.1): the next is refused until this
	// one commits.
	remove3 := raft.MembershipChange{Type: raft.RemoveMember, Node: 3}
	_, _, err = leader.ProposeMembershipChange(remove3)
	fmt.Println(err)
	c.run()
	m := leader.Membership()
	fmt.Printf("voters %v, learners %v\n", m.Voters, m.Learners)

	if _, _, err := leader.ProposeMembershipChange(remove3); err != nil {
		panic(err)
	}
	c.run()
	fmt.Printf("voters %v\n", leader.Membership().Voters)
	// Output:
	// learner added by the entry at index 5
	// caught up before replication: false
	// caught up after replication: true
	// node 4 applied [a b c]
	// raft: membership change refused: an earlier change is not yet committed
	// voters [1 2 3 4], learners []
	// voters [1 2 4]
}

// Log compaction and snapshot transfer (thesis chapter 5): the caller
// snapshots its state machine, Compact lets the node forget the log it
// covers, and a follower that needs entries compacted away is sent the
// snapshot instead (an ActionSendSnapshot: the caller ships its data). The
// follower persists it, then receives it back in an apply action to restore
// its state machine from, and carries on with the entries after it.
func Example_snapshot() {
	c := newCluster(raft.Config{Seed: 1}, 1, 2, 3)
	c.elect(1)
	leader := c.nodes[1]

	c.down[3] = true // node 3 misses everything from here on
	c.propose(1, "a", "b", "c")

	// The leader's state machine has applied everything: save it as a
	// snapshot, then compact the log up to there, keeping no entries.
	st := leader.Status()
	c.snapshots[1] = slices.Clone(c.state[1])
	meta, err := leader.Compact(st.Applied, 0)
	if err != nil {
		panic(err)
	}
	fmt.Printf("snapshot at index %d, term %d, voters %v\n", meta.Index, meta.Term, meta.Membership.Voters)
	fmt.Println("leader's first log index:", leader.Status().FirstIndex)

	// Node 3 is back. Heartbeats reach it; the leader sees its appends
	// went unanswered and probes it, finds the entries it needs compacted
	// away, and sends the snapshot.
	c.down[3] = false
	c.verbose = true
	for c.nodes[3].Status().Applied < meta.Index {
		c.tick()
	}
	c.propose(1, "d")
	fmt.Printf("node 3 has %v\n", c.state[3])
	// Output:
	// snapshot at index 4, term 1, voters [1 2 3]
	// leader's first log index: 5
	// node 3 restores the snapshot at index 4: a b c
	// node 1 applies 5: d
	// node 2 applies 5: d
	// node 3 applies 5: d
	// node 3 has [a b c d]
}

// A linearizable read without writing to the log (thesis §6.4): ReadIndex
// on any node returns at once; later an ActionReadReady gives the read
// index, confirmed by a quorum's answer to a round of heartbeats, and the
// read may be served once the local state machine has applied that far. On
// a follower the request is forwarded to the leader, so followers can
// share the read load.
func Example_readIndex() {
	c := newCluster(raft.Config{Seed: 1}, 1, 2, 3)
	c.elect(1)
	c.propose(1, "x=1", "x=2")

	const readID = 42 // the caller's own ID for the read
	if err := c.nodes[2].ReadIndex(readID); err != nil {
		panic(err)
	}
	c.run()
	for _, r := range c.reads[2] {
		applied := c.nodes[2].Status().Applied
		if r.Err != nil || applied < r.Index {
			// A real caller retries a failed read, and waits for the
			// state machine to reach r.Index before serving it.
			continue
		}
		state := c.state[2]
		fmt.Printf("read %d ready at index %d (node 2 applied %d): %s\n", r.ID, r.Index, applied, state[len(state)-1])
	}

	// With no leader known, a read fails at once.
	lonely, _ := raft.Bootstrap(raft.Config{ID: 7}, []raft.NodeID{7, 8, 9})
	err := lonely.ReadIndex(1)
	fmt.Println(err, errors.Is(err, raft.ErrNotLeader))
	// Output:
	// read 42 ready at index 3 (node 2 applied 3): x=2
	// raft: not the leader (no leader known) true
}

// Handing leadership over (thesis §3.10), as before restarting the
// leader's machine: the leader stops taking proposals, brings the target's
// log up to date and tells it to campaign at once. TransferToBestVoter
// picks the voter with the most up-to-date log.
func Example_transferLeadership() {
	c := newCluster(raft.Config{Seed: 1}, 1, 2, 3)
	c.elect(1)
	c.propose(1, "a")
	c.roles()

	if err := c.nodes[1].TransferLeadership(3); err != nil {
		panic(err)
	}
	// Until the transfer ends, the old leader refuses proposals.
	_, _, err := c.nodes[1].Propose([]byte("b"))
	fmt.Println("propose during the transfer:", err)
	c.run()
	c.roles()

	to, err := c.nodes[3].TransferToBestVoter()
	if err != nil {
		panic(err)
	}
	fmt.Println("best voter:", to)
	c.run()
	c.roles()
	// Output:
	// 1:Leader/1 2:Follower/1 3:Follower/1
	// propose during the transfer: raft: proposal dropped: leadership transfer in progress
	// 1:Follower/2 2:Follower/2 3:Leader/2
	// best voter: 1
	// 1:Leader/3 2:Follower/3 3:Follower/3
}

// Quiescence, for hosts running many groups: with QuiesceAfterTicks set,
// an idle group whose followers are caught up stops heartbeating, and
// ticking it costs almost nothing. A proposal (or a read, a message, or
// Wake) brings it back. A quiet follower never campaigns, so when the
// transport reports a peer gone, the caller calls Wake on the groups it
// shares with that peer: a woken follower checks on its leader and elects
// a new one if it hears nothing.
func Example_quiescence() {
	c := newCluster(raft.Config{Seed: 1, QuiesceAfterTicks: 3}, 1, 2, 3)
	c.elect(1)
	c.propose(1, "a")
	quiet := func() string {
		var s []string
		for _, id := range c.ids {
			s = append(s, fmt.Sprint(c.nodes[id].Quiescent()))
		}
		return strings.Join(s, " ")
	}

	for range 5 {
		c.tick()
	}
	fmt.Println("quiescent:", quiet())
	before := c.sent
	for range 100 {
		c.tick()
	}
	fmt.Println("messages in 100 quiet ticks:", c.sent-before)

	c.propose(1, "b") // any proposal wakes the group
	fmt.Println("after a proposal:", quiet())
	for range 5 {
		c.tick()
	}
	fmt.Println("idle again:", quiet())

	// The leader's machine fails. The quiet followers do not notice...
	c.down[1] = true
	for range 100 {
		c.tick()
	}
	fmt.Println("running leader after 100 ticks:", c.leader())
	// ...until the transport tells node 2's caller that node 1 is gone.
	c.nodes[2].Wake()
	ticks := 0
	for c.leader() == raft.None {
		c.tick()
		ticks++
	}
	st := c.nodes[c.leader()].Status()
	fmt.Printf("node %d leads term %d after %d ticks\n", st.ID, st.Term, ticks)
	// Output:
	// quiescent: true true true
	// messages in 100 quiet ticks: 0
	// after a proposal: false false false
	// idle again: true true true
	// running leader after 100 ticks: 0
	// node 3 leads term 2 after 23 ticks
}
