package bench

import (
	"fmt"
	"slices"
	"testing"

	raft "github.com/pureraft/raft"
	etcd "go.etcd.io/raft/v3"
	pb "go.etcd.io/raft/v3/raftpb"
)

// TestReadHarness checks that the read loop confirms exactly the reads it
// issued, each once, at the leader's commit index (no writes are made), and
// that each library sends the messages it is documented to send: one
// heartbeat round per refill for pureraft and the batched callers, one per
// read for etcd.
func TestReadHarness(t *testing.T) {
	const reads = 3000
	for _, lib := range readLibraries {
		for _, nodes := range []int{3, 5} {
			for _, k := range []int{1, 64, 1024} {
				p := ReadParams{Nodes: nodes, InFlight: k, Reads: reads}
				c := readClusterOf(t, lib, nodes)
				c.prepareReads(k, batchedReads(lib))
				var res ReadResult
				if err := readLoop(c, p, &res); err != nil {
					t.Fatalf("%s %s: %v", lib, p, err)
				}
				tl := c.tally()
				if res.Reads != reads || tl.confirmed != reads || tl.failed != 0 {
					t.Fatalf("%s %s: %d reads counted, %d confirmed, %d failed; want %d confirmed", lib, p, res.Reads, tl.confirmed, tl.failed, reads)
				}
				if n := tl.outstanding(); n != 0 {
					t.Fatalf("%s %s: %d reads still outstanding", lib, p, n)
				}
				if tl.top != tl.floor {
					t.Fatalf("%s %s: reads confirmed up to index %d, want exactly the commit index %d", lib, p, tl.top, tl.floor)
				}
				rounds := (reads + k - 1) / k // heartbeat rounds
				if lib == Etcd {
					rounds = reads
				}
				if want := 2 * (nodes - 1) * rounds; res.Messages != want {
					t.Fatalf("%s %s: %d messages delivered, want %d (%d heartbeat rounds)", lib, p, res.Messages, want, rounds)
				}
			}
		}
	}
}

// TestReadTally checks that the tally refuses what must not count as a
// confirmed read.
func TestReadTally(t *testing.T) {
	for _, tc := range []struct {
		name string
		do   func(*readTally)
	}{
		{"twice", func(tl *readTally) { tl.ready(0, 1, 5); tl.ready(0, 1, 5) }},
		{"never issued", func(tl *readTally) { tl.ready(0, 3, 5) }},
		{"unknown ID", func(tl *readTally) { tl.ready(0, 99, 5) }},
		{"same slot, later ID", func(tl *readTally) { tl.ready(0, 4, 5) }},
		{"window overrun", func(tl *readTally) { tl.issue(0, 4, 1) }},
		{"other node", func(tl *readTally) { tl.ready(1, 1, 5) }},
		{"stale index", func(tl *readTally) { tl.ready(0, 1, 4) }},
		{"failed then confirmed", func(tl *readTally) { tl.fail(0, 1); tl.ready(0, 1, 5) }},
	} {
		var tl readTally
		tl.prepare(2, 5, false)
		tl.issue(0, 0, 3)
		tc.do(&tl)
		if tl.err == nil {
			t.Errorf("%s: accepted (%d confirmed)", tc.name, tl.confirmed)
		}
	}
	// Batched: reads 0..2 are one request, with ID 0.
	var tl readTally
	tl.prepare(4, 5, true)
	tl.issue(0, 0, 3)
	if tl.ready(0, 1, 5); tl.err == nil {
		t.Errorf("batched: an answer to read 1, inside request 0, was accepted")
	}
	tl.err = nil
	if tl.ready(0, 0, 5); tl.err != nil || tl.confirmed != 3 {
		t.Errorf("batched: request 0 confirmed %d reads, want 3 (err %v)", tl.confirmed, tl.err)
	}
}

// TestReadsDeposedLeader: reads issued at a leader that a partition has
// deposed (without its knowing) are never confirmed, whether the partition
// lasts or heals; reads at the new leader are.
func TestReadsDeposedLeader(t *testing.T) {
	for _, lib := range readLibraries {
		t.Run(string(lib), func(t *testing.T) {
			c := readClusterOf(t, lib, 3)
			c.prepareReads(100, batchedReads(lib))
			tl := c.tally()
			cut1 := func(from, to uint64) bool { return from == 1 || to == 1 }
			// Nodes 2 and 3 elect a leader among themselves; node 1 is
			// not ticked, so it still thinks it leads.
			newLeader := -1
			for r := 0; r < 50*ElectionTicks && newLeader < 0; r++ {
				tickNode(c, 1)
				tickNode(c, 2)
				readRound(t, c, 3, cut1)
				for _, i := range []int{1, 2} {
					if isLeader(c, i) {
						newLeader = i
					}
				}
			}
			if newLeader < 0 {
				t.Fatal("nodes 2 and 3 elected no leader")
			}
			for range 5 {
				readRound(t, c, 3, cut1)
			}
			if !isLeader(c, 0) {
				t.Fatal("node 1 learned it was deposed through the partition")
			}

			tl.issue(0, 0, 10)
			if err := c.readIndex(0, 0, 10); err != nil {
				t.Fatal(err)
			}
			for range 5 {
				readRound(t, c, 3, cut1)
			}
			if tl.confirmed != 0 || tl.err != nil {
				t.Fatalf("partitioned: %d reads confirmed at the deposed leader (err %v)", tl.confirmed, tl.err)
			}
			for range 5 { // healed; the new leader's heartbeats reach node 1
				tickNode(c, newLeader)
				readRound(t, c, 3, nil)
			}
			if tl.confirmed != 0 || tl.err != nil {
				t.Fatalf("healed: %d reads confirmed at the deposed leader (err %v)", tl.confirmed, tl.err)
			}
			if isLeader(c, 0) {
				t.Fatal("node 1 still leader after the partition healed")
			}
			if (lib == Pureraft || lib == PureraftBatched) && tl.failed != 10 {
				t.Fatalf("pureraft reported %d of 10 reads failed", tl.failed)
			}
			// etcd drops them silently: a caller times them out.

			tl.issue(newLeader, 10, 5)
			if err := c.readIndex(newLeader, 10, 5); err != nil {
				t.Fatal(err)
			}
			for range 5 {
				readRound(t, c, 3, nil)
			}
			if tl.confirmed != 5 || tl.err != nil {
				t.Fatalf("%d of 5 reads confirmed at the new leader (err %v)", tl.confirmed, tl.err)
			}
		})
	}
}

