package host

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"net"
	"os"
	"path/filepath"
	"testing"

	"github.com/pureraft/raft"
)

// uncleanBootDir returns a data directory whose boot record says the last
// run, in an earlier boot, did not shut down cleanly: the machine is
// suspect.
func uncleanBootDir(t *testing.T) string {
	t.Helper()
	dir := t.TempDir()
	// Group 1 exists (its directory; its log is planted by each test).
	if err := os.MkdirAll(groupDir(dir, 1), 0o755); err != nil {
		t.Fatal(err)
	}
	b, _ := json.Marshal(bootState{BootID: "a boot before the crash", Clean: false})
	if err := os.WriteFile(filepath.Join(dir, "boot.json"), b, 0o644); err != nil {
		t.Fatal(err)
	}
	return dir
}

// After an unclean shutdown and a reboot the machine is suspect until it
// has been rebuilt. If the start that should rebuild it fails (or the
// process dies) before the rebuild is done, the next start must still
// rebuild it: the boot record may say "this boot" only once the machine
// is trustworthy again.
func TestSuspectMachineStaysSuspectUntilRebuilt(t *testing.T) {
	dir := uncleanBootDir(t)
	// The WAL names a snapshot whose file cannot be read: the rebuild fails.
	w, _, err := OpenWAL(filepath.Join(dir, "wal"), 1<<20)
	if err != nil {
		t.Fatal(err)
	}
	meta := raft.SnapshotMeta{Index: 5, Term: 1, Membership: raft.Membership{Voters: []raft.NodeID{1}}}
	if err := w.SaveSnapshot(meta); err != nil {
		t.Fatal(err)
	}
	w.Close()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	_, err = Open(Config{
		ID: 1, Dir: dir, Listener: ln, NewMachine: one(&counter{}),
		Peers:  Peers{1: {Raft: ln.Addr().String()}},
		Logger: slog.New(slog.NewTextHandler(io.Discard, nil)),
	})
	if err == nil {
		t.Fatal("Open succeeded without the snapshot file")
	}
	suspect, err := checkBoot(dir)
	if err != nil {
		t.Fatal(err)
	}
	if !suspect {
		t.Fatal("after a failed rebuild the machine is no longer considered suspect: the next start would trust it")
	}
}

// brokenApplied is a machine whose files a power loss left unreadable:
// it cannot even say what it applied, but can be restored.
type brokenApplied struct{ counter }

func (b *brokenApplied) Applied() (uint64, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.applied == 0 {
		return 0, errors.New("corrupt page")
	}
	return b.applied, nil
}

// After an unclean shutdown and a reboot the machine's files are not
// trusted, so the host rebuilds them; it must not first ask the untrusted
// machine what it applied, which may fail (or lie) precisely then.
func TestSuspectMachineRebuiltWithoutReadingIt(t *testing.T) {
	dir := uncleanBootDir(t)
	w, _, err := OpenWAL(filepath.Join(dir, "wal"), 1<<20)
	if err != nil {
		t.Fatal(err)
	}
	meta := raft.SnapshotMeta{Index: 5, Term: 1, Membership: raft.Membership{Voters: []raft.NodeID{1}}}
	snaps := &snapStore{dir: filepath.Join(groupDir(dir, 1), "snap")}
	if _, err := snaps.write(5, Peers{}, counterSnap{n: 42, applied: 5}); err != nil {
		t.Fatal(err)
	}
	if err := w.SaveSnapshot(meta); err != nil {
		t.Fatal(err)
	}
	if err := w.Save([]*raft.Persist{{ID: 1, HasHardState: true, HardState: raft.HardState{Term: 1, Vote: 1, Commit: 5}, Sync: true}}); err != nil {
		t.Fatal(err)
	}
	w.Close()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	m := &brokenApplied{}
	h, err := Open(Config{
		ID: 1, Dir: dir, Listener: ln, NewMachine: one(m),
		Peers:  Peers{1: {Raft: ln.Addr().String()}},
		Logger: slog.New(slog.NewTextHandler(io.Discard, nil)),
	})
	if err != nil {
		ln.Close()
		t.Fatalf("Open of a suspect machine: %v", err)
	}
	defer h.Close(context.Background())
	if m.n != 42 {
		t.Fatalf("machine not rebuilt from the snapshot: %d", m.n)
	}
}
