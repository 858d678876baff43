package kv

// Stored values carry a checksum, and the whole state has a hash.
//
// bbolt checksums only its meta pages: a flipped bit inside a data page
// is read back as if it were right. So each value — and each result kept
// for a request ID — is stored as a CRC-32C of its key and bytes, then
// the bytes; every read checks it, and a mismatch is host.ErrStateCorrupt
// — never a value. Covering the key too catches a value that landed under
// another key.
//
// HashState hashes the replicated state (values, request IDs) so that
// replicas can compare themselves at the same log index.

import (
	"encoding/binary"
	"fmt"
	"hash/crc32"
	"hash/fnv"

	"github.com/pureraft/raft/host"
	bolt "go.etcd.io/bbolt"
)

var castagnoli = crc32.MakeTable(crc32.Castagnoli)

// formatVersion 2: values carry checksums. Recorded in the meta bucket.
const formatVersion = 2

var keyFormat = []byte("format")

func valueSum(key, value []byte) uint32 {
	return crc32.Update(crc32.Checksum(key, castagnoli), castagnoli, value)
}

// sealValue returns the stored form of value under key.
func sealValue(key, value []byte) []byte {
	b := make([]byte, 4, 4+len(value))
	binary.BigEndian.PutUint32(b, valueSum(key, value))
	return append(b, value...)
}

// openValue checks a stored value and returns its bytes (aliasing stored).
func openValue(key, stored []byte) ([]byte, error) {
	if len(stored) < 4 || binary.BigEndian.Uint32(stored) != valueSum(key, stored[4:]) {
		return nil, fmt.Errorf("%w: the stored value of key %q fails its checksum", host.ErrStateCorrupt, key)
	}
	return stored[4:], nil
}

// HashState implements host.Hasher: it captures the state as of the last
// Apply (a read transaction) and returns a function that hashes it —
// values and request IDs, not the applied index, which replicas record
// differently — checking every value's checksum on the way.
func (m *Machine) HashState() (func() (uint64, error), error) {
	m.mu.RLock()
	defer m.mu.RUnlock()
	tx, err := m.db.Begin(false)
	if err != nil {
		return nil, err
	}
	return func() (uint64, error) {
		defer tx.Rollback()
		h := fnv.New64a()
		var lb [binary.MaxVarintLen64]byte
		put := func(b []byte) {
			h.Write(lb[:binary.PutUvarint(lb[:], uint64(len(b)))])
			h.Write(b)
		}
		for _, name := range [][]byte{bucketKV, bucketReq, bucketReqLog} {
			put(name)
			err := tx.Bucket(name).ForEach(func(k, v []byte) error {
				if string(name) != string(bucketReqLog) {
					if _, err := openValue(k, v); err != nil {
						return err
					}
				}
				put(k)
				put(v)
				return nil
			})
			if err != nil {
				return 0, err
			}
		}
		return h.Sum64(), nil
	}, nil
}

// checkFormat records the format in a new store and refuses a store of
// an older format, whose values have no checksums.
func checkFormat(tx *bolt.Tx) error {
	meta := tx.Bucket(bucketMeta)
	if v := meta.Get(keyFormat); v != nil {
		if len(v) != 1 || v[0] != formatVersion {
			return fmt.Errorf("kv: store format %v, want %d", v, formatVersion)
		}
		return nil
	}
	if k, _ := tx.Bucket(bucketKV).Cursor().First(); k != nil {
		return fmt.Errorf("kv: the store predates value checksums (format 1); rebuild it: move kv.db aside and restart")
	}
	return meta.Put(keyFormat, []byte{formatVersion})
}
