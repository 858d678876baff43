package raft

import (
	"encoding/binary"
	"errors"
	"math"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"
	"pgregory.net/rapid"
)

// Bad input is an error, not a panic, and changes nothing (DESIGN.md, "Bad
// input is an error"): Step validates a message before acting on it, and
// Decode validates bytes.

// malformedFollower builds node 1 of {1, 2, 3}, a follower of leader 2 in
// term 2 with log terms [1 1 2] of which 2 entries are committed.
func malformedFollower(t *testing.T) *Node {
	n := restored(t, defaultTestConfig(1), ids(3), HardState{Term: 2, Commit: 2}, 1, 1, 2)
	step(t, n, Message{Type: MsgHeartbeat, From: 2, To: 1, Term: 2, Commit: 2})
	syncRun(t, n)
	return n
}

// malformedLeader builds node 1, leader of {1, 2, 3} in term 1 with log
// [no-op, "a"] replicated and committed.
func malformedLeader(t *testing.T) *Node {
	tn := elect3(t)
	tn.propose(1, "a")
	tn.deliverAll()
	return tn.nodes[1]
}

// malformedCandidate builds node 1 of {1, 2, 3}, a candidate of term 3.
func malformedCandidate(t *testing.T) *Node {
	n := restored(t, testCfg(noPreVote)(1), ids(3), HardState{Term: 2}, 1, 1, 2)
	n.Campaign()
	syncRun(t, n)
	return n
}

// sameNode checks that got behaves exactly as want, a node built by the
// same inputs that never saw the malformed message: same status and
// progress, same actions now, and the same actions through two election
// timeouts of ticks.
func sameNode(t *testing.T, want, got *Node) {
	t.Helper()
	if diff := cmp.Diff(want.Status(), got.Status()); diff != "" {
		t.Errorf("status changed (-untouched +stepped):\n%s", diff)
	}
	progress := func(n *Node) map[NodeID]Progress {
		out := map[NodeID]Progress{}
		n.ForEachProgress(func(id NodeID, p Progress) { out[id] = p })
		return out
	}
	if diff := cmp.Diff(progress(want), progress(got)); diff != "" {
		t.Errorf("progress changed (-untouched +stepped):\n%s", diff)
	}
	for i := 0; i <= 40; i++ {
		if diff := cmp.Diff(take(want), take(got)); diff != "" {
			t.Fatalf("actions differ after %d ticks (-untouched +stepped):\n%s", i, diff)
		}
		want.Tick()
		got.Tick()
	}
}

// wantRefusedUnchanged steps m into a node built by build and requires an
// error wrapping ErrInvalidMessage and a node identical to a twin that
// never saw m.
func wantRefusedUnchanged(t *testing.T, build func(*testing.T) *Node, m Message) {
	t.Helper()
	n, twin := build(t), build(t)
	if err := n.Step(m); !errors.Is(err, ErrInvalidMessage) {
		t.Errorf("Step(%v) = %v, want an error wrapping ErrInvalidMessage", m, err)
		return
	}
	sameNode(t, twin, n)
}

// bootstrapped3 is node 1 of a fresh three-voter cluster, bootstrapped and
// persisted.
func bootstrapped3(t *testing.T) *Node {
	n, err := Bootstrap(defaultTestConfig(1), ids(3))
	if err != nil {
		t.Fatal(err)
	}
	syncRun(t, n)
	return n
}

