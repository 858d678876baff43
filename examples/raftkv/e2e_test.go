package main

// End-to-end tests: real server processes on loopback ports, driven over
// HTTP. The binary is built once in TestMain. Conditions are awaited by
// polling with a deadline (these are real networked servers, not the
// deterministic simulation); every wait and every client loop is bounded.

import (
	"bufio"
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"math/rand/v2"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

var binary string

func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "raftkv-e2e-")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	binary = filepath.Join(dir, "raftkv")
	out, err := exec.Command("go", "build", "-o", binary, ".").CombinedOutput()
	if err != nil {
		fmt.Fprintf(os.Stderr, "building raftkv: %v\n%s", err, out)
		os.Exit(1)
	}
	code := m.Run()
	os.RemoveAll(dir)
	os.Exit(code)
}

type proc struct {
	id        int
	raft, api string
	dir       string
	logPath   string
	cmd       *exec.Cmd
	done      chan struct{}
	// Listeners opened by the test and handed to the process (so no other
	// program can take the port between choosing it and binding it).
	raftLn, apiLn *net.TCPListener
}

type testCluster struct {
	t     *testing.T
	dir   string
	procs map[int]*proc
	peers string
	extra []string
}

// listenTCP listens on addr, retrying briefly: a killed node's port may
// take a moment to be released.
func listenTCP(t *testing.T, addr string) *net.TCPListener {
	t.Helper()
	var err error
	for range 100 {
		var ln net.Listener
		if ln, err = net.Listen("tcp", addr); err == nil {
			return ln.(*net.TCPListener)
		}
		time.Sleep(20 * time.Millisecond)
	}
	t.Fatalf("listen %s: %v", addr, err)
	return nil
}

// newProc opens a node's two listeners on fresh loopback ports.
func newProc(t *testing.T, dir string, id int) *proc {
	p := &proc{id: id, raftLn: listenTCP(t, "127.0.0.1:0"), apiLn: listenTCP(t, "127.0.0.1:0")}
	p.raft, p.api = p.raftLn.Addr().String(), p.apiLn.Addr().String()
	p.dir = filepath.Join(dir, strconv.Itoa(id))
	p.logPath = filepath.Join(dir, fmt.Sprintf("node%d.log", id))
	return p
}

// newTestCluster starts n nodes with IDs 1..n.
func newTestCluster(t *testing.T, n int, extra ...string) *testCluster {
	c := &testCluster{t: t, dir: t.TempDir(), procs: map[int]*proc{}, extra: extra}
	var parts []string
	for i := 1; i <= n; i++ {
		p := newProc(t, c.dir, i)
		c.procs[i] = p
		parts = append(parts, fmt.Sprintf("%d=%s/%s", i, p.raft, p.api))
	}
	c.peers = strings.Join(parts, ",")
	t.Cleanup(func() {
		for _, p := range c.procs {
			c.kill(p.id)
		}
		if t.Failed() {
			for _, p := range c.procs {
				b, _ := os.ReadFile(p.logPath)
				lines := strings.Split(string(b), "\n")
				t.Logf("---- node %d log (last 40 lines) ----\n%s", p.id, strings.Join(lines[max(0, len(lines)-40):], "\n"))
			}
		}
	})
	for i := 1; i <= n; i++ {
		c.start(i, "--initial-cluster-state", "new")
	}
	return c
}

