package raftsim

import (
	"fmt"
	"io"
	"strings"

	"github.com/pureraft/raft"
)

// TraceKind classifies a trace event.
type TraceKind uint8

const (
	TrTick      TraceKind = iota + 1 // a node ticked
	TrSend                           // a message left a node (Aux: message ID)
	TrDeliver                        // a message was handed to its receiver
	TrDrop                           // a message was lost (Text: why)
	TrRole                           // a node changed role, term or leader
	TrPersist                        // a persist action was handed to the disk (Aux: persist ID)
	TrDurable                        // a persist reached the disk and was acknowledged
	TrApply                          // entries were applied (Index: last, N: count)
	TrCommit                         // a node's commit index advanced (Index: new commit)
	TrCrash                          // a node crashed (N: writes lost)
	TrRestart                        // a node restarted from its disk
	TrFault                          // a network fault began (Text: which)
	TrHeal                           // network faults ended
	TrInvoke                         // a client invoked an operation (Aux: client)
	TrAttempt                        // a client sent an attempt to a node
	TrReturn                         // a client received the answer
	TrRetry                          // a client gave up on a node (Text: why)
	TrStepErr                        // Step returned an error (Text)
	TrViolation                      // an invariant broke (Text)
	TrNote                           // anything else (Text)
)

var traceKindNames = [...]string{
	TrTick: "tick", TrSend: "send", TrDeliver: "deliver", TrDrop: "drop", TrRole: "role",
	TrPersist: "persist", TrDurable: "durable", TrApply: "apply", TrCommit: "commit",
	TrCrash: "crash", TrRestart: "restart", TrFault: "fault", TrHeal: "heal",
	TrInvoke: "invoke", TrAttempt: "attempt", TrReturn: "return", TrRetry: "retry",
	TrStepErr: "step-error", TrViolation: "VIOLATION", TrNote: "note",
}

// String returns the kind's name, as printed in text traces.
func (k TraceKind) String() string {
	if int(k) < len(traceKindNames) && traceKindNames[k] != "" {
		return traceKindNames[k]
	}
	return fmt.Sprintf("TraceKind(%d)", uint8(k))
}

// TraceEvent is one thing that happened in a run. Which fields matter
// depends on Kind; Step and Time are always set.
type TraceEvent struct {
	// Step is the simulator step the event happened in.
	Step uint64
	// Time is the simulated time of the event.
	Time Time
	// Kind says what happened, and so which fields below are set.
	Kind TraceKind
	Node raft.NodeID // the node concerned (the sender for messages)
	Peer raft.NodeID // the other node of a message

	// Message fields (sends, deliveries, drops); also Term/Index for other
	// kinds as documented on the kind.
	Msg     raft.MessageType // the message's type
	Term    raft.Term        // the message's term, or a node's new term
	LogTerm raft.Term        // the message's LogTerm
	Index   raft.Index       // the message's Index, or as the kind says
	Commit  raft.Index       // the message's or the hard state's commit index
	N       int              // entries in a message, entries applied, writes lost...
	Reject  bool             // the message is a rejection
	Role    raft.Role        // a node's new role (TrRole)
	Leader  raft.NodeID      // a node's new leader (TrRole), or the vote of a persisted hard state
	Aux     uint64           // message ID, persist ID, client ID...
	Aux2    uint64           // client sequence number, snapshot index...
	Flags   uint8            // persists: FlagHardState, FlagSync, FlagSnapshot
	Text    string           // free text, for the kinds that say so
}

// Flags of persist events.
const (
	// FlagHardState: the persist carries a hard state (Term, Leader as the
	// vote, Commit).
	FlagHardState uint8 = 1 << iota
	// FlagSync: the persist must be fsynced.
	FlagSync
	// FlagSnapshot: the persist carries a snapshot ending at Aux2.
	FlagSnapshot
)

