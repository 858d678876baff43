package host

import (
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/prometheus/client_golang/prometheus"
)

// Every metric a host registers carries Config.MetricsNamespace, so two
// embedders (or a host and its application) do not collide; the default
// is "pureraft".
func TestMetricsNamespace(t *testing.T) {
	for _, ns := range []string{"", "myapp"} {
		reg := prometheus.NewRegistry()
		c := newCluster(t, 1, func(cfg *Config) {
			cfg.Registry = reg
			cfg.MetricsNamespace = ns
		})
		gadd(t, g1(c.hosts[1]), 1)
		mfs, err := reg.Gather()
		if err != nil {
			t.Fatal(err)
		}
		want := ns
		if want == "" {
			want = "pureraft"
		}
		names := 0
		for _, mf := range mfs {
			if !strings.HasPrefix(mf.GetName(), want+"_") {
				t.Errorf("namespace %q: metric %s", ns, mf.GetName())
			}
			names++
		}
		if names < 10 {
			t.Errorf("namespace %q: only %d metrics gathered", ns, names)
		}
	}
}

// A namespace that cannot start a Prometheus name is refused by Open with
// a clear error, before anything is written to Dir.
func TestMetricsNamespaceInvalidRefused(t *testing.T) {
	for _, ns := range []string{"9lives", "my-app", "a b", "ünï"} {
		dir := filepath.Join(t.TempDir(), "data")
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		_, err = Open(Config{
			ID: 1, Dir: dir, Listener: ln, Peers: Peers{1: {Raft: ln.Addr().String()}},
			NewMachine: one(&counter{}), MetricsNamespace: ns,
		})
		ln.Close()
		if err == nil || !strings.Contains(err.Error(), "MetricsNamespace") {
			t.Errorf("namespace %q: Open returned %v, want an error naming MetricsNamespace", ns, err)
		}
		if _, statErr := os.Stat(dir); !os.IsNotExist(statErr) {
			t.Errorf("namespace %q: Open left %s behind (%v)", ns, dir, statErr)
		}
	}
}
