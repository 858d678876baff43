package bench

import (
	"fmt"
	"testing"
)

var libraries = []Library{Pureraft, Etcd, EtcdBatched}

// idleLibraries are the libraries (and variants) of the idle harness.
var idleLibraries = []Library{Pureraft, Etcd, PureraftQuiescent, PureraftTicker, PureraftTickerQuiescent}

// TestThroughputHarness checks that every library replicates a small
// workload to every node through the harness (no timing is asserted).
func TestThroughputHarness(t *testing.T) {
	for _, store := range Stores {
		for _, lib := range libraries {
			for _, p := range []ThroughputParams{
				{Nodes: 3, Batch: 1, Size: 16, Entries: 100},
				{Nodes: 5, Batch: 64, Size: 1024, Entries: 1000},
			} {
				p.Store = store
				res, err := RunThroughput(lib, p)
				if err != nil {
					t.Fatalf("%s %s: %v", lib, p, err)
				}
				if res.Rounds == 0 || res.Messages == 0 {
					t.Fatalf("%s %s: %+v", lib, p, res)
				}
			}
		}
	}
}

// TestCoreHarness checks that the store-off mode replicates through the
// harness like the real stores (no timing is asserted).
func TestCoreHarness(t *testing.T) {
	for _, p := range []ThroughputParams{
		{Nodes: 3, Batch: 1, Size: 16, Entries: 100, Store: StoreOff},
		{Nodes: 3, Batch: 64, Size: 128, Entries: 30_000, Store: StoreOff}, // compacts
	} {
		res, err := RunThroughput(Pureraft, p)
		if err != nil {
			t.Fatalf("%s: %v", p, err)
		}
		if res.Rounds == 0 || res.Messages == 0 {
			t.Fatalf("%s: %+v", p, res)
		}
	}
}

// TestIdleHarness checks that idle groups of every library stay healthy
// followers through the harness (no timing is asserted).
func TestIdleHarness(t *testing.T) {
	for _, lib := range idleLibraries {
		if _, err := RunIdle(lib, IdleParams{Groups: 50, Ticks: 3 * ElectionTicks}); err != nil {
			t.Fatalf("%s: %v", lib, err)
		}
	}
}

// TestQuiescentIdleGroups checks that the quiescent idle harness measures
// what it claims: after warm-up every group is quiescent, a Tick produces
// no work, and the heartbeat pass sends nothing.
func TestQuiescentIdleGroups(t *testing.T) {
	h, err := newPureIdle(20, true, false)
	if err != nil {
		t.Fatal(err)
	}
	for range warmTicks {
		h.tickAll()
		for i := range h.nodes {
			if err := h.heartbeat(i); err != nil {
				t.Fatal(err)
			}
		}
	}
	for i, node := range h.nodes {
		if !node.Quiescent() {
			t.Fatalf("group %d is not quiescent: %+v", i, node.Status())
		}
		for range 5 * ElectionTicks {
			node.Tick()
			if node.HasActions() {
				t.Fatalf("quiescent group %d has work after a tick: %v", i, node.Actions())
			}
		}
		if err := h.check(i); err != nil {
			t.Fatal(err)
		}
	}
}

// BenchmarkThroughput runs the throughput harness with b.N entries: ns/op
// and allocs/op are per entry, over the whole cluster. It is the input for
// benchstat; cmd/compare prints the side-by-side table.
func BenchmarkThroughput(b *testing.B) {
	for _, store := range Stores {
		for _, lib := range libraries {
			for _, nodes := range []int{3} {
				for _, batch := range []int{1, 64, 256} {
					for _, size := range []int{16, 128, 1024} {
						name := fmt.Sprintf("store=%s/lib=%s/nodes=%d/B=%d/S=%d", store, lib, nodes, batch, size)
						b.Run(name, func(b *testing.B) {
							benchThroughput(b, lib, ThroughputParams{Nodes: nodes, Batch: batch, Size: size, Store: store})
						})
					}
				}
			}
		}
	}
}

func benchThroughput(b *testing.B, lib Library, p ThroughputParams) {
	c, err := newCluster(lib, p.Nodes, p.Store)
	if err != nil {
		b.Fatal(err)
	}
	p.Entries = b.N
	payloads := makePayloads(p.Batch, p.Size)
	var res ThroughputResult
	b.ReportAllocs()
	b.ResetTimer()
	cpu := cpuTime()
	if err := replicate(c, p, payloads, &res); err != nil {
		b.Fatal(err)
	}
	cpu = cpuTime() - cpu
	b.StopTimer()
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "entries/s")
	b.ReportMetric(float64(cpu.Nanoseconds())/float64(b.N), "cpu-ns/op")
}

