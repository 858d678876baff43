package raftsim

import (
	"fmt"
	"runtime"
	"strings"

	"github.com/pureraft/raft"
)

// A panic inside the core is a bug like any broken invariant: the core
// panics only on a violated internal invariant (docs/design.md). The
// simulator catches it, stops the run there and reports it as a Protocol
// violation with the seed, the trace up to the panic and the command that
// replays it, instead of dying with a goroutine dump.

// handleRecovering handles ev, turning a panic into a violation.
func (s *Sim) handleRecovering(ev *event) {
	defer func() {
		if r := recover(); r != nil {
			node := eventNode(ev)
			s.chk.fail(Protocol, node, "node %d panicked: %v (at %s)", node, r, panicSite())
		}
	}()
	s.handle(ev)
}

// eventNode is the node an event drives, 0 if none.
func eventNode(ev *event) raft.NodeID {
	if ev.kind == evDeliver {
		return ev.msg.To
	}
	return ev.node
}

// panicSite names the innermost frame of the core (the root package) on the
// panicking goroutine's stack, or the innermost frame of any package if the
// core is not on it. Called from a deferred function during the panic, the
// stack still holds the panicking frames.
func panicSite() string {
	pcs := make([]uintptr, 64)
	frames := runtime.CallersFrames(pcs[:runtime.Callers(3, pcs)])
	first := ""
	for {
		f, more := frames.Next()
		fn := f.Function
		if !strings.HasPrefix(fn, "runtime.") && first == "" {
			first = fmt.Sprintf("%s:%d", trimPath(f.File), f.Line)
		}
		if strings.HasPrefix(fn, "github.com/pureraft/raft.") {
			return fmt.Sprintf("%s:%d", trimPath(f.File), f.Line)
		}
		if !more {
			return first
		}
	}
}

// trimPath keeps the last two elements of a file path.
func trimPath(file string) string {
	parts := strings.Split(file, "/")
	if len(parts) > 2 {
		parts = parts[len(parts)-2:]
	}
	return strings.Join(parts, "/")
}
