// Package kv is a replicated key-value store: a bbolt-backed host.Machine
// and its HTTP/JSON API.
package kv

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"os"
	"sync"

	"github.com/pureraft/raft/host"
	bolt "go.etcd.io/bbolt"
)

// Buckets of the bbolt file.
var (
	bucketKV     = []byte("kv")
	bucketMeta   = []byte("meta")
	bucketReq    = []byte("req")    // request ID -> result, for retried writes
	bucketReqLog = []byte("reqlog") // index -> request ID, to forget old IDs
	keyApplied   = []byte("applied")
)

// DedupWindow is how many log entries a request ID is remembered for: a
// write retried with the same ID within that many entries applies once.
const DedupWindow = 1 << 17

// Machine is the key-value store, a host.Machine on a bbolt file.
//
// bbolt runs with NoSync: a commit reaches the kernel but is not fsynced.
// The raft log is the durable record; the host rebuilds the machine from
// the last snapshot and the log after a crash of the kernel (see
// host.checkBoot), the only case that can lose what bbolt wrote. A crashed
// process loses nothing.
type Machine struct {
	path string
	mu   sync.RWMutex // guards db against Restore
	db   *bolt.DB
}

// OpenMachine opens (creating) the store at path.
func OpenMachine(path string) (*Machine, error) {
	m := &Machine{path: path}
	if err := m.open(); err != nil {
		return nil, err
	}
	return m, nil
}

func (m *Machine) open() error {
	db, err := bolt.Open(m.path, 0o644, &bolt.Options{
		NoSync:          true,
		NoFreelistSync:  true,
		FreelistType:    bolt.FreelistMapType,
		InitialMmapSize: 1 << 30, // a snapshot's read transaction never blocks a remap
	})
	if err != nil {
		return err
	}
	err = db.Update(func(tx *bolt.Tx) error {
		for _, b := range [][]byte{bucketKV, bucketMeta, bucketReq, bucketReqLog} {
			if _, err := tx.CreateBucketIfNotExists(b); err != nil {
				return err
			}
		}
		return checkFormat(tx)
	})
	if err != nil {
		db.Close()
		return err
	}
	m.db = db
	return nil
}

// Applied implements host.Machine.
func (m *Machine) Applied() (uint64, error) {
	m.mu.RLock()
	defer m.mu.RUnlock()
	var idx uint64
	err := m.db.View(func(tx *bolt.Tx) error {
		if v := tx.Bucket(bucketMeta).Get(keyApplied); len(v) == 8 {
			idx = binary.BigEndian.Uint64(v)
		}
		return nil
	})
	return idx, err
}

// Apply implements host.Machine: one bbolt transaction per batch.
func (m *Machine) Apply(cmds []host.Command) error {
	m.mu.RLock()
	defer m.mu.RUnlock()
	return m.db.Update(func(tx *bolt.Tx) error {
		kv, req, reqLog := tx.Bucket(bucketKV), tx.Bucket(bucketReq), tx.Bucket(bucketReqLog)
		for i := range cmds {
			c := &cmds[i]
			// Forget request IDs older than the window before looking
			// one up, by this command's own index: which IDs a command
			// sees depends only on its place in the log, never on how
			// commands were grouped into Apply calls (that differs between
			// replicas and across restarts), so every replica decides the
			// same.
			if err := forget(req, reqLog, c.Index); err != nil {
				return err
			}
			op, err := DecodeOp(c.Data)
			if err != nil {
				c.Result = EncodeResult(Result{Status: StatusBadCommand, Index: c.Index, Err: err.Error()})
				continue
			}
			if len(op.RequestID) > 0 {
				if stored := req.Get(op.RequestID); stored != nil {
					r, err := openValue(op.RequestID, stored)
					if err != nil {
						return err
					}
					c.Result = bytes.Clone(r) // a retry: answer as the first time
					continue
				}
			}
			res := Result{Status: StatusOK, Index: c.Index}
			switch op.Type {
			case OpPut:
				res.Found = kv.Get(op.Key) != nil
				err = kv.Put(op.Key, sealValue(op.Key, op.Value))
			case OpDelete:
				res.Found = kv.Get(op.Key) != nil
				err = kv.Delete(op.Key)
			case OpCAS:
				stored := kv.Get(op.Key)
				var cur []byte
				if stored != nil {
					// A replica must not decide a compare on a corrupt
					// value: the error stops it (Machine.Apply).
					if cur, err = openValue(op.Key, stored); err != nil {
						return err
					}
				}
				ok := (op.ExpectAbsent && stored == nil) || (op.HasPrev && stored != nil && bytes.Equal(cur, op.Prev))
				res.Found = stored != nil
				if !ok {
					res.Status = StatusPrecondition
					res.Value = bytes.Clone(cur)
					break
				}
				if op.Delete {
					err = kv.Delete(op.Key)
				} else {
					err = kv.Put(op.Key, sealValue(op.Key, op.Value))
				}
			}
			if err != nil {
				return err
			}
			c.Result = EncodeResult(res)
			if len(op.RequestID) > 0 {
				if err := req.Put(op.RequestID, sealValue(op.RequestID, c.Result)); err != nil {
					return err
				}
				if err := reqLog.Put(binary.BigEndian.AppendUint64(nil, c.Index), op.RequestID); err != nil {
					return err
				}
			}
		}
		if len(cmds) == 0 {
			return nil
		}
		last := cmds[len(cmds)-1].Index
		return tx.Bucket(bucketMeta).Put(keyApplied, binary.BigEndian.AppendUint64(nil, last))
	})
}

