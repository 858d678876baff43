package fuzz

import (
	"encoding/binary"
	"flag"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"sort"
	"testing"

	"github.com/pureraft/raft"
)

// The committed seed corpus (testdata/fuzz/<Target>/seed-*) is written by
// this generator, so that it stays meaningful as the encodings evolve:
//
//	go test ./fuzz -run=TestWriteSeedCorpus -update-corpus
//
// Files the fuzzer itself saved (failing inputs, named by hash) are kept
// next to them as regressions; the generator never touches those.
var updateCorpus = flag.Bool("update-corpus", false, "rewrite the generated seed corpus under testdata/fuzz")

func TestWriteSeedCorpus(t *testing.T) {
	if !*updateCorpus {
		t.Skip("run with -update-corpus to rewrite the seed corpus")
	}
	for target, seeds := range map[string]map[string][]byte{
		"FuzzDecodeMessage":      messageSeeds(),
		"FuzzDecodeEntry":        entrySeeds(),
		"FuzzDecodeHardState":    hardStateSeeds(),
		"FuzzDecodeSnapshotMeta": snapshotMetaSeeds(),
		"FuzzStep":               stepSeeds(),
		"FuzzCluster":            clusterSeeds(),
	} {
		dir := filepath.Join("testdata", "fuzz", target)
		if err := os.MkdirAll(dir, 0o755); err != nil {
			t.Fatal(err)
		}
		old, _ := filepath.Glob(filepath.Join(dir, "seed-*"))
		for _, f := range old {
			os.Remove(f)
		}
		names := make([]string, 0, len(seeds))
		for name := range seeds {
			names = append(names, name)
		}
		sort.Strings(names)
		for _, name := range names {
			content := fmt.Sprintf("go test fuzz v1\n[]byte(%q)\n", seeds[name])
			if err := os.WriteFile(filepath.Join(dir, "seed-"+name), []byte(content), 0o644); err != nil {
				t.Fatal(err)
			}
		}
		t.Logf("%s: %d seeds", target, len(seeds))
	}
}

func mustMarshal(v interface{ MarshalBinary() ([]byte, error) }) []byte {
	b, err := v.MarshalBinary()
	if err != nil {
		panic(err)
	}
	return b
}

var (
	bootstrapMembers = raft.Membership{Voters: []raft.NodeID{1, 2, 3}}
	jointMembers     = raft.Membership{Voters: []raft.NodeID{1, 2, 4}, OutgoingVoters: []raft.NodeID{1, 2, 3},
		Learners: []raft.NodeID{5}, Witnesses: []raft.NodeID{4}, AutoLeave: true}
)

// sampleMessages are valid messages of every type, with the edge cases of
// each field. Node 1 is the receiver, so they double as FuzzStep input.
func sampleMessages() map[string]raft.Message {
	ents := []raft.Entry{
		{Index: 4, Term: 1, Type: raft.EntryNormal, Data: []byte("x=1")},
		{Index: 5, Term: 2, Type: raft.EntryNoop},
		{Index: 6, Term: 2, Type: raft.EntryConfig, Data: encodeMembership(bootstrapMembers)},
	}
	return map[string]raft.Message{
		"app":            {Type: raft.MsgApp, From: 2, To: 1, Term: 2, LogTerm: 1, Index: 3, Commit: 3, Entries: ents},
		"app-empty":      {Type: raft.MsgApp, From: 2, To: 1, Term: 1, LogTerm: 1, Index: 4, Commit: 4},
		"app-first":      {Type: raft.MsgApp, From: 2, To: 1, Term: 1, Entries: []raft.Entry{{Index: 1, Term: 1, Type: raft.EntryNoop}}},
		"app-resp":       {Type: raft.MsgAppResp, From: 2, To: 1, Term: 1, Index: 4},
		"app-resp-hint":  {Type: raft.MsgAppResp, From: 3, To: 1, Term: 1, Index: 4, Reject: true, RejectHint: 2, LogTerm: 1},
		"heartbeat":      {Type: raft.MsgHeartbeat, From: 2, To: 1, Term: 1, Commit: 3, Context: 7},
		"heartbeat-resp": {Type: raft.MsgHeartbeatResp, From: 2, To: 1, Term: 1, Context: 7},
		"vote":           {Type: raft.MsgVote, From: 3, To: 1, Term: 2, Index: 4, LogTerm: 1},
		"vote-resp":      {Type: raft.MsgVoteResp, From: 3, To: 1, Term: 2},
		"vote-reject":    {Type: raft.MsgVoteResp, From: 3, To: 1, Term: 2, Reject: true},
		"prevote":        {Type: raft.MsgPreVote, From: 3, To: 1, Term: 2, Index: 4, LogTerm: 1},
		"prevote-resp":   {Type: raft.MsgPreVoteResp, From: 2, To: 1, Term: 2},
		"prop":           {Type: raft.MsgProp, From: 2, To: 1, Entries: []raft.Entry{{Data: []byte("forwarded")}, {Data: []byte("two")}}},
		"snap":           {Type: raft.MsgSnap, From: 2, To: 1, Term: 2, Snapshot: &raft.SnapshotMeta{Index: 9, Term: 2, Membership: bootstrapMembers}},
		"snap-joint":     {Type: raft.MsgSnap, From: 2, To: 1, Term: 3, Snapshot: &raft.SnapshotMeta{Index: 12, Term: 3, Membership: jointMembers}},
		"max-fields": {Type: raft.MsgAppResp, From: math.MaxUint64, To: math.MaxUint64 - 1, Term: math.MaxUint64, LogTerm: math.MaxUint64,
			Index: math.MaxUint64, Commit: math.MaxUint64, RejectHint: math.MaxUint64, Context: math.MaxUint64, Reject: true},
		"zero": {},
	}
}