// Step refuses every class of malformed message with an error wrapping
// ErrInvalidMessage (or ErrUnknownPeer for a response from a non-member)
// and leaves the node exactly as it was.
func TestStepMalformedRefusedUnchanged(t *testing.T) {
	cfgEntry := Entry{Index: 4, Term: 2, Type: EntryConfig, Data: []byte{9}}
	for _, tc := range []struct {
		name  string
		build func(*testing.T) *Node
		m     Message
		want  error
	}{
		// Shape, independent of the node's state.
		{"unknown type 0", malformedFollower, Message{From: 2, To: 1, Term: 2}, ErrInvalidMessage},
		{"unknown type past the last", malformedFollower, Message{Type: msgTypeCount, From: 2, To: 1, Term: 2}, ErrInvalidMessage},
		{"unknown type 255", malformedFollower, Message{Type: 255, From: 2, To: 1, Term: 2}, ErrInvalidMessage},
		{"zero sender", malformedFollower, Message{Type: MsgHeartbeat, To: 1, Term: 2}, ErrInvalidMessage},
		{"zero receiver", malformedFollower, Message{Type: MsgHeartbeat, From: 2, Term: 2}, ErrInvalidMessage},
		{"sent to self", malformedFollower, Message{Type: MsgHeartbeat, From: 1, To: 1, Term: 2}, ErrInvalidMessage},
		{"vote request sent to self", malformedFollower, Message{Type: MsgVote, From: 1, To: 1, Term: 3, Index: 3, LogTerm: 2}, ErrInvalidMessage},
		{"wrong receiver", malformedFollower, Message{Type: MsgHeartbeat, From: 2, To: 3, Term: 2}, ErrInvalidMessage},
		{"wrong receiver, higher term", malformedFollower, Message{Type: MsgVote, From: 2, To: 3, Term: 9, Index: 3, LogTerm: 2}, ErrInvalidMessage},
		{"term 0 heartbeat", malformedFollower, Message{Type: MsgHeartbeat, From: 2, To: 1}, ErrInvalidMessage},
		{"term 0 append response", malformedLeader, Message{Type: MsgAppResp, From: 2, To: 1, Index: 1}, ErrInvalidMessage},
		{"entries on a heartbeat", malformedFollower, Message{Type: MsgHeartbeat, From: 2, To: 1, Term: 2, Entries: mkEntries(4, 2)}, ErrInvalidMessage},
		{"entries on a vote request", malformedFollower, Message{Type: MsgVote, From: 2, To: 1, Term: 3, Index: 3, LogTerm: 2, Entries: mkEntries(4, 2)}, ErrInvalidMessage},
		{"entries on an append response", malformedLeader, Message{Type: MsgAppResp, From: 2, To: 1, Term: 1, Index: 2, Entries: mkEntries(3, 1)}, ErrInvalidMessage},
		{"snapshot on an append", malformedFollower, Message{Type: MsgApp, From: 2, To: 1, Term: 2, Index: 3, LogTerm: 2, Snapshot: &SnapshotMeta{Index: 3, Term: 2, Membership: Membership{Voters: ids(3)}}}, ErrInvalidMessage},
		{"non-contiguous entries: gap after prev", malformedFollower, Message{Type: MsgApp, From: 2, To: 1, Term: 2, Index: 3, LogTerm: 2, Entries: mkEntries(5, 2)}, ErrInvalidMessage},
		{"non-contiguous entries: gap inside", malformedFollower, Message{Type: MsgApp, From: 2, To: 1, Term: 2, Index: 3, LogTerm: 2, Entries: []Entry{{Index: 4, Term: 2}, {Index: 6, Term: 2}}}, ErrInvalidMessage},
		{"non-contiguous entries: repeated index", malformedFollower, Message{Type: MsgApp, From: 2, To: 1, Term: 2, Index: 3, LogTerm: 2, Entries: []Entry{{Index: 4, Term: 2}, {Index: 4, Term: 2}}}, ErrInvalidMessage},
		{"decreasing entry terms", malformedFollower, Message{Type: MsgApp, From: 2, To: 1, Term: 3, Index: 3, LogTerm: 2, Entries: []Entry{{Index: 4, Term: 3}, {Index: 5, Term: 2}}}, ErrInvalidMessage},
		{"entry term below prev term", malformedFollower, Message{Type: MsgApp, From: 2, To: 1, Term: 2, Index: 3, LogTerm: 2, Entries: []Entry{{Index: 4, Term: 1}}}, ErrInvalidMessage},
		{"entry term above message term", malformedFollower, Message{Type: MsgApp, From: 2, To: 1, Term: 2, Index: 3, LogTerm: 2, Entries: []Entry{{Index: 4, Term: 3}}}, ErrInvalidMessage},
		{"unknown entry type", malformedFollower, Message{Type: MsgApp, From: 2, To: 1, Term: 2, Index: 3, LogTerm: 2, Entries: []Entry{{Index: 4, Term: 2, Type: 200}}}, ErrInvalidMessage},
		{"undecodable configuration entry", malformedFollower, Message{Type: MsgApp, From: 2, To: 1, Term: 2, Index: 3, LogTerm: 2, Entries: []Entry{cfgEntry}}, ErrInvalidMessage},
		{"prev term above message term", malformedFollower, Message{Type: MsgApp, From: 2, To: 1, Term: 2, Index: 3, LogTerm: 3}, ErrInvalidMessage},
		{"prev term at index 0", malformedFollower, Message{Type: MsgApp, From: 2, To: 1, Term: 2, Index: 0, LogTerm: 1, Entries: mkEntries(1, 1)}, ErrInvalidMessage},
		{"vote request last term above its term", malformedFollower, Message{Type: MsgVote, From: 3, To: 1, Term: 3, Index: 5, LogTerm: 4}, ErrInvalidMessage},
		{"vote request last term without index", malformedFollower, Message{Type: MsgPreVote, From: 3, To: 1, Term: 3, Index: 0, LogTerm: 2}, ErrInvalidMessage},
		{"rejection hint beyond rejected index", malformedLeader, Message{Type: MsgAppResp, From: 2, To: 1, Term: 1, Index: 1, Reject: true, RejectHint: 2}, ErrInvalidMessage},
		{"rejection hint term above message term", malformedLeader, Message{Type: MsgAppResp, From: 2, To: 1, Term: 1, Index: 2, Reject: true, RejectHint: 1, LogTerm: 2}, ErrInvalidMessage},
		{"forwarded proposal of a no-op", malformedLeader, Message{Type: MsgProp, From: 2, To: 1, Entries: []Entry{{Type: EntryNoop}}}, ErrInvalidMessage},

		// Against the node's state.
		{"append conflicting with a committed entry", malformedFollower, Message{Type: MsgApp, From: 2, To: 1, Term: 2, Index: 1, LogTerm: 1, Entries: mkEntries(2, 2)}, ErrInvalidMessage},
		{"append conflicting with a committed entry, new term", malformedFollower, Message{Type: MsgApp, From: 3, To: 1, Term: 3, Index: 1, LogTerm: 1, Entries: mkEntries(2, 3, 3)}, ErrInvalidMessage},
		{"append whose prev contradicts a committed entry", malformedFollower, Message{Type: MsgApp, From: 2, To: 1, Term: 2, Index: 2, LogTerm: 2, Entries: mkEntries(3, 2)}, ErrInvalidMessage},
		{"append from another leader of the leader's term", malformedLeader, Message{Type: MsgApp, From: 2, To: 1, Term: 1, Index: 2, LogTerm: 1}, ErrInvalidMessage},
		{"heartbeat from another leader of the leader's term", malformedLeader, Message{Type: MsgHeartbeat, From: 3, To: 1, Term: 1}, ErrInvalidMessage},
		{"ack beyond the leader's last index", malformedLeader, Message{Type: MsgAppResp, From: 2, To: 1, Term: 1, Index: 3}, ErrInvalidMessage},
		{"rejection beyond the leader's last index", malformedLeader, Message{Type: MsgAppResp, From: 2, To: 1, Term: 1, Index: 50, Reject: true, RejectHint: 50}, ErrInvalidMessage},
		{"append response from an unknown peer", malformedLeader, Message{Type: MsgAppResp, From: 9, To: 1, Term: 1, Index: 2}, ErrUnknownPeer},
		{"heartbeat response from an unknown peer", malformedLeader, Message{Type: MsgHeartbeatResp, From: 9, To: 1, Term: 1}, ErrUnknownPeer},
		{"vote response from an unknown peer", malformedCandidate, Message{Type: MsgVoteResp, From: 9, To: 1, Term: 3}, ErrUnknownPeer},
		{"pre-vote response from an unknown peer", malformedFollower, Message{Type: MsgPreVoteResp, From: 9, To: 1, Term: 3}, ErrUnknownPeer},
	} {
		t.Run(tc.name, func(t *testing.T) {
			n, twin := tc.build(t), tc.build(t)
			err := n.Step(tc.m)
			if !errors.Is(err, tc.want) {
				t.Fatalf("Step(%v) = %v, want an error wrapping %v", tc.m, err, tc.want)
			}
			sameNode(t, twin, n)
		})
	}
}

