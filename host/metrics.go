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

func newMetrics(reg prometheus.Registerer, ns string, h *Host) *metrics {
	m := &metrics{
		unknownGroup: prometheus.NewCounter(prometheus.CounterOpts{Name: ns + "_peer_unknown_group_messages_total",
			Help: "Peer messages (and snapshot, repair and hash connections) dropped because this host holds no such group."}),
		inboxFull: prometheus.NewCounter(prometheus.CounterOpts{Name: ns + "_group_inbox_dropped_messages_total",
			Help: "Peer messages dropped because their group's node loop had 64 batches waiting (a stuck group does not stall the others)."}),
		proposal: prometheus.NewHistogram(prometheus.HistogramOpts{
			Name: ns + "_proposal_seconds", Help: "Time from proposal to applied result.",
			Buckets: prometheus.ExponentialBuckets(0.0002, 2, 16),
		}),
		read: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name: ns + "_read_seconds", Help: "Time to serve a read, by consistency.",
			Buckets: prometheus.ExponentialBuckets(0.00005, 2, 18),
		}, []string{"consistency"}),
		fsync: prometheus.NewHistogram(prometheus.HistogramOpts{
			Name: ns + "_wal_fsync_seconds", Help: "WAL fsync latency.",
			Buckets: prometheus.ExponentialBuckets(0.0001, 2, 16),
		}),
		batch: prometheus.NewHistogram(prometheus.HistogramOpts{
			Name: ns + "_wal_batch_persists", Help: "Persist actions written per group commit.",
			Buckets: prometheus.ExponentialBuckets(1, 2, 12),
		}),
		sentBytes: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: ns + "_peer_sent_bytes_total", Help: "Bytes sent to peers (messages).",
		}, []string{"peer"}),
		recvBytes: prometheus.NewCounter(prometheus.CounterOpts{Name: ns + "_peer_received_bytes_total", Help: "Bytes received from peers (messages)."}),
		dropped:   prometheus.NewCounter(prometheus.CounterOpts{Name: ns + "_peer_dropped_messages_total", Help: "Messages dropped because a peer's queue was full."}),
		garbage:   prometheus.NewCounter(prometheus.CounterOpts{Name: ns + "_peer_protocol_errors_total", Help: "Peer connections closed for sending garbage."}),
		forged: prometheus.NewCounter(prometheus.CounterOpts{Name: ns + "_peer_forged_messages_total",
			Help: "Peer messages or handshakes dropped because they claimed another sender than the connection's peer."}),
		refused: prometheus.NewCounterVec(prometheus.CounterOpts{Name: ns + "_peer_refused_connections_total",
			Help: "Peer connections refused before any message, by reason."}, []string{"reason"}),
		snapSent:    prometheus.NewCounter(prometheus.CounterOpts{Name: ns + "_snapshots_sent_total", Help: "Snapshots shipped to followers."}),
		snapRecv:    prometheus.NewCounter(prometheus.CounterOpts{Name: ns + "_snapshots_received_total", Help: "Snapshots received from the leader."}),
		snapResumed: prometheus.NewCounter(prometheus.CounterOpts{Name: ns + "_snapshot_resumed_bytes_total", Help: "Snapshot bytes a follower already had when a transfer resumed."}),
		snapTaken:   prometheus.NewCounter(prometheus.CounterOpts{Name: ns + "_snapshots_taken_total", Help: "Local snapshots written (followed by log compaction)."}),
		tornBytes:   prometheus.NewCounter(prometheus.CounterOpts{Name: ns + "_wal_torn_bytes_total", Help: "Bytes cut from a torn or corrupt WAL tail at start-up."}),
		hashChecks: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: ns + "_state_checks_total", Help: "State hash comparisons with the other replicas, by result: ok, mismatch (this member raised the alarm), peer_mismatch (another member differs from the majority).",
		}, []string{"result"}),
		badSnaps: prometheus.NewCounter(prometheus.CounterOpts{Name: ns + "_snapshot_files_corrupt_total", Help: "Snapshot files found corrupt or missing at start-up."}),
	}
	reg.MustRegister(m.proposal, m.read, m.fsync, m.batch, m.sentBytes, m.recvBytes, m.dropped, m.garbage, m.forged, m.refused,
		m.snapSent, m.snapRecv, m.snapResumed, m.snapTaken, m.tornBytes, m.hashChecks, m.badSnaps, m.unknownGroup, m.inboxFull,
		newGroupCollector(ns, h),
	)
	return m
}

