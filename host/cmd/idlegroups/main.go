// Command idlegroups measures what idle Raft groups cost a host (issue 17):
// it starts three host processes on this machine, each holding a replica of
// the same G groups, waits until every group has a leader and has gone
// quiet, then samples each process's CPU time over a window and its heap
// after a garbage collection.
//
//	go run ./cmd/idlegroups -groups 10000 -window 30s     # in host/
//
// It prints one table row per process: CPU as a percentage of one core,
// live heap per group replica (everything the host and the core hold for
// it, measured against the same process before it opened its host), and
// goroutine stack per group replica, which is not heap but is memory too.
// The machine each replica runs is an empty in-memory one, so the figures
// are the host's and the core's own.
package main

import (
	"bufio"
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"runtime/pprof"
	"strconv"
	"strings"
	"time"

	"github.com/pureraft/raft"
	"github.com/pureraft/raft/host"
)

var (
	role    = flag.String("role", "driver", "driver (starts three members) or member")
	groups  = flag.Int("groups", 10000, "groups replicated on every host (G)")
	window  = flag.Duration("window", 30*time.Second, "how long CPU time is sampled once every group is quiet")
	settle  = flag.Duration("settle", 10*time.Minute, "how long to wait for every group to elect a leader and go quiet")
	id      = flag.Int("id", 0, "member: this host's ID (1..3)")
	peers   = flag.String("peers", "", "member: id=addr,... of every host")
	dataDir = flag.String("dir", "", "member: data directory")
	memProf = flag.String("memprofile", "", "write each member's heap profile to this path with its ID appended")
	cpuProf = flag.String("cpuprofile", "", "profile each member's CPU over the window to this path with its ID appended")
)

func main() {
	flag.Parse()
	var err error
	if *role == "member" {
		err = member()
	} else {
		err = drive()
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "idlegroups:", err)
		os.Exit(1)
	}
}

// report is what a member prints, one JSON line per request on stdin.
type report struct {
	Groups    int    `json:"groups"`
	Leaders   int    `json:"leaders"`   // groups this host leads
	Led       int    `json:"led"`       // groups that know a leader
	Quiet     int    `json:"quiet"`     // groups whose node is quiescent
	HeapBase  uint64 `json:"heap_base"` // live heap before the host opened
	Heap      uint64 `json:"heap"`      // live heap now (after a GC when asked)
	Stack     uint64 `json:"stack"`     // goroutine stacks in use
	Gorouting int    `json:"goroutines"`
}

// member runs one host with G groups and answers "status" and "heap"
// requests on stdin with a JSON report on stdout.
func member() error {
	book := host.Peers{}
	for _, kv := range strings.Split(*peers, ",") {
		k, addr, ok := strings.Cut(kv, "=")
		n, err := strconv.Atoi(k)
		if !ok || err != nil {
			return fmt.Errorf("bad -peers entry %q", kv)
		}
		book[raft.NodeID(n)] = host.PeerAddr{Raft: addr}
	}
	ln, err := net.Listen("tcp", book[raft.NodeID(*id)].Raft)
	if err != nil {
		return err
	}
	gs := make([]host.GroupID, *groups)
	for i := range gs {
		gs[i] = host.GroupID(i + 1)
	}
	runtime.GC()
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	base := ms.HeapAlloc
	h, err := host.Open(host.Config{
		ID: raft.NodeID(*id), Dir: *dataDir, Listener: ln, Peers: book, Groups: gs,
		NewMachine: func(host.GroupID, string) (host.Machine, error) { return &emptyMachine{}, nil },
		Logger:     slog.New(slog.NewTextHandler(io.Discard, nil)),
	})
	if err != nil {
		return err
	}
	defer h.Close(context.Background())
	in := bufio.NewScanner(os.Stdin)
	out := json.NewEncoder(os.Stdout)
	for in.Scan() {
		r := report{Groups: len(gs), HeapBase: base}
		for _, g := range gs {
			grp, ok := h.Group(g)
			if !ok {
				continue
			}
			st := grp.Status()
			if st.Leader != raft.None {
				r.Led++
			}
			if st.Leader == h.ID() {
				r.Leaders++
			}
			if st.Quiescent {
				r.Quiet++
			}
		}
		switch in.Text() {
		case "cpu-start":
			if *cpuProf != "" {
				f, err := os.Create(*cpuProf + strconv.Itoa(*id))
				if err != nil {
					return err
				}
				defer f.Close()
				if err := pprof.StartCPUProfile(f); err != nil {
					return err
				}
			}
		case "cpu-stop":
			pprof.StopCPUProfile()
		}
		if in.Text() == "heap" {
			runtime.GC()
			if *memProf != "" {
				if err := writeHeapProfile(*memProf + strconv.Itoa(*id)); err != nil {
					return err
				}
			}
		}
		runtime.ReadMemStats(&ms)
		r.Heap, r.Stack, r.Gorouting = ms.HeapAlloc, ms.StackInuse, runtime.NumGoroutine()
		if err := out.Encode(r); err != nil {
			return err
		}
	}
	return in.Err()
}

// proc is a member process the driver talks to.
type proc struct {
	id  int
	cmd *exec.Cmd
	in  io.WriteCloser
	out *json.Decoder
}

func (p *proc) ask(what string) (report, error) {
	var r report
	if _, err := fmt.Fprintln(p.in, what); err != nil {
		return r, err
	}
	return r, p.out.Decode(&r)
}

