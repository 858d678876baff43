package kv

import (
	"bytes"
	"path/filepath"
	"testing"

	"github.com/pureraft/raft/host"
)

func apply(t *testing.T, m *Machine, index uint64, op Op) Result {
	t.Helper()
	cmds := []host.Command{{Index: index, Data: EncodeOp(op)}}
	if err := m.Apply(cmds); err != nil {
		t.Fatal(err)
	}
	r, err := DecodeResult(cmds[0].Result)
	if err != nil {
		t.Fatal(err)
	}
	return r
}

func get(t *testing.T, m *Machine, key string) (bool, string) {
	t.Helper()
	out, err := m.Query(EncodeQuery(Query{Type: QueryGet, Key: []byte(key)}))
	if err != nil {
		t.Fatal(err)
	}
	found, v := DecodeGet(out)
	return found, string(v)
}

func TestMachineOpsDedupSnapshot(t *testing.T) {
	dir := t.TempDir()
	m, err := OpenMachine(filepath.Join(dir, "a.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer m.Close()
	apply(t, m, 1, Op{Type: OpPut, Key: []byte("a"), Value: []byte("1")})
	if r := apply(t, m, 2, Op{Type: OpCAS, Key: []byte("a"), HasPrev: true, Prev: []byte("0"), Value: []byte("2")}); r.Status != StatusPrecondition || string(r.Value) != "1" {
		t.Fatalf("CAS with a wrong previous value: %+v", r)
	}
	if r := apply(t, m, 3, Op{Type: OpCAS, Key: []byte("a"), HasPrev: true, Prev: []byte("1"), Value: []byte("2")}); r.Status != StatusOK {
		t.Fatalf("CAS: %+v", r)
	}
	if r := apply(t, m, 4, Op{Type: OpCAS, Key: []byte("b"), ExpectAbsent: true, Value: []byte("x")}); r.Status != StatusOK {
		t.Fatalf("create: %+v", r)
	}
	// The same request ID applies once and answers as the first time.
	first := apply(t, m, 5, Op{Type: OpPut, RequestID: []byte("r1"), Key: []byte("c"), Value: []byte("first")})
	again := apply(t, m, 6, Op{Type: OpPut, RequestID: []byte("r1"), Key: []byte("c"), Value: []byte("second")})
	if first.Index != again.Index || first.Status != again.Status {
		t.Fatalf("retry answered %+v, first %+v", again, first)
	}
	if _, v := get(t, m, "c"); v != "first" {
		t.Fatalf("retried write applied twice: %q", v)
	}
	if r := apply(t, m, 7, Op{Type: OpDelete, Key: []byte("b")}); !r.Found {
		t.Fatalf("delete: %+v", r)
	}
	if idx, _ := m.Applied(); idx != 7 {
		t.Fatalf("applied %d", idx)
	}
	// A snapshot restores into another machine, at a later index (the log
	// continued with no-ops).
	snap, err := m.Snapshot()
	if err != nil {
		t.Fatal(err)
	}
	var buf bytes.Buffer
	snap.WriteTo(&buf)
	snap.Release()
	m2, err := OpenMachine(filepath.Join(dir, "b.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer m2.Close()
	if err := m2.Restore(&buf, 9); err != nil {
		t.Fatal(err)
	}
	if idx, _ := m2.Applied(); idx != 9 {
		t.Fatalf("restored applied %d", idx)
	}
	for k, want := range map[string]string{"a": "2", "c": "first"} {
		if _, v := get(t, m2, k); v != want {
			t.Fatalf("restored %s = %q, want %q", k, v, want)
		}
	}
	if found, _ := get(t, m2, "b"); found {
		t.Fatal("deleted key came back")
	}
	// Reset.
	if err := m2.Restore(nil, 0); err != nil {
		t.Fatal(err)
	}
	if found, _ := get(t, m2, "a"); found {
		t.Fatal("reset kept data")
	}
	// A malformed command is answered, not fatal.
	cmds := []host.Command{{Index: 10, Data: []byte{9, 9}}}
	if err := m.Apply(cmds); err != nil {
		t.Fatal(err)
	}
	if r, _ := DecodeResult(cmds[0].Result); r.Status != StatusBadCommand {
		t.Fatalf("bad command: %+v", r)
	}
}
