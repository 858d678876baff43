package host

// Corruption detection: the alarm, and replicas comparing state hashes.
//
// A Machine that implements Hasher can hash its state. At a hash-check
// entry in the log (kind entryHashCheck) every replica hashes its machine
// — all at the same log index, so healthy replicas agree — and asks every
// other member for its hash at that index (a peer connection of kind
// kindHash). A member whose hash is not shared by a strict majority of
// the answers, itself included, raises the alarm: it can no longer tell
// that its state is right. (etcd's corruption check is the model; here
// every member judges itself, and a tie alarms both sides: safety first.)
//
// The alarm also goes off when a read or an apply meets a value that
// fails its checksum (ErrStateCorrupt from the machine). A member under
// alarm answers no reads and takes no writes; it keeps replicating the
// log, which is checksummed separately and not in doubt. The alarm is
// recorded in Dir/alarm.json and survives restarts; the way out is to
// rebuild the member (docs/raftkv.md).
//
// A restarted member serves no reads until its start-up check is done: it
// proposes a hash-check entry (a follower's proposal is forwarded) and
// waits for the comparison. The leader proposes one every
// Config.CorruptCheckInterval too.

import (
	"bufio"
	"context"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"path/filepath"
	"sync"
	"time"

	"github.com/pureraft/raft"
)

// ErrStateCorrupt: this member's state fails a check — a stored value's
// checksum, or a state hash that disagrees with the other replicas'. The
// member stops serving reads and writes until it is rebuilt.
var ErrStateCorrupt = errors.New("this member's state is corrupt")

// ErrNotVerified: the member restarted and has not yet compared its state
// with the other replicas; it serves reads once it has.
var ErrNotVerified = errors.New("start-up state check not done yet")

// Hasher is implemented by a Machine that can hash its state, so replicas
// can compare themselves. HashState captures the state as of the last
// Apply (cheaply, like Snapshot; it is called on the apply goroutine) and
// returns a function that hashes it on another goroutine. Replicas that
// applied the same log must hash equal; a stored value that fails its
// checksum makes the function return an error wrapping ErrStateCorrupt.
type Hasher interface {
	HashState() (func() (uint64, error), error)
}

// hashRecord is one replica's hash at a hash-check index.
type hashRecord struct {
	done     chan struct{} // closed when sum and err are set
	compared chan struct{} // closed when the comparison with the peers is over
	sum      uint64
	err      error
}

// hashBook keeps the recent hash records, by index.
type hashBook struct {
	mu   sync.Mutex
	recs map[uint64]*hashRecord
}

const keepHashes = 16

func (b *hashBook) add(index uint64) *hashRecord {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.recs == nil {
		b.recs = map[uint64]*hashRecord{}
	}
	r := &hashRecord{done: make(chan struct{}), compared: make(chan struct{})}
	b.recs[index] = r
	for len(b.recs) > keepHashes {
		oldest := index
		for i := range b.recs {
			oldest = min(oldest, i)
		}
		delete(b.recs, oldest)
	}
	return r
}

func (b *hashBook) get(index uint64) *hashRecord {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.recs[index]
}

type alarmFile struct {
	Reason string    `json:"reason"`
	Since  time.Time `json:"since"`
}

// loadAlarm restores an alarm raised before a restart.
func (g *Group) loadAlarm() {
	b, err := os.ReadFile(filepath.Join(g.dir, "alarm.json"))
	if err != nil {
		return
	}
	var a alarmFile
	if json.Unmarshal(b, &a) != nil || a.Reason == "" {
		a.Reason = "alarm.json is unreadable"
	}
	g.alarm.Store(&a.Reason)
	g.gauges.corrupt.Store(1)
	g.log.Error("CORRUPTION ALARM still raised: this member serves no reads or writes until it is rebuilt (docs/raftkv.md)",
		"reason", a.Reason, "since", a.Since)
}