// A leader that no longer knows where a follower's log matches must never
// go below the follower's match index, whatever a confused or hostile
// rejection hint says; and a rejection of a probe it is not waiting for
// changes nothing.
func TestStepStaleRejectionIgnored(t *testing.T) {
	n, twin := malformedLeader(t), malformedLeader(t)
	// Node 2 matches up to 2; a late rejection of an older probe at 1.
	step(t, n, Message{Type: MsgAppResp, From: 2, To: 1, Term: 1, Index: 1, Reject: true, RejectHint: 0})
	sameNode(t, twin, n)
}

// Message encodings used by the codec tests: every type and field.
func codecSamples() []Message {
	meta := &SnapshotMeta{Index: 70, Term: 6, Membership: Membership{Voters: []NodeID{1, 2, 3}, OutgoingVoters: []NodeID{1, 2, 4}, Learners: []NodeID{9}, AutoLeave: true}}
	big := ^uint64(0)
	return []Message{
		{Type: MsgApp, From: 1, To: 2, Term: 3, LogTerm: 2, Index: 5, Commit: 4, Entries: []Entry{
			{Index: 6, Term: 2, Type: EntryNormal, Data: []byte("hello")},
			{Index: 7, Term: 3, Type: EntryNoop},
			{Index: 8, Term: 3, Type: EntryConfig, Data: encodeMembership(Membership{Voters: []NodeID{1, 2}})},
		}},
		{Type: MsgApp, From: 1, To: 2, Term: 3},
		{Type: MsgAppResp, From: 2, To: 1, Term: 3, Index: 8},
		{Type: MsgAppResp, From: 2, To: 1, Term: 3, Index: 8, Reject: true, RejectHint: 6, LogTerm: 2},
		{Type: MsgHeartbeat, From: 1, To: 3, Term: 3, Commit: 8, Context: 77},
		{Type: MsgHeartbeatResp, From: 3, To: 1, Term: 3, Context: 77},
		{Type: MsgVote, From: 3, To: 1, Term: 4, Index: 8, LogTerm: 3},
		{Type: MsgVoteResp, From: 1, To: 3, Term: 4, Reject: true},
		{Type: MsgPreVote, From: 3, To: 1, Term: 4, Index: 8, LogTerm: 3},
		{Type: MsgPreVoteResp, From: 1, To: 3, Term: 4},
		// A transfer campaign's flag (thesis §3.10) must survive the wire,
		// or its vote requests are ignored for the leader's lease.
		{Type: MsgVote, From: 3, To: 1, Term: 5, Index: 8, LogTerm: 3, Transfer: true},
		{Type: MsgPreVote, From: 3, To: 1, Term: 5, Index: 8, LogTerm: 3, Transfer: true},
		{Type: MsgProp, From: 2, To: 1, Entries: []Entry{{Index: 1, Data: []byte("x")}, {Index: 2, Data: []byte("y")}}},
		{Type: MsgSnap, From: 1, To: 2, Term: 6, Snapshot: meta},
		{Type: MsgHeartbeat, From: NodeID(big), To: NodeID(big - 1), Term: Term(big), LogTerm: Term(big), Index: Index(big), Commit: Index(big), RejectHint: Index(big), Context: big},
	}
}