// TestReadsOnFollower: a read issued on a follower is confirmed there,
// through the leader, with the leader's commit index; with the leader cut
// off it is not confirmed.
func TestReadsOnFollower(t *testing.T) {
	for _, lib := range readLibraries {
		t.Run(string(lib), func(t *testing.T) {
			c := readClusterOf(t, lib, 3)
			c.prepareReads(100, batchedReads(lib))
			tl := c.tally()
			tl.issue(1, 0, 10)
			if err := c.readIndex(1, 0, 10); err != nil {
				t.Fatal(err)
			}
			for range 6 {
				readRound(t, c, 3, nil)
			}
			if tl.confirmed != 10 || tl.err != nil || tl.top != tl.floor {
				t.Fatalf("%d of 10 follower reads confirmed, up to index %d, want %d (err %v)", tl.confirmed, tl.top, tl.floor, tl.err)
			}
			tl.issue(1, 10, 10)
			if err := c.readIndex(1, 10, 10); err != nil {
				t.Fatal(err)
			}
			for range 6 {
				readRound(t, c, 3, func(from, to uint64) bool { return from == 1 || to == 1 })
			}
			if tl.confirmed != 10 || tl.err != nil {
				t.Fatalf("leader cut off: %d follower reads confirmed, want the earlier 10 (err %v)", tl.confirmed, tl.err)
			}
		})
	}
}

var readLibraries = []Library{Pureraft, Etcd, PureraftBatched, EtcdBatched}

func batchedReads(lib Library) bool { return lib == PureraftBatched || lib == EtcdBatched }

func readClusterOf(t testing.TB, lib Library, nodes int) readCluster {
	t.Helper()
	c, err := newReadCluster(lib, nodes)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// readRound has every node carry out its work, drops the queued messages
// drop selects (by 1-based node IDs; nil drops none) and delivers the rest.
func readRound(t testing.TB, c readCluster, nodes int, drop func(from, to uint64) bool) {
	t.Helper()
	for i := range nodes {
		if err := c.handle(i); err != nil {
			t.Fatalf("node %d: %v", i+1, err)
		}
	}
	if drop != nil {
		switch c := c.(type) {
		case *pureCluster:
			c.queue = slices.DeleteFunc(c.queue, func(m raft.Message) bool { return drop(uint64(m.From), uint64(m.To)) })
		case *etcdCluster:
			c.queue = slices.DeleteFunc(c.queue, func(m pb.Message) bool { return drop(m.From, m.To) })
		default:
			t.Fatalf("unknown cluster %T", c)
		}
	}
	if _, err := c.deliver(); err != nil {
		t.Fatal(err)
	}
}

func tickNode(c readCluster, i int) {
	switch c := c.(type) {
	case *pureCluster:
		c.nodes[i].Tick()
	case *etcdCluster:
		c.nodes[i].Tick()
	}
}

func isLeader(c readCluster, i int) bool {
	switch c := c.(type) {
	case *pureCluster:
		return c.nodes[i].Status().Role == raft.RoleLeader
	case *etcdCluster:
		return c.nodes[i].BasicStatus().RaftState == etcd.StateLeader
	}
	return false
}

// BenchmarkReadIndex runs the read loop with b.N reads confirmed, K in
// flight at the leader of three nodes: ns/op and allocs/op are per read,
// over the whole cluster.
func BenchmarkReadIndex(b *testing.B) {
	for _, lib := range readLibraries {
		for _, k := range []int{1, 64, 1024} {
			b.Run(fmt.Sprintf("lib=%s/nodes=3/K=%d", lib, k), func(b *testing.B) {
				p := ReadParams{Nodes: 3, InFlight: k, Reads: b.N}
				c := readClusterOf(b, lib, p.Nodes)
				c.prepareReads(p.InFlight, batchedReads(lib))
				var res ReadResult
				b.ReportAllocs()
				b.ResetTimer()
				cpu := cpuTime()
				if err := readLoop(c, p, &res); err != nil {
					b.Fatal(err)
				}
				cpu = cpuTime() - cpu
				b.StopTimer()
				b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "reads/s")
				b.ReportMetric(float64(cpu.Nanoseconds())/float64(b.N), "cpu-ns/op")
				b.ReportMetric(res.MessagesPerRead(), "msgs/op")
			})
		}
	}
}
