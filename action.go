package raft

import "fmt"

// ActionKind says what an Action asks the caller to do.
type ActionKind uint8

const (
	// ActionPersist: make Persist durable, then call Node.AckPersist with
	// Persist.ID. Persist actions must become durable in the order they
	// were emitted (acknowledging ID n acknowledges every earlier one).
	ActionPersist ActionKind = iota + 1
	// ActionSend: deliver Message to Message.To, by any means. The
	// transport may drop, delay, duplicate or reorder it.
	ActionSend
	// ActionApply: apply Apply.Snapshot (restore the state machine from
	// the snapshot data received with it) or Apply.Entries, which are
	// committed and durable locally, to the state machine, in order.
	ActionApply
	// ActionSendSnapshot: ship the latest snapshot's data (the one
	// Message.Snapshot describes) to Message.To, by any means, with
	// Message. The receiving caller passes Message to Step once all the
	// data has arrived. Report the outcome with Node.ReportSnapshot.
	ActionSendSnapshot
	// ActionReadReady: read Read.ID may be served once the state machine
	// has applied Read.Index.
	ActionReadReady
	// ActionReadFailed: read Read.ID cannot be served; Read.Err says why.
	ActionReadFailed
)

// String returns the kind's name, as used in logs and traces.
func (k ActionKind) String() string {
	switch k {
	case ActionPersist:
		return "Persist"
	case ActionSend:
		return "Send"
	case ActionApply:
		return "Apply"
	case ActionSendSnapshot:
		return "SendSnapshot"
	case ActionReadReady:
		return "ReadReady"
	case ActionReadFailed:
		return "ReadFailed"
	}
	return fmt.Sprintf("ActionKind(%d)", uint8(k))
}

// Action is one thing the caller must do. Only the field named by Kind is
// set. Slices in an action belong to the node: read them, never modify
// them. They stay valid after the next call to Actions (the node never
// rewrites an entry slice it has handed out), so an asynchronous caller may
// keep them until the work is done.
type Action struct {
	// Kind says what to do, and so which one of the fields below is set.
	Kind ActionKind
	// Persist is the state to make durable, for ActionPersist.
	Persist Persist
	// Message is the message to deliver, for ActionSend, or the snapshot
	// message to ship with the snapshot's data, for ActionSendSnapshot.
	Message Message
	// Apply holds the committed entries or snapshot, for ActionApply.
	Apply Apply
	// Read is the outcome of a read, for ActionReadReady and
	// ActionReadFailed.
	Read ReadResult
}

// String describes the action in one line for logs and test failures;
// entries are shown by index range, not content.
func (a Action) String() string {
	switch a.Kind {
	case ActionPersist:
		return fmt.Sprintf("Persist{id=%d %s}", a.Persist.ID, a.Persist.describe())
	case ActionSend:
		return "Send{" + a.Message.String() + "}"
	case ActionApply:
		if a.Apply.Snapshot != nil {
			return fmt.Sprintf("Apply{snapshot index=%d term=%d}", a.Apply.Snapshot.Index, a.Apply.Snapshot.Term)
		}
		return fmt.Sprintf("Apply{%s}", describeEntries(a.Apply.Entries))
	case ActionSendSnapshot:
		return "SendSnapshot{" + a.Message.String() + "}"
	case ActionReadReady:
		return fmt.Sprintf("ReadReady{id=%d index=%d}", a.Read.ID, a.Read.Index)
	case ActionReadFailed:
		return fmt.Sprintf("ReadFailed{id=%d err=%v}", a.Read.ID, a.Read.Err)
	}
	return a.Kind.String()
}

// addAction appends an action of the given kind, every other field zero,
// to the actions the next Actions call returns, and returns it to be
// filled in place. An Action is 264 bytes: appending a composite literal
// built it in a temporary and copied it into the slot, and the field it
// carries was copied into the temporary first — about a seventh of a
// 3-node round at one entry per round (issue 16). Filling the slot copies
// the field once.
func (n *Node) addAction(kind ActionKind) *Action {
	k := len(n.actions)
	if k < cap(n.actions) {
		n.actions = n.actions[:k+1]
		n.actions[k] = Action{Kind: kind} // clears what the slot held last time
	} else {
		n.actions = append(n.actions, Action{Kind: kind})
	}
	return &n.actions[k]
}

// Persist is state the caller must make durable before acknowledging ID.
//
// Write it in this order, or atomically: the snapshot, the entries, then the
// hard state.
// Entries[0] may lie at or below the last stored index: delete every stored
// entry from Entries[0].Index on before writing (thesis §3.5: a follower's
// conflicting suffix is overwritten). Sync says whether the data must reach
// stable storage (fsync) before acknowledging; when false only the commit
// index changed, which may be lost in a crash without harm.
type Persist struct {
	// ID numbers persist actions in the order they are emitted; pass it to
	// Node.AckPersist once this write (and every earlier one) is durable.
	ID uint64
	// HasHardState says whether HardState changed and must be written; a
	// write that carries only entries leaves the stored hard state alone.
	HasHardState bool
	// HardState is the term, vote and commit index to store, when
	// HasHardState is set.
	HardState HardState
	// Snapshot, when set, replaces the stored snapshot metadata and every
	// stored entry — those after the snapshot's index too: the log then
	// continues from the snapshot with Entries. Write it before the
	// entries. A store that kept a tail past the snapshot would hold a log
	// that conflicts with it, and NewNode refuses such a state. Bootstrap
	// emits one at index 0 holding the initial configuration.
	Snapshot *SnapshotMeta
	// Entries are log entries to append, in index order, after deleting
	// any stored entry at or after Entries[0].Index.
	Entries []Entry
	// Sync says whether the write must reach stable storage before it is
	// acknowledged. It is false only when nothing but the commit index
	// changed.
	Sync bool
}

func (p *Persist) describe() string {
	s := ""
	if p.HasHardState {
		hs := &p.HardState
		s = fmt.Sprintf("hs={term=%d vote=%d commit=%d", hs.Term, hs.Vote, hs.Commit)
		if hs.ReadTokenLimit != 0 {
			s += fmt.Sprintf(" read-tokens<%d", hs.ReadTokenLimit)
		}
		s += "} "
	}
	if p.Snapshot != nil {
		s += fmt.Sprintf("snapshot={index=%d term=%d} ", p.Snapshot.Index, p.Snapshot.Term)
	}
	return fmt.Sprintf("%sentries=%s sync=%t", s, describeEntries(p.Entries), p.Sync)
}

// Apply carries committed entries for the state machine. A proposal's fate
// is read here: the entry applied at the index Propose returned either has
// the term Propose returned (committed) or another term (the proposal was
// overwritten and will never commit).
type Apply struct {
	// Snapshot, when set, replaces the state machine's state with the
	// snapshot received from the leader; Entries is then empty.
	Snapshot *SnapshotMeta
	// Entries are committed entries to apply, in index order. Entries of
	// type EntryNoop and EntryConfig are included so that the applied
	// index advances; the state machine skips them.
	Entries []Entry
}

func describeEntries(ents []Entry) string {
	if len(ents) == 0 {
		return "[]"
	}
	return fmt.Sprintf("[%d..%d]", ents[0].Index, ents[len(ents)-1].Index)
}
