package main

// End-to-end tests of corruption at rest (issue 19): bytes flipped in a
// member's kv.db, its snapshot files and its WAL, and a store that
// silently diverged. Whatever happens, no read ever returns a value that
// was never written.

import (
	"bufio"
	"bytes"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	bolt "go.etcd.io/bbolt"
)

// value is the value written under key k: long and distinctive, so the
// tests can find its bytes in a file.
func value(k string) string { return "value-of-" + k + "-0123456789abcdef" }

// writeKeys writes keys name-0..n-1 through p.
func writeKeys(t *testing.T, p *proc, name string, n int) {
	t.Helper()
	for i := range n {
		k := fmt.Sprintf("%s-%d", name, i)
		retryPut(t, p, k, value(k))
	}
}

// readWatch reads keys name-0..n-1 from p at every consistency level in
// a loop until stopped, and fails the test if any read returns 200 with
// a value other than the one written. It returns a stop function that
// reports how many reads answered 200.
func readWatch(t *testing.T, p *proc, name string, n int) (stopAndCount func() int, answered func() int) {
	var stop atomic.Bool
	var ok atomic.Int64
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		for i := 0; !stop.Load(); i++ {
			k := fmt.Sprintf("%s-%d", name, i%n)
			cons := []string{"stale", "lease", "linearizable"}[i%3]
			got, code, err := getValue(p, k, cons)
			if err == nil && code == 200 {
				ok.Add(1)
				if got != value(k) {
					t.Errorf("node %d %s read of %s returned %q, want %q", p.id, cons, k, got, value(k))
				}
			}
			if err == nil && code == 404 {
				t.Errorf("node %d %s read of %s: 404 for a key that was written", p.id, cons, k)
			}
			time.Sleep(2 * time.Millisecond)
		}
	}()
	return func() int {
			stop.Store(true)
			wg.Wait()
			return int(ok.Load())
		}, func() int {
			return int(ok.Load())
		}
}

// awaitAnswers waits, up to ten seconds, until the watcher has had a read
// answered: the member serves reads again. A single read can take a
// moment after a restart, longer than the test's own checks.
func awaitAnswers(t *testing.T, answered func() int) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for answered() == 0 && time.Now().Before(deadline) {
		time.Sleep(20 * time.Millisecond)
	}
}

