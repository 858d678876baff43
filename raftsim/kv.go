package raftsim

import (
	"encoding/binary"
	"fmt"
	"strconv"

	"github.com/anishathalye/porcupine"
)

// KVOp is a key-value operation.
type KVOp uint8

const (
	// KVGet reads a key's value (the empty string if unset).
	KVGet KVOp = iota + 1
	// KVPut sets a key's value.
	KVPut
	// KVAppend appends to a key's value: unlike puts, appends make lost
	// or duplicated writes visible in later reads.
	KVAppend
)

// String returns the operation's name, as shown in traces and histories.
func (o KVOp) String() string {
	switch o {
	case KVGet:
		return "get"
	case KVPut:
		return "put"
	case KVAppend:
		return "append"
	}
	return "KVOp(" + strconv.Itoa(int(o)) + ")"
}

// KVInput is the porcupine input of a key-value operation.
type KVInput struct {
	// Op is the operation.
	Op KVOp
	// Key is the key operated on; Value is the value written (empty for
	// gets).
	Key, Value string
}

// KVOutput is the porcupine output of a key-value operation: the value read
// (gets only).
type KVOutput struct {
	// Value is the key's value as the get saw it.
	Value string
}

// EncodeKV encodes a key-value command for [KV.Apply].
func EncodeKV(op KVOp, key, value string) []byte {
	b := make([]byte, 0, 2+len(key)+len(value)+binary.MaxVarintLen64)
	b = append(b, byte(op))
	b = binary.AppendUvarint(b, uint64(len(key)))
	b = append(b, key...)
	return append(b, value...)
}

func decodeKV(b []byte) (op KVOp, key, value string, ok bool) {
	if len(b) < 2 {
		return 0, "", "", false
	}
	op = KVOp(b[0])
	n, w := binary.Uvarint(b[1:])
	if w <= 0 || uint64(len(b)-1-w) < n {
		return 0, "", "", false
	}
	rest := b[1+w:]
	return op, string(rest[:n]), string(rest[n:]), op >= KVGet && op <= KVAppend
}

// KV is the default replicated state machine: a map from string keys to
// string values with get, put and append.
type KV struct {
	data map[string]string
}

// NewKV returns an empty key-value store.
func NewKV() *KV { return &KV{data: map[string]string{}} }

// Apply implements StateMachine. A get returns the value; put and append
// return nothing. Malformed commands are ignored.
func (kv *KV) Apply(cmd []byte) []byte {
	op, key, value, ok := decodeKV(cmd)
	if !ok {
		return nil
	}
	switch op {
	case KVGet:
		return []byte(kv.data[key])
	case KVPut:
		kv.data[key] = value
	case KVAppend:
		kv.data[key] += value
	}
	return nil
}

// Query implements Querier: it answers a get without changing anything.
func (kv *KV) Query(cmd []byte) []byte {
	if op, key, _, ok := decodeKV(cmd); ok && op == KVGet {
		return []byte(kv.data[key])
	}
	return nil
}

// Get returns the value of key (for tests and examples).
func (kv *KV) Get(key string) string { return kv.data[key] }

// KVWorkload is the default workload: clients put, append to and get
// random keys, each write with a value unique to the operation so that any
// anomaly shows in what later reads return.
type KVWorkload struct {
	// Keys is the number of distinct keys; fewer keys, more contention.
	Keys int
	// Puts, Appends and Gets are the relative weights of the operations.
	Puts, Appends, Gets int
}

// NewKVWorkload returns the key-value workload configured by opts.
func NewKVWorkload(opts WorkloadOptions) *KVWorkload {
	return &KVWorkload{Keys: opts.Keys, Puts: opts.Puts, Appends: opts.Appends, Gets: opts.Gets}
}

// NewStateMachine implements Workload.
func (w *KVWorkload) NewStateMachine() StateMachine { return NewKV() }

// Next implements Workload.
func (w *KVWorkload) Next(r *Rand, client int, seq uint64) Op {
	key := "k" + strconv.Itoa(r.Intn(max(1, w.Keys)))
	in := KVInput{Key: key}
	switch x := r.Intn(w.Puts + w.Appends + w.Gets); {
	case x < w.Puts:
		in.Op, in.Value = KVPut, fmt.Sprintf("%d.%d", client, seq)
	case x < w.Puts+w.Appends:
		in.Op, in.Value = KVAppend, fmt.Sprintf("%d.%d;", client, seq)
	default:
		in.Op = KVGet
	}
	return Op{Cmd: EncodeKV(in.Op, in.Key, in.Value), Read: in.Op == KVGet, Input: in}
}

// Output implements Workload.
func (w *KVWorkload) Output(input any, result []byte) any {
	return KVOutput{Value: string(result)}
}

// Model implements Workload: a linearizable key-value store, partitioned
// by key (each key is an independent register, which keeps checking fast).
func (w *KVWorkload) Model() porcupine.Model { return KVModel() }

// KVModel is the porcupine model of the key-value store.
func KVModel() porcupine.Model {
	return porcupine.Model{
		Partition: func(history []porcupine.Operation) [][]porcupine.Operation {
			byKey := map[string]int{}
			var parts [][]porcupine.Operation
			for _, op := range history {
				k := op.Input.(KVInput).Key
				i, ok := byKey[k]
				if !ok {
					i = len(parts)
					byKey[k] = i
					parts = append(parts, nil)
				}
				parts[i] = append(parts[i], op)
			}
			return parts
		},
		Init: func() any { return "" },
		Step: func(state, input, output any) (bool, any) {
			st, in := state.(string), input.(KVInput)
			switch in.Op {
			case KVGet:
				return output.(KVOutput).Value == st, st
			case KVPut:
				return true, in.Value
			case KVAppend:
				return true, st + in.Value
			}
			return false, st
		},
		DescribeOperation: func(input, output any) string {
			in := input.(KVInput)
			switch in.Op {
			case KVGet:
				if out, ok := output.(KVOutput); ok {
					return fmt.Sprintf("get(%s) -> %q", in.Key, out.Value)
				}
				return fmt.Sprintf("get(%s)", in.Key)
			case KVPut:
				return fmt.Sprintf("put(%s, %q)", in.Key, in.Value)
			case KVAppend:
				return fmt.Sprintf("append(%s, %q)", in.Key, in.Value)
			}
			return "?"
		},
		DescribeState: func(state any) string { return fmt.Sprintf("%q", state) },
	}
}