// BenchmarkCore measures the pureraft core's own cost per entry: the
// throughput harness with no store (StoreOff) next to the chunked store,
// 3 nodes, S=128. cpu-ns/op is CPU time per entry over the whole cluster,
// GC included (issue 16 part 2's "store off and on").
func BenchmarkCore(b *testing.B) {
	for _, store := range []Store{StoreOff, StoreChunked} {
		for _, batch := range []int{1, 64} {
			name := fmt.Sprintf("store=%s/nodes=3/B=%d/S=128", store, batch)
			b.Run(name, func(b *testing.B) {
				benchThroughput(b, Pureraft, ThroughputParams{Nodes: 3, Batch: batch, Size: 128, Store: store})
			})
		}
	}
}

// BenchmarkIdleTick measures ticking idle groups, as ns per group per
// tick (ns/op is one pass over every group): G groups are ticked once per
// op, with one heartbeat round per pass, untimed, to keep them healthy.
func BenchmarkIdleTick(b *testing.B) {
	for _, lib := range idleLibraries {
		for _, groups := range []int{10000, 100000} {
			b.Run(fmt.Sprintf("lib=%s/G=%d", lib, groups), func(b *testing.B) {
				h, err := newIdleHost(lib, groups)
				if err != nil {
					b.Fatal(err)
				}
				beat := func() {
					for k := range groups {
						if err := h.heartbeat(k); err != nil {
							b.Fatal(err)
						}
					}
				}
				if lib == PureraftQuiescent || lib == PureraftTickerQuiescent {
					// Let the groups go quiet first: the leader
					// heartbeats for QuiesceAfterTicks ticks before it
					// quiesces them.
					for range QuiesceAfterTicks + 1 {
						h.tickAll()
						beat()
					}
				}
				b.ReportAllocs()
				b.ResetTimer()
				for range b.N {
					h.tickAll()
					b.StopTimer()
					beat()
					b.StartTimer()
				}
				b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N)/float64(groups), "ns/group-tick")
			})
		}
	}
}

// BenchmarkIdleHeartbeat measures one idle group among 10,000 stepping a
// heartbeat and handling the resulting work.
func BenchmarkIdleHeartbeat(b *testing.B) {
	for _, lib := range []Library{Pureraft, Etcd, PureraftTicker} {
		b.Run("lib="+string(lib), func(b *testing.B) {
			const groups = 10000
			h, err := newIdleHost(lib, groups)
			if err != nil {
				b.Fatal(err)
			}
			b.ReportAllocs()
			b.ResetTimer()
			for i := 0; i < b.N; i++ {
				if err := h.heartbeat(i % groups); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// BenchmarkIdleMemory reports the live heap per idle group (1,000 groups,
// after warm-up) as heap-B/group; ns/op is the whole run and means little.
func BenchmarkIdleMemory(b *testing.B) {
	for _, lib := range idleLibraries {
		b.Run("lib="+string(lib), func(b *testing.B) {
			var heap float64
			for i := 0; i < b.N; i++ {
				res, err := RunIdle(lib, IdleParams{Groups: 1000, Ticks: 1})
				if err != nil {
					b.Fatal(err)
				}
				heap += res.HeapPerGroup
			}
			b.ReportMetric(heap/float64(b.N), "heap-B/group")
		})
	}
}

// BenchmarkTouchFloor is the floor under any per-group Tick: G separately
// allocated objects the size of a pureraft Node (512 bytes), each touched
// once per pass — one counter incremented, in allocation order, as the
// idle harness ticks its groups. ns/op is per object touched. A Tick
// that does anything at all with its group's state cannot be cheaper than
// this; at 100,000 groups it is bound by memory, not by instructions.
func BenchmarkTouchFloor(b *testing.B) {
	type object struct {
		ticks uint64
		_     [504]byte
	}
	for _, groups := range []int{1000, 10000, 100000} {
		b.Run(fmt.Sprintf("G=%d", groups), func(b *testing.B) {
			objs := make([]*object, groups)
			for i := range objs {
				objs[i] = new(object)
			}
			b.ResetTimer()
			for done := 0; done < b.N; done += groups {
				for _, o := range objs[:min(groups, b.N-done)] {
					o.ticks++
				}
			}
		})
	}
}
