package host

import (
	"bufio"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"hash"
	"hash/crc32"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
)

// Snapshot files.
//
// A snapshot file holds a machine's state as of an index, and the host's
// address book (which belongs to the replicated state: it is changed by log
// entries). Layout:
//
//	magic       8 bytes "RKVSNAP1"
//	index       uint64, big endian
//	peersLen    uint32, big endian; then peersLen bytes of JSON address book
//	data        the machine's Snapshot.WriteTo output
//	dataLen     uint64, big endian
//	checksum    uint32, big endian: CRC-32C of every byte before it
//
// Files are written to a temporary name, fsynced and renamed, so a file
// with the final name is complete. The same bytes travel to followers and
// are checked against the checksum before they are used.

const snapMagic = "RKVSNAP1"

var errBadSnapshot = errors.New("snapshot file: corrupt")

type snapStore struct{ dir string }

func (s *snapStore) path(index uint64) string {
	return filepath.Join(s.dir, fmt.Sprintf("%016x.snap", index))
}

func (s *snapStore) partPath(index uint64) string {
	return filepath.Join(s.dir, fmt.Sprintf("%016x.snap.part", index))
}

type crcWriter struct {
	w   io.Writer
	crc hash.Hash32
	n   int64
}

func (c *crcWriter) Write(p []byte) (int, error) {
	n, err := c.w.Write(p)
	c.crc.Write(p[:n])
	c.n += int64(n)
	return n, err
}

// write stores a snapshot of the machine at index with the address book.
func (s *snapStore) write(index uint64, peers Peers, snap Snapshot) (int64, error) {
	if err := os.MkdirAll(s.dir, 0o755); err != nil {
		return 0, err
	}
	final := s.path(index)
	tmp := final + ".tmp"
	f, err := os.Create(tmp)
	if err != nil {
		return 0, err
	}
	defer func() {
		f.Close()
		os.Remove(tmp)
	}()
	bw := bufio.NewWriterSize(f, 1<<20)
	cw := &crcWriter{w: bw, crc: crc32.New(crcTable)}
	pj, err := json.Marshal(peers)
	if err != nil {
		return 0, err
	}
	hdr := make([]byte, 0, 20+len(pj))
	hdr = append(hdr, snapMagic...)
	hdr = binary.BigEndian.AppendUint64(hdr, index)
	hdr = binary.BigEndian.AppendUint32(hdr, uint32(len(pj)))
	hdr = append(hdr, pj...)
	if _, err := cw.Write(hdr); err != nil {
		return 0, err
	}
	start := cw.n
	if snap != nil {
		if _, err := snap.WriteTo(cw); err != nil {
			return 0, err
		}
	}
	trailer := binary.BigEndian.AppendUint64(nil, uint64(cw.n-start))
	if _, err := cw.Write(trailer); err != nil {
		return 0, err
	}
	if _, err := bw.Write(binary.BigEndian.AppendUint32(nil, cw.crc.Sum32())); err != nil {
		return 0, err
	}
	if err := bw.Flush(); err != nil {
		return 0, err
	}
	if err := f.Sync(); err != nil {
		return 0, err
	}
	if err := os.Rename(tmp, final); err != nil {
		return 0, err
	}
	return cw.n + 4, syncDir(s.dir)
}

// verify checks a complete snapshot file's checksum and returns its index.
func verifySnapshotFile(path string) (uint64, error) {
	f, err := os.Open(path)
	if err != nil {
		return 0, err
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		return 0, err
	}
	size := fi.Size()
	if size < 8+8+4+8+4 {
		return 0, fmt.Errorf("%w: %s is %d bytes", errBadSnapshot, path, size)
	}
	h := crc32.New(crcTable)
	if _, err := io.CopyN(h, bufio.NewReaderSize(f, 1<<20), size-4); err != nil {
		return 0, err
	}
	var tail [4]byte
	if _, err := f.ReadAt(tail[:], size-4); err != nil {
		return 0, err
	}
	if binary.BigEndian.Uint32(tail[:]) != h.Sum32() {
		return 0, fmt.Errorf("%w: %s: checksum mismatch", errBadSnapshot, path)
	}
	var hdr [16]byte
	if _, err := f.ReadAt(hdr[:], 0); err != nil {
		return 0, err
	}
	if string(hdr[:8]) != snapMagic {
		return 0, fmt.Errorf("%w: %s: bad magic", errBadSnapshot, path)
	}
	return binary.BigEndian.Uint64(hdr[8:]), nil
}

// snapReader reads a stored snapshot: its address book and machine data.
type snapReader struct {
	f     *os.File
	Index uint64
	Peers Peers
	Data  io.Reader
}

func (r *snapReader) Close() error { return r.f.Close() }

// open opens the snapshot at index, checking its checksum first.
func (s *snapStore) open(index uint64) (*snapReader, error) {
	path := s.path(index)
	if _, err := verifySnapshotFile(path); err != nil {
		return nil, err
	}
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	fi, err := f.Stat()
	if err != nil {
		f.Close()
		return nil, err
	}
	var hdr [20]byte
	if _, err := io.ReadFull(f, hdr[:]); err != nil {
		f.Close()
		return nil, err
	}
	pl := int64(binary.BigEndian.Uint32(hdr[16:]))
	if pl > fi.Size() {
		f.Close()
		return nil, fmt.Errorf("%w: address book of %d bytes", errBadSnapshot, pl)
	}
	pj := make([]byte, pl)
	if _, err := io.ReadFull(f, pj); err != nil {
		f.Close()
		return nil, err
	}
	peers := Peers{}
	if err := json.Unmarshal(pj, &peers); err != nil {
		f.Close()
		return nil, fmt.Errorf("%w: address book: %v", errBadSnapshot, err)
	}
	var trailer [8]byte
	if _, err := f.ReadAt(trailer[:], fi.Size()-12); err != nil {
		f.Close()
		return nil, err
	}
	dataLen := int64(binary.BigEndian.Uint64(trailer[:]))
	if dataLen != fi.Size()-12-20-pl {
		f.Close()
		return nil, fmt.Errorf("%w: data length %d does not match the file", errBadSnapshot, dataLen)
	}
	return &snapReader{
		f:     f,
		Index: binary.BigEndian.Uint64(hdr[8:]),
		Peers: peers,
		Data:  bufio.NewReaderSize(io.LimitReader(f, dataLen), 1<<20),
	}, nil
}

// list returns the indexes of the complete snapshot files, ascending.
func (s *snapStore) list() []uint64 {
	names, _ := filepath.Glob(filepath.Join(s.dir, "*.snap"))
	var out []uint64
	for _, n := range names {
		i, err := strconv.ParseUint(strings.TrimSuffix(filepath.Base(n), ".snap"), 16, 64)
		if err == nil {
			out = append(out, i)
		}
	}
	slices.Sort(out)
	return out
}

// prune removes snapshot files and partial receipts older than keep.
func (s *snapStore) prune(keep uint64) {
	for _, i := range s.list() {
		if i < keep {
			os.Remove(s.path(i))
		}
	}
	parts, _ := filepath.Glob(filepath.Join(s.dir, "*.snap.part"))
	for _, p := range parts {
		i, err := strconv.ParseUint(strings.TrimSuffix(filepath.Base(p), ".snap.part"), 16, 64)
		if err == nil && i <= keep {
			os.Remove(p)
		}
	}
}
