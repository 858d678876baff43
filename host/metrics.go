package host

import (
	"strconv"
	"sync/atomic"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/pureraft/raft"
)

// metrics are the host's Prometheus metrics: counters and histograms for
// the whole host, and gauges per group (label "group") that read atomics
// each group's node loop updates after every batch, so scraping never
// touches a node.
type metrics struct {
	unknownGroup prometheus.Counter
	inboxFull    prometheus.Counter

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

// groupGauges are one group's gauges.
type groupGauges struct {
	term, commit, applied, leader, role, lastIndex atomic.Uint64
	corrupt                                        atomic.Uint64
	quiescent                                      atomic.Bool
}

func newMetrics(reg prometheus.Registerer, h *Host) *metrics {
	m := &metrics{
		unknownGroup: prometheus.NewCounter(prometheus.CounterOpts{Name: "raftkv_peer_unknown_group_messages_total",
			Help: "Peer messages (and snapshot, repair and hash connections) dropped because this host holds no such group."}),
		inboxFull: prometheus.NewCounter(prometheus.CounterOpts{Name: "raftkv_group_inbox_dropped_messages_total",
			Help: "Peer messages dropped because their group's node loop had 64 batches waiting (a stuck group does not stall the others)."}),
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
	reg.MustRegister(m.proposal, m.read, m.fsync, m.batch, m.sentBytes, m.recvBytes, m.dropped, m.garbage, m.forged, m.refused,
		m.snapSent, m.snapRecv, m.snapResumed, m.snapTaken, m.tornBytes, m.hashChecks, m.badSnaps, m.unknownGroup, m.inboxFull,
		&groupCollector{h: h},
	)
	return m
}

// groupCollector reports every group's gauges, labelled by group, and the
// number of groups.
type groupCollector struct{ h *Host }

type groupGauge struct {
	desc *prometheus.Desc
	get  func(*groupGauges) float64
}

var groupGaugeList = []groupGauge{
	{gdesc("raftkv_corruption_alarm", "1 if this replica's state is corrupt (a checksum or a state hash check failed): it serves no reads or writes."), func(m *groupGauges) float64 { return float64(m.corrupt.Load()) }},
	{gdesc("raftkv_term", "Current Raft term."), func(m *groupGauges) float64 { return float64(m.term.Load()) }},
	{gdesc("raftkv_commit_index", "Highest index known committed."), func(m *groupGauges) float64 { return float64(m.commit.Load()) }},
	{gdesc("raftkv_applied_index", "Last index applied to the state machine."), func(m *groupGauges) float64 { return float64(m.applied.Load()) }},
	{gdesc("raftkv_last_index", "Last index in the log."), func(m *groupGauges) float64 { return float64(m.lastIndex.Load()) }},
	{gdesc("raftkv_leader", "ID of the known leader (0: none)."), func(m *groupGauges) float64 { return float64(m.leader.Load()) }},
	{gdesc("raftkv_role", "Role: 0 follower, 1 pre-candidate, 2 candidate, 3 leader."), func(m *groupGauges) float64 { return float64(m.role.Load()) }},
	{gdesc("raftkv_quiescent", "1 if the group is quiescent (idle: no heartbeats)."), func(m *groupGauges) float64 {
		if m.quiescent.Load() {
			return 1
		}
		return 0
	}},
}

func gdesc(name, help string) *prometheus.Desc {
	return prometheus.NewDesc(name, help, []string{"group"}, nil)
}

var (
	groupsDesc  = prometheus.NewDesc("raftkv_groups", "Groups this host holds.", nil, nil)
	leadingDesc = prometheus.NewDesc("raftkv_groups_led", "Groups this host leads.", nil, nil)
)

// Describe implements prometheus.Collector.
func (c *groupCollector) Describe(ch chan<- *prometheus.Desc) {
	for _, g := range groupGaugeList {
		ch <- g.desc
	}
	ch <- groupsDesc
	ch <- leadingDesc
}

// Collect implements prometheus.Collector.
func (c *groupCollector) Collect(ch chan<- prometheus.Metric) {
	groups := c.h.allGroups()
	led := 0
	for _, g := range groups {
		label := strconv.FormatUint(uint64(g.gid), 10)
		for _, gg := range groupGaugeList {
			ch <- prometheus.MustNewConstMetric(gg.desc, prometheus.GaugeValue, gg.get(&g.gauges), label)
		}
		if g.gauges.role.Load() == uint64(raft.RoleLeader) {
			led++
		}
	}
	ch <- prometheus.MustNewConstMetric(groupsDesc, prometheus.GaugeValue, float64(len(groups)))
	ch <- prometheus.MustNewConstMetric(leadingDesc, prometheus.GaugeValue, float64(led))
}
