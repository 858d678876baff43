//go:build unix

package raftsim

import (
	"syscall"
	"time"
)

// cpuTime returns the CPU time this process has used, so the benchmark
// can report a rate that does not depend on other load on the machine.
func cpuTime() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}
