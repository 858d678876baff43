package host

import (
	"sync/atomic"

	"github.com/prometheus/client_golang/prometheus"
)

// metrics are the host's Prometheus metrics. Gauges read atomics the node
// loop updates after every batch, so scraping never touches the node.
type metrics struct {
	term, commit, applied, leader, role, lastIndex atomic.Uint64
	corrupt                                        atomic.Uint64

	proposal    prometheus.Histogram
	read        *prometheus.HistogramVec
	fsync       prometheus.Histogram
	sentBytes   *prometheus.CounterVec
	recvBytes   prometheus.Counter
	dropped     prometheus.Counter
	garbage     prometheus.Counter
	forged      prometheus.Counter
	refused     *prometheus.CounterVec
	snapSent    prometheus.Counter
	snapRecv    prometheus.Counter
	snapResumed prometheus.Counter
	snapTaken   prometheus.Counter
	tornBytes   prometheus.Counter
	batch       prometheus.Histogram
	hashChecks  *prometheus.CounterVec
	badSnaps    prometheus.Counter
}

func newMetrics(reg prometheus.Registerer) *metrics {
	m := &metrics{
		proposal: prometheus.NewHistogram(prometheus.HistogramOpts{
			Name: "raftkv_proposal_seconds", Help: "Time from proposal to applied result.",
			Buckets: prometheus.ExponentialBuckets(0.0002, 2, 16),
		}),
		read: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name: "raftkv_read_seconds", Help: "Time to serve a read, by consistency.",
			Buckets: prometheus.ExponentialBuckets(0.00005, 2, 18),
		}, []string{"consistency"}),
		fsync: prometheus.NewHistogram(prometheus.HistogramOpts{
			Name: "raftkv_wal_fsync_seconds", Help: "WAL fsync latency.",
			Buckets: prometheus.ExponentialBuckets(0.0001, 2, 16),
		}),
		batch: prometheus.NewHistogram(prometheus.HistogramOpts{
			Name: "raftkv_wal_batch_persists", Help: "Persist actions written per group commit.",
			Buckets: prometheus.ExponentialBuckets(1, 2, 12),
		}),
		sentBytes: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "raftkv_peer_sent_bytes_total", Help: "Bytes sent to peers (messages).",
		}, []string{"peer"}),
		recvBytes: prometheus.NewCounter(prometheus.CounterOpts{Name: "raftkv_peer_received_bytes_total", Help: "Bytes received from peers (messages)."}),
		dropped:   prometheus.NewCounter(prometheus.CounterOpts{Name: "raftkv_peer_dropped_messages_total", Help: "Messages dropped because a peer's queue was full."}),
		garbage:   prometheus.NewCounter(prometheus.CounterOpts{Name: "raftkv_peer_protocol_errors_total", Help: "Peer connections closed for sending garbage."}),
		forged: prometheus.NewCounter(prometheus.CounterOpts{Name: "raftkv_peer_forged_messages_total",
			Help: "Peer messages or handshakes dropped because they claimed another sender than the connection's peer."}),
		refused: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "raftkv_peer_refused_connections_total",
			Help: "Peer connections refused before any message, by reason."}, []string{"reason"}),
		snapSent:    prometheus.NewCounter(prometheus.CounterOpts{Name: "raftkv_snapshots_sent_total", Help: "Snapshots shipped to followers."}),
		snapRecv:    prometheus.NewCounter(prometheus.CounterOpts{Name: "raftkv_snapshots_received_total", Help: "Snapshots received from the leader."}),
		snapResumed: prometheus.NewCounter(prometheus.CounterOpts{Name: "raftkv_snapshot_resumed_bytes_total", Help: "Snapshot bytes a follower already had when a transfer resumed."}),
		snapTaken:   prometheus.NewCounter(prometheus.CounterOpts{Name: "raftkv_snapshots_taken_total", Help: "Local snapshots written (followed by log compaction)."}),
		tornBytes:   prometheus.NewCounter(prometheus.CounterOpts{Name: "raftkv_wal_torn_bytes_total", Help: "Bytes cut from a torn or corrupt WAL tail at start-up."}),
		hashChecks: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "raftkv_state_checks_total", Help: "State hash comparisons with the other replicas, by result: ok, mismatch (this member raised the alarm), peer_mismatch (another member differs from the majority).",
		}, []string{"result"}),
		badSnaps: prometheus.NewCounter(prometheus.CounterOpts{Name: "raftkv_snapshot_files_corrupt_total", Help: "Snapshot files found corrupt or missing at start-up."}),
	}
	gauge := func(name, help string, v *atomic.Uint64) prometheus.Collector {
		return prometheus.NewGaugeFunc(prometheus.GaugeOpts{Name: name, Help: help}, func() float64 { return float64(v.Load()) })
	}
	reg.MustRegister(m.proposal, m.read, m.fsync, m.batch, m.sentBytes, m.recvBytes, m.dropped, m.garbage, m.forged, m.refused,
		m.snapSent, m.snapRecv, m.snapResumed, m.snapTaken, m.tornBytes, m.hashChecks, m.badSnaps,
		gauge("raftkv_corruption_alarm", "1 if this member's state is corrupt (a checksum or a state hash check failed): it serves no reads or writes.", &m.corrupt),
		gauge("raftkv_term", "Current Raft term.", &m.term),
		gauge("raftkv_commit_index", "Highest index known committed.", &m.commit),
		gauge("raftkv_applied_index", "Last index applied to the state machine.", &m.applied),
		gauge("raftkv_last_index", "Last index in the log.", &m.lastIndex),
		gauge("raftkv_leader", "ID of the known leader (0: none).", &m.leader),
		gauge("raftkv_role", "Role: 0 follower, 1 pre-candidate, 2 candidate, 3 leader.", &m.role),
	)
	return m
}
