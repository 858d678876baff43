package raft

import (
	"os"
	"os/exec"
	"testing"
)

// TestBuildsOn32BitPlatforms: the core is pure Go with no I/O, so it must
// build wherever Go does, including 32-bit targets (386, 32-bit ARM) where
// int is 32 bits wide and a constant such as math.MaxUint32 compared with a
// len overflows it. Nothing else compiles the package for such a target,
// so a regression would show only to a user of one.
func TestBuildsOn32BitPlatforms(t *testing.T) {
	goTool, err := exec.LookPath("go")
	if err != nil {
		t.Skip("no go command on PATH:", err)
	}
	for _, arch := range []string{"386", "arm"} {
		cmd := exec.Command(goTool, "build", ".")
		cmd.Env = append(os.Environ(), "GOOS=linux", "GOARCH="+arch, "CGO_ENABLED=0")
		if out, err := cmd.CombinedOutput(); err != nil {
			t.Errorf("GOARCH=%s go build . failed: %v\n%s", arch, err, out)
		}
	}
}