// raiseAlarm marks this member's state as corrupt, durably.
func (g *Group) raiseAlarm(reason string) {
	if !g.alarm.CompareAndSwap(nil, &reason) {
		return
	}
	g.gauges.corrupt.Store(1)
	g.log.Error("CORRUPTION ALARM: this member's state is corrupt; it serves no reads or writes until it is rebuilt (docs/raftkv.md)", "reason", reason)
	b, _ := json.Marshal(alarmFile{Reason: reason, Since: time.Now().UTC()})
	if err := writeFileAtomic(filepath.Join(g.dir, "alarm.json"), b); err != nil {
		g.log.Error("cannot record the alarm", "err", err)
	}
}

// Alarm returns why this member's state is considered corrupt, or "".
func (g *Group) Alarm() string {
	if r := g.alarm.Load(); r != nil {
		return *r
	}
	return ""
}

// servable returns why this member must not answer clients now, or nil.
func (g *Group) servable() error {
	if r := g.alarm.Load(); r != nil {
		return fmt.Errorf("%w: %s", ErrStateCorrupt, *r)
	}
	if !g.verified.Load() {
		return ErrNotVerified
	}
	return nil
}

// noteCorrupt raises the alarm if err says the machine's state is corrupt.
func (g *Group) noteCorrupt(err error) {
	if errors.Is(err, ErrStateCorrupt) {
		g.raiseAlarm(err.Error())
	}
}

// startHash runs on the apply goroutine at a hash-check entry, after every
// command before it was applied: it captures the machine's state and
// hashes and compares it on another goroutine.
func (g *Group) startHash(index uint64) {
	hasher, ok := g.m.(Hasher)
	if !ok {
		return
	}
	rec := g.hashes.add(index)
	sum, err := hasher.HashState()
	if err != nil {
		rec.err = err
		close(rec.done)
		close(rec.compared)
		return
	}
	g.bgWG.Add(1)
	go func() {
		defer g.bgWG.Done()
		defer close(rec.compared)
		rec.sum, rec.err = sum()
		close(rec.done)
		g.noteCorrupt(rec.err)
		if rec.err == nil {
			g.compareHashes(index, rec.sum)
		}
	}()
}

// Replies to a hash request.
const (
	hashOK      = 0
	hashUnknown = 1 // no hash at that index (a snapshot skipped it, or too old)
	hashBad     = 2 // the member's own check failed
)

// compareHashes asks every other member for its hash at index and raises
// the alarm unless a strict majority of the answers, this member's
// included, share this member's hash.
func (g *Group) compareHashes(index, mine uint64) {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	var peers []raft.NodeID
	if err := g.do(ctx, func() {
		m := g.node.Membership()
		for _, ids := range [][]raft.NodeID{m.Voters, m.Learners} {
			for _, id := range ids {
				if id != g.nodeID && !m.IsWitness(id) {
					peers = append(peers, id)
				}
			}
		}
	}); err != nil {
		return
	}
	answers := make(chan hashAnswer, len(peers))
	for _, id := range peers {
		go func() {
			st, sum, err := g.askHash(id, index)
			if err != nil {
				st = hashUnknown
			}
			answers <- hashAnswer{id, st, sum}
		}()
	}
	all := make([]hashAnswer, 0, len(peers))
	for range peers {
		all = append(all, <-answers)
	}
	verdict, differ := judgeHashes(mine, all)
	g.metrics.hashChecks.WithLabelValues(verdict).Inc()
	switch verdict {
	case "ok":
		g.log.Debug("state hash agrees with the other replicas", "index", index, "hash", mine, "answers", len(all))
	case "peer_mismatch":
		g.log.Warn("other members' state differs from the majority's: their own checks raise their alarms", "index", index, "members", differ)
	default:
		g.raiseAlarm(fmt.Sprintf("state hash at index %d is %016x; members %v have other hashes, and no majority shares this one", index, mine, differ))
	}
}

// hashAnswer is a peer's reply to a hash request.
type hashAnswer struct {
	id     raft.NodeID
	status byte
	sum    uint64
}

// judgeHashes decides a comparison from this member's point of view:
// "ok" when every answer agrees, "peer_mismatch" when this member's hash
// is held by a strict majority of the answers (its own counted, unknowns
// not) and others differ, "mismatch" otherwise — a tie included: a member
// that cannot show its state is right raises the alarm. A peer whose own
// check failed (hashBad) counts as differing. differ lists the peers that
// differ.
func judgeHashes(mine uint64, answers []hashAnswer) (verdict string, differ []raft.NodeID) {
	agree, total := 1, 1
	for _, a := range answers {
		switch {
		case a.status == hashUnknown:
			continue
		case a.status == hashOK && a.sum == mine:
			agree++
		default:
			differ = append(differ, a.id)
		}
		total++
	}
	switch {
	case len(differ) == 0:
		return "ok", nil
	case 2*agree > total:
		return "peer_mismatch", differ
	}
	return "mismatch", differ
}

