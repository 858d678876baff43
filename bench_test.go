package raft

import (
	"fmt"
	"testing"
)

// Micro-benchmarks of the hot paths of replication. Each one is small and
// deterministic: no clocks, no goroutines, no randomness beyond the node's
// seeded PRNG. Set-up and periodic clean-up (draining actions the benchmark
// does not measure, restarting nodes whose log grew long) run with the timer
// stopped. The comparison with etcd-io/raft lives in the bench module; see
// docs/performance.md.

// benchPayloadSize is the payload of every proposed entry.
const benchPayloadSize = 128

// benchMaxLog bounds the log a benchmark lets a node accumulate before it
// restarts the cluster from a snapshot at its last index, so long runs do
// not measure ever-growing memory.
const benchMaxLog = 1 << 18

// benchStore stands in for the caller's storage. It checks that persist
// actions arrive in an order a real store could apply (entries continue or
// overwrite a suffix of what is stored) but keeps no entries: these
// benchmarks measure the node, not a store. The bench module's harness
// keeps every entry in memory, as etcd's MemoryStorage does.
type benchStore struct {
	hs   HardState
	last Index // last stored index
}

func (s *benchStore) reset(snapIndex Index) { *s = benchStore{last: snapIndex} }

func (s *benchStore) write(p *Persist) {
	if p.Snapshot != nil {
		s.last = p.Snapshot.Index
	}
	if n := len(p.Entries); n > 0 {
		if first := p.Entries[0].Index; first > s.last+1 {
			panic(fmt.Sprintf("persist entries from %d onto storage ending at %d", first, s.last))
		}
		s.last = p.Entries[n-1].Index
	}
	if p.HasHardState {
		s.hs = p.HardState
	}
}

// benchCluster is a lean in-process cluster of voters 1..n with synchronous
// storage: every persist is written and acknowledged at once. Unlike testNet
// it reuses its buffers, so its own allocations do not blur the node's.
type benchCluster struct {
	tb      testing.TB
	nodes   []*Node
	stores  []benchStore
	applied []Index
	queue   []Message
	next    []Message
}

func benchConfig(id NodeID) Config {
	return Config{ID: id, Seed: 1, ElectionTicks: 10, HeartbeatTicks: 1}
}

// newBenchCluster starts n voters from a snapshot at (snapIndex, snapTerm)
// and elects node 1.
func newBenchCluster(tb testing.TB, n int, snapIndex Index, snapTerm Term) *benchCluster {
	tb.Helper()
	c := &benchCluster{tb: tb}
	c.restart(n, snapIndex, snapTerm)
	return c
}

// restart rebuilds every node from a snapshot at (snapIndex, snapTerm),
// reusing the cluster's buffers, and elects node 1.
func (c *benchCluster) restart(n int, snapIndex Index, snapTerm Term) {
	c.tb.Helper()
	voters := make([]NodeID, n)
	for i := range voters {
		voters[i] = NodeID(i + 1)
	}
	c.nodes = c.nodes[:0]
	if cap(c.stores) < n {
		c.stores = make([]benchStore, n)
		c.applied = make([]Index, n)
	}
	c.stores, c.applied = c.stores[:n], c.applied[:n]
	c.queue, c.next = c.queue[:0], c.next[:0]
	for i, id := range voters {
		st := PersistentState{
			HardState: HardState{Term: snapTerm, Commit: snapIndex},
			Snapshot:  SnapshotMeta{Index: snapIndex, Term: snapTerm, Membership: Membership{Voters: voters}},
		}
		node, err := NewNode(benchConfig(id), st)
		if err != nil {
			c.tb.Fatalf("restart node %d: %v", id, err)
		}
		c.nodes = append(c.nodes, node)
		c.stores[i].reset(snapIndex)
		c.applied[i] = snapIndex
	}
	if err := c.nodes[0].Campaign(); err != nil {
		c.tb.Fatalf("campaign: %v", err)
	}
	c.settle()
	if c.nodes[0].role != RoleLeader {
		c.tb.Fatalf("node 1 is %s after campaigning", c.nodes[0].role)
	}
}

// drain carries out node i's actions until it has none.
func (c *benchCluster) drain(i int) {
	node := c.nodes[i]
	for {
		acts := node.Actions()
		if len(acts) == 0 {
			return
		}
		for k := range acts {
			a := &acts[k]
			switch a.Kind {
			case ActionPersist:
				c.stores[i].write(&a.Persist)
				if err := node.AckPersist(a.Persist.ID); err != nil {
					c.tb.Fatalf("node %d ack: %v", i+1, err)
				}
			case ActionSend:
				c.queue = append(c.queue, a.Message)
			case ActionApply:
				c.applied[i] = a.Apply.Entries[len(a.Apply.Entries)-1].Index
			}
		}
	}
}

