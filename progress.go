package raft

import "fmt"

// ProgressState is how a leader currently replicates to one follower.
type ProgressState uint8

const (
	// ProgressProbe: the leader does not know where the follower's log
	// matches its own. It sends one append at a time and waits for the
	// answer (or the next heartbeat) before sending another.
	ProgressProbe ProgressState = iota
	// ProgressReplicate: the follower is known to match up to Match. The
	// leader streams appends optimistically (pipelining), bounded by the
	// in-flight limits.
	ProgressReplicate
	// ProgressSnapshot: the member needs entries the leader compacted
	// away; a snapshot transfer is under way and appends wait for it.
	ProgressSnapshot
)

// String returns the state's name, as used in logs and traces.
func (s ProgressState) String() string {
	switch s {
	case ProgressProbe:
		return "Probe"
	case ProgressReplicate:
		return "Replicate"
	case ProgressSnapshot:
		return "Snapshot"
	}
	return fmt.Sprintf("ProgressState(%d)", uint8(s))
}

// Progress is the leader's view of one member's log (Figure 2's
// nextIndex and matchIndex, plus flow-control state).
type Progress struct {
	// Match is the highest index known to be durably replicated on the
	// member.
	Match Index
	// Next is the index of the next entry to send.
	Next Index
	// State says how the leader replicates to the member now: probing,
	// streaming, or waiting for a snapshot transfer.
	State ProgressState
	// RecentActive is set when the member answered since the last
	// check-quorum round.
	RecentActive bool
	// Inflight counts append messages sent and not yet acknowledged.
	Inflight int
	// InflightBytes counts the entry bytes in those messages.
	InflightBytes uint64
}

// progress is a Progress plus the bookkeeping the leader needs.
type progress struct {
	Progress
	id NodeID
	// witness: the member is a witness in the latest configuration; it is
	// sent entries without payloads and snapshots without data once that
	// role is committed (Node.stripsPayloads).
	witness bool
	// probeSent: in Probe state, an append is outstanding; send no more
	// until a response or a heartbeat response arrives.
	probeSent bool
	// sentCommit is the highest commit index sent to this member; an
	// empty append carries a newer one.
	sentCommit Index
	// stalls counts heartbeat answers received in Replicate state with
	// appends in flight and no progress since; see noteHeartbeat.
	stalls uint8
	// pendingSnapshot is the index of the snapshot being transferred, and
	// snapshotElapsed the ticks since it was sent (ProgressSnapshot).
	pendingSnapshot Index
	snapshotElapsed int
	// activeLastRound is RecentActive as it stood when the last
	// check-quorum round ended (CheckMembershipChange).
	activeLastRound bool
	// readAck is the latest heartbeat round the member answered.
	readAck   uint64
	inflights inflights
}

// becomeSnapshot records that a snapshot up to index is on its way.
func (p *progress) becomeSnapshot(index Index) {
	p.State = ProgressSnapshot
	p.pendingSnapshot = index
	p.snapshotElapsed = 0
	p.probeSent = false
	p.inflights.reset()
	p.syncInflight()
}

// stallLimit is how many heartbeat rounds a pipeline may go without any
// acknowledgement before the leader assumes its appends were lost.
const stallLimit = 3

// noteHeartbeat handles a heartbeat answer: the member is alive. A probe
// may be resent. A pipeline whose appends have gone unanswered for
// stallLimit rounds is assumed lost — the transport may drop messages — and
// restarts from Match+1, otherwise a full in-flight window would block the
// member forever.
func (p *progress) noteHeartbeat() {
	p.RecentActive = true
	p.probeSent = false
	if p.State != ProgressReplicate || p.inflights.count == 0 {
		p.stalls = 0
		return
	}
	p.stalls++
	if p.stalls >= stallLimit {
		p.becomeProbe(p.Match + 1)
	}
}

// becomeProbe resets the member to probing from Match+1 (or from next when
// backtracking after a rejection).
func (p *progress) becomeProbe(next Index) {
	p.State = ProgressProbe
	p.Next = max(next, p.Match+1)
	p.probeSent = false
	p.stalls = 0
	p.inflights.reset()
	p.syncInflight()
}

// becomeReplicate starts pipelining after Match.
func (p *progress) becomeReplicate() {
	p.State = ProgressReplicate
	p.Next = p.Match + 1
	p.probeSent = false
	p.inflights.reset()
	p.syncInflight()
}

// maybeUpdate records that the member holds everything up to n. It returns
// false if n is old news (a duplicated or reordered response).
func (p *progress) maybeUpdate(n Index) bool {
	if n <= p.Match {
		// Old news for Match, but it may answer an empty append that only
		// carried the commit index (its last index is Match): release it,
		// or it would hold a slot of the in-flight window until the next
		// entries are acknowledged.
		p.inflights.freeTo(n)
		p.syncInflight()
		return false
	}
	p.Match = n
	p.Next = max(p.Next, n+1)
	p.probeSent = false
	p.stalls = 0
	p.inflights.freeTo(n)
	p.syncInflight()
	return true
}

// sentEntries records an append that carried entries up to last with the
// given payload bytes.
func (p *progress) sentEntries(last Index, bytes uint64) {
	switch p.State {
	case ProgressReplicate:
		p.Next = last + 1
		p.inflights.add(last, bytes)
		p.syncInflight()
	case ProgressProbe:
		p.probeSent = true
	}
}

// paused reports whether flow control forbids sending another append.
func (p *progress) paused(maxMsgs int, maxBytes uint64) bool {
	switch p.State {
	case ProgressProbe:
		return p.probeSent
	case ProgressReplicate:
		return p.inflights.count >= maxMsgs || p.inflights.bytes >= maxBytes
	}
	return true // ProgressSnapshot: wait for the transfer
}

func (p *progress) syncInflight() {
	p.Inflight, p.InflightBytes = p.inflights.count, p.inflights.bytes
}

// inflights is a FIFO ring of the append messages in flight to one member:
// the last index each carried and its byte size. It grows on demand up to
// the number of messages allowed, so idle followers cost nothing.
type inflights struct {
	buf   []inflight
	start int
	count int
	bytes uint64
}

type inflight struct {
	last  Index
	bytes uint64
}

func (f *inflights) add(last Index, bytes uint64) {
	if f.count == len(f.buf) {
		f.grow()
	}
	f.buf[(f.start+f.count)%len(f.buf)] = inflight{last, bytes}
	f.count++
	f.bytes += bytes
}

func (f *inflights) grow() {
	n := max(4, 2*len(f.buf))
	nb := make([]inflight, n)
	for i := 0; i < f.count; i++ {
		nb[i] = f.buf[(f.start+i)%len(f.buf)]
	}
	f.buf, f.start = nb, 0
}

// freeTo releases every message whose last index is at most to.
func (f *inflights) freeTo(to Index) {
	for f.count > 0 {
		head := &f.buf[f.start]
		if head.last > to {
			return
		}
		f.bytes -= head.bytes
		f.start = (f.start + 1) % len(f.buf)
		f.count--
	}
}

func (f *inflights) reset() { f.start, f.count, f.bytes = 0, 0, 0 }