var equateEmpty = cmpopts.EquateEmpty()

// Decode(Encode(m)) == m for valid messages (empty and nil payloads are
// the same), EncodedSize is exact, and re-encoding gives the same bytes.
func TestCodecRoundTrip(t *testing.T) {
	for _, m := range codecSamples() {
		b, err := m.MarshalBinary()
		if err != nil {
			t.Fatal(err)
		}
		if len(b) != m.EncodedSize() {
			t.Errorf("%v: encoded %d bytes, EncodedSize says %d", m, len(b), m.EncodedSize())
		}
		var got Message
		if err := got.UnmarshalBinary(b); err != nil {
			t.Fatalf("%v: decode: %v", m, err)
		}
		// Entry indexes are not sent: they follow from Index.
		want := m
		want.Entries = append([]Entry(nil), m.Entries...)
		for i := range want.Entries {
			want.Entries[i].Index = m.Index + Index(i) + 1
		}
		if diff := cmp.Diff(want, got, equateEmpty); diff != "" {
			t.Errorf("round trip (-want +got):\n%s", diff)
		}
		again, _ := got.AppendBinary(nil)
		if !cmp.Equal(b, again) {
			t.Errorf("%v: re-encoding differs", m)
		}
	}
}

// Round trip of generated messages (property).
func TestCodecRoundTripProperty(t *testing.T) {
	rapid.Check(t, func(t *rapid.T) {
		m := genMessage(t)
		b, err := m.MarshalBinary()
		if err != nil {
			t.Fatal(err)
		}
		var got Message
		if err := Decode(b, &got, DecodeLimits{}); err != nil {
			t.Fatalf("decode of %v: %v", m, err)
		}
		if diff := cmp.Diff(m, got, equateEmpty); diff != "" {
			t.Fatalf("round trip (-want +got):\n%s", diff)
		}
	})
}