// deliver steps every queued message into its receiver; it reports whether
// there were any.
func (c *benchCluster) deliver() bool {
	if len(c.queue) == 0 {
		return false
	}
	c.queue, c.next = c.next[:0], c.queue
	for k := range c.next {
		m := &c.next[k]
		if err := c.nodes[m.To-1].Step(*m); err != nil {
			c.tb.Fatalf("node %d step %v: %v", m.To, m, err)
		}
		*m = Message{}
	}
	return true
}

// settle runs the cluster until no node has work and no message is queued.
func (c *benchCluster) settle() {
	for range 1000 {
		for i := range c.nodes {
			c.drain(i)
		}
		if !c.deliver() {
			return
		}
	}
	c.tb.Fatalf("cluster did not settle")
}

// compactIfLong restarts the cluster from a snapshot at the leader's last
// index once its log is long.
func (c *benchCluster) compactIfLong() {
	l := &c.nodes[0].log
	if l.count() >= benchMaxLog {
		c.restart(len(c.nodes), l.lastIndex(), l.lastTerm())
	}
}

func benchPayloads(n, size int) [][]byte {
	p := make([][]byte, n)
	for i := range p {
		p[i] = make([]byte, size)
		for j := range p[i] {
			p[i][j] = byte(i + j)
		}
	}
	return p
}

