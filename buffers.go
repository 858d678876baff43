package raft

// This file keeps a node's scratch buffers from pinning memory. The node
// reuses its buffers — the actions it returns, the messages waiting to be
// returned, the persists and responses waiting for acknowledgement, the
// leader's in-flight windows — so steady replication allocates nothing.
// But a buffer keeps the capacity of its busiest moment: after one burst a
// node would hold it forever, which matters to a host running thousands of
// mostly idle groups. So every trimPeriodTicks ticks the node lets go of the
// buffers that are empty; the ones still in use regrow on demand, at the
// cost of a few allocations per period.

// trimPeriodTicks is how often, in ticks, empty buffers are released. A
// power of two, so the check on every tick is a mask.
const trimPeriodTicks = 64

// trimBuffers releases every scratch buffer that holds nothing the node
// still needs. The slice the last Actions call returned is the caller's
// until the next call: dropping the node's reference leaves it intact.
func (n *Node) trimBuffers() {
	n.actions = nil
	if len(n.outbox) == 0 {
		n.outbox = nil
	}
	if len(n.outboxSnapshots) == 0 {
		n.outboxSnapshots = nil
	}
	if n.reads.empty() {
		n.reads = nil
	} else {
		n.reads.trim()
	}
	if p := &n.persist; len(p.records) == 0 {
		p.records = nil
	}
	if p := &n.persist; len(p.gated) == 0 {
		p.gated = nil
	}
	if n.ldr == nil {
		return
	}
	for i := range n.ldr.progress {
		if f := &n.ldr.progress[i].inflights; f.count == 0 {
			*f = inflights{}
		}
	}
}
