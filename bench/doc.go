// Package bench compares pureraft with etcd-io/raft (go.etcd.io/raft/v3)
// side by side, on workloads of identical shape, in one goroutine and with
// no I/O.
//
// Four harnesses:
//
//   - Throughput ([RunThroughput]): a cluster of 3 or 5 nodes. Every round
//     the leader gets B proposals of S bytes; then every node handles all
//     its pending work — writes what must be persisted to an in-memory
//     store (and, for pureraft, acknowledges it at once), queues the
//     messages, applies committed entries — and finally the queued
//     messages are delivered. Rounds repeat until N entries are applied on
//     every node; every node compacts every [CompactEvery] applied
//     entries. Both libraries get stores of the same design
//     ([ThroughputParams].Store): a growing slice ([StoreSlice]: etcd's
//     MemoryStorage, and for pureraft a slice grown the same way) or fixed
//     chunks ([StoreChunked]: chunkLog on both sides, for etcd through
//     chunkStorage, a raft.Storage). It reports entries per second and heap
//     allocations and bytes per entry (runtime.MemStats deltas over the run).
//
//   - Idle groups ([RunIdle]): G three-voter groups hosted on one node,
//     which is a follower in every group; the leader is simulated and only
//     sends heartbeats. It reports heap bytes per group, nanoseconds per
//     Tick per group and nanoseconds per heartbeat handled per group. The
//     PureraftQuiescent variant turns on pureraft's quiescence: after
//     QuiesceAfterTicks heartbeats the simulated leader sends MsgQuiesce
//     and falls silent, and the groups are measured quiescent.
//
//   - Store alone ([RunStoreAlone]): a throughput run's persists and
//     compactions replayed into pureraft's caller's stores with no node,
//     the floor under pureraft's cost with that store design (cmd/compare
//     -floor sets it beside the core alone and etcd).
//
//   - Reads ([RunReads]): the throughput cluster with ReadIndex reads
//     instead of proposals, K reads kept in flight at the leader, counting
//     reads confirmed per second and allocations per read; both libraries
//     also in a batched variant (one call per refill).
//
// The command in cmd/compare runs them for both libraries and prints
// tables with the medians and the ratios, one per store design for the
// throughput harness, and the headline block the docs quote. docs/performance.md in the root
// module holds the results and the fairness notes.
package bench