func messageSeeds() map[string][]byte {
	seeds := map[string][]byte{}
	for name, m := range sampleMessages() {
		seeds[name] = mustMarshal(&m)
	}
	// Near misses: each is one byte away from a valid message.
	hb := seeds["heartbeat"]
	seeds["bad-version"] = append([]byte{2}, hb[1:]...)
	seeds["bad-flags"] = func() []byte { b := append([]byte(nil), hb...); b[8] = 4; return b }()
	seeds["trailing"] = append(append([]byte(nil), hb...), 0)
	seeds["truncated"] = seeds["app"][:len(seeds["app"])-2]
	seeds["huge-count"] = append(append([]byte(nil), hb[:len(hb)-1]...), 0xff, 0xff, 0xff, 0xff, 0x0f)
	seeds["empty"] = nil
	return seeds
}

func entrySeeds() map[string][]byte {
	return map[string][]byte{
		"zero":   mustMarshal(&raft.Entry{}),
		"normal": mustMarshal(&raft.Entry{Index: 7, Term: 3, Data: []byte("set x=1")}),
		"noop":   mustMarshal(&raft.Entry{Index: 1, Term: 1, Type: raft.EntryNoop}),
		"config": mustMarshal(&raft.Entry{Index: 2, Term: 1, Type: raft.EntryConfig, Data: encodeMembership(jointMembers)}),
		"max":    mustMarshal(&raft.Entry{Index: math.MaxUint64, Term: math.MaxUint64, Data: make([]byte, 200)}),
		"empty":  nil,
	}
}

func hardStateSeeds() map[string][]byte {
	return map[string][]byte{
		"zero":     mustMarshal(&raft.HardState{}),
		"voted":    mustMarshal(&raft.HardState{Term: 5, Vote: 2, Commit: 17}),
		"two-byte": mustMarshal(&raft.HardState{Term: 300, Commit: 1 << 20}),
		"max":      mustMarshal(&raft.HardState{Term: math.MaxUint64, Vote: math.MaxUint64, Commit: math.MaxUint64}),
		"empty":    nil,
	}
}

func snapshotMetaSeeds() map[string][]byte {
	many := make([]raft.NodeID, raft.MaxMembers)
	for i := range many {
		many[i] = raft.NodeID(i + 1)
	}
	return map[string][]byte{
		"zero":      mustMarshal(&raft.SnapshotMeta{}),
		"bootstrap": mustMarshal(&raft.SnapshotMeta{Membership: bootstrapMembers}),
		"joint":     mustMarshal(&raft.SnapshotMeta{Index: 100, Term: 4, Membership: jointMembers}),
		"max":       mustMarshal(&raft.SnapshotMeta{Index: math.MaxUint64, Term: math.MaxUint64, Membership: raft.Membership{Voters: many}}),
		"empty":     nil,
	}
}

// A FuzzStep program is a start byte and operations; these helpers write
// the operations (see the op constants and buildMessage for the layout).

