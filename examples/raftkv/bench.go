package main

import (
	"bytes"
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"os"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"text/tabwriter"
	"time"

	clientv3 "go.etcd.io/etcd/client/v3"
	"go.uber.org/zap"
)

// The load generator: `raftkv bench`.
//
// It runs a fixed-duration closed loop — each of --concurrency workers
// sends one request, waits for the answer, sends the next — and reports
// throughput and latency percentiles. The same workload runs against
// raftkv's HTTP API (--endpoints) or an etcd cluster through the official
// Go client (--etcd), so the numbers compare the two servers, not two load
// generators.
//
// Workloads: put (a random key of the key space, a random value of
// --value-size bytes), get-linearizable, get-lease, get-stale (a random
// key of the preloaded key space). Requests spread over the endpoints
// round-robin, as etcd's client balancer spreads them; writes and linearizable reads that land on a follower are
// forwarded to the leader by the server, in both systems.

type benchTarget interface {
	put(ctx context.Context, worker int, key string, value []byte) error
	get(ctx context.Context, worker int, key string, consistency string) error
	close()
}

type benchResult struct {
	Workload    string        `json:"workload"`
	Concurrency int           `json:"concurrency"`
	Ops         int           `json:"ops"`
	Errors      int64         `json:"errors"`
	Throughput  float64       `json:"ops_per_sec"`
	P50         time.Duration `json:"p50"`
	P90         time.Duration `json:"p90"`
	P99         time.Duration `json:"p99"`
	Max         time.Duration `json:"max"`
}

func splitList(s string) []string {
	var out []string
	for _, p := range strings.Split(s, ",") {
		if p = strings.TrimSpace(p); p != "" {
			out = append(out, p)
		}
	}
	return out
}

func runBench(args []string) int {
	fs := flag.NewFlagSet("raftkv bench", flag.ExitOnError)
	endpoints := fs.String("endpoints", "", "raftkv HTTP addresses, comma-separated")
	etcdEndpoints := fs.String("etcd", "", "etcd client URLs, comma-separated (instead of --endpoints)")
	workloads := fs.String("workloads", "put,get-linearizable,get-lease,get-stale", "workloads to run")
	concurrency := fs.String("concurrency", "1,64,512", "concurrency levels, comma-separated")
	valueSize := fs.Int("value-size", 256, "value size in bytes")
	duration := fs.Duration("duration", 10*time.Second, "duration of each run")
	keys := fs.Int("keys", 1000, "key space (preloaded before reads)")
	timeout := fs.Duration("timeout", 5*time.Second, "per-request timeout")
	fs.DurationVar(&warmup, "warmup", time.Second, "unmeasured warm-up before each run")
	format := fs.String("format", "text", "text, markdown or json")
	label := fs.String("label", "", "label of the raftkv system in the output")
	rounds := fs.Int("rounds", 1, "repeat every run this many times (interleaved) and report medians")
	cacert := fs.String("cacert", "", "TLS: CA bundle to trust (both systems; raftkv endpoints become https)")
	certFile := fs.String("cert", "", "TLS: client certificate to present")
	keyFile := fs.String("key", "", "TLS: client key")
	fs.Parse(args)
	tlsCfg, err := benchTLS(*cacert, *certFile, *keyFile)
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 2
	}

	var levels []int
	for _, c := range splitList(*concurrency) {
		n, err := strconv.Atoi(c)
		if err != nil || n <= 0 {
			fmt.Fprintf(os.Stderr, "bad concurrency %q\n", c)
			return 2
		}
		levels = append(levels, n)
	}
	maxConc := slices.Max(levels)
	type system struct {
		name   string
		target benchTarget
	}
	var systems []system
	if *endpoints != "" {
		name := *label
		if name == "" {
			name = "raftkv"
		}
		systems = append(systems, system{name, newHTTPTarget(splitList(*endpoints), maxConc, tlsCfg)})
	}
	if *etcdEndpoints != "" {
		t, err := newEtcdTarget(splitList(*etcdEndpoints), maxConc, tlsCfg)
		if err != nil {
			fmt.Fprintln(os.Stderr, "etcd:", err)
			return 1
		}
		systems = append(systems, system{"etcd", t})
	}
	if len(systems) == 0 {
		fmt.Fprintln(os.Stderr, "need --endpoints and/or --etcd")
		return 2
	}
	defer func() {
		for _, s := range systems {
			s.target.close()
		}
	}()

	value := bytes.Repeat([]byte("v"), *valueSize)
	keyName := func(i int) string { return fmt.Sprintf("bench/%08d", i) }
	for _, s := range systems {
		// Preload the key space so reads find values.
		if err := runLoad(s.target, 64, 0, *keys, *timeout, func(ctx context.Context, w, i int) error {
			return s.target.put(ctx, w, keyName(i), value)
		}); err != nil {
			fmt.Fprintf(os.Stderr, "%s: preload: %v\n", s.name, err)
			return 1
		}
	}
	// With two systems the runs interleave (and alternate which goes
	// first) so that both see the same machine: on a shared machine the
	// background load drifts over minutes.
	results := map[string][][]benchResult{} // system -> round -> results
	for round := range *rounds {
		for _, wl := range splitList(*workloads) {
			for _, c := range levels {
				for k := range systems {
					s := systems[(k+round)%len(systems)]
					var op func(ctx context.Context, w int, rng *rand.Rand) error
					switch wl {
					case "put":
						op = func(ctx context.Context, w int, rng *rand.Rand) error {
							return s.target.put(ctx, w, keyName(rng.IntN(*keys)), value)
						}
					case "get-linearizable", "get-lease", "get-stale":
						cons := strings.TrimPrefix(wl, "get-")
						op = func(ctx context.Context, w int, rng *rand.Rand) error {
							return s.target.get(ctx, w, keyName(rng.IntN(*keys)), cons)
						}
					default:
						fmt.Fprintf(os.Stderr, "unknown workload %q\n", wl)
						return 2
					}
					r, err := measure(s.target, wl, c, *duration, *timeout, op)
					if errors.Is(err, errUnsupported) {
						continue
					}
					for len(results[s.name]) <= round {
						results[s.name] = append(results[s.name], nil)
					}
					results[s.name][round] = append(results[s.name][round], r)
					fmt.Fprintf(os.Stderr, "round %d %s %s c=%d: %.0f ops/s p99 %v (%d errors)\n", round+1, s.name, wl, c, r.Throughput, r.P99, r.Errors)
				}
			}
		}
	}
	if len(systems) == 1 || *format == "json" {
		for _, s := range systems {
			printResults(os.Stdout, s.name, *format, *valueSize, medians(results[s.name]))
		}
		return 0
	}
	printComparison(os.Stdout, medians(results[systems[0].name]), medians(results[systems[1].name]), *rounds)
	return 0
}

