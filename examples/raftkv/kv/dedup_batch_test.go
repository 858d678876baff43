package kv

import (
	"path/filepath"
	"testing"

	"github.com/pureraft/raft/host"
)

// Which request IDs a command sees must depend only on the command's log
// index, not on how the host grouped commands into Apply calls (apply waves
// differ between replicas and across restarts). Two replicas apply the same
// log in different batches; a retry just past the window must have the same
// effect on both.
func TestDedupWindowIndependentOfBatching(t *testing.T) {
	dir := t.TempDir()
	open := func(name string) *Machine {
		m, err := OpenMachine(filepath.Join(dir, name))
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { m.Close() })
		return m
	}
	first := host.Command{Index: 1, Data: EncodeOp(Op{Type: OpPut, RequestID: []byte("r"), Key: []byte("k"), Value: []byte("1")})}
	other := host.Command{Index: DedupWindow + 5, Data: EncodeOp(Op{Type: OpPut, Key: []byte("x"), Value: []byte("x")})}
	retry := host.Command{Index: DedupWindow + 6, Data: EncodeOp(Op{Type: OpPut, RequestID: []byte("r"), Key: []byte("k"), Value: []byte("2")})}

	a, b := open("a.db"), open("b.db")
	for _, batch := range [][]host.Command{{first}, {other}, {retry}} {
		if err := a.Apply(batch); err != nil {
			t.Fatal(err)
		}
	}
	for _, batch := range [][]host.Command{{first}, {other, retry}} {
		if err := b.Apply(batch); err != nil {
			t.Fatal(err)
		}
	}
	_, va := get(t, a, "k")
	_, vb := get(t, b, "k")
	if va != vb {
		t.Fatalf("replicas diverged: k=%q on one, %q on the other (same log, different apply batches)", va, vb)
	}
}
