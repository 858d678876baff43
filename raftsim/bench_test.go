package raftsim

import (
	"testing"
	"time"
)

// BenchmarkSim measures simulation speed in node ticks per second, with
// every invariant checked on every step: per second of wall time, and (on
// Unix) per second of CPU time, which stays meaningful on a loaded
// machine. The "+lin" variant includes the final porcupine check, whose
// checker runs in parallel goroutines.
//
//	go test ./raftsim -run '^$' -bench Sim -benchtime 20x
func BenchmarkSim(b *testing.B) {
	for _, c := range []struct {
		name  string
		nodes int
		lin   bool
	}{
		{"nodes=3", 3, false}, {"nodes=5", 5, false}, {"nodes=5+lin", 5, true},
	} {
		b.Run(c.name, func(b *testing.B) {
			sc := DefaultScenario()
			sc.Nodes = c.nodes
			var ticks, steps uint64
			start, cpu0 := time.Now(), cpuTime()
			for i := 0; i < b.N; i++ {
				res, err := Run(sc, uint64(i+1), Options{SkipLinearizability: !c.lin})
				if err != nil {
					b.Fatal(err)
				}
				if res.Failed() {
					b.Fatal(res.Report())
				}
				ticks += res.Stats.NodeTicks
				steps += res.Stats.Steps
			}
			el := time.Since(start).Seconds()
			b.ReportMetric(float64(ticks)/el, "node-ticks/s")
			b.ReportMetric(float64(steps)/el, "steps/s")
			if cpu := (cpuTime() - cpu0).Seconds(); cpu > 0 {
				b.ReportMetric(float64(ticks)/cpu, "node-ticks/cpu-s")
			}
		})
	}
}