// medians reduces rounds of results to the median of each figure.
func medians(rounds [][]benchResult) []benchResult {
	if len(rounds) == 0 {
		return nil
	}
	out := make([]benchResult, len(rounds[0]))
	for i := range out {
		var tp []float64
		var p50, p90, p99, mx []time.Duration
		var errs int64
		ops := 0
		for _, r := range rounds {
			if i >= len(r) {
				continue
			}
			tp = append(tp, r[i].Throughput)
			p50, p90, p99, mx = append(p50, r[i].P50), append(p90, r[i].P90), append(p99, r[i].P99), append(mx, r[i].Max)
			errs += r[i].Errors
			ops += r[i].Ops
		}
		slices.Sort(tp)
		med := func(d []time.Duration) time.Duration { slices.Sort(d); return d[len(d)/2] }
		out[i] = benchResult{Workload: rounds[0][i].Workload, Concurrency: rounds[0][i].Concurrency, Ops: ops, Errors: errs,
			Throughput: tp[len(tp)/2], P50: med(p50), P90: med(p90), P99: med(p99), Max: med(mx)}
	}
	return out
}

func printComparison(w io.Writer, a, b []benchResult, rounds int) {
	fmt.Fprintf(w, "Medians of %d interleaved rounds. Latencies in ms.\n\n", rounds)
	fmt.Fprintln(w, "| workload | conc | raftkv ops/s | etcd ops/s | ratio | raftkv p50 / p90 / p99 / max | etcd p50 / p90 / p99 / max |")
	fmt.Fprintln(w, "|---|---:|---:|---:|---:|---|---|")
	for _, ra := range a {
		var rb *benchResult
		for i := range b {
			if b[i].Workload == ra.Workload && b[i].Concurrency == ra.Concurrency {
				rb = &b[i]
			}
		}
		lat := func(r benchResult) string {
			return fmt.Sprintf("%s / %s / %s / %s", ms(r.P50), ms(r.P90), ms(r.P99), ms(r.Max))
		}
		if rb == nil {
			fmt.Fprintf(w, "| %s | %d | %.0f | n/a | | %s | n/a |\n", ra.Workload, ra.Concurrency, ra.Throughput, lat(ra))
			continue
		}
		fmt.Fprintf(w, "| %s | %d | %.0f | %.0f | %.2f× | %s | %s |\n", ra.Workload, ra.Concurrency, ra.Throughput, rb.Throughput, ra.Throughput/rb.Throughput, lat(ra), lat(*rb))
	}
}

