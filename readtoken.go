package raft

import "math"

// This file gives each read a follower forwards a token that the server
// never uses twice: not within one life, nor across restarts.
//
// A follower serves a forwarded read at the index the leader's answer
// carries (thesis §6.4). That index covers every write committed before the
// leader recorded it, so it is safe only for a read issued before then. An
// answer that belongs to an earlier read is older than that: the transport
// may duplicate or delay it, the caller may reuse a read ID once its read
// has ended (a timeout, say), and a restarted follower's caller may count
// its IDs from 1 again. If the answer were matched by the caller's ID, any
// of these would complete a new read with an old index: a stale read
// (etcd-io/etcd#20418 is this class of bug). So the request carries a token
// instead, and only an answer carrying the token of a read still waiting
// completes it.
//
// Tokens come from a counter. Within a life it only grows. Across restarts
// nothing in memory survives, so the node reserves tokens in blocks and
// records the end of the reserved range in its hard state (ReadTokenLimit);
// a request with a token goes out only once the block holding it is
// durable. A restarted node starts counting at the limit it reads back,
// above every token it can have sent before. A follower that never forwards
// a read never reserves a block, and one that does writes its hard state
// once per readTokenBlock reads.

// readTokenBlock is how many tokens one durable write reserves.
const readTokenBlock = 1 << 20

// maxReadTokenLimit bounds HardState.ReadTokenLimit: 2^43 blocks, one per
// restart at worst, before the counter would wrap. A larger value can only
// come from corrupt storage; NewNode refuses it.
const maxReadTokenLimit = math.MaxUint64 / 2

// readTokens is a node's token counter. It lives in the node's readQueue,
// so that a server that never forwards a read carries none of it.
type readTokens struct {
	// next is the next token to hand out.
	next uint64
	// limit ends the reserved range: tokens in [next, limit) may be used.
	// It is part of the hard state.
	limit uint64
	// reservedIn is the ID of the persist action that carries limit, 0
	// when this life reserved nothing yet.
	reservedIn uint64
}

// restoreReadTokens starts the counter above every token a previous life
// can have used.
func (n *Node) restoreReadTokens(limit uint64) {
	if limit != 0 {
		n.readq().tokens = readTokens{next: limit, limit: limit}
	}
}

// readTokenLimit is the hard state's ReadTokenLimit.
func (n *Node) readTokenLimit() uint64 {
	if n.reads == nil {
		return 0
	}
	return n.reads.tokens.limit
}

// nextReadToken returns a token this server never used before, reserving a
// new block first if the current one is used up.
func (n *Node) nextReadToken() uint64 {
	t := &n.readq().tokens
	if t.next == t.limit {
		t.limit += readTokenBlock
		// The next persist action carries the new limit: the hard state
		// now differs from the last one emitted.
		t.reservedIn = n.persist.seq + 1
	}
	tok := t.next
	t.next++
	return tok
}

// readTokensDurable reports whether the latest reserved block is durable, so
// that a request carrying one of its tokens may go out.
func (n *Node) readTokensDurable() bool {
	return n.reads == nil || n.reads.tokens.reservedIn <= n.persist.acked
}
