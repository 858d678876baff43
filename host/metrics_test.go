package host

import (
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/prometheus/client_golang/prometheus"
)

// describing records the name of every metric a collector registered
// through it describes, children or not yet (a vector with no labels
// used is absent from Gather, but not from Describe).
type describing struct {
	prometheus.Registerer
	names []string
}

func (d *describing) MustRegister(cs ...prometheus.Collector) {
	d.Registerer.MustRegister(cs...)
	for _, c := range cs {
		ch := make(chan *prometheus.Desc, 64)
		go func() { c.Describe(ch); close(ch) }()
		for desc := range ch {
			// Desc's String is `Desc{fqName: "name", ...}`.
			s := desc.String()
			start := strings.Index(s, `fqName: "`) + len(`fqName: "`)
			d.names = append(d.names, s[start:start+strings.IndexByte(s[start:], '"')])
		}
	}
}

// Every metric a host registers carries Config.MetricsNamespace, so two
// embedders (or a host and its application) do not collide; the default
// is "pureraft".
func TestMetricsNamespace(t *testing.T) {
	for _, ns := range []string{"", "myapp"} {
		reg := &describing{Registerer: prometheus.NewRegistry()}
		newCluster(t, 1, func(cfg *Config) {
			cfg.Registry = reg
			cfg.MetricsNamespace = ns
		})
		want := ns
		if want == "" {
			want = "pureraft"
		}
		for _, name := range reg.names {
			if !strings.HasPrefix(name, want+"_") {
				t.Errorf("namespace %q: metric %s", ns, name)
			}
		}
		if len(reg.names) < 20 {
			t.Errorf("namespace %q: only %d metrics described: %v", ns, len(reg.names), reg.names)
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