var errUnsupported = errors.New("unsupported")

var warmup time.Duration

// runLoad runs op for i in [from, to) over c workers.
func runLoad(target benchTarget, c, from, to int, timeout time.Duration, op func(ctx context.Context, w, i int) error) error {
	var next atomic.Int64
	next.Store(int64(from))
	var wg sync.WaitGroup
	var firstErr atomic.Value
	for w := range c {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				i := int(next.Add(1) - 1)
				if i >= to {
					return
				}
				var err error
				for try := 0; try < 20; try++ {
					ctx, cancel := context.WithTimeout(context.Background(), timeout)
					err = op(ctx, w, i)
					cancel()
					if err == nil {
						break
					}
					time.Sleep(100 * time.Millisecond)
				}
				if err != nil {
					firstErr.CompareAndSwap(nil, err)
					return
				}
			}
		}()
	}
	wg.Wait()
	if err, _ := firstErr.Load().(error); err != nil {
		return err
	}
	return nil
}

func measure(target benchTarget, name string, c int, d, timeout time.Duration, op func(ctx context.Context, w int, rng *rand.Rand) error) (benchResult, error) {
	lat := make([][]time.Duration, c)
	var errs atomic.Int64
	var unsupported atomic.Bool
	var wg sync.WaitGroup
	// Every worker warms up (connections opened, caches filled) before
	// the measured window starts.
	start := time.Now().Add(warmup)
	end := start.Add(d)
	for w := range c {
		wg.Add(1)
		go func() {
			defer wg.Done()
			rng := rand.New(rand.NewPCG(uint64(w), uint64(time.Now().UnixNano())))
			l := make([]time.Duration, 0, 1024)
			for {
				t0 := time.Now()
				if t0.After(end) {
					break
				}
				ctx, cancel := context.WithTimeout(context.Background(), timeout)
				err := op(ctx, w, rng)
				cancel()
				if t0.Before(start) {
					continue // warming up
				}
				if errors.Is(err, errUnsupported) {
					unsupported.Store(true)
					break
				}
				if err != nil {
					errs.Add(1)
					continue
				}
				l = append(l, time.Since(t0))
			}
			lat[w] = l
		}()
	}
	wg.Wait()
	if unsupported.Load() {
		return benchResult{}, errUnsupported
	}
	elapsed := time.Since(start) // includes the requests still in flight at the end
	all := slices.Concat(lat...)
	slices.Sort(all)
	r := benchResult{Workload: name, Concurrency: c, Ops: len(all), Errors: errs.Load(), Throughput: float64(len(all)) / elapsed.Seconds()}
	if n := len(all); n > 0 {
		pct := func(p float64) time.Duration { return all[min(n-1, int(float64(n)*p))] }
		r.P50, r.P90, r.P99, r.Max = pct(0.50), pct(0.90), pct(0.99), all[n-1]
	}
	return r, nil
}

func ms(d time.Duration) string { return fmt.Sprintf("%.2f", float64(d)/float64(time.Millisecond)) }

func printResults(w io.Writer, system, format string, valueSize int, rs []benchResult) {
	switch format {
	case "json":
		json.NewEncoder(w).Encode(map[string]any{"system": system, "value_size": valueSize, "results": rs})
	case "markdown":
		for _, r := range rs {
			fmt.Fprintf(w, "| %s | %s | %d | %.0f | %s | %s | %s | %s | %d |\n", system, r.Workload, r.Concurrency, r.Throughput, ms(r.P50), ms(r.P90), ms(r.P99), ms(r.Max), r.Errors)
		}
	default:
		tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', tabwriter.AlignRight)
		fmt.Fprintln(tw, "system\tworkload\tconc\tops/s\tp50 ms\tp90 ms\tp99 ms\tmax ms\terrors\t")
		for _, r := range rs {
			fmt.Fprintf(tw, "%s\t%s\t%d\t%.0f\t%s\t%s\t%s\t%s\t%d\t\n", system, r.Workload, r.Concurrency, r.Throughput, ms(r.P50), ms(r.P90), ms(r.P99), ms(r.Max), r.Errors)
		}
		tw.Flush()
	}
}

