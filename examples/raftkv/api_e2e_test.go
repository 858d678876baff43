package main

// End-to-end tests of the client API's hygiene (issue 19): keys taken
// byte-exact from the escaped path, query parameters checked, a body read
// timeout.

import (
	"encoding/json"
	"fmt"
	"net"
	"strings"
	"testing"
	"time"
)

// Keys are taken byte-exact from the escaped path: no path cleaning.
// Unknown and invalid query parameters are refused with the list of valid
// ones.
func TestAPIKeysAndParameters(t *testing.T) {
	c := newTestCluster(t, 1)
	p := c.procs[1]
	c.leader()
	base := urlOf(p.api)
	for _, k := range []string{"a//b", "a/b", "dot/./x", "dot/x", "up/../y", "sp%20ace", "pct%2Fslash"} {
		retryPut(t, p, k, "v:"+k)
	}
	r := mustDo(t, "GET", base+"/kv/?prefix=", nil, 200)
	var list struct{ Items []struct{ Key, Value string } }
	if err := json.Unmarshal(r.body, &list); err != nil {
		t.Fatal(err)
	}
	got := map[string]string{}
	for _, it := range list.Items {
		got[it.Key] = it.Value
	}
	for k, want := range map[string]string{"a//b": "v:a//b", "a/b": "v:a/b", "dot/./x": "v:dot/./x", "dot/x": "v:dot/x",
		"up/../y": "v:up/../y", "sp ace": "v:sp%20ace", "pct/slash": "v:pct%2Fslash"} {
		if got[k] != want {
			t.Errorf("key %q = %q, want %q (all: %v)", k, got[k], want, got)
		}
	}
	if len(got) != 7 {
		t.Errorf("%d keys stored, want 7: %v", len(got), got)
	}
	waitValue(t, p, "a//b", "v:a//b", "linearizable")
	for _, bad := range []struct{ method, url string }{
		{"PUT", "/kv/x?ttl=10"},
		{"PUT", "/kv/x?prev_exist=maybe"},
		{"PUT", "/kv/x?prev_exist=true"},
		{"GET", "/kv/x?raw=2"},
		{"GET", "/kv/x?foo"},
		{"DELETE", "/kv/x?prev_exist=false"},
		{"GET", "/kv/?prefix=a&limit=x"},
	} {
		r, err := do(bad.method, base+bad.url, []byte("v"), nil)
		if err != nil {
			t.Fatal(err)
		}
		if r.code != 400 || !strings.Contains(string(r.body), "valid parameters") {
			t.Errorf("%s %s: HTTP %d %s, want 400 listing the valid parameters", bad.method, bad.url, r.code, r.body)
		}
	}
	mustDo(t, "GET", base+"/kv/x?nope", nil, 400)
	mustDo(t, "GET", base+"/kv/a//b?raw", nil, 200)
	mustDo(t, "PUT", base+"/kv/new?prev_exist=false&timeout=2s&request_id=r1", []byte("1"), 200)
}

// A request body that trickles in is cut off after the body timeout.
func TestSlowBodyTimesOut(t *testing.T) {
	c := newTestCluster(t, 1, "--body-timeout", "500ms")
	p := c.procs[1]
	c.leader()
	conn, err := net.Dial("tcp", p.api)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	start := time.Now()
	fmt.Fprintf(conn, "PUT /kv/slow HTTP/1.1\r\nHost: x\r\nContent-Length: 100\r\n\r\nab")
	conn.SetReadDeadline(time.Now().Add(10 * time.Second))
	buf := make([]byte, 4096)
	n, _ := conn.Read(buf)
	if took := time.Since(start); took > 5*time.Second {
		t.Fatalf("the slow body was held open for %v", took)
	}
	if resp := string(buf[:n]); n > 0 && !strings.Contains(resp, " 408 ") {
		t.Fatalf("slow body answered %q, want 408 or a closed connection", resp)
	}
	mustDo(t, "GET", urlOf(p.api)+"/kv/slow", nil, 404)
}