func (c *testCluster) start(id int, args ...string) {
	c.t.Helper()
	p := c.procs[id]
	logf, err := os.OpenFile(p.logPath, os.O_CREATE|os.O_APPEND|os.O_WRONLY, 0o644)
	if err != nil {
		c.t.Fatal(err)
	}
	if p.raftLn == nil { // a restart: listen on the same ports again
		p.raftLn, p.apiLn = listenTCP(c.t, p.raft), listenTCP(c.t, p.api)
	}
	rf, err1 := p.raftLn.File()
	hf, err2 := p.apiLn.File()
	if err1 != nil || err2 != nil {
		c.t.Fatal(err1, err2)
	}
	full := append([]string{"--id", strconv.Itoa(id), "--listen", p.raft, "--http", p.api, "--peers", c.peers,
		"--raft-fd", "3", "--http-fd", "4", "--data", p.dir, "--tick", "10ms", "--election-ticks", "20"}, c.extra...)
	full = append(full, args...)
	cmd := exec.Command(binary, full...)
	cmd.Stdout, cmd.Stderr = logf, logf
	cmd.ExtraFiles = []*os.File{rf, hf} // fds 3 and 4 in the child
	err = cmd.Start()
	// The child has its copies; the test's would keep the ports open
	// after the node dies.
	rf.Close()
	hf.Close()
	p.raftLn.Close()
	p.apiLn.Close()
	p.raftLn, p.apiLn = nil, nil
	if err != nil {
		c.t.Fatal(err)
	}
	p.cmd, p.done = cmd, make(chan struct{})
	go func() {
		cmd.Wait()
		logf.Close()
		close(p.done)
	}()
	// Wait for the HTTP port.
	deadline := time.Now().Add(10 * time.Second)
	for {
		if conn, err := net.DialTimeout("tcp", p.api, 100*time.Millisecond); err == nil {
			conn.Close()
			return
		}
		if time.Now().After(deadline) {
			c.t.Fatalf("node %d did not start listening", id)
		}
		select {
		case <-p.done:
			c.t.Fatalf("node %d exited at start-up", id)
		case <-time.After(20 * time.Millisecond):
		}
	}
}

// addNode registers a node that is not part of the initial cluster.
func (c *testCluster) addNode(id int) *proc {
	p := newProc(c.t, c.dir, id)
	c.procs[id] = p
	c.peers += fmt.Sprintf(",%d=%s/%s", id, p.raft, p.api)
	return p
}

// kill sends SIGKILL: no graceful anything.
func (c *testCluster) kill(id int) {
	p := c.procs[id]
	if p.raftLn != nil { // never started
		p.raftLn.Close()
		p.apiLn.Close()
		p.raftLn, p.apiLn = nil, nil
	}
	if p.cmd == nil {
		return
	}
	p.cmd.Process.Kill()
	<-p.done
	p.cmd = nil
}

// stop sends SIGTERM and waits for a graceful exit.
func (c *testCluster) stop(id int) {
	p := c.procs[id]
	if p.cmd == nil {
		return
	}
	p.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-p.done:
	case <-time.After(15 * time.Second):
		c.t.Errorf("node %d did not stop within 15s of SIGTERM", id)
		c.kill(id)
	}
	p.cmd = nil
}

func (c *testCluster) live() []*proc {
	var out []*proc
	for _, p := range c.procs {
		if p.cmd != nil {
			out = append(out, p)
		}
	}
	slices.SortFunc(out, func(a, b *proc) int { return a.id - b.id })
	return out
}

// client and scheme reach the nodes' APIs; TLS tests swap them (withTLS).
var (
	client = &http.Client{Timeout: 10 * time.Second}
	scheme = "http"
)

func urlOf(addr string) string { return scheme + "://" + addr }

type statusDoc struct {
	ID            int      `json:"id"`
	Role          string   `json:"role"`
	Leader        int      `json:"leader"`
	Term          uint64   `json:"term"`
	Applied       uint64   `json:"applied"`
	FirstIndex    uint64   `json:"first_index"`
	SnapshotIndex uint64   `json:"snapshot_index"`
	Voters        []uint64 `json:"voters"`
	Learners      []uint64 `json:"learners"`
}

func status(p *proc) (statusDoc, error) {
	var st statusDoc
	resp, err := client.Get(urlOf(p.api) + "/cluster/status")
	if err != nil {
		return st, err
	}
	defer resp.Body.Close()
	return st, json.NewDecoder(resp.Body).Decode(&st)
}

// leader waits until the live nodes agree on a leader and returns it.
func (c *testCluster) leader() *proc {
	c.t.Helper()
	deadline := time.Now().Add(15 * time.Second)
	for time.Now().Before(deadline) {
		live := c.live()
		agree := 0
		lead := 0
		for _, p := range live {
			st, err := status(p)
			if err != nil || st.Leader == 0 || (lead != 0 && st.Leader != lead) {
				break
			}
			lead = st.Leader
			agree++
		}
		if agree == len(live) && c.procs[lead] != nil && c.procs[lead].cmd != nil {
			if st, err := status(c.procs[lead]); err == nil && st.Role == "Leader" {
				return c.procs[lead]
			}
		}
		time.Sleep(20 * time.Millisecond)
	}
	c.t.Fatal("no agreed leader within 15s")
	return nil
}