// genMessage generates a valid-to-encode message (entry indexes follow
// Index, as the encoding implies).
func genMessage(t *rapid.T) Message {
	u64 := rapid.OneOf(rapid.Uint64Range(0, 300), rapid.Uint64())
	m := Message{
		Type:       MessageType(rapid.IntRange(1, int(msgTypeCount)-1).Draw(t, "type")),
		From:       NodeID(u64.Draw(t, "from")),
		To:         NodeID(u64.Draw(t, "to")),
		Term:       Term(u64.Draw(t, "term")),
		LogTerm:    Term(u64.Draw(t, "logterm")),
		Index:      Index(rapid.Uint64Range(0, 1<<40).Draw(t, "index")),
		Commit:     Index(u64.Draw(t, "commit")),
		Reject:     rapid.Bool().Draw(t, "reject"),
		RejectHint: Index(u64.Draw(t, "hint")),
		Context:    u64.Draw(t, "context"),
	}
	for i := range rapid.IntRange(0, 4).Draw(t, "entries") {
		m.Entries = append(m.Entries, Entry{
			Index: m.Index + Index(i) + 1,
			Term:  Term(u64.Draw(t, "eterm")),
			Type:  EntryType(rapid.IntRange(0, int(entryTypeCount)-1).Draw(t, "etype")),
			Data:  rapid.SliceOfN(rapid.Byte(), 0, 40).Draw(t, "data"),
		})
	}
	if rapid.Bool().Draw(t, "snapshot") {
		ids := func(label string) []NodeID {
			var out []NodeID
			for _, v := range rapid.SliceOfN(rapid.Uint64(), 0, 5).Draw(t, label) {
				out = append(out, NodeID(v))
			}
			return out
		}
		m.Snapshot = &SnapshotMeta{Index: Index(u64.Draw(t, "sindex")), Term: Term(u64.Draw(t, "sterm")), Membership: Membership{
			Voters:         ids("voters"),
			OutgoingVoters: ids("outgoing"),
			Learners:       ids("learners"),
			AutoLeave:      rapid.Bool().Draw(t, "autoleave"),
		}}
	}
	return m
}

// hdr hand-encodes a message header: version, type, From, To, Term,
// LogTerm, Index, Commit, flags, RejectHint, Context, entry count.
func hdr(version, typ byte, flags byte, count uint64) []byte {
	b := []byte{version, typ}
	for _, v := range []uint64{1, 2, 3, 0, 0, 0} {
		b = binary.AppendUvarint(b, v)
	}
	b = append(b, flags)
	b = binary.AppendUvarint(b, 0)
	b = binary.AppendUvarint(b, 0)
	return binary.AppendUvarint(b, count)
}

// entryBytes hand-encodes one entry: term, type, length, payload.
func entryBytes(term uint64, typ byte, data []byte) []byte {
	b := binary.AppendUvarint(nil, term)
	b = append(b, typ)
	b = binary.AppendUvarint(b, uint64(len(data)))
	return append(b, data...)
}