// benchTLS is the client TLS configuration the flags ask for, or nil.
func benchTLS(cacert, cert, key string) (*tls.Config, error) {
	if cacert == "" {
		if cert != "" || key != "" {
			return nil, errors.New("--cert and --key need --cacert")
		}
		return nil, nil
	}
	pem, err := os.ReadFile(cacert)
	if err != nil {
		return nil, err
	}
	cfg := &tls.Config{RootCAs: x509.NewCertPool()}
	if !cfg.RootCAs.AppendCertsFromPEM(pem) {
		return nil, fmt.Errorf("%s holds no PEM certificate", cacert)
	}
	if cert != "" {
		c, err := tls.LoadX509KeyPair(cert, key)
		if err != nil {
			return nil, err
		}
		cfg.Certificates = []tls.Certificate{c}
	}
	return cfg, nil
}

// ---- raftkv over HTTP ----

type httpTarget struct {
	endpoints []string
	client    *http.Client
	next      atomic.Uint64
}

// endpoint picks the next endpoint round-robin, request by request, as
// etcd's client balancer does.
func (t *httpTarget) endpoint() string {
	return t.endpoints[t.next.Add(1)%uint64(len(t.endpoints))]
}

func newHTTPTarget(endpoints []string, conc int, tlsCfg *tls.Config) *httpTarget {
	scheme := "http://"
	if tlsCfg != nil {
		scheme = "https://"
	}
	for i, e := range endpoints {
		if !strings.Contains(e, "://") {
			endpoints[i] = scheme + e
		}
	}
	tr := &http.Transport{MaxIdleConns: 2 * conc, MaxIdleConnsPerHost: conc + 8, IdleConnTimeout: time.Minute, DisableCompression: true, TLSClientConfig: tlsCfg}
	return &httpTarget{endpoints: endpoints, client: &http.Client{Transport: tr}}
}

func (t *httpTarget) do(req *http.Request) error {
	resp, err := t.client.Do(req)
	if err != nil {
		return err
	}
	io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 200 {
		return fmt.Errorf("HTTP %d", resp.StatusCode)
	}
	return nil
}

func (t *httpTarget) put(ctx context.Context, w int, key string, value []byte) error {
	req, _ := http.NewRequestWithContext(ctx, "PUT", t.endpoint()+"/kv/"+key, bytes.NewReader(value))
	return t.do(req)
}

func (t *httpTarget) get(ctx context.Context, w int, key, consistency string) error {
	req, _ := http.NewRequestWithContext(ctx, "GET", t.endpoint()+"/kv/"+key+"?consistency="+consistency, nil)
	return t.do(req)
}

func (t *httpTarget) close() { t.client.CloseIdleConnections() }

// ---- etcd through clientv3 ----

type etcdTarget struct{ clients []*clientv3.Client }

// newEtcdTarget opens one client (one gRPC connection, multiplexed) per 64
// workers, each spread over all endpoints by the client's balancer.
func newEtcdTarget(endpoints []string, conc int, tlsCfg *tls.Config) (*etcdTarget, error) {
	n := max(1, min(16, (conc+63)/64))
	t := &etcdTarget{}
	for range n {
		c, err := clientv3.New(clientv3.Config{Endpoints: endpoints, DialTimeout: 5 * time.Second, Logger: zap.NewNop(), TLS: tlsCfg})
		if err != nil {
			t.close()
			return nil, err
		}
		t.clients = append(t.clients, c)
	}
	return t, nil
}

func (t *etcdTarget) put(ctx context.Context, w int, key string, value []byte) error {
	_, err := t.clients[w%len(t.clients)].Put(ctx, key, string(value))
	return err
}

func (t *etcdTarget) get(ctx context.Context, w int, key, consistency string) error {
	c := t.clients[w%len(t.clients)]
	var err error
	switch consistency {
	case "linearizable":
		_, err = c.Get(ctx, key)
	case "stale":
		_, err = c.Get(ctx, key, clientv3.WithSerializable())
	default:
		return errUnsupported // etcd has no lease-based read in its client API
	}
	return err
}

func (t *etcdTarget) close() {
	for _, c := range t.clients {
		c.Close()
	}
}
