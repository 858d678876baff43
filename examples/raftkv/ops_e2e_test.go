package main

// End-to-end tests of an operator's mistakes (issue 19): membership
// changes that would brick the cluster, a wiped member restarted with its
// usual flags or with --join, recovery from a lost quorum, and the client
// API's hygiene.

import (
	"errors"
	"fmt"
	"os"
	"os/exec"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"
)

// runToExit runs node id with the cluster's usual flags plus args and
// waits (up to 20 s) for it to exit on its own; it returns the exit code
// and what the node logged.
func (c *testCluster) runToExit(id int, args ...string) (int, string) {
	c.t.Helper()
	p := c.procs[id]
	if p.raftLn != nil {
		p.raftLn.Close()
		p.apiLn.Close()
		p.raftLn, p.apiLn = nil, nil
	}
	full := append([]string{"--id", strconv.Itoa(id), "--listen", p.raft, "--http", p.api, "--peers", c.peers,
		"--data", p.dir, "--tick", "10ms", "--election-ticks", "20"}, c.extra...)
	cmd := exec.Command(binary, append(full, args...)...)
	var out strings.Builder
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := cmd.Start(); err != nil {
		c.t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	select {
	case err := <-done:
		var ee *exec.ExitError
		if errors.As(err, &ee) {
			return ee.ExitCode(), out.String()
		}
		return 0, out.String()
	case <-time.After(20 * time.Second):
		cmd.Process.Kill()
		<-done
		c.t.Fatalf("node %d did not exit within 20s; it logged:\n%s", id, out.String())
		return 0, ""
	}
}

func (c *testCluster) voters(t *testing.T) ([]uint64, []uint64) {
	t.Helper()
	st, err := status(c.leader())
	if err != nil {
		t.Fatal(err)
	}
	slices.Sort(st.Voters)
	slices.Sort(st.Learners)
	return st.Voters, st.Learners
}

func wantVoters(t *testing.T, c *testCluster, want ...uint64) {
	t.Helper()
	if v, l := c.voters(t); !slices.Equal(v, want) || len(l) != 0 {
		t.Fatalf("voters %v learners %v, want voters %v and no learners", v, l, want)
	}
}

// Issue 19, first finding: POST /cluster/promote for IDs that were never
// added made them voters (the third timed out but was appended anyway) and
// no leader was ever elected again. Each is now refused with 409, the
// reason in the body, and the cluster goes on.
func TestPromoteUnknownRefused(t *testing.T) {
	c := newTestCluster(t, 3)
	lead := c.leader()
	for _, id := range []int{77, 78, 79} {
		r := mustDo(t, "POST", urlOf(lead.api)+"/cluster/promote", []byte(fmt.Sprintf(`{"id":%d}`, id)), 409)
		if !strings.Contains(string(r.body), "only a learner can be promoted") {
			t.Fatalf("promote %d: the refusal does not say why: %s", id, r.body)
		}
	}
	// A voter cannot be promoted either; a follower forwards and gets the same answer.
	follower := c.procs[lead.id%3+1]
	mustDo(t, "POST", urlOf(follower.api)+"/cluster/promote", []byte(`{"id":2}`), 409)
	wantVoters(t, c, 1, 2, 3)
	retryPut(t, follower, "still", "writable")
}

// A change after which the voters the leader is connected to would not
// form a quorum is refused: with node 3 down, removing node 2 would leave
// {1,3} with one of two voters up.
func TestRemoveRefusedWithoutConnectedQuorum(t *testing.T) {
	c := newTestCluster(t, 3)
	c.kill(3)
	lead := c.leader()
	other := 1
	if lead.id == 1 {
		other = 2
	}
	deadline := time.Now().Add(10 * time.Second)
	for {
		r, err := do("POST", urlOf(lead.api)+"/cluster/remove", []byte(fmt.Sprintf(`{"id":%d}`, other)), nil)
		if err != nil {
			t.Fatal(err)
		}
		if r.code == 200 {
			t.Fatalf("removing voter %d with voter 3 down was accepted: %s", other, r.body)
		}
		// Node 3 counts as connected until it missed a check-quorum round.
		if r.code == 409 && strings.Contains(string(r.body), "would not form a quorum") {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("remove %d: HTTP %d %s, want 409 saying the quorum would be lost", other, r.code, r.body)
		}
		time.Sleep(50 * time.Millisecond)
	}
	wantVoters(t, c, 1, 2, 3)
	retryPut(t, lead, "still", "writable")
}

// Issue 19, fourth finding: --join on a wiped voter made the leader demote
// it to a learner (AddLearner) with a 200. The join is now refused with
// 409 and what to do, and the wiped node exits instead of rejoining.
func TestJoinWipedVoterRefused(t *testing.T) {
	c := newTestCluster(t, 3)
	lead := c.leader()
	victim := c.procs[lead.id%3+1]
	retryPut(t, lead, "k", "v")
	c.kill(victim.id)
	if err := os.RemoveAll(victim.dir); err != nil {
		t.Fatal(err)
	}
	body := fmt.Sprintf(`{"id":%d,"raft":%q,"http":%q}`, victim.id, victim.raft, victim.api)
	r := mustDo(t, "POST", urlOf(lead.api)+"/cluster/learners", []byte(body), 409)
	if !strings.Contains(string(r.body), "already a voter") || !strings.Contains(string(r.body), "/cluster/remove") {
		t.Fatalf("the refusal does not say what to do: %s", r.body)
	}
	code, out := c.runToExit(victim.id, "--join", lead.api)
	if code == 0 || !strings.Contains(out, "already a voter") {
		t.Fatalf("wiped voter with --join: exit %d, log:\n%s", code, out)
	}
	wantVoters(t, c, 1, 2, 3)
	// Doing what the refusal says brings the server back, under a new ID.
	p4 := replaceMember(t, c, victim.id, 4, lead)
	waitValue(t, p4, "k", "v", "linearizable")
}

// replaceMember does what the docs tell an operator to do with a member
// whose data is lost or corrupt: remove it, stop and wipe it, and add the
// server back under a new ID — a removed ID is never used again, and a
// join under it is refused (docs/membership.md: a blank server under an
// old ID can vote a stale leader in) — then promote it.
func replaceMember(t *testing.T, c *testCluster, id, newID int, via *proc) *proc {
	t.Helper()
	old := c.procs[id]
	mustDo(t, "POST", urlOf(via.api)+"/cluster/remove", []byte(fmt.Sprintf(`{"id":%d}`, id)), 200)
	c.kill(id)
	if err := os.RemoveAll(old.dir); err != nil {
		t.Fatal(err)
	}
	if code, out := c.runToExit(id, "--join", via.api); code == 0 || !strings.Contains(out, "was removed") {
		t.Fatalf("a wiped server joining under its removed ID: exit %d, log:\n%s", code, out)
	}
	delete(c.procs, id)
	body := fmt.Sprintf(`{"id":%d,"raft":%q,"http":%q}`, id, old.raft, old.api)
	r := mustDo(t, "POST", urlOf(via.api)+"/cluster/learners", []byte(body), 409)
	if !strings.Contains(string(r.body), "was removed") || !strings.Contains(string(r.body), "new ID") {
		t.Fatalf("a join under a removed ID: the refusal does not say what to do: %s", r.body)
	}
	p := c.addNode(newID)
	c.start(newID, "--join", via.api)
	promote(t, via, newID)
	return p
}

// promote promotes learner id through via, retrying while it catches up.
func promote(t *testing.T, via *proc, id int) {
	t.Helper()
	deadline := time.Now().Add(15 * time.Second)
	for {
		r, err := do("POST", urlOf(via.api)+"/cluster/promote", []byte(fmt.Sprintf(`{"id":%d}`, id)), nil)
		if err == nil && r.code == 200 {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("promote %d: %v %d %s", id, err, r.code, r.body)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// Issue 19: a wiped member restarted with its usual flags bootstrapped a
// new cluster from --peers, logged at INFO. Without an explicit
// --initial-cluster-state new it now refuses, with a WARN that says what
// to do, and the cluster is untouched.
func TestWipedMemberDoesNotBootstrap(t *testing.T) {
	c := newTestCluster(t, 3)
	lead := c.leader()
	victim := c.procs[lead.id%3+1]
	c.kill(victim.id)
	if err := os.RemoveAll(victim.dir); err != nil {
		t.Fatal(err)
	}
	code, out := c.runToExit(victim.id)
	if code != 2 || !strings.Contains(out, "level=WARN") || !strings.Contains(out, "--initial-cluster-state new") {
		t.Fatalf("wiped member with its usual flags: exit %d, log:\n%s", code, out)
	}
	if strings.Contains(out, "bootstrapping a new cluster") {
		t.Fatalf("wiped member bootstrapped:\n%s", out)
	}
	// What the refused start left in the directory does not make the next
	// start look like a member with data.
	if code, out := c.runToExit(victim.id); code == 0 || strings.Contains(out, "bootstrapping a new cluster") {
		t.Fatalf("second start of the wiped member: exit %d, log:\n%s", code, out)
	}
	wantVoters(t, c, 1, 2, 3)
}

// Lost quorum (etcd's --force-new-cluster): two of three members are
// killed and wiped for good. The survivor restarts with
// --force-new-cluster: it becomes the single voter of a configuration it
// appends to its own log, keeping every write it holds; the two servers
// come back wiped, under new IDs (4 and 5), and are promoted.
func TestLostQuorumRecovery(t *testing.T) { testLostQuorumRecovery(t) }

// The same with 4 groups: every group of the survivor is forced to a
// single voter, and the new members join and are promoted in each.
func TestLostQuorumRecoveryGroups(t *testing.T) { testLostQuorumRecovery(t, "--groups", "4") }

func testLostQuorumRecovery(t *testing.T, extra ...string) {
	c := newTestCluster(t, 3, extra...)
	lead := c.leader()
	acks := &ackLog{keys: map[string]string{}}
	for i := range 50 {
		k := fmt.Sprintf("q-%d", i)
		retryPut(t, lead, k, k)
		acks.add(k, k)
	}
	survivor := c.procs[1]
	waitValue(t, survivor, "q-49", "q-49", "stale")
	for _, id := range []int{2, 3} {
		c.kill(id)
		if err := os.RemoveAll(c.procs[id].dir); err != nil {
			t.Fatal(err)
		}
	}
	// Without a quorum nothing can be written.
	r, err := do("PUT", urlOf(survivor.api)+"/kv/nope?timeout=500ms", []byte("x"), nil)
	if err != nil || (r.code != 503 && r.code != 504) {
		t.Fatalf("write without a quorum: %v %d %s", err, r.code, r.body)
	}
	c.stop(1)
	c.start(1, "--force-new-cluster")
	wantVoters(t, c, 1)
	checkAcked(t, survivor, acks, "linearizable")
	retryPut(t, survivor, "after", "recovery")
	// Restarting the recovered node without the flag keeps the new configuration.
	c.stop(1)
	c.start(1)
	wantVoters(t, c, 1)
	// The lost members' IDs are retired: a join under one is refused.
	delete(c.procs, 2)
	delete(c.procs, 3)
	r = mustDo(t, "POST", urlOf(survivor.api)+"/cluster/learners", []byte(`{"id":2,"raft":"127.0.0.1:1"}`), 409)
	if !strings.Contains(string(r.body), "was removed") {
		t.Fatalf("a join under a lost member's ID: %s", r.body)
	}
	// The wiped servers come back as new members, under new IDs.
	for _, id := range []int{4, 5} {
		c.addNode(id)
		c.start(id, "--join", survivor.api)
		promote(t, survivor, id)
	}
	wantVoters(t, c, 1, 4, 5)
	acks.add("after", "recovery")
	for _, id := range []int{4, 5} {
		checkAcked(t, c.procs[id], acks, "linearizable")
	}
	// The survivor can be lost now: the rebuilt cluster has a quorum without it.
	c.kill(1)
	retryPutAny(t, []*proc{c.procs[4], c.procs[5]}, "without", "survivor")
	waitValue(t, c.procs[5], "without", "survivor", "linearizable")
	waitValue(t, c.procs[4], "without", "survivor", "linearizable")
}
