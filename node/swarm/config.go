package swarm

import (
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"time"

	"github.com/hearth-p2p/hearth/node/route"
	"github.com/hearth-p2p/hearth/node/shard"
)

// Config describes a simulated swarm and its workload.
type Config struct {
	ModelPath string // the GGUF every node holds
	Providers int    // shard servers
	// Capacity is the layers each provider serves (0: half the model, at
	// least one); ranges are placed one provider after another with
	// route.ChooseRange, so replicas overlap where the swarm is thinnest.
	Capacity    int
	Clients     int // consumer nodes, each with its own ban list and checker
	Concurrency int // generations each client runs at once
	Generations int // generations in all
	Prompt      int // prompt tokens: BOS and random ids
	Steps       int // tokens generated per generation
	Wire        shard.DType

	// CheckRate is the fraction of remote results re-checked (0: the
	// verify default, 2%). Checks run on the client, which holds the model,
	// unless RemoteChecks asks second providers.
	CheckRate    float64
	RemoteChecks bool
	// Gossip makes the clients share fraud reports over GossipSub.
	Gossip bool

	// Churn kills a random honest provider this often (0: none), never one
	// whose layers would be left without a live replica; it comes back
	// after Downtime (0: never).
	Churn    time.Duration
	Downtime time.Duration
	// Freeze makes half the churn events freezes instead of crashes: the
	// provider stays connected but stops answering, which only the
	// clients' deadlines detect.
	Freeze bool
	// Slow providers add SlowDelay to every forward.
	Slow      int
	SlowDelay time.Duration
	// Cheaters add 1e-3 to one value of every output.
	Cheaters int

	Deadline route.Deadline // stall detection of the clients' chains
	// Patience is how long a client's failover waits for a provider when
	// none can take over (0: 5 s).
	Patience time.Duration
	Seed     uint64 // prompts, placement of the special providers, draws
	Logger   *slog.Logger
}

// Default is a run of the size the benchmark uses: 16 providers, 4
// clients running 4 generations at once (192 of 48 tokens), a provider
// crashing or freezing every 250 ms and back 500 ms later, one slow and one
// cheating provider.
func Default() Config {
	return Config{
		Providers: 16, Clients: 4, Concurrency: 4, Generations: 192, Prompt: 8, Steps: 48, Wire: shard.F32,
		CheckRate: 0.02, Gossip: true, Churn: 250 * time.Millisecond, Downtime: 500 * time.Millisecond, Freeze: true,
		Slow: 1, SlowDelay: 20 * time.Millisecond, Cheaters: 1, Seed: 1,
		Deadline: route.Deadline{Floor: 250 * time.Millisecond, Initial: 10 * time.Second, K: 4, MinSamples: 8},
	}
}

// ErrInvalidConfig reports a configuration that cannot run.
var ErrInvalidConfig = errors.New("invalid swarm config")

// Validate reports the first problem with the configuration.
func (c Config) Validate() error {
	switch {
	case c.ModelPath == "":
		return fmt.Errorf("%w: no model", ErrInvalidConfig)
	case c.Providers < 2 || c.Clients < 1 || c.Concurrency < 1 || c.Generations < 1:
		return fmt.Errorf("%w: %d providers, %d clients × %d, %d generations", ErrInvalidConfig, c.Providers, c.Clients, c.Concurrency, c.Generations)
	case c.Prompt < 1 || c.Steps < 1:
		return fmt.Errorf("%w: prompt %d, steps %d", ErrInvalidConfig, c.Prompt, c.Steps)
	case c.Slow+c.Cheaters >= c.Providers:
		return fmt.Errorf("%w: %d slow and %d cheating of %d providers", ErrInvalidConfig, c.Slow, c.Cheaters, c.Providers)
	case c.Churn < 0 || c.Downtime < 0 || c.SlowDelay < 0:
		return fmt.Errorf("%w: negative duration", ErrInvalidConfig)
	}
	return nil
}