// askHash asks peer id for its hash at index.
func (g *Group) askHash(id raft.NodeID, index uint64) (byte, uint64, error) {
	conn, err := g.h.tr.dial(id, kindHash, g.gid)
	if err != nil {
		return 0, 0, err
	}
	defer conn.Close()
	// Shutting down must not wait for a peer that is slow to answer.
	done := make(chan struct{})
	defer close(done)
	go func() {
		select {
		case <-g.stopc:
			conn.Close()
		case <-done:
		}
	}()
	conn.SetDeadline(time.Now().Add(15 * time.Second))
	if _, err := conn.Write(binary.BigEndian.AppendUint64(nil, index)); err != nil {
		return 0, 0, err
	}
	var b [9]byte
	if _, err := io.ReadFull(conn, b[:]); err != nil {
		return 0, 0, err
	}
	return b[0], binary.BigEndian.Uint64(b[1:]), nil
}

// serveHash answers a peer's hash request (on a transport goroutine): it
// waits, up to ten seconds, for this member to reach the index.
func (g *Group) serveHash(conn net.Conn, br *bufio.Reader, from raft.NodeID) {
	conn.SetDeadline(time.Now().Add(15 * time.Second))
	var ib [8]byte
	if _, err := io.ReadFull(br, ib[:]); err != nil {
		return
	}
	index := binary.BigEndian.Uint64(ib[:])
	reply := func(st byte, sum uint64) {
		conn.Write(binary.BigEndian.AppendUint64([]byte{st}, sum))
	}
	deadline := time.Now().Add(10 * time.Second)
	for {
		if rec := g.hashes.get(index); rec != nil {
			select {
			case <-rec.done:
				if rec.err != nil {
					reply(hashBad, 0)
				} else {
					reply(hashOK, rec.sum)
				}
				return
			case <-time.After(time.Until(deadline)):
				reply(hashUnknown, 0)
				return
			case <-g.stopc:
				return
			}
		}
		if g.Applied() >= index || time.Now().After(deadline) {
			reply(hashUnknown, 0) // this member skipped the index (a snapshot), or is far behind
			return
		}
		select {
		case <-time.After(10 * time.Millisecond):
		case <-g.stopc:
			return
		}
	}
}

// CheckState proposes a hash-check entry and returns its index once it is
// applied here; the replicas compare their hashes at it.
func (g *Group) CheckState(ctx context.Context) (uint64, error) {
	r, err := g.proposeEntry(ctx, entryHashCheck, nil)
	return r.Index, err
}

// checkLoop runs the start-up check (unless the member is verified
// already), then the periodic ones (on the leader).
func (g *Group) checkLoop() {
	defer g.bgWG.Done()
	retry := time.Duration(g.cfg.ElectionTicks) * g.cfg.TickInterval
	for !g.verified.Load() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		idx, err := g.CheckState(ctx)
		cancel()
		if err == nil {
			if rec := g.hashes.get(idx); rec != nil {
				select {
				case <-rec.compared:
				case <-g.stopc:
					return
				}
			}
			g.verified.Store(true)
			g.log.Info("start-up state check done", "index", idx, "alarm", g.Alarm())
			break
		}
		select {
		case <-g.stopc:
			return
		case <-time.After(retry):
		}
	}
	if g.cfg.CorruptCheckInterval <= 0 {
		return
	}
	t := time.NewTicker(g.cfg.CorruptCheckInterval)
	defer t.Stop()
	for {
		select {
		case <-g.stopc:
			return
		case <-t.C:
		}
		if g.Status().Role != raft.RoleLeader {
			continue
		}
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		if _, err := g.CheckState(ctx); err != nil {
			g.log.Warn("periodic state check not proposed", "err", err)
		}
		cancel()
	}
}