// Decode refuses every class of malformed bytes with an error wrapping
// ErrDecode, and leaves the destination unchanged.
func TestCodecDecodeRejects(t *testing.T) {
	valid := hdr(codecVersion, byte(MsgApp), 0, 1)
	valid = append(valid, entryBytes(3, 0, []byte("abc"))...)
	var probe Message
	if err := Decode(valid, &probe, DecodeLimits{}); err != nil {
		t.Fatalf("the hand-made valid message does not decode: %v", err)
	}
	cat := func(parts ...[]byte) []byte {
		var b []byte
		for _, p := range parts {
			b = append(b, p...)
		}
		return b
	}
	for _, tc := range []struct {
		name string
		b    []byte
		lim  DecodeLimits
	}{
		{name: "empty", b: nil},
		{name: "trailing byte", b: cat(valid, []byte{0})},
		{name: "trailing bytes after a header", b: cat(hdr(codecVersion, byte(MsgHeartbeat), 0, 0), []byte{1, 2, 3})},
		{name: "unknown version 0", b: hdr(0, byte(MsgApp), 0, 0)},
		{name: "unknown version 2", b: hdr(2, byte(MsgApp), 0, 0)},
		{name: "unknown type 0", b: hdr(codecVersion, 0, 0, 0)},
		{name: "unknown type past the last", b: hdr(codecVersion, byte(msgTypeCount), 0, 0)},
		{name: "unknown type 255", b: hdr(codecVersion, 255, 0, 0)},
		{name: "unknown flag 64", b: hdr(codecVersion, byte(MsgAppResp), 64, 0)},
		{name: "unknown flag 128", b: hdr(codecVersion, byte(MsgAppResp), 128, 0)},
		{name: "non-minimal varint", b: cat([]byte{codecVersion, byte(MsgHeartbeat), 0x81, 0x00}, hdr(0, 0, 0, 0)[3:])},
		{name: "non-minimal zero", b: cat([]byte{codecVersion, byte(MsgHeartbeat), 0x80, 0x00}, hdr(0, 0, 0, 0)[3:])},
		{name: "varint overflow", b: cat([]byte{codecVersion, byte(MsgHeartbeat)}, []byte{0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x02})},
		{name: "entry count beyond the bytes", b: cat(hdr(codecVersion, byte(MsgApp), 0, 1000), entryBytes(1, 0, nil))},
		{name: "entry count beyond the limit", b: cat(hdr(codecVersion, byte(MsgApp), 0, 3), entryBytes(1, 0, nil), entryBytes(1, 0, nil), entryBytes(1, 0, nil)), lim: DecodeLimits{MaxEntries: 2}},
		{name: "entry over the size limit", b: cat(hdr(codecVersion, byte(MsgApp), 0, 1), entryBytes(1, 0, make([]byte, 10))), lim: DecodeLimits{MaxEntryBytes: 9}},
		{name: "entry length beyond the bytes", b: cat(hdr(codecVersion, byte(MsgApp), 0, 1), binary.AppendUvarint(nil, 1), []byte{0}, binary.AppendUvarint(nil, 50), []byte("abc"))},
		{name: "unknown entry type", b: cat(hdr(codecVersion, byte(MsgApp), 0, 1), entryBytes(1, byte(entryTypeCount), nil))},
		{name: "message over the size limit", b: valid, lim: DecodeLimits{MaxMessageBytes: len(valid) - 1}},
		{name: "snapshot flag without snapshot", b: hdr(codecVersion, byte(MsgSnap), flagSnapshot, 0)},
	} {
		t.Run(tc.name, func(t *testing.T) {
			sentinel := Message{Type: MsgVote, From: 42, To: 43, Term: 44, Context: 45}
			m := sentinel
			err := Decode(tc.b, &m, tc.lim)
			if !errors.Is(err, ErrDecode) {
				t.Fatalf("Decode(%x) = %v, want ErrDecode", tc.b, err)
			}
			if diff := cmp.Diff(sentinel, m); diff != "" {
				t.Errorf("failed decode changed the message (-before +after):\n%s", diff)
			}
		})
	}
}

// Decode refuses every truncation of every valid encoding.
func TestCodecDecodeTruncated(t *testing.T) {
	for _, m := range codecSamples() {
		b, _ := m.MarshalBinary()
		for n := 0; n < len(b); n++ {
			var got Message
			if err := Decode(b[:n], &got, DecodeLimits{}); !errors.Is(err, ErrDecode) {
				t.Errorf("%s truncated to %d of %d bytes: err %v, want ErrDecode", m.Type, n, len(b), err)
			}
		}
	}
}

