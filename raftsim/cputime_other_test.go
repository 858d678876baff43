//go:build !unix

package raftsim

import "time"

func cpuTime() time.Duration { return 0 }
