package main

import (
	"bytes"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"

	"github.com/pureraft/raft/raftsim"
)

// The playground: go run ./cmd/raftsim -playground builds the simulator
// for the browser (GOOS=js GOARCH=wasm, ./cmd/raftsim/wasm), serves it on
// loopback with Go's wasm_exec.js and a live timeline page, and prints the
// address. The cluster runs in the browser, on the real core; the page's
// buttons crash, restart, isolate and heal nodes, time out elections and
// propose entries, and every invariant is checked at every step. "export"
// gives the command line that replays the session.

// playground builds and serves the playground until the process is
// stopped. It listens only on loopback addresses.
func playground(addr string, sc raftsim.Scenario, seed uint64, stdout, stderr io.Writer) int {
	if err := loopbackOnly(addr); err != nil {
		fmt.Fprintln(stderr, "raftsim:", err)
		return 2
	}
	dir, err := os.MkdirTemp("", "raftsim-playground-")
	if err != nil {
		fmt.Fprintln(stderr, "raftsim:", err)
		return 1
	}
	defer os.RemoveAll(dir)
	fmt.Fprintln(stdout, "building the simulator for the browser (GOOS=js GOARCH=wasm)...")
	wasm, execJS, err := buildWasm(dir)
	if err != nil {
		fmt.Fprintln(stderr, "raftsim:", err)
		return 1
	}
	h, err := playgroundHandler(sc, seed, wasm, execJS)
	if err != nil {
		fmt.Fprintln(stderr, "raftsim:", err)
		return 2
	}
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		fmt.Fprintln(stderr, "raftsim:", err)
		return 1
	}
	fmt.Fprintf(stdout, "playground: http://%s/ (Ctrl-C stops it)\n", ln.Addr())
	if err := http.Serve(ln, h); err != nil {
		fmt.Fprintln(stderr, "raftsim:", err)
		return 1
	}
	return 0
}

// loopbackOnly refuses an address that is not on the loopback interface:
// the playground serves a development tool, not a service.
func loopbackOnly(addr string) error {
	host, _, err := net.SplitHostPort(addr)
	if err != nil {
		return fmt.Errorf("-addr %q: %v", addr, err)
	}
	if host == "localhost" {
		return nil
	}
	if ip := net.ParseIP(host); ip == nil || !ip.IsLoopback() {
		return fmt.Errorf("-addr %q: the playground listens on loopback only (127.0.0.1, ::1 or localhost)", addr)
	}
	return nil
}

// buildWasm compiles ./cmd/raftsim/wasm for the browser into dir and
// finds Go's wasm_exec.js; it returns the paths of both.
func buildWasm(dir string) (wasm, execJS string, err error) {
	root, err := goEnv("GOMOD")
	if err != nil || root == "" || root == os.DevNull {
		return "", "", fmt.Errorf("run the playground from the pureraft repository (go run ./cmd/raftsim -playground): %v", err)
	}
	wasm = filepath.Join(dir, "raftsim.wasm")
	build := exec.Command("go", "build", "-o", wasm, "./cmd/raftsim/wasm")
	build.Dir = filepath.Dir(root)
	build.Env = append(os.Environ(), "GOOS=js", "GOARCH=wasm")
	if out, err := build.CombinedOutput(); err != nil {
		return "", "", fmt.Errorf("building the simulator for the browser: %v\n%s", err, out)
	}
	goroot, err := goEnv("GOROOT")
	if err != nil {
		return "", "", err
	}
	for _, p := range []string{"lib/wasm/wasm_exec.js", "misc/wasm/wasm_exec.js"} {
		if _, err := os.Stat(filepath.Join(goroot, p)); err == nil {
			return wasm, filepath.Join(goroot, p), nil
		}
	}
	return "", "", fmt.Errorf("no wasm_exec.js in %s", goroot)
}

func goEnv(name string) (string, error) {
	out, err := exec.Command("go", "env", name).Output()
	return strings.TrimSpace(string(out)), err
}

// playgroundHandler serves the page (its first frame drawn from a live
// session of sc at tick 0), the simulator and wasm_exec.js.
func playgroundHandler(sc raftsim.Scenario, seed uint64, wasm, execJS string) (http.Handler, error) {
	var page bytes.Buffer
	if err := raftsim.WritePlaygroundHTML(&page, sc, seed); err != nil {
		return nil, err
	}
	mux := http.NewServeMux()
	mux.HandleFunc("/{$}", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		w.Write(page.Bytes())
	})
	mux.HandleFunc("/raftsim.wasm", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/wasm")
		http.ServeFile(w, r, wasm)
	})
	mux.HandleFunc("/wasm_exec.js", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/javascript")
		http.ServeFile(w, r, execJS)
	})
	return mux, nil
}