// forget deletes the request IDs recorded before index-DedupWindow.
func forget(req, reqLog *bolt.Bucket, index uint64) error {
	if index <= DedupWindow {
		return nil
	}
	limit := binary.BigEndian.AppendUint64(nil, index-DedupWindow)
	cur := reqLog.Cursor()
	for k, v := cur.First(); k != nil && bytes.Compare(k, limit) < 0; k, v = cur.First() {
		if err := req.Delete(v); err != nil {
			return err
		}
		if err := cur.Delete(); err != nil {
			return err
		}
	}
	return nil
}

// Query implements host.Machine.
func (m *Machine) Query(q []byte) ([]byte, error) {
	query, err := DecodeQuery(q)
	if err != nil {
		return nil, err
	}
	m.mu.RLock()
	defer m.mu.RUnlock()
	var out []byte
	err = m.db.View(func(tx *bolt.Tx) error {
		kv := tx.Bucket(bucketKV)
		switch query.Type {
		case QueryGet:
			v := kv.Get(query.Key)
			if v == nil {
				out = encodeGet(false, nil)
				return nil
			}
			v, err := openValue(query.Key, v)
			if err != nil {
				return err
			}
			out = encodeGet(true, v)
		case QueryList:
			var items []Item
			more := false
			c := kv.Cursor()
			for k, v := c.Seek(query.Key); k != nil && bytes.HasPrefix(k, query.Key); k, v = c.Next() {
				if len(items) == query.Limit {
					more = true
					break
				}
				v, err := openValue(k, v)
				if err != nil {
					return err
				}
				items = append(items, Item{Key: string(k), Value: string(v)})
			}
			out = encodeList(items, more)
		}
		return nil
	})
	return out, err
}

type boltSnapshot struct{ tx *bolt.Tx }

func (s *boltSnapshot) WriteTo(w io.Writer) (int64, error) { return s.tx.WriteTo(w) }
func (s *boltSnapshot) Release()                           { s.tx.Rollback() }

// Snapshot implements host.Machine: a read transaction, written out with
// tx.WriteTo as a consistent copy of the whole bbolt file.
func (m *Machine) Snapshot() (host.Snapshot, error) {
	m.mu.RLock()
	defer m.mu.RUnlock()
	tx, err := m.db.Begin(false)
	if err != nil {
		return nil, err
	}
	return &boltSnapshot{tx: tx}, nil
}

// Restore implements host.Machine: the snapshot data is a bbolt file.
func (m *Machine) Restore(r io.Reader, index uint64) error {
	tmp := m.path + ".restore"
	if r != nil {
		f, err := os.Create(tmp)
		if err != nil {
			return err
		}
		if _, err := io.Copy(f, r); err != nil {
			f.Close()
			return err
		}
		if err := f.Sync(); err != nil {
			f.Close()
			return err
		}
		if err := f.Close(); err != nil {
			return err
		}
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	if err := m.db.Close(); err != nil {
		return err
	}
	if r == nil {
		if err := os.Remove(m.path); err != nil && !errors.Is(err, os.ErrNotExist) {
			return err
		}
	} else if err := os.Rename(tmp, m.path); err != nil {
		return err
	}
	if err := m.open(); err != nil {
		return err
	}
	var got uint64
	m.db.View(func(tx *bolt.Tx) error {
		if v := tx.Bucket(bucketMeta).Get(keyApplied); len(v) == 8 {
			got = binary.BigEndian.Uint64(v)
		}
		return nil
	})
	if r == nil {
		return nil
	}
	if got > index {
		return fmt.Errorf("kv: restored snapshot holds index %d, beyond %d", got, index)
	}
	// The snapshot covers the log up to index (entries after the last
	// command it holds were no-ops or configuration): record that.
	return m.db.Update(func(tx *bolt.Tx) error {
		return tx.Bucket(bucketMeta).Put(keyApplied, binary.BigEndian.AppendUint64(nil, index))
	})
}

// Close implements host.Machine.
func (m *Machine) Close() error {
	m.mu.Lock()
	defer m.mu.Unlock()
	return errors.Join(m.db.Sync(), m.db.Close())
}