func prog(start, variant byte, ops ...[]byte) []byte {
	b := []byte{start + startCount*variant}
	for _, op := range ops {
		b = append(b, op...)
	}
	return b
}

var (
	tick     = []byte{opTick}
	actions  = []byte{opActions}
	ackLast  = []byte{opAck, 0}
	campaign = []byte{opCampaign}
)

func ticks(n byte) []byte       { return []byte{opTicks, n} }
func respond(which byte) []byte { return []byte{opRespond, which} }
func propose(data string) []byte {
	return append([]byte{opPropose, byte(len(data))}, data...)
}
func raw(m raft.Message) []byte {
	b := mustMarshal(&m)
	return append([]byte{opRaw, byte(len(b))}, b...)
}

// Selector values for buildMessage's fields.
const (
	fromLeader2, fromPeer3, fromStranger   = 0, 1, 4
	termPrev, termCur, termNext, termNext2 = 0, 1, 3, 5
	idxLast, idxLastMinus1, idxCommit      = 0, 1, 6
	idxPastLast, idxZero, idxHuge          = 9, 11, 12
	ltMatch, ltAbove                       = 0, 6
	commitCur, commitLast, commitMax       = 0, 3, 5
	noSnapshot                             = 1
)

// msg writes an opMessage: fields, then entries (each a control byte, a
// type byte and a size byte), then the snapshot selector.
func msg(typ raft.MessageType, from, term, idx, lt, commit, flags byte, entries ...[3]byte) []byte {
	b := []byte{opMessage, byte(typ), from, 1, term, idx, lt, commit, flags}
	if typ == raft.MsgApp || typ == raft.MsgProp || flags&0x80 != 0 {
		b = append(b, byte(len(entries)))
		for _, e := range entries {
			b = append(b, e[0], e[1])
			if e[1]%8 != 5 {
				b = append(b, e[2])
				if size := int(e[2]) % 80; e[2] < 0xf0 && size <= 16 {
					b = append(b, make([]byte, size)...) // the payload
				}
			}
		}
	}
	if typ != raft.MsgSnap {
		b = append(b, noSnapshot)
	}
	return b
}

// Entry control bytes for msg: same term as before, or the next term.
var (
	sameTerm = [3]byte{1, 0, 8}
	nextTerm = [3]byte{0, 0, 8}
	bigEntry = [3]byte{1, 0, 70}
	confEnt  = [3]byte{1, 5, 0}
)