// flipAll flips a bit in the middle of every copy of needle in the file
// at path and returns how many it found.
func flipAll(t *testing.T, path string, needle []byte) int {
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

// waitAlarm waits for p to report a corruption alarm in /cluster/status,
// /metrics and its log.
func waitAlarm(t *testing.T, p *proc) {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for {
		r, err := do("GET", urlOf(p.api)+"/cluster/status", nil, nil)
		if err == nil && strings.Contains(string(r.body), `"alarm"`) {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("node %d raised no alarm: %v %s", p.id, err, r.body)
		}
		time.Sleep(50 * time.Millisecond)
	}
	if v := metric(t, p, "raftkv_corruption_alarm"); v != 1 {
		t.Fatalf("raftkv_corruption_alarm = %v", v)
	}
	b, _ := os.ReadFile(p.logPath)
	if !strings.Contains(string(b), "CORRUPTION ALARM") {
		t.Fatal("the alarm is not in the log")
	}
}

func followerOf(c *testCluster, lead *proc) *proc {
	for _, p := range c.live() {
		if p != lead {
			return p
		}
	}
	return nil
}

// Issue 19, second finding: one byte flipped inside a value in a
// follower's kv.db was served to stale and linearizable reads. Now the
// value's checksum fails: the read is refused, the member raises the
// alarm (its start-up check hashes every value) and serves no reads at
// all until it is rebuilt; the rest of the cluster serves the right
// value.
func TestFlippedValueInStoreNeverServed(t *testing.T) {
	c := newTestCluster(t, 3, "--corrupt-check-interval", "0")
	lead := c.leader()
	writeKeys(t, lead, "v", 20)
	f := followerOf(c, lead)
	waitValue(t, f, "v-19", value("v-19"), "stale")
	c.stop(f.id)
	if n := flipAll(t, filepath.Join(groupDir(f.dir), "kv.db"), []byte(value("v-7"))); n == 0 {
		t.Fatal("value not found in kv.db")
	}
	c.start(f.id)
	stop, _ := readWatch(t, f, "v", 20)
	waitAlarm(t, f)
	for _, cons := range []string{"stale", "lease", "linearizable"} {
		if _, code, err := getValue(f, "v-3", cons); err != nil || code != 503 {
			t.Fatalf("%s read on the alarmed member: %d %v, want 503", cons, code, err)
		}
	}
	mustDo(t, "PUT", urlOf(f.api)+"/kv/w", []byte("x"), 503)
	stop()
	waitValue(t, lead, "v-7", value("v-7"), "linearizable")
	// The alarm survives a restart.
	c.stop(f.id)
	c.start(f.id)
	waitAlarm(t, f)
	// The way out: replace the member, rebuilt from the others.
	p4 := replaceMember(t, c, f.id, 4, lead)
	for i := range 20 {
		k := fmt.Sprintf("v-%d", i)
		waitValue(t, p4, k, value(k), "linearizable")
	}
	if v := metric(t, p4, "raftkv_corruption_alarm"); v != 0 {
		t.Fatalf("the new member has the alarm: %v", v)
	}
}

// A store that silently diverged — a key lost, with no checksum to fail
// — is caught by comparing state hashes with the other replicas at
// start-up: the member raises the alarm and never answers for the lost
// key.
func TestDivergedStoreRaisesAlarm(t *testing.T) { testDivergedStoreRaisesAlarm(t) }

// testDivergedStoreRaisesAlarm runs the test on a cluster started with
// extra flags (TLS: TestDivergedStoreRaisesAlarmTLS).
func testDivergedStoreRaisesAlarm(t *testing.T, extra ...string) {
	c := newTestCluster(t, 3, append([]string{"--corrupt-check-interval", "0"}, extra...)...)
	lead := c.leader()
	writeKeys(t, lead, "d", 20)
	f := followerOf(c, lead)
	waitValue(t, f, "d-19", value("d-19"), "stale")
	c.stop(f.id)
	db, err := bolt.Open(filepath.Join(groupDir(f.dir), "kv.db"), 0o644, nil)
	if err != nil {
		t.Fatal(err)
	}
	err = db.Update(func(tx *bolt.Tx) error { return tx.Bucket([]byte("kv")).Delete([]byte("d-5")) })
	if cerr := db.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		t.Fatal(err)
	}
	c.start(f.id)
	stop, _ := readWatch(t, f, "d", 20)
	waitAlarm(t, f)
	if n := stop(); n != 0 {
		t.Fatalf("the diverged member answered %d reads before its check", n)
	}
	if v := metric(t, f, `raftkv_state_checks_total{result="mismatch"}`); v < 1 {
		t.Fatalf("mismatch checks: %v", v)
	}
	// The healthy members noticed too, and kept serving. The leader
	// compares the diverged member's hash when that arrives, which may be
	// after the member raised its own alarm.
	waitMetricAtLeast(t, lead, `raftkv_state_checks_total{result="peer_mismatch"}`, 1)
	// A periodic check on demand agrees among the healthy members.
	mustDo(t, "POST", urlOf(lead.api)+"/cluster/check", nil, 200)
	waitValue(t, lead, "d-5", value("d-5"), "linearizable")
}

// Snapshot files are verified at start-up: a flipped byte in a follower's
// latest snapshot is found, the file put aside and replaced by a new
// snapshot. If the machine needed that file to rebuild (kv.db lost too),
// the member refuses to start and says why.
func TestCorruptSnapshotDetectedAtStart(t *testing.T) {
	c := newTestCluster(t, 3, "--snapshot-entries", "50", "--snapshot-retain", "10", "--corrupt-check-interval", "0")
	lead := c.leader()
	writeKeys(t, lead, "s", 120)
	f := followerOf(c, lead)
	waitValue(t, f, "s-119", value("s-119"), "stale")
	var snaps []string
	deadline := time.Now().Add(15 * time.Second)
	for len(snaps) == 0 {
		snaps, _ = filepath.Glob(filepath.Join(groupDir(f.dir), "snap", "*.snap"))
		if time.Now().After(deadline) {
			t.Fatal("the follower took no snapshot")
		}
		time.Sleep(20 * time.Millisecond)
	}
	c.stop(f.id)
	snaps, _ = filepath.Glob(filepath.Join(groupDir(f.dir), "snap", "*.snap"))
	slices.Sort(snaps)
	latest := snaps[len(snaps)-1]
	b, err := os.ReadFile(latest)
	if err != nil {
		t.Fatal(err)
	}
	b[len(b)/2] ^= 0x10
	if err := os.WriteFile(latest, b, 0o644); err != nil {
		t.Fatal(err)
	}
	c.start(f.id)
	stop, answered := readWatch(t, f, "s", 120)
	deadline = time.Now().Add(15 * time.Second)
	for {
		if _, err := os.Stat(latest + ".corrupt"); err == nil {
			now, _ := filepath.Glob(filepath.Join(groupDir(f.dir), "snap", "*.snap"))
			slices.Sort(now)
			if len(now) > 0 && now[len(now)-1] >= latest {
				latest = now[len(now)-1]
				break // put aside and replaced by a snapshot at least as new
			}
		}
		if time.Now().After(deadline) {
			t.Fatal("the corrupt snapshot file was not put aside and replaced")
		}
		time.Sleep(20 * time.Millisecond)
	}
	if v := metric(t, f, "raftkv_snapshot_files_corrupt_total"); v != 1 {
		t.Fatalf("raftkv_snapshot_files_corrupt_total = %v", v)
	}
	waitValue(t, f, "s-0", value("s-0"), "linearizable")
	awaitAnswers(t, answered)
	if stop() == 0 {
		t.Fatal("the member answered no reads")
	}
	// Now lose the store too: the member needs the snapshot to rebuild.
	c.stop(f.id)
	b, _ = os.ReadFile(latest)
	b[len(b)/2] ^= 0x10
	os.WriteFile(latest, b, 0o644)
	os.Remove(filepath.Join(groupDir(f.dir), "kv.db"))
	code, out := c.runToExit(f.id)
	if code == 0 || !strings.Contains(out, "cannot recover locally") {
		t.Fatalf("start without a store and with a corrupt snapshot: exit %d, log:\n%s", code, out)
	}
}