// Decode never panics and never accepts bytes it would encode
// differently (every value has exactly one encoding), on arbitrary input.
func TestCodecDecodeArbitraryBytes(t *testing.T) {
	rapid.Check(t, func(t *rapid.T) {
		b := rapid.SliceOfN(rapid.Byte(), 0, 64).Draw(t, "bytes")
		var m Message
		if err := Decode(b, &m, DecodeLimits{}); err != nil {
			return
		}
		again, _ := m.MarshalBinary()
		if !cmp.Equal(b, again) {
			t.Fatalf("accepted %x, which re-encodes as %x", b, again)
		}
	})
}

// Decode's errors say what is wrong with the bytes.
func TestCodecErrorsNameTheProblem(t *testing.T) {
	for _, tc := range []struct {
		b    []byte
		lim  DecodeLimits
		want string
	}{
		{hdr(2, byte(MsgApp), 0, 0), DecodeLimits{}, "version"},
		{hdr(codecVersion, 0, 0, 0), DecodeLimits{}, "type"},
		{hdr(codecVersion, byte(MsgApp), 64, 0), DecodeLimits{}, "flags"},
		{append(hdr(codecVersion, byte(MsgApp), 0, 0), 0), DecodeLimits{}, "trailing"},
		{hdr(codecVersion, byte(MsgApp), 0, 0), DecodeLimits{MaxMessageBytes: 3}, "exceeds"},
	} {
		var m Message
		err := Decode(tc.b, &m, tc.lim)
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("Decode(%x) = %v, want an error mentioning %q", tc.b, err, tc.want)
		}
	}
}

// Leader Completeness (§5.4) with paper §7: a snapshot a correct leader
// sends covers a prefix of its log, which holds every committed entry, and
// terms never decrease along a log; so a snapshot beyond the receiver's
// commit index has a term at least that of the receiver's last committed
// entry. One with a lower term contradicts committed entries, as an append
// conflicting with them does: Step must refuse it and change nothing, not
// replace the committed log with it.
func TestStepRefusesSnapshotContradictingCommittedEntries(t *testing.T) {
	build := func(t *testing.T) *Node {
		n := restored(t, defaultTestConfig(1), ids(3), HardState{Term: 2, Commit: 3}, 1, 1, 2, 2)
		step(t, n, Message{Type: MsgHeartbeat, From: 2, To: 1, Term: 2, Commit: 3})
		syncRun(t, n)
		return n
	}
	wantRefusedUnchanged(t, build, Message{Type: MsgSnap, From: 3, To: 1, Term: 3,
		Snapshot: &SnapshotMeta{Index: 5, Term: 1, Membership: Membership{Voters: ids(3)}}})
}

// §5.1: every entry carries the term of the leader that created it, never
// 0. An append whose entries have term 0 (possible after the index-0
// snapshot, whose term is 0) comes from no correct leader; stored, it would
// leave a log NewNode refuses on restart. Step must refuse it and change
// nothing.
func TestStepRefusesEntriesOfTermZero(t *testing.T) {
	wantRefusedUnchanged(t, bootstrapped3, Message{Type: MsgApp, From: 2, To: 1, Term: 1, Index: 0, LogTerm: 0, Entries: mkEntries(1, 0, 1)})
}

// Log indexes only grow by one per entry (§5.3), so no real log comes near
// 2^64; but index arithmetic wraps there. A snapshot ending at the largest
// index is well formed, yet once installed the node's next index wraps to
// 0: elected, it appended its no-op at index 0 and reported a last index
// of 0 under a commit index of 2^64-1. Step must refuse indexes no log
// reaches, in snapshots and appends alike, and change nothing.
func TestStepRefusesIndexesThatWouldWrap(t *testing.T) {
	const top = Index(math.MaxUint64)
	for _, m := range []Message{
		{Type: MsgSnap, From: 2, To: 1, Term: 1, Snapshot: &SnapshotMeta{Index: top, Term: 1, Membership: Membership{Voters: ids(3)}}},
		{Type: MsgApp, From: 2, To: 1, Term: 1, Index: top - 1, LogTerm: 1, Entries: []Entry{{Index: top, Term: 1}}},
	} {
		wantRefusedUnchanged(t, bootstrapped3, m)
	}
}