type reply struct {
	code int
	body []byte
}

func do(method, url string, body []byte, hdr map[string]string) (reply, error) {
	req, err := http.NewRequest(method, url, bytes.NewReader(body))
	if err != nil {
		return reply{}, err
	}
	for k, v := range hdr {
		req.Header.Set(k, v)
	}
	resp, err := client.Do(req)
	if err != nil {
		return reply{}, err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	return reply{resp.StatusCode, b}, err
}

func mustDo(t *testing.T, method, url string, body []byte, want int) reply {
	t.Helper()
	r, err := do(method, url, body, nil)
	if err != nil {
		t.Fatalf("%s %s: %v", method, url, err)
	}
	if r.code != want {
		t.Fatalf("%s %s: HTTP %d %s, want %d", method, url, r.code, r.body, want)
	}
	return r
}

// doEventually repeats a request until it answers want, for up to ten
// seconds: right after a start, a leader may be settling or a peer
// connection still being made (a transfer to a node the leader has not
// reached yet is abandoned).
func doEventually(t *testing.T, method, url string, body []byte, want int) reply {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for {
		r, err := do(method, url, body, nil)
		if err == nil && r.code == want {
			return r
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s %s: %v HTTP %d %s, want %d", method, url, err, r.code, r.body, want)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// retryPut writes until the cluster accepts it (a leader may be settling).
func retryPut(t *testing.T, p *proc, key, value string) {
	t.Helper()
	retryPutAny(t, []*proc{p}, key, value)
}

// retryPutAny writes through each of ps in turn until one accepts it: the
// write needs the cluster, not any one member's API.
func retryPutAny(t *testing.T, ps []*proc, key, value string) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for i := 0; ; i++ {
		p := ps[i%len(ps)]
		r, err := do("PUT", urlOf(p.api)+"/kv/"+key+"?request_id=put-"+key, []byte(value), nil)
		if err == nil && r.code == 200 {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("put %s via node %d: %v %d %s", key, p.id, err, r.code, r.body)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func getValue(p *proc, key, consistency string) (string, int, error) {
	r, err := do("GET", urlOf(p.api)+"/kv/"+key+"?timeout=1s&consistency="+consistency, nil, nil)
	if err != nil {
		return "", 0, err
	}
	if r.code != 200 {
		return "", r.code, nil
	}
	var it struct{ Value string }
	if err := json.Unmarshal(r.body, &it); err != nil {
		return "", 0, err
	}
	return it.Value, 200, nil
}

// waitValue polls until key reads as want on p with the given consistency.
func waitValue(t *testing.T, p *proc, key, want, consistency string) {
	t.Helper()
	deadline := time.Now().Add(15 * time.Second)
	var got string
	var code int
	var err error
	for time.Now().Before(deadline) {
		got, code, err = getValue(p, key, consistency)
		if err == nil && code == 200 && got == want {
			return
		}
		time.Sleep(20 * time.Millisecond)
	}
	t.Fatalf("node %d: %s read of %s = %q (HTTP %d, %v), want %q", p.id, consistency, key, got, code, err, want)
}

func metric(t *testing.T, p *proc, name string) float64 {
	t.Helper()
	r := mustDo(t, "GET", urlOf(p.api)+"/metrics", nil, 200)
	sc := bufio.NewScanner(bytes.NewReader(r.body))
	for sc.Scan() {
		line := sc.Text()
		// A per-group gauge carries a group label; raftkv runs one group.
		if strings.HasPrefix(line, name+" ") || strings.HasPrefix(line, name+"{") {
			v, _ := strconv.ParseFloat(line[strings.LastIndexByte(line, ' ')+1:], 64)
			return v
		}
	}
	t.Fatalf("node %d: no metric %s", p.id, name)
	return 0
}

// Writes through every node, reads back from every node at every
// consistency level, and the API's error codes.
func TestWriteReadEveryNode(t *testing.T) { testWriteReadEveryNode(t) }

// The same with 4 groups: keys spread over them, the list merges them, a
// transfer moves every group's leadership (groups the target already leads
// count as done), and without a quorum every group answers 503 or 504.
func TestWriteReadEveryNodeGroups(t *testing.T) { testWriteReadEveryNode(t, "--groups", "4") }

func testWriteReadEveryNode(t *testing.T, extra ...string) {
	c := newTestCluster(t, 3, extra...)
	c.leader()
	for _, p := range c.live() {
		retryPut(t, p, fmt.Sprintf("key-%d", p.id), fmt.Sprintf("value-%d", p.id))
	}
	for _, p := range c.live() {
		for _, q := range c.live() {
			key, want := fmt.Sprintf("key-%d", q.id), fmt.Sprintf("value-%d", q.id)
			for _, cons := range []string{"linearizable", "lease"} {
				if got, code, err := getValue(p, key, cons); err != nil || code != 200 || got != want {
					t.Fatalf("node %d %s read of %s: %q %d %v", p.id, cons, key, got, code, err)
				}
			}
			waitValue(t, p, key, want, "stale")
		}
	}
	p := c.live()[0]
	base := urlOf(p.api)
	// List by prefix. It reads every group, and with several groups one
	// that took no write yet may still be holding its first election.
	r := doEventually(t, "GET", base+"/kv/?prefix=key-", nil, 200)
	var list struct{ Items []struct{ Key, Value string } }
	json.Unmarshal(r.body, &list)
	if len(list.Items) != 3 || list.Items[0].Key != "key-1" || list.Items[2].Value != "value-3" {
		t.Fatalf("list: %s", r.body)
	}
	// Compare-and-swap.
	mustDo(t, "PUT", base+"/kv/key-1?prev_value=value-1", []byte("swapped"), 200)
	r = mustDo(t, "PUT", base+"/kv/key-1?prev_value=value-1", []byte("again"), 412)
	if !strings.Contains(string(r.body), `"current":"swapped"`) {
		t.Fatalf("failed CAS does not report the current value: %s", r.body)
	}
	mustDo(t, "PUT", base+"/kv/fresh?prev_exist=false", []byte("1"), 200)
	mustDo(t, "PUT", base+"/kv/fresh?prev_exist=false", []byte("2"), 412)
	// A retried write with the same request ID applies once.
	hdr := map[string]string{"Request-Id": "retry-me"}
	r1, _ := do("PUT", base+"/kv/counter", []byte("first"), hdr)
	mustDo(t, "PUT", base+"/kv/counter", []byte("other"), 200)
	r2, _ := do("PUT", urlOf(c.live()[1].api)+"/kv/counter", []byte("first-retry"), hdr)
	if r1.code != 200 || r2.code != 200 || !bytes.Equal(r1.body, r2.body) {
		t.Fatalf("retry answered differently: %d %s vs %d %s", r1.code, r1.body, r2.code, r2.body)
	}
	waitValue(t, p, "counter", "other", "linearizable")
	// Delete.
	mustDo(t, "DELETE", base+"/kv/fresh", nil, 200)
	mustDo(t, "GET", base+"/kv/fresh", nil, 404)
	// Errors.
	mustDo(t, "GET", base+"/kv/"+strings.Repeat("k", 2000), nil, 400)
	mustDo(t, "PUT", base+"/kv/%01bad", []byte("x"), 400)
	mustDo(t, "GET", base+"/kv/x?consistency=maybe", nil, 400)
	mustDo(t, "PUT", base+"/kv/big", bytes.Repeat([]byte("x"), 2<<20), 413)
	// Transfer leadership and snapshot through the API.
	lead := c.leader()
	var other *proc
	for _, q := range c.live() {
		if q != lead {
			other = q
		}
	}
	mustDo(t, "POST", urlOf(other.api)+"/cluster/transfer", []byte(fmt.Sprintf(`{"to":%d}`, other.id)), 200)
	if got := c.leader(); got.id != other.id {
		t.Fatalf("leader after transfer: %d, want %d", got.id, other.id)
	}
	mustDo(t, "POST", base+"/cluster/snapshot", nil, 200)
	// Without a quorum, writes fail with 503 (no leader) or 504 (timed
	// out waiting), never hang.
	live := c.live()
	c.kill(live[0].id)
	c.kill(live[1].id)
	seen := map[int]bool{}
	deadline := time.Now().Add(10 * time.Second)
	for !seen[503] && time.Now().Before(deadline) {
		r, err := do("PUT", urlOf(live[2].api)+"/kv/nope?timeout=300ms", []byte("x"), nil)
		if err != nil {
			t.Fatal(err)
		}
		if r.code != 503 && r.code != 504 {
			t.Fatalf("write without quorum: HTTP %d %s", r.code, r.body)
		}
		seen[r.code] = true
	}
	if !seen[503] {
		t.Fatalf("never saw 503 without a quorum: %v", seen)
	}
}

// ackLog records writes the cluster acknowledged.
type ackLog struct {
	mu   sync.Mutex
	keys map[string]string
}

func (a *ackLog) add(k, v string) {
	a.mu.Lock()
	a.keys[k] = v
	a.mu.Unlock()
}

// writeLoad writes unique keys through random live nodes until stop is
// closed, recording the acknowledged ones.
func writeLoad(c *testCluster, name string, workers int, acks *ackLog, stop chan struct{}, wg *sync.WaitGroup) {
	var mu sync.Mutex
	apis := func() []string {
		mu.Lock()
		defer mu.Unlock()
		var out []string
		for _, p := range c.live() {
			out = append(out, p.api)
		}
		return out
	}
	for w := range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; ; i++ {
				select {
				case <-stop:
					return
				default:
				}
				a := apis()
				if len(a) == 0 {
					return
				}
				k := fmt.Sprintf("%s-%d-%d", name, w, i)
				r, err := do("PUT", urlOf(a[rand.IntN(len(a))])+"/kv/"+k+"?timeout=1s&request_id="+k, []byte(k), nil)
				if err == nil && r.code == 200 {
					acks.add(k, k)
				} else {
					time.Sleep(10 * time.Millisecond)
				}
			}
		}()
	}
}

func checkAcked(t *testing.T, p *proc, acks *ackLog, consistency string) {
	t.Helper()
	acks.mu.Lock()
	defer acks.mu.Unlock()
	if len(acks.keys) == 0 {
		t.Fatal("no write was acknowledged")
	}
	for k, v := range acks.keys {
		waitValue(t, p, k, v, consistency)
	}
}

// Membership changes under a write load: a node joins as a learner,
// is promoted, an original voter is removed; no acknowledged write is lost.
func TestMembershipUnderLoad(t *testing.T) { testMembershipUnderLoad(t) }

// testMembershipUnderLoad runs the test on a cluster started with extra
// flags (TLS: TestMembershipUnderLoadTLS).
func testMembershipUnderLoad(t *testing.T, extra ...string) {
	c := newTestCluster(t, 3, extra...)
	lead := c.leader()
	acks := &ackLog{keys: map[string]string{}}
	stop := make(chan struct{})
	var wg sync.WaitGroup
	writeLoad(c, "m", 4, acks, stop, &wg)
	time.Sleep(300 * time.Millisecond) // let some load build up
	p4 := c.addNode(4)
	c.start(4, "--join", lead.api)
	deadline := time.Now().Add(15 * time.Second)
	for {
		st, err := status(c.leader())
		if err == nil && slices.Contains(st.Learners, 4) {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("node 4 never became a learner")
		}
		time.Sleep(20 * time.Millisecond)
	}
	// A follower that has just seen a membership change may briefly know
	// no leader (503): the requests are repeated until one is served.
	doEventually(t, "POST", urlOf(p4.api)+"/cluster/promote", []byte(`{"id":4}`), 200)
	// Remove node 1 (perhaps the leader: it steps down once the change commits).
	doEventually(t, "POST", urlOf(c.procs[2].api)+"/cluster/remove", []byte(`{"id":1}`), 200)
	c.stop(1)
	delete(c.procs, 1)
	time.Sleep(500 * time.Millisecond) // the load goes on under the new configuration
	close(stop)
	wg.Wait()
	st, err := status(c.leader())
	if err != nil {
		t.Fatal(err)
	}
	slices.Sort(st.Voters)
	if !slices.Equal(st.Voters, []uint64{2, 3, 4}) {
		t.Fatalf("voters %v, want [2 3 4]", st.Voters)
	}
	checkAcked(t, p4, acks, "linearizable")
	checkAcked(t, c.procs[2], acks, "stale")
}

// A node joining with an empty disk after the log was compacted is caught
// up by a snapshot transfer.
func TestSnapshotToNewNode(t *testing.T) {
	c := newTestCluster(t, 3, "--snapshot-entries", "100", "--snapshot-retain", "10")
	lead := c.leader()
	acks := &ackLog{keys: map[string]string{}}
	stop := make(chan struct{})
	var wg sync.WaitGroup
	writeLoad(c, "s", 8, acks, stop, &wg)
	deadline := time.Now().Add(20 * time.Second)
	for {
		st, err := status(lead)
		if err == nil && st.FirstIndex > 50 && len(acks.keys) >= 300 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("leader never compacted (status %+v, %d writes)", st, len(acks.keys))
		}
		time.Sleep(20 * time.Millisecond)
	}
	close(stop)
	wg.Wait()
	p4 := c.addNode(4)
	c.start(4, "--join", lead.api)
	checkAcked(t, p4, acks, "stale")
	if n := metric(t, p4, "raftkv_snapshots_received_total"); n < 1 {
		t.Fatalf("node 4 received %v snapshots", n)
	}
}

// A corrupted tail of one node's WAL is detected at start-up, cut, and the
// lost entries come back from the leader.
func TestCorruptTailRepaired(t *testing.T) {
	c := newTestCluster(t, 3)
	lead := c.leader()
	acks := &ackLog{keys: map[string]string{}}
	for i := range 200 {
		k := fmt.Sprintf("c-%d", i)
		retryPut(t, lead, k, k)
		acks.add(k, k)
	}
	var f *proc
	for _, p := range c.live() {
		if p != lead {
			f = p
			break
		}
	}
	waitValue(t, f, "c-199", "c-199", "stale")
	c.kill(f.id)
	segs, _ := filepath.Glob(filepath.Join(f.dir, "wal", "*.wal"))
	slices.Sort(segs)
	seg := segs[len(segs)-1]
	data, err := os.ReadFile(seg)
	if err != nil {
		t.Fatal(err)
	}
	// Flip bits throughout the last 2 KiB of what was written (the
	// segment is preallocated: zeros follow): several records fail their
	// checksums, the first of them marks where the log is cut.
	end := len(data)
	for end > 0 && data[end-1] == 0 {
		end--
	}
	for i := end - 2048; i < end; i += 97 {
		data[i] ^= 0x5a
	}
	if err := os.WriteFile(seg, data, 0o644); err != nil {
		t.Fatal(err)
	}
	// More writes while it is down.
	for i := 200; i < 250; i++ {
		k := fmt.Sprintf("c-%d", i)
		retryPut(t, lead, k, k)
		acks.add(k, k)
	}
	c.start(f.id)
	if n := metric(t, f, "raftkv_wal_torn_bytes_total"); n == 0 {
		t.Fatal("corruption was not detected")
	}
	b, _ := os.ReadFile(f.logPath)
	if !strings.Contains(string(b), "WAL tail was torn or corrupt") {
		t.Fatal("corruption not logged")
	}
	checkAcked(t, f, acks, "stale")
	// The repaired node serves linearizable reads and can lead.
	mustDo(t, "POST", urlOf(lead.api)+"/cluster/transfer", []byte(fmt.Sprintf(`{"to":%d}`, f.id)), 200)
	if got := c.leader(); got.id != f.id {
		t.Fatalf("leader %d, want the repaired node %d", got.id, f.id)
	}
	retryPut(t, f, "after", "repair")
	waitValue(t, lead, "after", "repair", "linearizable")
}

// groupDir is where a node keeps group 1's files (snapshots, kv.db); the
// WAL of every group is Dir/wal (docs/host.md).
func groupDir(dataDir string) string { return filepath.Join(dataDir, "groups", "1") }