// String formats e on one line.
func (e TraceEvent) String() string {
	var b strings.Builder
	fmt.Fprintf(&b, "%8d %9s  ", e.Step, e.Time)
	switch e.Kind {
	case TrTick:
		fmt.Fprintf(&b, "n%d tick", e.Node)
	case TrSend, TrDeliver, TrDrop:
		fmt.Fprintf(&b, "%-7s #%d %d->%d %s term=%d", e.Kind, e.Aux, e.Node, e.Peer, e.Msg, e.Term)
		switch e.Msg {
		case raft.MsgApp:
			fmt.Fprintf(&b, " prev=%d/%d entries=%d commit=%d", e.Index, e.LogTerm, e.N, e.Commit)
		case raft.MsgAppResp:
			fmt.Fprintf(&b, " index=%d", e.Index)
		case raft.MsgHeartbeat:
			fmt.Fprintf(&b, " commit=%d", e.Commit)
		case raft.MsgVote, raft.MsgPreVote:
			fmt.Fprintf(&b, " last=%d/%d", e.Index, e.LogTerm)
		case raft.MsgProp:
			fmt.Fprintf(&b, " entries=%d", e.N)
		}
		if e.Reject {
			b.WriteString(" REJECT")
		}
		if e.Text != "" {
			fmt.Fprintf(&b, " (%s)", e.Text)
		}
	case TrRole:
		fmt.Fprintf(&b, "n%d role %s term=%d leader=%d", e.Node, e.Role, e.Term, e.Leader)
	case TrPersist, TrDurable:
		fmt.Fprintf(&b, "n%d %s #%d", e.Node, e.Kind, e.Aux)
		if e.Flags&FlagSnapshot != 0 {
			fmt.Fprintf(&b, " snapshot@%d", e.Aux2)
		}
		if e.Flags&FlagHardState != 0 {
			fmt.Fprintf(&b, " hs{term=%d vote=%d commit=%d}", e.Term, e.Leader, e.Commit)
		}
		if e.N > 0 {
			fmt.Fprintf(&b, " entries=[%d..%d] last-term=%d", e.Index, e.Index+raft.Index(e.N)-1, e.LogTerm)
		}
		if e.Flags&FlagSync != 0 {
			b.WriteString(" sync")
		}
	case TrApply:
		fmt.Fprintf(&b, "n%d apply %d entries up to %d", e.Node, e.N, e.Index)
	case TrCommit:
		fmt.Fprintf(&b, "n%d commit %d (term %d)", e.Node, e.Index, e.Term)
	case TrCrash:
		fmt.Fprintf(&b, "n%d CRASH (%d unacknowledged writes lost, %d survived)", e.Node, e.N, e.Aux)
	case TrRestart:
		fmt.Fprintf(&b, "n%d RESTART term=%d commit=%d last=%d", e.Node, e.Term, e.Commit, e.Index)
	case TrInvoke, TrReturn, TrAttempt, TrRetry:
		fmt.Fprintf(&b, "client %d op %d %s", e.Aux, e.Aux2, e.Kind)
		if e.Node != 0 {
			fmt.Fprintf(&b, " n%d", e.Node)
		}
		if e.Text != "" {
			fmt.Fprintf(&b, ": %s", e.Text)
		}
	default:
		if e.Node != 0 {
			fmt.Fprintf(&b, "n%d ", e.Node)
		}
		fmt.Fprintf(&b, "%s: %s", e.Kind, e.Text)
	}
	return b.String()
}

// Trace records the events of a run: all of them when full, otherwise the
// most recent ones in a ring (enough for a failure report).
type Trace struct {
	full bool
	// chunks hold a full trace in fixed-size blocks, so recording never
	// copies what was recorded before.
	chunks [][]TraceEvent
	ring   []TraceEvent
	next   int
	total  uint64
}

const traceChunk = 8192

const traceRing = 512

func newTrace(full bool) *Trace {
	t := &Trace{full: full}
	if !full {
		t.ring = make([]TraceEvent, 0, traceRing)
	}
	return t
}

func (t *Trace) add(e TraceEvent) {
	t.total++
	if t.full {
		if n := len(t.chunks); n == 0 || len(t.chunks[n-1]) == traceChunk {
			t.chunks = append(t.chunks, make([]TraceEvent, 0, traceChunk))
		}
		last := &t.chunks[len(t.chunks)-1]
		*last = append(*last, e)
		return
	}
	if len(t.ring) < traceRing {
		t.ring = append(t.ring, e)
		return
	}
	t.ring[t.next] = e
	t.next = (t.next + 1) % traceRing
}

// Events returns the recorded events in order (all of them for a full
// trace, otherwise the most recent ones).
func (t *Trace) Events() []TraceEvent {
	if t.full {
		out := make([]TraceEvent, 0, t.total)
		for _, c := range t.chunks {
			out = append(out, c...)
		}
		return out
	}
	out := make([]TraceEvent, 0, len(t.ring))
	out = append(out, t.ring[t.next:]...)
	return append(out, t.ring[:t.next]...)
}

// Total returns the number of events recorded, including those no longer
// kept.
func (t *Trace) Total() uint64 { return t.total }

// Tail returns the last n events other than ticks.
func (t *Trace) Tail(n int) []TraceEvent {
	ev := t.Events()
	var out []TraceEvent
	for i := len(ev) - 1; i >= 0 && len(out) < n; i-- {
		if ev[i].Kind != TrTick {
			out = append(out, ev[i])
		}
	}
	for i, j := 0, len(out)-1; i < j; i, j = i+1, j-1 {
		out[i], out[j] = out[j], out[i]
	}
	return out
}

// WriteText writes the events one per line, ticks included if withTicks.
func (t *Trace) WriteText(w io.Writer, withTicks bool) error {
	for _, e := range t.Events() {
		if e.Kind == TrTick && !withTicks {
			continue
		}
		if _, err := fmt.Fprintln(w, e.String()); err != nil {
			return err
		}
	}
	return nil
}