// cpu returns the process's user+system CPU time from /proc.
func (p *proc) cpu() (time.Duration, error) {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", p.cmd.Process.Pid))
	if err != nil {
		return 0, err
	}
	// Fields after the command name, which is in parentheses.
	f := strings.Fields(string(b[strings.LastIndexByte(string(b), ')')+2:]))
	utime, _ := strconv.ParseInt(f[11], 10, 64)
	stime, _ := strconv.ParseInt(f[12], 10, 64)
	const hz = 100 // USER_HZ on Linux
	return time.Duration(utime+stime) * time.Second / hz, nil
}

func drive() error {
	self, err := os.Executable()
	if err != nil {
		return err
	}
	tmp, err := os.MkdirTemp("", "idlegroups")
	if err != nil {
		return err
	}
	defer os.RemoveAll(tmp)
	addrs := make([]string, 3)
	for i := range addrs {
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			return err
		}
		addrs[i] = ln.Addr().String()
		ln.Close()
	}
	var book []string
	for i, a := range addrs {
		book = append(book, fmt.Sprintf("%d=%s", i+1, a))
	}
	var procs []*proc
	defer func() {
		for _, p := range procs {
			p.in.Close()
			p.cmd.Process.Kill()
			p.cmd.Wait()
		}
	}()
	start := time.Now()
	for i := range 3 {
		cmd := exec.Command(self, "-role=member", "-id="+strconv.Itoa(i+1), "-groups="+strconv.Itoa(*groups), "-memprofile="+*memProf, "-cpuprofile="+*cpuProf,
			"-peers="+strings.Join(book, ","), "-dir="+filepath.Join(tmp, strconv.Itoa(i+1)))
		cmd.Stderr = os.Stderr
		in, _ := cmd.StdinPipe()
		out, _ := cmd.StdoutPipe()
		if err := cmd.Start(); err != nil {
			return err
		}
		procs = append(procs, &proc{id: i + 1, cmd: cmd, in: in, out: json.NewDecoder(out)})
	}
	fmt.Printf("idlegroups: 3 hosts, %d groups each; %s; %d CPUs; load average %s\n", *groups, runtime.Version(), runtime.NumCPU(), loadavg())
	// Wait until every group of every host knows a leader and is quiet.
	for {
		ready := true
		var line []string
		for _, p := range procs {
			r, err := p.ask("status")
			if err != nil {
				return fmt.Errorf("host %d: %w", p.id, err)
			}
			line = append(line, fmt.Sprintf("host %d: %d led, %d quiet, leads %d", p.id, r.Led, r.Quiet, r.Leaders))
			ready = ready && r.Led == r.Groups && r.Quiet == r.Groups
		}
		if ready {
			fmt.Printf("settled after %v: %s\n", time.Since(start).Round(time.Second), strings.Join(line, "; "))
			break
		}
		if time.Since(start) > *settle {
			return fmt.Errorf("not settled after %v: %s", *settle, strings.Join(line, "; "))
		}
		time.Sleep(2 * time.Second)
	}
	// CPU over the window.
	before := make([]time.Duration, 3)
	for i, p := range procs {
		if before[i], err = p.cpu(); err != nil {
			return err
		}
	}
	for _, p := range procs {
		if _, err := p.ask("cpu-start"); err != nil {
			return err
		}
	}
	t0 := time.Now()
	time.Sleep(*window)
	elapsed := time.Since(t0)
	for _, p := range procs {
		if _, err := p.ask("cpu-stop"); err != nil {
			return err
		}
	}
	fmt.Printf("\n| host | groups | leads | CPU over %v (%% of one core) | live heap per group replica | goroutine stack per group replica | goroutines |\n", window.Round(time.Second))
	fmt.Println("|---:|---:|---:|---:|---:|---:|---:|")
	for i, p := range procs {
		after, err := p.cpu()
		if err != nil {
			return err
		}
		r, err := p.ask("heap")
		if err != nil {
			return err
		}
		pct := 100 * float64(after-before[i]) / float64(elapsed)
		fmt.Printf("| %d | %d | %d | %.2f%% | %.0f B | %.0f B | %d |\n", p.id, r.Groups, r.Leaders, pct,
			float64(r.Heap-r.HeapBase)/float64(r.Groups), float64(r.Stack)/float64(r.Groups), r.Gorouting)
	}
	fmt.Printf("\nload average after: %s\n", loadavg())
	return nil
}

func writeHeapProfile(path string) error {
	f, err := os.Create(path)
	if err != nil {
		return err
	}
	defer f.Close()
	return pprof.WriteHeapProfile(f)
}

func loadavg() string {
	b, err := os.ReadFile("/proc/loadavg")
	if err != nil {
		return "unknown"
	}
	f := strings.Fields(string(b))
	if len(f) < 3 {
		return "unknown"
	}
	return strings.Join(f[:3], "/")
}

// emptyMachine is a replicated state machine with no state: the figures
// are then the host's and the core's own.
type emptyMachine struct{ applied uint64 }

func (m *emptyMachine) Applied() (uint64, error) { return m.applied, nil }
func (m *emptyMachine) Apply(cmds []host.Command) error {
	if len(cmds) > 0 {
		m.applied = cmds[len(cmds)-1].Index
	}
	return nil
}
func (m *emptyMachine) Query([]byte) ([]byte, error)     { return nil, nil }
func (m *emptyMachine) Snapshot() (host.Snapshot, error) { return emptySnap{}, nil }
func (m *emptyMachine) Restore(_ io.Reader, index uint64) error {
	m.applied = index
	return nil
}
func (m *emptyMachine) Close() error { return nil }

type emptySnap struct{}

func (emptySnap) WriteTo(io.Writer) (int64, error) { return 0, nil }
func (emptySnap) Release()                         {}