// BenchmarkPropose measures a leader accepting one proposal (the append to
// its in-memory log and the flow-control accounting). Every 4096 proposals
// the actions are drained, untimed, so the uncommitted budget is released.
func BenchmarkPropose(b *testing.B) {
	c := newBenchCluster(b, 1, 0, 0)
	payload := benchPayloads(1, benchPayloadSize)[0]
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		if i%4096 == 4095 {
			b.StopTimer()
			c.settle()
			c.compactIfLong()
			b.StartTimer()
		}
		if _, _, err := c.nodes[0].Propose(payload); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkStepAppendFollower measures a follower stepping one MsgApp that
// continues its log with `entries` entries: validation, the consistency
// check, the append and the (gated) acknowledgement.
func BenchmarkStepAppendFollower(b *testing.B) {
	for _, batch := range []int{1, 64} {
		b.Run(fmt.Sprintf("entries=%d", batch), func(b *testing.B) {
			const k = 256 // messages prepared per untimed pause
			c := newBenchCluster(b, 3, 0, 0)
			f := c.nodes[1]
			payload := benchPayloads(1, benchPayloadSize)[0]
			msgs := make([]Message, k)
			ents := make([]Entry, k*batch)
			b.ReportAllocs()
			b.ResetTimer()
			for i := 0; i < b.N; i++ {
				j := i % k
				if j == 0 {
					b.StopTimer()
					c.drain(1)
					c.queue = c.queue[:0]
					if f.log.count() >= benchMaxLog {
						c.restart(3, f.log.lastIndex(), f.log.lastTerm())
						f = c.nodes[1]
					}
					prev, term := f.log.lastIndex(), f.term
					for m := range msgs {
						es := ents[m*batch : (m+1)*batch : (m+1)*batch]
						for e := range es {
							es[e] = Entry{Index: prev + Index(e) + 1, Term: term, Data: payload}
						}
						msgs[m] = Message{Type: MsgApp, From: 1, To: 2, Term: term, Index: prev, LogTerm: term, Commit: prev, Entries: es}
						prev += Index(batch)
					}
					b.StartTimer()
				}
				if err := f.Step(msgs[j]); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// BenchmarkStepAppendRespLeader measures a leader stepping one successful
// MsgAppResp that advances a follower by one entry and, with the leader's
// own durable copy, commits it.
func BenchmarkStepAppendRespLeader(b *testing.B) {
	const k = 1024 // entries proposed per untimed pause
	c := newBenchCluster(b, 3, 0, 0)
	payload := benchPayloads(1, benchPayloadSize)[0]
	var base Index
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		j := i % k
		l := c.nodes[0]
		if j == 0 {
			b.StopTimer()
			if i > 0 {
				// Follower 3 catches up too; drop what the leader sends.
				if err := l.Step(Message{Type: MsgAppResp, From: 3, To: 1, Term: l.term, Index: base + k}); err != nil {
					b.Fatal(err)
				}
				c.drain(0)
				c.queue = c.queue[:0]
				c.compactIfLong()
				l = c.nodes[0]
			}
			base = l.log.lastIndex()
			for range k {
				if _, _, err := l.Propose(payload); err != nil {
					b.Fatal(err)
				}
			}
			c.drain(0)
			c.queue = c.queue[:0]
			b.StartTimer()
		}
		if err := l.Step(Message{Type: MsgAppResp, From: 2, To: 1, Term: l.term, Index: base + Index(j) + 1}); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkMaybeCommit measures the leader's commit rule: the quorum index
// over its members' match indexes (and its own durable index).
func BenchmarkMaybeCommit(b *testing.B) {
	for _, voters := range []int{3, 5} {
		b.Run(fmt.Sprintf("voters=%d", voters), func(b *testing.B) {
			c := newBenchCluster(b, voters, 0, 0)
			l := c.nodes[0]
			b.ReportAllocs()
			b.ResetTimer()
			for i := 0; i < b.N; i++ {
				l.maybeCommit()
			}
		})
	}
}

// BenchmarkQuorumIndex measures the quorum computation alone.
func BenchmarkQuorumIndex(b *testing.B) {
	for _, voters := range []int{3, 5} {
		b.Run(fmt.Sprintf("voters=%d", voters), func(b *testing.B) {
			m := Membership{}
			acked := make(map[NodeID]Index)
			for i := 1; i <= voters; i++ {
				m.Voters = append(m.Voters, NodeID(i))
				acked[NodeID(i)] = Index(100 + i*7%5)
			}
			f := func(id NodeID) Index { return acked[id] }
			b.ReportAllocs()
			b.ResetTimer()
			for i := 0; i < b.N; i++ {
				jointQuorumIndex(&m, f)
			}
		})
	}
}

func benchAppendMessage(entries int) Message {
	m := Message{Type: MsgApp, From: 1, To: 2, Term: 7, LogTerm: 7, Index: 123456, Commit: 123450}
	for i, p := range benchPayloads(entries, benchPayloadSize) {
		m.Entries = append(m.Entries, Entry{Index: m.Index + Index(i) + 1, Term: 7, Data: p})
	}
	return m
}

var benchCodecCases = []struct {
	name string
	msg  Message
}{
	{"heartbeat", Message{Type: MsgHeartbeat, From: 1, To: 2, Term: 7, Commit: 123450, Context: 99}},
	{"app=1", benchAppendMessage(1)},
	{"app=64", benchAppendMessage(64)},
}

// BenchmarkEncode measures AppendBinary into a reused buffer.
func BenchmarkEncode(b *testing.B) {
	for _, tc := range benchCodecCases {
		b.Run(tc.name, func(b *testing.B) {
			buf := make([]byte, 0, tc.msg.EncodedSize())
			b.SetBytes(int64(tc.msg.EncodedSize()))
			b.ReportAllocs()
			b.ResetTimer()
			for i := 0; i < b.N; i++ {
				var err error
				buf, err = tc.msg.AppendBinary(buf[:0])
				if err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// BenchmarkDecode measures Decode; payloads alias the input.
func BenchmarkDecode(b *testing.B) {
	for _, tc := range benchCodecCases {
		b.Run(tc.name, func(b *testing.B) {
			buf, err := tc.msg.MarshalBinary()
			if err != nil {
				b.Fatal(err)
			}
			b.SetBytes(int64(len(buf)))
			b.ReportAllocs()
			b.ResetTimer()
			var m Message
			for i := 0; i < b.N; i++ {
				if err := Decode(buf, &m, DecodeLimits{}); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// BenchmarkRound measures one full replication round on a 3-node cluster:
// the leader gets B proposals, then every node drains its actions (writes
// and acknowledges persists, queues sends, applies), messages are
// delivered, until all B entries are applied everywhere.
func BenchmarkRound(b *testing.B) {
	for _, batch := range []int{1, 64} {
		b.Run(fmt.Sprintf("B=%d", batch), func(b *testing.B) {
			c := newBenchCluster(b, 3, 0, 0)
			payloads := benchPayloads(batch, benchPayloadSize)
			b.ReportAllocs()
			b.ResetTimer()
			for i := 0; i < b.N; i++ {
				if i%1024 == 1023 {
					b.StopTimer()
					c.compactIfLong()
					b.StartTimer()
				}
				var last Index
				for _, p := range payloads {
					idx, _, err := c.nodes[0].Propose(p)
					if err != nil {
						b.Fatal(err)
					}
					last = idx
				}
				c.settle()
				for k, a := range c.applied {
					if a < last {
						b.Fatalf("node %d applied %d of %d", k+1, a, last)
					}
				}
			}
			b.ReportMetric(float64(b.N*batch)/b.Elapsed().Seconds(), "entries/s")
		})
	}
}