func stepSeeds() map[string][]byte {
	seeds := map[string][]byte{}
	roles := []string{"follower", "precandidate", "candidate", "leader"}
	// A peaceful life in every role and variant: answer what the node
	// sends, acknowledge its writes, let time pass.
	for start := byte(0); start < startCount; start++ {
		for v := byte(0); v < 4; v++ {
			seeds[fmt.Sprintf("%s-v%d-life", roles[start], v)] = prog(start, v,
				actions, ackLast, respond(0), respond(1), respond(2), actions, ackLast,
				propose("alpha"), actions, ackLast, respond(3), respond(4), actions, ackLast,
				tick, actions, respond(5), respond(6), ticks(12), actions, ackLast, respond(7), actions,
				campaign, actions, ackLast, respond(0), respond(1), actions, ackLast, respond(2), actions)
		}
	}
	seeds["leader-replicate-async"] = prog(startLeader, 0,
		propose("a"), actions, propose("b"), actions, respond(0), respond(1), respond(2), respond(3), actions,
		[]byte{opAck, 3}, actions, ackLast, actions, respond(4), respond(5), actions, ackLast, tick, actions)
	seeds["leader-forwarded-over-budget"] = prog(startLeader, 0,
		propose("p1-----------------------------------------------"),
		propose("p2-----------------------------------------------"),
		msg(raft.MsgProp, fromLeader2, termCur, idxLast, ltMatch, commitCur, 0, bigEntry, bigEntry, bigEntry), actions)
	seeds["leader-stale-and-future-resp"] = prog(startLeader, 0,
		actions, msg(raft.MsgAppResp, fromLeader2, termCur, idxPastLast, ltMatch, commitCur, 0),
		msg(raft.MsgAppResp, fromPeer3, termCur, idxLast, ltMatch, commitCur, 1|2<<1),
		msg(raft.MsgAppResp, fromStranger, termCur, idxLast, ltMatch, commitCur, 0),
		msg(raft.MsgHeartbeatResp, fromLeader2, termNext, idxZero, ltMatch, commitCur, 0), actions)
	seeds["leader-compact-snapshot"] = prog(startLeader, 0,
		actions, ackLast, []byte{opMembership, byte(raft.AddLearner) | 4<<2}, actions, ackLast,
		respond(0), respond(1), respond(2), respond(3), actions, ackLast, actions,
		[]byte{opCompact, 0, 1, 0},
		msg(raft.MsgAppResp, fromStranger, termCur, idxLast, ltMatch, commitCur, 1|3<<1), actions,
		[]byte{opReport, 4}, respond(0x7f), actions, ackLast, ticks(3), actions, respond(0x7e), actions)
	seeds["leader-membership"] = prog(startLeader, 0,
		actions, ackLast, respond(0), respond(1), actions, ackLast,
		[]byte{opMembership, byte(raft.AddLearner) | 4<<2}, actions, ackLast, respond(2), respond(3), actions,
		[]byte{opMembership, byte(raft.RemoveMember) | 1<<2}, actions)
	seeds["follower-conflict-with-commit"] = prog(startFollower, 0,
		msg(raft.MsgApp, fromLeader2, termCur, idxCommit+1, ltMatch, commitCur, 0, nextTerm),
		msg(raft.MsgApp, fromPeer3, termNext, idxCommit+2, ltMatch, commitCur, 0, nextTerm, sameTerm), actions)
	seeds["follower-new-leader-truncates"] = prog(startFollower, 0,
		msg(raft.MsgApp, fromPeer3, termNext, idxLastMinus1, ltMatch, commitLast, 0, nextTerm, sameTerm),
		actions, ackLast, actions, msg(raft.MsgHeartbeat, fromPeer3, termCur, idxZero, ltMatch, commitMax, 0), actions)
	seeds["follower-vote"] = prog(startFollower, 0,
		ticks(12), msg(raft.MsgPreVote, fromPeer3, termNext, idxLast, ltMatch, commitCur, 0), actions,
		msg(raft.MsgVote, fromPeer3, termNext, idxLast, ltMatch, commitCur, 0), actions, ackLast, actions,
		msg(raft.MsgVote, fromLeader2, termCur, idxLast, ltMatch, commitCur, 0), actions)
	seeds["follower-snapshot"] = prog(startFollower, 0,
		append(msg(raft.MsgSnap, fromLeader2, termCur, idxLast, ltMatch, commitCur, 0), idxPastLast+1, 4, 0),
		actions, ackLast, actions, msg(raft.MsgApp, fromLeader2, termCur, idxLast, ltMatch, commitLast, 0, sameTerm), actions)
	seeds["follower-config-entry"] = prog(startFollower, 0,
		msg(raft.MsgApp, fromLeader2, termCur, idxLast, ltMatch, commitCur, 0, confEnt, sameTerm), actions, ackLast, actions)
	seeds["follower-hostile"] = prog(startFollower, 1,
		msg(raft.MsgApp, fromLeader2, termCur, idxHuge, ltAbove, commitMax, 0, sameTerm),
		msg(0, fromLeader2, termCur, idxLast, ltMatch, commitCur, 0),
		msg(raft.MsgHeartbeat, 5, termCur, idxLast, ltMatch, commitCur, 0),
		msg(raft.MsgVoteResp, fromStranger, termCur, idxLast, ltMatch, commitCur, 0),
		msg(raft.MsgApp, fromLeader2, 6, idxLast, ltMatch, commitCur, 0), []byte{opAck, 6}, actions)
	seeds["candidate-wins"] = prog(startCandidate, 2,
		actions, ackLast, respond(0), respond(1), actions, ackLast, respond(2), respond(3), actions)
	for name, m := range sampleMessages() {
		seeds["raw-"+name] = prog(startFollower, 0, raw(m), actions, ackLast, actions)
	}
	seeds["raw-leader-resp"] = prog(startLeader, 0, raw(raft.Message{Type: raft.MsgAppResp, From: 2, To: 1, Term: 1, Index: 4}), actions)
	return seeds
}

// clusterInput writes a FuzzCluster input (see decodeCluster): header
// fields, scripted faults (kind, tick, duration, target) and the delivery
// decisions.
type clusterInput struct {
	seed                      uint64
	nodes, flags              byte // nodes is an index into decodeCluster's table
	drop, dup, reorder, rates byte
	clients, length           byte
	faults                    [][4]byte
	decisions                 []byte
}

