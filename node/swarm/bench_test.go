package swarm

import (
	"context"
	"path/filepath"
	"testing"
	"time"
)

// BenchmarkSwarm runs the default swarm (see Default: 16 providers, 4
// clients × 4 generations at once, 192 generations of 48 tokens, a provider
// crashing or freezing every 250 ms and back 500 ms later, one slow and one
// cheating provider) and prints its figures. Run it once per case:
//
//	go test -run '^$' -bench Swarm -benchtime 1x ./node/swarm
func BenchmarkSwarm(b *testing.B) {
	stories := func(b *testing.B) string { return filepath.Join(modelsDir(b), "stories260K.gguf") }
	// detection: no gossip and no churn, so that every client has to catch
	// the cheater itself: the steps to detection are measured many times.
	detection := func(c *Config) {
		c.Gossip, c.Churn, c.Clients, c.Concurrency, c.Providers, c.Capacity = false, 0, 8, 2, 8, 4
	}
	cases := []struct {
		name   string
		model  func(b *testing.B) string
		rate   float64
		mutate func(*Config)
	}{
		{"stories260K/rate=0.02", stories, 0.02, nil},
		{"stories260K/rate=0.25", stories, 0.25, nil},
		{"stories260K/detection/rate=0.10", stories, 0.10, detection},
		{"llama-tiny-q8_0/rate=0.02", func(b *testing.B) string { return synthModel(b, "llama-tiny-q8_0") }, 0.02, nil},
	}
	for _, tc := range cases {
		b.Run(tc.name, func(b *testing.B) {
			cfg := Default()
			cfg.ModelPath, cfg.CheckRate = tc.model(b), tc.rate
			if tc.mutate != nil {
				tc.mutate(&cfg)
			}
			var res Results
			for i := 0; b.Loop(); i++ {
				cfg.Seed = uint64(i + 1)
				ctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute)
				var err error
				res, err = Run(ctx, cfg)
				cancel()
				if err != nil {
					b.Fatal(err)
				}
			}
			b.Logf("\n%s", res)
			b.ReportMetric(100*res.SuccessRate(), "success_%")
			b.ReportMetric(float64(res.RecoveryQuantile(0.5).Microseconds())/1000, "recovery_p50_ms")
			b.ReportMetric(float64(res.RecoveryQuantile(0.95).Microseconds())/1000, "recovery_p95_ms")
			b.ReportMetric(100*res.DetectionRate(), "detect_%")
			b.ReportMetric(res.MeanStepsToDetection(), "steps_to_detect")
			b.ReportMetric(res.Throughput(), "tok/s")
		})
	}
}
