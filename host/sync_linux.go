package host

import (
	"os"
	"syscall"
)

// fdatasync flushes f's data and the metadata needed to read it back (its
// size), skipping timestamps.
func fdatasync(f *os.File) error { return syscall.Fdatasync(int(f.Fd())) }

// preallocate reserves size bytes for f without changing what reads back
// (zeros past the written data).
func preallocate(f *os.File, size int64) {
	syscall.Fallocate(int(f.Fd()), 0, 0, size)
}