func (c clusterInput) bytes() []byte {
	b := binary.LittleEndian.AppendUint64(nil, c.seed)
	b = append(b, c.nodes, c.flags, c.drop, c.dup, c.reorder, c.rates, c.clients, c.length, byte(len(c.faults)))
	for _, f := range c.faults {
		b = append(b, f[:]...)
	}
	return append(b, c.decisions...)
}

// Scripted fault kinds, as decodeCluster's table indexes them, and targets.
const (
	fCrash, fRestart, fIsolate, fLeaderMinority, fPartition, fOneWay, fHeal = 0, 1, 2, 3, 4, 5, 6
	fEvery                                                                  = 0x80 | 3<<3 // repeat every 20 ticks
	targetLeader3                                                           = 3           // the leader, in a 3-node cluster
	targetLeader5                                                           = 5           // the leader, in a 5-node cluster
)

const (
	nodes3, nodes5, nodes1, nodes2, nodes4 = 0, 2, 4, 5, 6
	noPreVote, noCheckQuorum, noForwarding = 1, 2, 4
	syncDisk, partialLoss                  = 8, 16
)

func clusterSeeds() map[string][]byte {
	pattern := func(p []byte, n int) []byte {
		var b []byte
		for len(b) < n {
			b = append(b, p...)
		}
		return b[:n]
	}
	seeds := map[string]clusterInput{
		"calm-3":         {seed: 1, nodes: nodes3, clients: 2, length: 3},
		"calm-5-sync":    {seed: 2, nodes: nodes5, flags: syncDisk, clients: 3, length: 4},
		"single-node":    {seed: 3, nodes: nodes1, clients: 2, length: 2},
		"two-nodes":      {seed: 4, nodes: nodes2, flags: partialLoss, clients: 1, length: 2, rates: 1},
		"lossy-network":  {seed: 5, nodes: nodes3, drop: 8, dup: 8, reorder: 8, clients: 3, length: 5},
		"random-faults":  {seed: 6, nodes: nodes5, flags: partialLoss, drop: 2, dup: 1, reorder: 2, rates: 0xff, clients: 4, length: 7},
		"no-prevote-cq":  {seed: 7, nodes: nodes4, flags: noPreVote | noCheckQuorum | noForwarding, rates: 0x1d, clients: 2, length: 6},
		"skewed-clocks":  {seed: 8, nodes: nodes3, flags: 7 << 5, drop: 1, clients: 2, length: 5},
		"leader-crashes": {seed: 9, nodes: nodes3, flags: partialLoss, clients: 3, length: 7, faults: [][4]byte{{fCrash | fEvery, 10, 8, targetLeader3}}},
		"figure8": {seed: 10, nodes: nodes5, flags: noPreVote | partialLoss, drop: 3, reorder: 6, rates: 3, clients: 3, length: 7,
			faults: [][4]byte{{fLeaderMinority | fEvery, 15, 6, targetLeader5}, {fCrash | fEvery, 25, 4, targetLeader5}}},
		"partitions": {seed: 11, nodes: nodes5, clients: 3, length: 6,
			faults: [][4]byte{{fPartition, 10, 20, 0}, {fOneWay, 40, 15, 1}, {fIsolate, 70, 10, targetLeader5}, {fHeal, 90, 0, 0}}},
		"crash-restart": {seed: 12, nodes: nodes3, flags: partialLoss, clients: 2, length: 5,
			faults: [][4]byte{{fCrash, 10, 0, 0}, {fCrash, 12, 0, 1}, {fRestart, 30, 0, 0}, {fRestart, 31, 0, 1}}},
		"deliveries-drop-dup-hold": {seed: 13, nodes: nodes3, clients: 2, length: 4,
			decisions: pattern([]byte{0, decideDrop, 0, decideDuplicate, 0, 0, decideHold, 0}, 600)},
		"deliveries-hold-many": {seed: 14, nodes: nodes5, flags: noPreVote, clients: 3, length: 5,
			decisions: pattern([]byte{decideHold, decideHold, 0, decideDuplicate, decideHold, 0}, 900)},
	}
	out := map[string][]byte{}
	for name, c := range seeds {
		out[name] = c.bytes()
	}
	return out
}