// Results are what a run measured.
type Results struct {
	Generations int // started
	Completed   int // ran to the end
	Correct     int // completed with the single-machine ids
	Errors      []string
	Tokens      int           // generated in all
	Elapsed     time.Duration // of the generation phase

	Failovers        int             // providers replaced mid-generation
	FailedRecoveries int             // failovers that found no replacement
	Stalls           int             // failovers of providers that missed their deadline
	Faulty           int             // failovers of providers caught returning wrong results
	Recovery         []time.Duration // per failover, sorted
	Kills, Restarts  int
	Freezes          int // of the kills, those that froze the provider

	CheckRate  float64
	Offered    int   // remote results offered to the checkers
	Checks     int   // of which re-run
	Caught     int   // convictions (a cheater, by some client)
	WrongBans  int   // honest providers banned (by a check or a report)
	ByReport   int   // bans of a cheater on another client's report, reproduced
	Reports    int   // fraud reports published
	Exposed    int   // (client, cheater) pairs where the client used the cheater
	Stopped    int   // of which the client banned it in the end (its own check or a report)
	Detected   int   // of which the client caught it itself
	Detection  []int // per self-detection: the cheater's results seen up to it
	CheatedGen int   // generations that passed some result through a cheater
	WrongGen   int   // of which gave different ids
}

// SuccessRate is the fraction of generations that completed with the
// single-machine ids.
func (r Results) SuccessRate() float64 { return ratio(r.Correct, r.Generations) }

// Throughput is generated tokens per second over the whole swarm.
func (r Results) Throughput() float64 {
	if r.Elapsed <= 0 {
		return 0
	}
	return float64(r.Tokens) / r.Elapsed.Seconds()
}

// RecoveryQuantile is the q-quantile (0…1) of the failovers' recovery times.
func (r Results) RecoveryQuantile(q float64) time.Duration {
	if len(r.Recovery) == 0 {
		return 0
	}
	i := int(q*float64(len(r.Recovery))+0.999999) - 1
	return r.Recovery[min(max(i, 0), len(r.Recovery)-1)]
}

// DetectionRate is the fraction of clients exposed to a cheater that banned
// it by the end of the run, by their own check or a reproduced report.
func (r Results) DetectionRate() float64 { return ratio(r.Stopped, r.Exposed) }

// MeanStepsToDetection is the mean number of a cheater's results a client
// saw up to and including the one it caught (about 1/CheckRate).
func (r Results) MeanStepsToDetection() float64 {
	if len(r.Detection) == 0 {
		return 0
	}
	s := 0
	for _, d := range r.Detection {
		s += d
	}
	return float64(s) / float64(len(r.Detection))
}

func ratio(a, b int) float64 {
	if b == 0 {
		return 0
	}
	return float64(a) / float64(b)
}

// String renders the figures.
func (r Results) String() string {
	var b strings.Builder
	fmt.Fprintf(&b, "generations      %d started, %d completed, %d with the single-machine ids (%.1f%%)\n",
		r.Generations, r.Completed, r.Correct, 100*r.SuccessRate())
	fmt.Fprintf(&b, "throughput       %d tokens in %v: %.1f tok/s\n", r.Tokens, r.Elapsed.Round(time.Millisecond), r.Throughput())
	fmt.Fprintf(&b, "churn            %d providers down (%d crashed, %d froze), %d restarts\n", r.Kills, r.Kills-r.Freezes, r.Freezes, r.Restarts)
	fmt.Fprintf(&b, "failovers        %d (%d stalls, %d wrong results, %d without a replacement); recovery p50 %v, p95 %v\n",
		r.Failovers, r.Stalls, r.Faulty, r.FailedRecoveries, r.RecoveryQuantile(0.5).Round(10*time.Microsecond), r.RecoveryQuantile(0.95).Round(10*time.Microsecond))
	fmt.Fprintf(&b, "checks           rate %.3f: %d of %d results re-run; %d convictions, %d honest providers banned\n",
		r.CheckRate, r.Checks, r.Offered, r.Caught, r.WrongBans)
	fmt.Fprintf(&b, "cheaters         %d client×cheater exposures, %d banned by the end (%.0f%%): %d by the client's own check, after %.1f of the cheater's results on average (1/rate = %.0f)\n",
		r.Exposed, r.Stopped, 100*r.DetectionRate(), r.Detected, r.MeanStepsToDetection(), 1/max(r.CheckRate, 1e-9))
	fmt.Fprintf(&b, "fraud reports    %d published, %d bans on reproduced reports\n", r.Reports, r.ByReport)
	fmt.Fprintf(&b, "cheated output   %d generations passed a result through a cheater, %d of them gave different ids\n", r.CheatedGen, r.WrongGen)
	for i, e := range r.Errors {
		if i == 5 {
			fmt.Fprintf(&b, "… %d more errors\n", len(r.Errors)-5)
			break
		}
		fmt.Fprintf(&b, "error            %s\n", e)
	}
	return b.String()
}
