package kv

import (
	"encoding/binary"
	"errors"
)

// Commands, queries and results travel as small binary records: the
// command is what the raft log stores, so it is compact and versioned by
// its first byte.

// OpType is a write operation.
type OpType byte

const (
	OpPut    OpType = 1
	OpDelete OpType = 2
	OpCAS    OpType = 3
)

// Op is a write.
type Op struct {
	Type      OpType
	RequestID []byte
	Key       []byte
	Value     []byte
	// CAS: ExpectAbsent (create only if missing) or HasPrev/Prev (replace
	// only if the current value equals Prev); Delete deletes instead of
	// writing Value.
	ExpectAbsent bool
	HasPrev      bool
	Prev         []byte
	Delete       bool
}

const (
	flagExpectAbsent = 1
	flagHasPrev      = 2
	flagDelete       = 4
)

var errBadOp = errors.New("kv: malformed command")

func appendBytes(b, v []byte) []byte {
	b = binary.AppendUvarint(b, uint64(len(v)))
	return append(b, v...)
}

type reader struct {
	b   []byte
	err error
}

func (r *reader) bytes() []byte {
	n, k := binary.Uvarint(r.b)
	if k <= 0 || n > uint64(len(r.b)-k) {
		r.err = errBadOp
		return nil
	}
	v := r.b[k : k+int(n)]
	r.b = r.b[k+int(n):]
	return v
}

func (r *reader) uvarint() uint64 {
	n, k := binary.Uvarint(r.b)
	if k <= 0 {
		r.err = errBadOp
		return 0
	}
	r.b = r.b[k:]
	return n
}

func (r *reader) byte() byte {
	if len(r.b) == 0 {
		r.err = errBadOp
		return 0
	}
	c := r.b[0]
	r.b = r.b[1:]
	return c
}

// EncodeOp encodes a write.
func EncodeOp(op Op) []byte {
	b := make([]byte, 0, 8+len(op.RequestID)+len(op.Key)+len(op.Value)+len(op.Prev))
	b = append(b, byte(op.Type))
	b = appendBytes(b, op.RequestID)
	b = appendBytes(b, op.Key)
	b = appendBytes(b, op.Value)
	if op.Type == OpCAS {
		var f byte
		if op.ExpectAbsent {
			f |= flagExpectAbsent
		}
		if op.HasPrev {
			f |= flagHasPrev
		}
		if op.Delete {
			f |= flagDelete
		}
		b = append(b, f)
		b = appendBytes(b, op.Prev)
	}
	return b
}

// DecodeOp decodes a write; the slices alias b.
func DecodeOp(b []byte) (Op, error) {
	r := reader{b: b}
	var op Op
	op.Type = OpType(r.byte())
	op.RequestID = r.bytes()
	op.Key = r.bytes()
	op.Value = r.bytes()
	if op.Type == OpCAS {
		f := r.byte()
		op.ExpectAbsent, op.HasPrev, op.Delete = f&flagExpectAbsent != 0, f&flagHasPrev != 0, f&flagDelete != 0
		op.Prev = r.bytes()
	}
	if r.err == nil && (op.Type < OpPut || op.Type > OpCAS || len(r.b) != 0 || len(op.Key) == 0) {
		r.err = errBadOp
	}
	return op, r.err
}

// Status of a write.
const (
	StatusOK           = 0
	StatusPrecondition = 1 // CAS failed; Value holds the current value
	StatusBadCommand   = 2
)

// Result is a write's outcome.
type Result struct {
	Status byte
	Index  uint64
	Found  bool // the key existed before the write
	Value  []byte
	Err    string
}

// EncodeResult encodes a write's result.
func EncodeResult(r Result) []byte {
	b := []byte{r.Status}
	b = binary.AppendUvarint(b, r.Index)
	f := byte(0)
	if r.Found {
		f = 1
	}
	b = append(b, f)
	b = appendBytes(b, r.Value)
	return appendBytes(b, []byte(r.Err))
}

// DecodeResult decodes a write's result.
func DecodeResult(b []byte) (Result, error) {
	r := reader{b: b}
	var res Result
	res.Status = r.byte()
	res.Index = r.uvarint()
	res.Found = r.byte() == 1
	res.Value = r.bytes()
	res.Err = string(r.bytes())
	return res, r.err
}

// Query types.
const (
	QueryGet  = 1
	QueryList = 2
)

// Query is a read.
type Query struct {
	Type  byte
	Key   []byte // the key, or the prefix of a list
	Limit int
}

// EncodeQuery encodes a read.
func EncodeQuery(q Query) []byte {
	b := []byte{q.Type}
	b = binary.AppendUvarint(b, uint64(q.Limit))
	return append(b, q.Key...)
}

// DecodeQuery decodes a read.
func DecodeQuery(b []byte) (Query, error) {
	r := reader{b: b}
	var q Query
	q.Type = r.byte()
	q.Limit = int(r.uvarint())
	q.Key = r.b
	if r.err == nil && q.Type != QueryGet && q.Type != QueryList {
		r.err = errBadOp
	}
	return q, r.err
}

// Item is one key-value pair of a list.
type Item struct {
	Key   string `json:"key"`
	Value string `json:"value"`
}

func encodeGet(found bool, v []byte) []byte {
	if !found {
		return []byte{0}
	}
	return append([]byte{1}, v...)
}

// DecodeGet decodes a get's answer.
func DecodeGet(b []byte) (found bool, value []byte) {
	if len(b) == 0 || b[0] == 0 {
		return false, nil
	}
	return true, b[1:]
}

func encodeList(items []Item, more bool) []byte {
	b := []byte{0}
	if more {
		b[0] = 1
	}
	b = binary.AppendUvarint(b, uint64(len(items)))
	for _, it := range items {
		b = appendBytes(b, []byte(it.Key))
		b = appendBytes(b, []byte(it.Value))
	}
	return b
}

// DecodeList decodes a list's answer.
func DecodeList(b []byte) ([]Item, bool, error) {
	r := reader{b: b}
	more := r.byte() == 1
	n := r.uvarint()
	if r.err == nil && n > uint64(len(r.b)) {
		return nil, false, errBadOp
	}
	items := make([]Item, 0, n)
	for i := uint64(0); i < n && r.err == nil; i++ {
		k := r.bytes()
		v := r.bytes()
		items = append(items, Item{Key: string(k), Value: string(v)})
	}
	return items, more, r.err
}
