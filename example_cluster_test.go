package raft_test

import (
	"fmt"
	"slices"
	"strings"

	raft "github.com/pureraft/raft"
)

// cluster is the in-memory cluster the flow examples run on: one process,
// a synchronous caller per node (the loop of Example_threeNodes, plus
// snapshot transfers and read results) and a network that delivers every
// message at once, in order, except to and from nodes that are down. Its
// replicated state machine is the list of commands each node applied.
//
// Nothing here is part of the library: it is the least an embedding
// program has to do, written out so that the examples can show one flow
// each.
type cluster struct {
	ids   []raft.NodeID // every node, in ID order (map order is random)
	nodes map[raft.NodeID]*raft.Node
	disks map[raft.NodeID]*storage
	// state is each node's state machine: the commands it applied.
	state map[raft.NodeID][]string
	// snapshots holds each node's latest snapshot data (its state machine
	// as of the snapshot's index), which a leader ships to a lagging node.
	snapshots map[raft.NodeID][]string
	// down nodes neither send nor receive: their messages are lost.
	down map[raft.NodeID]bool
	// verbose prints every command applied.
	verbose bool
	// reads collects the read results the nodes reported, by node.
	reads map[raft.NodeID][]raft.ReadResult
	// sent counts the messages delivered, to show a quiet cluster.
	sent int
}

// newCluster bootstraps a cluster whose initial voters are voters, each
// node configured by cfg with its own ID.
func newCluster(cfg raft.Config, voters ...raft.NodeID) *cluster {
	c := &cluster{
		nodes:     map[raft.NodeID]*raft.Node{},
		disks:     map[raft.NodeID]*storage{},
		state:     map[raft.NodeID][]string{},
		snapshots: map[raft.NodeID][]string{},
		down:      map[raft.NodeID]bool{},
		reads:     map[raft.NodeID][]raft.ReadResult{},
	}
	for _, id := range voters {
		cfg.ID = id
		n, err := raft.Bootstrap(cfg, voters)
		if err != nil {
			panic(err)
		}
		c.add(n)
	}
	return c
}

// add starts n on an empty disk.
func (c *cluster) add(n *raft.Node) {
	c.ids = append(c.ids, n.ID())
	slices.Sort(c.ids)
	c.nodes[n.ID()] = n
	c.disks[n.ID()] = &storage{}
}

// run carries out every node's actions and delivers every message until
// the cluster is quiet.
func (c *cluster) run() {
	for {
		var network []raft.Message
		for _, id := range c.ids {
			for c.nodes[id].HasActions() {
				network = append(network, c.handle(id)...)
			}
		}
		if len(network) == 0 {
			return
		}
		for _, m := range network {
			if c.down[m.From] || c.down[m.To] {
				continue
			}
			c.sent++
			if err := c.nodes[m.To].Step(m); err != nil {
				fmt.Println("step:", err)
			}
		}
	}
}

// handle carries out node id's actions and returns the messages to send.
func (c *cluster) handle(id raft.NodeID) (out []raft.Message) {
	n := c.nodes[id]
	for _, a := range n.Actions() {
		switch a.Kind {
		case raft.ActionPersist:
			c.disks[id].write(a.Persist)
			if err := n.AckPersist(a.Persist.ID); err != nil {
				panic(err)
			}
		case raft.ActionSend:
			out = append(out, a.Message)
		case raft.ActionSendSnapshot:
			// Ship the snapshot's data with the message; the receiver
			// steps the message once the data has arrived. Here it
			// arrives at once, so report the transfer done.
			to := a.Message.To
			if c.down[to] {
				n.ReportSnapshot(to, fmt.Errorf("node %d is down", to))
				continue
			}
			c.snapshots[to] = slices.Clone(c.snapshots[id])
			out = append(out, a.Message)
			n.ReportSnapshot(to, nil)
		case raft.ActionApply:
			if s := a.Apply.Snapshot; s != nil {
				c.state[id] = slices.Clone(c.snapshots[id])
				if c.verbose {
					fmt.Printf("node %d restores the snapshot at index %d: %s\n", id, s.Index, strings.Join(c.state[id], " "))
				}
			}
			for _, e := range a.Apply.Entries {
				if e.Type == raft.EntryNormal {
					c.state[id] = append(c.state[id], string(e.Data))
					if c.verbose {
						fmt.Printf("node %d applies %d: %s\n", id, e.Index, e.Data)
					}
				}
			}
		case raft.ActionReadReady, raft.ActionReadFailed:
			c.reads[id] = append(c.reads[id], a.Read)
		}
	}
	return out
}

// tick advances every running node's clock by one tick, then runs.
func (c *cluster) tick() {
	for _, id := range c.ids {
		if !c.down[id] {
			c.nodes[id].Tick()
		}
	}
	c.run()
}

// elect has node id campaign and runs until the election is over.
func (c *cluster) elect(id raft.NodeID) {
	c.run()
	if err := c.nodes[id].Campaign(); err != nil {
		panic(err)
	}
	c.run()
}

// propose proposes each command at node id, running after each.
func (c *cluster) propose(id raft.NodeID, cmds ...string) {
	for _, cmd := range cmds {
		if _, _, err := c.nodes[id].Propose([]byte(cmd)); err != nil {
			panic(err)
		}
		c.run()
	}
}

// leader returns the ID of the running node that is leader, or None.
func (c *cluster) leader() raft.NodeID {
	for _, id := range c.ids {
		if !c.down[id] && c.nodes[id].Status().Role == raft.RoleLeader {
			return id
		}
	}
	return raft.None
}

// roles prints each node's role and term on one line.
func (c *cluster) roles() {
	var parts []string
	for _, id := range c.ids {
		st := c.nodes[id].Status()
		parts = append(parts, fmt.Sprintf("%d:%v/%d", id, st.Role, st.Term))
	}
	fmt.Println(strings.Join(parts, " "))
}
