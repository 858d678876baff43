package main

// raftkv with its keys spread over several Raft groups (--groups).

import (
	"encoding/json"
	"fmt"
	"slices"
	"strings"
	"testing"

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
