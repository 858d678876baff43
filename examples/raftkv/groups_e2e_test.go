package main

// raftkv with its keys spread over several Raft groups (--groups).

import (
	"encoding/json"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/pureraft/raft/examples/raftkv/kv"
	"github.com/pureraft/raft/host"
)

// The leader of group 1 (and of whichever other groups it leads) is killed
// with SIGKILL under load in a cluster of 8 groups: the history stays
// linearizable and no acknowledged write is lost.
func TestKillLeaderLinearizableGroups(t *testing.T) { testKillLeaderLinearizable(t, "--groups", "8") }

// A node joins, is promoted and another is removed in every one of 8
// groups (each group's part forwarded to that group's leader), under load.
func TestMembershipUnderLoadGroups(t *testing.T) { testMembershipUnderLoad(t, "--groups", "8") }

// Keys land in every group; a list by prefix merges the groups in key
// order and honours its limit; status reports every group.
func TestListAcrossGroups(t *testing.T) {
	c := newTestCluster(t, 3, "--groups", "8")
	c.leader()
	p := c.live()[1]
	groups := []host.GroupID{1, 2, 3, 4, 5, 6, 7, 8}
	used := map[host.GroupID]bool{}
	var keys []string
	for i := range 40 {
		k := fmt.Sprintf("p-%02d", i)
		keys = append(keys, k)
		used[kv.GroupOf(k, groups)] = true
		retryPut(t, c.live()[i%3], k, "v"+k)
	}
	retryPut(t, p, "q-other", "x")
	if len(used) != 8 {
		t.Fatalf("the keys used %d groups of 8; pick keys that reach all", len(used))
	}
	type listDoc struct {
		Items []struct{ Key, Value string }
		More  bool
	}
	list := func(query string) listDoc {
		t.Helper()
		var l listDoc
		r := mustDo(t, "GET", urlOf(p.api)+"/kv/?"+query, nil, 200)
		if err := json.Unmarshal(r.body, &l); err != nil {
			t.Fatal(err)
		}
		return l
	}
	all := list("prefix=p-")
	var got []string
	for _, it := range all.Items {
		got = append(got, it.Key)
		if it.Value != "v"+it.Key {
			t.Errorf("%s = %q", it.Key, it.Value)
		}
	}
	if !slices.Equal(got, keys) || all.More {
		t.Fatalf("list p-: %v (more %v), want %v", got, all.More, keys)
	}
	first := list("prefix=p-&limit=10")
	got = got[:0]
	for _, it := range first.Items {
		got = append(got, it.Key)
	}
	if !slices.Equal(got, keys[:10]) || !first.More {
		t.Fatalf("list p- limit 10: %v (more %v), want %v and more", got, first.More, keys[:10])
	}
	r := mustDo(t, "GET", urlOf(p.api)+"/cluster/status", nil, 200)
	var st struct {
		Groups []struct {
			Group  int
			Leader int
		}
	}
	if err := json.Unmarshal(r.body, &st); err != nil {
		t.Fatal(err)
	}
	if len(st.Groups) != 8 {
		t.Fatalf("status lists %d groups, want 8: %s", len(st.Groups), r.body)
	}
	m := mustDo(t, "GET", urlOf(p.api)+"/metrics", nil, 200)
	if !strings.Contains(string(m.body), `raftkv_applied_index{group="8"}`) {
		t.Fatal("no per-group gauge for group 8 in /metrics")
	}
}

// A server joining with another number of groups than the cluster's is
// refused, with the number to use, and exits: it would route keys to
// other groups than the members do.
func TestJoinWithOtherGroupCountRefused(t *testing.T) {
	c := newTestCluster(t, 3, "--groups", "8")
	lead := c.leader()
	c.addNode(4)
	code, out := c.runToExit(4, "--join", lead.api, "--groups", "4")
	if code == 0 || !strings.Contains(out, "start it with --groups 8") {
		t.Fatalf("joining with --groups 4 into a cluster of 8: exit %d, log:\n%s", code, out)
	}
	wantVoters(t, c, 1, 2, 3)
}

// A join adds the new server to one group after the other. A promotion
// that arrives while it is a learner of only some groups is refused whole
// (409, naming the group it is missing from), and changes no group:
// promoted in some groups, the server's retried join would have been
// refused as a wiped voter's (seen in TestLostQuorumRecoveryGroups).
func TestPromoteBeforeJoinReachedEveryGroupRefused(t *testing.T) {
	c := newTestCluster(t, 3, "--groups", "4")
	lead := c.leader()
	p4 := c.addNode(4)
	c.start(4, "--join", "127.0.0.1:1") // a join that never gets through
	body := fmt.Sprintf(`{"id":4,"raft":%q,"http":%q,"groups":4}`, p4.raft, p4.api)
	doEventually(t, "POST", urlOf(lead.api)+"/cluster/learners?group=1", []byte(body), 200)
	// Caught up in group 1: without the check, group 1 would promote it.
	for deadline := time.Now().Add(10 * time.Second); ; time.Sleep(20 * time.Millisecond) {
		var st struct {
			Commit   uint64
			Progress map[string]map[string]uint64
		}
		r := mustDo(t, "GET", urlOf(lead.api)+"/cluster/status?group=1", nil, 200)
		if json.Unmarshal(r.body, &st) == nil && st.Progress["4"]["match"] >= st.Commit && st.Commit > 0 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("node 4 never caught up in group 1: %s", r.body)
		}
	}
	r := mustDo(t, "POST", urlOf(lead.api)+"/cluster/promote", []byte(`{"id":4}`), 409)
	if !strings.Contains(string(r.body), "not yet a learner of group 2") {
		t.Fatalf("the refusal does not name the group: %s", r.body)
	}
	var st statusDoc
	s := mustDo(t, "GET", urlOf(lead.api)+"/cluster/status?group=1", nil, 200)
	if err := json.Unmarshal(s.body, &st); err != nil {
		t.Fatal(err)
	}
	if !slices.Contains(st.Learners, 4) || slices.Contains(st.Voters, 4) {
		t.Fatalf("group 1 after a refused promotion: voters %v learners %v; want 4 still a learner", st.Voters, st.Learners)
	}
}
