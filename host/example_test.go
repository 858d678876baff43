package host_test

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"log/slog"
	"net"
	"os"
	"sync"

	"github.com/pureraft/raft/host"
)

// notes is a Machine that keeps the commands it applied, in memory.
type notes struct {
	mu      sync.Mutex
	applied uint64
	lines   []string
}

func (n *notes) Applied() (uint64, error) { n.mu.Lock(); defer n.mu.Unlock(); return n.applied, nil }

func (n *notes) Apply(cmds []host.Command) error {
	n.mu.Lock()
	defer n.mu.Unlock()
	for i := range cmds {
		n.lines = append(n.lines, string(cmds[i].Data))
		cmds[i].Result = fmt.Appendf(nil, "%d notes", len(n.lines))
		n.applied = cmds[i].Index
	}
	return nil
}

func (n *notes) Query([]byte) ([]byte, error) {
	n.mu.Lock()
	defer n.mu.Unlock()
	return fmt.Appendf(nil, "%q", n.lines), nil
}

type notesSnap []byte

func (s notesSnap) WriteTo(w io.Writer) (int64, error) { k, err := w.Write(s); return int64(k), err }
func (notesSnap) Release()                             {}

func (n *notes) Snapshot() (host.Snapshot, error) {
	n.mu.Lock()
	defer n.mu.Unlock()
	var b bytes.Buffer
	for _, l := range n.lines {
		b.WriteString(l + "\n")
	}
	return notesSnap(b.Bytes()), nil
}

func (n *notes) Restore(r io.Reader, index uint64) error {
	n.mu.Lock()
	defer n.mu.Unlock()
	n.lines, n.applied = nil, index
	if r == nil {
		return nil
	}
	b, err := io.ReadAll(r)
	for _, l := range bytes.Split(b, []byte("\n")) {
		if len(l) > 0 {
			n.lines = append(n.lines, string(l))
		}
	}
	return err
}

func (n *notes) Close() error { return nil }

// A host running two groups, each with its own machine: a command
// proposed to one group is applied to that group's machine only. Here the
// host is alone (each group has one voter); with more hosts in Peers every
// group is replicated on each of them.
func Example() {
	dir, _ := os.MkdirTemp("", "host-example")
	defer os.RemoveAll(dir)
	ln, _ := net.Listen("tcp", "127.0.0.1:0")
	h, err := host.Open(host.Config{
		ID:       1,
		Dir:      dir,
		Listener: ln,
		Peers:    host.Peers{1: {Raft: ln.Addr().String()}},
		Groups:   []host.GroupID{1, 2},
		NewMachine: func(g host.GroupID, dir string) (host.Machine, error) {
			return &notes{}, nil // a real machine keeps its files in dir
		},
		Logger: slog.New(slog.NewTextHandler(io.Discard, nil)),
	})
	if err != nil {
		fmt.Println(err)
		return
	}
	defer h.Close(context.Background())
	ctx := context.Background()
	propose := func(g host.GroupID, cmd string) {
		grp, _ := h.Group(g)
		// A group elects its leader after it starts; wait for it rather
		// than retry on NotLeaderError.
		if _, err := grp.WaitLeader(ctx); err != nil {
			fmt.Println(err)
			return
		}
		res, err := grp.Propose(ctx, []byte(cmd))
		if err != nil {
			fmt.Println(err)
			return
		}
		fmt.Printf("group %d: %s\n", g, res.Data)
	}
	propose(1, "buy milk")
	propose(2, "call Ada")
	propose(1, "fix the bike")
	for _, g := range h.Groups() {
		grp, _ := h.Group(g)
		out, _ := grp.Read(ctx, host.Linearizable, nil)
		fmt.Printf("group %d holds %s (leader: node %d)\n", g, out, grp.Status().Leader)
	}
	// Output:
	// group 1: 1 notes
	// group 2: 1 notes
	// group 1: 2 notes
	// group 1 holds ["buy milk" "fix the bike"] (leader: node 1)
	// group 2 holds ["call Ada"] (leader: node 1)
}
