package main

import (
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/pureraft/raft/raftsim"
)

// The playground serves a development tool: it refuses to listen anywhere
// but on loopback.
func TestPlaygroundLoopbackOnly(t *testing.T) {
	for addr, ok := range map[string]bool{
		"127.0.0.1:8040": true, "[::1]:0": true, "localhost:9": true,
		"0.0.0.0:8040": false, ":8040": false, "10.1.2.3:80": false, "example.com:80": false, "nonsense": false,
	} {
		if err := loopbackOnly(addr); (err == nil) != ok {
			t.Errorf("loopbackOnly(%q) = %v, want ok=%v", addr, err, ok)
		}
	}
	var out, errs strings.Builder
	if code := run([]string{"-playground", "-addr", "0.0.0.0:8040"}, &out, &errs); code != 2 || !strings.Contains(errs.String(), "loopback only") {
		t.Errorf("-playground on 0.0.0.0: exit %d, %q", code, errs.String())
	}
}

// The handler serves the page (the live controls, the first frame of the
// session, the simulator's loader) and the two files the page loads.
func TestPlaygroundHandler(t *testing.T) {
	dir := t.TempDir()
	wasm, execJS := filepath.Join(dir, "raftsim.wasm"), filepath.Join(dir, "wasm_exec.js")
	os.WriteFile(wasm, []byte("\x00asm"), 0o644)
	os.WriteFile(execJS, []byte("// go"), 0o644)
	sc, _ := raftsim.ScenarioNamed("playground")
	h, err := playgroundHandler(sc, 3, wasm, execJS)
	if err != nil {
		t.Fatal(err)
	}
	get := func(path string) (*httptest.ResponseRecorder, string) {
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, path, nil))
		return rec, rec.Body.String()
	}
	rec, page := get("/")
	for _, want := range []string{`data-act="crash"`, `data-act="campaign"`, `data-act="propose"`, `raftsimLive.start("playground",  3 ,  3 )`, `src="wasm_exec.js"`, `fetch("raftsim.wasm")`, "let D = {"} {
		if rec.Code != 200 || !strings.Contains(page, want) {
			t.Errorf("page (%d) lacks %q", rec.Code, want)
		}
	}
	if rec, body := get("/raftsim.wasm"); rec.Code != 200 || body != "\x00asm" || rec.Header().Get("Content-Type") != "application/wasm" {
		t.Errorf("wasm: %d %q %q", rec.Code, body, rec.Header().Get("Content-Type"))
	}
	if rec, _ := get("/wasm_exec.js"); rec.Code != 200 {
		t.Errorf("wasm_exec.js: %d", rec.Code)
	}
	if rec, _ := get("/etc/passwd"); rec.Code != 404 {
		t.Errorf("/etc/passwd: %d, want 404", rec.Code)
	}
}