// Bytes flipped inside a record of a follower's WAL: the record fails its
// checksum, the log is cut there and repaired from the leader; no read
// returns a wrong value on the way.
func TestFlippedWALRecordNeverServed(t *testing.T) {
	c := newTestCluster(t, 3, "--corrupt-check-interval", "0")
	lead := c.leader()
	writeKeys(t, lead, "w", 40)
	f := followerOf(c, lead)
	waitValue(t, f, "w-39", value("w-39"), "stale")
	c.stop(f.id)
	segs, _ := filepath.Glob(filepath.Join(f.dir, "wal", "*.wal"))
	n := 0
	for _, seg := range segs {
		n += flipAll(t, seg, []byte(value("w-20")))
	}
	if n == 0 {
		t.Fatal("value not found in the WAL")
	}
	c.start(f.id)
	stop, answered := readWatch(t, f, "w", 40)
	writeKeys(t, lead, "x", 5)
	waitValue(t, f, "x-4", value("x-4"), "linearizable")
	if v := metric(t, f, "raftkv_wal_torn_bytes_total"); v == 0 {
		t.Fatal("the flipped record was not detected")
	}
	awaitAnswers(t, answered)
	if stop() == 0 {
		t.Fatal("the member answered no reads")
	}
	for i := range 40 {
		k := fmt.Sprintf("w-%d", i)
		waitValue(t, f, k, value(k), "linearizable")
	}
}

// The periodic check catches rot on a running member: bytes of a value
// flipped in a follower's kv.db while it runs (bbolt reads its file
// through the page cache) fail the value's checksum when the next
// periodic check hashes the store; the member raises the alarm without a
// restart.
func TestPeriodicCheckCatchesRot(t *testing.T) {
	c := newTestCluster(t, 3, "--corrupt-check-interval", "300ms")
	lead := c.leader()
	writeKeys(t, lead, "p", 10)
	f := followerOf(c, lead)
	waitValue(t, f, "p-9", value("p-9"), "stale")
	path := filepath.Join(groupDir(f.dir), "kv.db")
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	needle := []byte(value("p-4"))
	file, err := os.OpenFile(path, os.O_WRONLY, 0)
	if err != nil {
		t.Fatal(err)
	}
	n := 0
	for off := bytes.Index(b, needle); off >= 0; {
		i := off + len(needle)/2
		if _, err := file.WriteAt([]byte{b[i] ^ 0x01}, int64(i)); err != nil {
			t.Fatal(err)
		}
		n++
		next := bytes.Index(b[off+1:], needle)
		if next < 0 {
			break
		}
		off += 1 + next
	}
	file.Close()
	if n == 0 {
		t.Fatal("value not found in kv.db")
	}
	// No read touches the value: only the periodic check can find it.
	waitAlarm(t, f)
	stop, _ := readWatch(t, f, "p", 10)
	if got := stop(); got != 0 {
		t.Fatalf("the alarmed member answered %d reads", got)
	}
	waitValue(t, lead, "p-4", value("p-4"), "linearizable")
}

// waitMetricAtLeast polls p's /metrics until the counter name (a line
// prefix, labels included) reaches min; a counter not yet incremented has
// no line at all.
func waitMetricAtLeast(t *testing.T, p *proc, name string, min float64) {
	t.Helper()
	var last string
	for deadline := time.Now().Add(10 * time.Second); time.Now().Before(deadline); time.Sleep(20 * time.Millisecond) {
		r, err := do("GET", urlOf(p.api)+"/metrics", nil, nil)
		if err != nil {
			last = err.Error()
			continue
		}
		sc := bufio.NewScanner(bytes.NewReader(r.body))
		for sc.Scan() {
			line := sc.Text()
			if strings.HasPrefix(line, name+" ") {
				v, _ := strconv.ParseFloat(line[strings.LastIndexByte(line, ' ')+1:], 64)
				if v >= min {
					return
				}
				last = line
			}
		}
	}
	t.Fatalf("node %d: %s never reached %v (last: %q)", p.id, name, min, last)
}