// validMetricsNamespace reports whether ns can start a Prometheus metric
// name: letters, digits and underscores, not starting with a digit.
func validMetricsNamespace(ns string) bool {
	for i, r := range ns {
		letter := r == '_' || ('a' <= r && r <= 'z') || ('A' <= r && r <= 'Z')
		if !letter && (i == 0 || r < '0' || r > '9') {
			return false
		}
	}
	return ns != ""
}

// groupCollector reports every group's gauges, labelled by group, and the
// number of groups.
type groupCollector struct {
	h               *Host
	gauges          []groupGauge
	groups, leading *prometheus.Desc
}

type groupGauge struct {
	desc *prometheus.Desc
	get  func(*groupGauges) float64
}

func newGroupCollector(ns string, h *Host) *groupCollector {
	gdesc := func(name, help string) *prometheus.Desc {
		return prometheus.NewDesc(ns+"_"+name, help, []string{"group"}, nil)
	}
	return &groupCollector{
		h: h,
		gauges: []groupGauge{
			{gdesc("corruption_alarm", "1 if this replica's state is corrupt (a checksum or a state hash check failed): it serves no reads or writes."), func(m *groupGauges) float64 { return float64(m.corrupt.Load()) }},
			{gdesc("term", "Current Raft term."), func(m *groupGauges) float64 { return float64(m.term.Load()) }},
			{gdesc("commit_index", "Highest index known committed."), func(m *groupGauges) float64 { return float64(m.commit.Load()) }},
			{gdesc("applied_index", "Last index applied to the state machine."), func(m *groupGauges) float64 { return float64(m.applied.Load()) }},
			{gdesc("last_index", "Last index in the log."), func(m *groupGauges) float64 { return float64(m.lastIndex.Load()) }},
			{gdesc("leader", "ID of the known leader (0: none)."), func(m *groupGauges) float64 { return float64(m.leader.Load()) }},
			{gdesc("role", "Role: 0 follower, 1 pre-candidate, 2 candidate, 3 leader."), func(m *groupGauges) float64 { return float64(m.role.Load()) }},
			{gdesc("quiescent", "1 if the group is quiescent (idle: no heartbeats)."), func(m *groupGauges) float64 {
				if m.quiescent.Load() {
					return 1
				}
				return 0
			}},
		},
		groups:  prometheus.NewDesc(ns+"_groups", "Groups this host holds.", nil, nil),
		leading: prometheus.NewDesc(ns+"_groups_led", "Groups this host leads.", nil, nil),
	}
}

// Describe implements prometheus.Collector.
func (c *groupCollector) Describe(ch chan<- *prometheus.Desc) {
	for _, g := range c.gauges {
		ch <- g.desc
	}
	ch <- c.groups
	ch <- c.leading
}

// Collect implements prometheus.Collector.
func (c *groupCollector) Collect(ch chan<- prometheus.Metric) {
	groups := c.h.allGroups()
	led := 0
	for _, g := range groups {
		label := strconv.FormatUint(uint64(g.gid), 10)
		for _, gg := range c.gauges {
			ch <- prometheus.MustNewConstMetric(gg.desc, prometheus.GaugeValue, gg.get(&g.gauges), label)
		}
		if g.gauges.role.Load() == uint64(raft.RoleLeader) {
			led++
		}
	}
	ch <- prometheus.MustNewConstMetric(c.groups, prometheus.GaugeValue, float64(len(groups)))
	ch <- prometheus.MustNewConstMetric(c.leading, prometheus.GaugeValue, float64(led))
}
