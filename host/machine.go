package host

import "io"

// Machine is the replicated state machine a host runs: implement it and the
// host does the rest (consensus, storage, transport, snapshots). It is the
// whole seam between this package and an application.
//
// The host calls Apply, Snapshot and Restore from one goroutine, in log
// order; Query may be called concurrently with them and with itself.
type Machine interface {
	// Applied returns the index of the last command whose effects the
	// machine holds, as recorded atomically with those effects (0 for an
	// empty machine). After a restart the host replays the log from there.
	Applied() (uint64, error)

	// Apply applies committed commands, in log order, and records
	// atomically with their effects that everything up to the last
	// command's Index is applied. It sets each command's Result, which is
	// handed back to the client that proposed it. Apply must be
	// deterministic: every replica applies the same commands to the same
	// state. An error stops the host (a replica that cannot apply a
	// committed command must not go on).
	Apply(cmds []Command) error

	// Query answers a read-only query from the current state.
	Query(query []byte) ([]byte, error)

	// Snapshot captures the state as of the last Apply. The capture must
	// be cheap and consistent (a read transaction, a copy-on-write view):
	// the host writes it out with WriteTo on another goroutine while
	// later commands are applied.
	Snapshot() (Snapshot, error)

	// Restore replaces the whole state with a snapshot's data, which
	// covers the log up to index; r is nil to reset to the empty state
	// (index 0).
	Restore(r io.Reader, index uint64) error

	// Close releases the machine's resources, syncing what it holds.
	Close() error
}

// Command is one committed command for Machine.Apply.
type Command struct {
	// Index is the command's position in the replicated log.
	Index uint64
	// Data is the command as the client proposed it. It must not be
	// modified or kept after Apply returns.
	Data []byte
	// Result is set by Apply and returned to the proposer.
	Result []byte
}

// Snapshot is a consistent view of a Machine's state.
type Snapshot interface {
	// WriteTo writes the state; Machine.Restore reads it back.
	WriteTo(w io.Writer) (int64, error)
	// Release frees the view.
	Release()
}
