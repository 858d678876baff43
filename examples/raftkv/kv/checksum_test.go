package kv

import (
	"bytes"
	"errors"
	"os"
	"path/filepath"
	"testing"

	"github.com/pureraft/raft/host"
)

// flipInFile flips one bit in every copy of needle in the file at path
// and reports how many it found.
func flipInFile(t *testing.T, path string, needle []byte) int {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	n := 0
	for i := bytes.Index(b, needle); i >= 0; i = bytes.Index(b, needle) {
		b[i+len(needle)/2] ^= 0x01
		n++
	}
	if err := os.WriteFile(path, b, 0o644); err != nil {
		t.Fatal(err)
	}
	return n
}

// Issue 19: bbolt has no checksums on data pages, and a value with one
// flipped byte was served as if it were right. Every stored value now
// carries a checksum of its key and bytes, verified whenever it is read: a
// get, a list, a compare-and-swap, and the state hash all fail with
// host.ErrStateCorrupt instead of using the bad value.
func TestFlippedValueNeverServed(t *testing.T) {
	path := filepath.Join(t.TempDir(), "kv.db")
	m, err := OpenMachine(path)
	if err != nil {
		t.Fatal(err)
	}
	value := []byte("the-right-value-0123456789")
	apply(t, m, 1, Op{Type: OpPut, Key: []byte("k"), Value: value})
	apply(t, m, 2, Op{Type: OpPut, Key: []byte("other"), Value: []byte("fine")})
	if err := m.Close(); err != nil {
		t.Fatal(err)
	}
	if n := flipInFile(t, path, value); n == 0 {
		t.Fatal("value not found in the file")
	}
	m, err = OpenMachine(path)
	if err != nil {
		t.Fatal(err)
	}
	defer m.Close()
	if _, v := get(t, m, "other"); v != "fine" {
		t.Fatalf("an intact value reads %q", v)
	}
	out, err := m.Query(EncodeQuery(Query{Type: QueryGet, Key: []byte("k")}))
	if !errors.Is(err, host.ErrStateCorrupt) {
		_, v := DecodeGet(out)
		t.Fatalf("get of the flipped value: %q, %v; want host.ErrStateCorrupt", v, err)
	}
	if _, err := m.Query(EncodeQuery(Query{Type: QueryList, Key: []byte(""), Limit: 10})); !errors.Is(err, host.ErrStateCorrupt) {
		t.Fatalf("list over the flipped value: %v, want host.ErrStateCorrupt", err)
	}
	cmds := []host.Command{{Index: 3, Data: EncodeOp(Op{Type: OpCAS, Key: []byte("k"), HasPrev: true, Prev: value, Value: []byte("x")})}}
	if err := m.Apply(cmds); !errors.Is(err, host.ErrStateCorrupt) {
		t.Fatalf("compare-and-swap against the flipped value: %v, want host.ErrStateCorrupt", err)
	}
	sum, err := m.HashState()
	if err != nil {
		t.Fatal(err)
	}
	if _, err := sum(); !errors.Is(err, host.ErrStateCorrupt) {
		t.Fatalf("hashing a store with a flipped value: %v, want host.ErrStateCorrupt", err)
	}
}

// Two machines that applied the same commands hash equal, whatever their
// batching or history; a different value or a missing key hashes
// differently.
func TestStateHash(t *testing.T) {
	dir := t.TempDir()
	hash := func(m *Machine) uint64 {
		t.Helper()
		sum, err := m.HashState()
		if err != nil {
			t.Fatal(err)
		}
		h, err := sum()
		if err != nil {
			t.Fatal(err)
		}
		return h
	}
	ops := []Op{
		{Type: OpPut, Key: []byte("a"), Value: []byte("1")},
		{Type: OpPut, Key: []byte("b"), Value: []byte("2"), RequestID: []byte("r")},
		{Type: OpDelete, Key: []byte("a")},
	}
	var ms []*Machine
	for i, batch := range []int{1, 3} {
		m, err := OpenMachine(filepath.Join(dir, string(rune('a'+i))+".db"))
		if err != nil {
			t.Fatal(err)
		}
		defer m.Close()
		var cmds []host.Command
		for j, op := range ops {
			cmds = append(cmds, host.Command{Index: uint64(j + 1), Data: EncodeOp(op)})
			if len(cmds) == batch {
				if err := m.Apply(cmds); err != nil {
					t.Fatal(err)
				}
				cmds = nil
			}
		}
		ms = append(ms, m)
	}
	if hash(ms[0]) != hash(ms[1]) {
		t.Fatal("equal states hash differently")
	}
	apply(t, ms[1], 4, Op{Type: OpPut, Key: []byte("b"), Value: []byte("3")})
	if hash(ms[0]) == hash(ms[1]) {
		t.Fatal("different states hash equal")
	}
}

// The result remembered for a request ID is checksummed like a value: a
// retry whose stored answer rotted stops the member (Apply fails with
// host.ErrStateCorrupt) instead of answering the client with garbage.
func TestFlippedRequestResultNeverServed(t *testing.T) {
	path := filepath.Join(t.TempDir(), "kv.db")
	m, err := OpenMachine(path)
	if err != nil {
		t.Fatal(err)
	}
	apply(t, m, 1, Op{Type: OpCAS, RequestID: []byte("req-0123456789"), Key: []byte("k"), ExpectAbsent: true, Value: []byte("v")})
	apply(t, m, 2, Op{Type: OpCAS, RequestID: []byte("req-other"), Key: []byte("k"), ExpectAbsent: true, Value: []byte("w")})
	if err := m.Close(); err != nil {
		t.Fatal(err)
	}
	// bbolt stores a value right after its key: flip a bit of the second
	// request's stored result.
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	flipped := 0
	for i := bytes.Index(b, []byte("req-other")); i >= 0; {
		if j := i + len("req-other"); j+1 < len(b) {
			b[j+1] ^= 0x01
			flipped++
		}
		next := bytes.Index(b[i+1:], []byte("req-other"))
		if next < 0 {
			break
		}
		i += 1 + next
	}
	if flipped == 0 {
		t.Fatal("request ID not found in the file")
	}
	os.WriteFile(path, b, 0o644)
	m, err = OpenMachine(path)
	if err != nil {
		t.Fatal(err)
	}
	defer m.Close()
	cmds := []host.Command{{Index: 3, Data: EncodeOp(Op{Type: OpPut, RequestID: []byte("req-other"), Key: []byte("k"), Value: []byte("x")})}}
	err = m.Apply(cmds)
	if !errors.Is(err, host.ErrStateCorrupt) {
		r, _ := DecodeResult(cmds[0].Result)
		t.Fatalf("retry over a rotted stored result: %v, result %+v; want host.ErrStateCorrupt", err, r)
	}
}
