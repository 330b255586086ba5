package verify

import (
	"context"
	crand "crypto/rand"
	"encoding/binary"
	"errors"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"sort"
	"sync"
	"time"

	"github.com/hearth-p2p/hearth/node/route"
	"github.com/hearth-p2p/hearth/node/shard"
)

// DefaultRate is the fraction of remote results re-checked: 2%.
const DefaultRate = 0.02

// CheckerConfig says how often and where results are re-checked, and what
// happens to a provider caught.
type CheckerConfig struct {
	// Rate is the fraction of remote results re-checked (0: DefaultRate;
	// negative: none).
	Rate float64
	// Rand draws the results to check (nil: seeded from crypto/rand).
	Rand *rand.Rand
	Dim  int // hidden size of the model
	// Local lists layers this node can re-run itself, with OpenLocal; a
	// local re-run is trusted and preferred.
	Local     []route.Range
	OpenLocal route.OpenLocalFunc
	// Find and Open re-run a hop on a second provider. Open should ask for
	// f32 hidden states: the comparison is then exact.
	Find route.FindFunc
	Open route.OpenFunc
	// Bans records the providers caught; their checks are not offered again.
	Bans *BanList
	// Reporter, when set, publishes a fraud report for each provider caught.
	Reporter Reporter
	// Void, when set, is told the session of a provider caught, so that its
	// unpaid work can be written off (the wallet's ledger).
	Void func(session [16]byte, provider string) error
	// Tolerance of comparisons with a non-CPU backend (0: DefaultTolerance).
	Tolerance float64
	// Timeout bounds one re-execution (default 30 s).
	Timeout time.Duration
	// OnEvent is called after each check; it must not block.
	OnEvent func(CheckEvent)
	Logger  *slog.Logger
}

// Reporter publishes fraud reports; *Fraud implements it.
type Reporter interface {
	Publish(ctx context.Context, r Report) error
}

// CheckKind says how a check ended.
type CheckKind int

// Check outcomes.
const (
	CheckPassed     CheckKind = iota + 1 // the re-execution agreed
	CheckCaught                          // the provider's result was wrong: banned
	CheckCaughtPeer                      // the second provider lied in a tie-break: it was banned
	CheckUnresolved                      // two providers disagreed and no third could decide
)

// CheckEvent reports one check.
type CheckEvent struct {
	Kind    CheckKind
	Time    time.Time
	Peer    string // the provider checked
	Checker string // who re-ran it: "local" or a peer
	Range   route.Range
	Pos, N  int
	Exact   bool
	Reason  string
	// Offered and Checked count the provider's results this checker was
	// offered and re-ran so far, this one included: a cheater's steps to
	// detection.
	Offered, Checked int
	Took             time.Duration
}

// CheckStats count a checker's work.
type CheckStats struct {
	Offered, Checked, Caught, Unresolved int
}

// Checker re-runs a random fraction of remote results on this node or a
// second provider and compares: it implements route.Auditor. It is safe for
// concurrent use by many chains.
type Checker struct {
	cfg CheckerConfig
	log *slog.Logger

	mu    sync.Mutex // guards rnd, stats and perPeer
	rnd   *rand.Rand
	stats CheckStats
	peers map[string]*[2]int // offered, checked
}

// NewChecker returns a checker.
func NewChecker(cfg CheckerConfig) (*Checker, error) {
	if cfg.Dim <= 0 {
		return nil, fmt.Errorf("checker: hidden size %d", cfg.Dim)
	}
	if cfg.Rate == 0 {
		cfg.Rate = DefaultRate
	}
	if cfg.Tolerance <= 0 {
		cfg.Tolerance = DefaultTolerance
	}
	if cfg.Timeout <= 0 {
		cfg.Timeout = 30 * time.Second
	}
	rnd := cfg.Rand
	if rnd == nil {
		var seed [16]byte
		crand.Read(seed[:])
		rnd = rand.New(rand.NewPCG(binary.LittleEndian.Uint64(seed[:8]), binary.LittleEndian.Uint64(seed[8:])))
	}
	log := cfg.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	return &Checker{cfg: cfg, log: log.With("sub", "verify"), rnd: rnd, peers: map[string]*[2]int{}}, nil
}

// Stats returns the counters.
func (c *Checker) Stats() CheckStats {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.stats
}

// draw counts an offered result and decides whether to check it.
func (c *Checker) draw(peer string) (check bool, offered, checked int) {
	c.mu.Lock()
	defer c.mu.Unlock()
	p := c.peers[peer]
	if p == nil {
		p = &[2]int{}
		c.peers[peer] = p
	}
	p[0]++
	c.stats.Offered++
	if c.cfg.Rate > 0 && c.rnd.Float64() < c.cfg.Rate {
		p[1]++
		c.stats.Checked++
		return true, p[0], p[1]
	}
	return false, p[0], p[1]
}

// Optional capabilities of sessions (a *shard.RemoteStage has them all).
type (
	evidenced interface {
		Evidence() (shard.Evidence, bool)
	}
	backended interface{ Backend() string }
)

// rerun is one re-execution of a hop.
type rerun struct {
	who     string
	backend string
	out     []float32 // rows of the checked positions, rounded like the claim
	ev      *shard.Evidence
}

// Audit re-checks the result when drawn; see route.Auditor.
func (c *Checker) Audit(ctx context.Context, a route.Audit) error {
	if c.cfg.Bans.IsBanned(a.Peer) {
		return fmt.Errorf("%w: %s is banned", route.ErrFaulty, a.Peer)
	}
	check, offered, checked := c.draw(a.Peer)
	if !check {
		return nil
	}
	start := time.Now()
	ctx, cancel := context.WithTimeout(ctx, c.cfg.Timeout)
	defer cancel()
	ev := CheckEvent{Peer: a.Peer, Range: a.Range, Pos: a.Pos, N: a.N, Offered: offered, Checked: checked}
	done := func(kind CheckKind, reason string) {
		ev.Kind, ev.Reason, ev.Time, ev.Took = kind, reason, time.Now(), time.Since(start)
		if c.cfg.OnEvent != nil {
			c.cfg.OnEvent(ev)
		}
	}
	var claim *shard.Evidence
	outDType, backend := shard.F32, BackendCPU
	if e, ok := a.Session.(evidenced); ok {
		if x, ok := e.Evidence(); ok {
			claim = &x
			outDType, backend = x.Statement.DType, x.Statement.Backend
			if err := x.Verify(); err != nil {
				done(CheckCaught, err.Error())
				return c.convict(ctx, a, nil, fmt.Sprintf("result not signed: %v", err))
			}
		}
	}
	in := a
	if claim != nil && a.Hidden != nil {
		h, err := asReceived(a.Hidden, c.cfg.Dim, claim.InputDTypes)
		if err != nil {
			return err
		}
		in.Hidden = h
	}
	exclude := map[string]bool{a.Peer: true}
	first, err := c.rerun(ctx, in, outDType, backend, exclude)
	if err != nil {
		return fmt.Errorf("check %v of %s: %w", a.Range, a.Peer, err)
	}
	ev.Checker, ev.Exact = first.who, exactBetween(backend, first.backend)
	row := c.cfg.Dim
	if a.Last {
		row = len(a.Output) // one row of logits
	}
	diff := mismatch(a.Output, first.out, row, ev.Exact, c.cfg.Tolerance)
	if diff == "" {
		done(CheckPassed, "")
		return nil
	}
	if first.who == "local" {
		done(CheckCaught, diff)
		return c.convict(ctx, a, claim, diff)
	}
	// Two providers disagree: a third decides.
	exclude[first.who] = true
	third, err := c.rerun(ctx, in, outDType, backend, exclude)
	if err != nil {
		c.count(func(s *CheckStats) { s.Unresolved++ })
		done(CheckUnresolved, fmt.Sprintf("%s; no third opinion: %v", diff, err))
		return fmt.Errorf("%w: %s disagrees with %s and nobody can decide", route.ErrFaulty, a.Peer, first.who)
	}
	exact3 := exactBetween(backend, third.backend) && exactBetween(first.backend, third.backend)
	withFirst := mismatch(first.out, third.out, row, exact3, c.cfg.Tolerance) == ""
	withClaim := mismatch(a.Output, third.out, row, exact3, c.cfg.Tolerance) == ""
	switch {
	case withFirst && !withClaim:
		done(CheckCaught, diff)
		return c.convict(ctx, a, claim, diff)
	case withClaim && !withFirst:
		ev.Peer, ev.Checker = first.who, third.who
		done(CheckCaughtPeer, "the second provider's re-execution was wrong")
		liar := route.Audit{Peer: first.who, Range: a.Range, Pos: 0, N: a.Pos + a.N, Tokens: a.Tokens, Hidden: in.Hidden}
		c.convict(ctx, liar, first.ev, "wrong result in a check")
		return nil
	}
	c.count(func(s *CheckStats) { s.Unresolved++ })
	done(CheckUnresolved, diff)
	return fmt.Errorf("%w: %s, %s and %s all disagree", route.ErrFaulty, a.Peer, first.who, third.who)
}

func (c *Checker) count(f func(*CheckStats)) {
	c.mu.Lock()
	defer c.mu.Unlock()
	f(&c.stats)
}

// convict bans a provider, writes off its session and reports it. It
// returns the route.ErrFaulty that makes the chain drop the provider.
func (c *Checker) convict(ctx context.Context, a route.Audit, ev *shard.Evidence, reason string) error {
	c.count(func(s *CheckStats) { s.Caught++ })
	var digest [32]byte
	if ev != nil {
		digest = ev.Statement.Digest()
	}
	c.log.Warn("provider returned a wrong result", "peer", a.Peer, "layers", a.Range, "pos", a.Pos, "why", reason)
	if err := c.cfg.Bans.Ban(a.Peer, reason, digest); err != nil {
		c.log.Error("ban list not saved", "err", err)
	}
	if ev != nil && c.cfg.Void != nil {
		if err := c.cfg.Void(ev.Statement.Session, a.Peer); err != nil {
			c.log.Error("unpaid work not written off", "peer", a.Peer, "err", err)
		}
	}
	if ev != nil && c.cfg.Reporter != nil {
		if r, err := reportOf(ev, a, c.cfg.Dim); err != nil {
			c.log.Error("fraud report not built", "err", err)
		} else if err := c.cfg.Reporter.Publish(ctx, r); err != nil {
			c.log.Warn("fraud report not published", "err", err)
		}
	}
	return fmt.Errorf("%w: %s: %s", route.ErrFaulty, a.Peer, reason)
}

// reportOf builds the report of a signed result from the hop's inputs.
func reportOf(ev *shard.Evidence, a route.Audit, dim int) (Report, error) {
	n := ev.Statement.Pos + ev.Statement.N
	var tokens []int32
	var hidden []float32
	if a.Tokens != nil {
		if len(a.Tokens) < n {
			return Report{}, fmt.Errorf("report: %d token inputs for %d positions", len(a.Tokens), n)
		}
		tokens = a.Tokens[:n]
	} else {
		if len(a.Hidden) < n*dim {
			return Report{}, fmt.Errorf("report: %d hidden inputs for %d positions", len(a.Hidden)/dim, n)
		}
		hidden = a.Hidden[:n*dim]
	}
	var dtypes []shard.DType
	if hidden != nil {
		dtypes = ev.InputDTypes
	}
	inputs, err := EncodeInputs(tokens, hidden, dim, dtypes)
	if err != nil {
		return Report{}, err
	}
	r := Report{Provider: ev.Provider, Statement: ev.Statement, Sig: ev.Sig, Inputs: inputs,
		InputsHash: sha256Sum(inputs), InputsLen: len(inputs)}
	if len(ev.Output) <= maxOutput {
		r.Output = ev.Output
	}
	return r, nil
}

// rerun re-executes the audited positions on this node or on a provider
// not in exclude, and returns the checked rows rounded to outDType.
func (c *Checker) rerun(ctx context.Context, a route.Audit, outDType shard.DType, backend string, exclude map[string]bool) (rerun, error) {
	n := a.Pos + a.N
	var s route.Session
	r := rerun{who: "local", backend: BackendCPU}
	var err error
	if !exclude["local"] && c.cfg.OpenLocal != nil && covered(c.cfg.Local, a.Range) {
		s, err = c.cfg.OpenLocal(a.Range, n)
	} else {
		var cand route.Candidate
		if cand, err = c.second(ctx, a.Range, backend, exclude); err == nil {
			r.who, r.backend = cand.Peer, cand.Backend
			s, err = c.cfg.Open(ctx, cand, a.Range, n)
		}
	}
	if err != nil {
		return r, err
	}
	defer s.Close()
	out, err := s.Forward(ctx, 0, a.Tokens, a.Hidden)
	if err != nil {
		return r, fmt.Errorf("re-run on %s: %w", r.who, err)
	}
	if !a.Last {
		if len(out) != n*c.cfg.Dim {
			return r, fmt.Errorf("re-run on %s gave %d values for %d positions", r.who, len(out), n)
		}
		out = out[a.Pos*c.cfg.Dim:]
	}
	if r.out, err = roundTo(outDType, append([]float32(nil), out...)); err != nil {
		r.out = append([]float32(nil), out...) // beyond f16: the claim cannot match
	}
	if e, ok := s.(evidenced); ok {
		if x, ok := e.Evidence(); ok {
			r.ev = &x
		}
	}
	if b, ok := s.(backended); ok {
		r.backend = b.Backend()
	}
	return r, nil
}

// second picks a provider to re-run layers r: one serving all of them, of
// the same backend as the provider checked when that is not the CPU, the
// least loaded and closest first.
func (c *Checker) second(ctx context.Context, r route.Range, backend string, exclude map[string]bool) (route.Candidate, error) {
	if c.cfg.Find == nil || c.cfg.Open == nil {
		return route.Candidate{}, errors.New("no second provider to ask")
	}
	cands, err := c.cfg.Find(ctx)
	if err != nil {
		return route.Candidate{}, err
	}
	var ok []route.Candidate
	for _, cd := range cands {
		if cd.From <= r.From && r.To <= cd.To && !exclude[cd.Peer] && !c.cfg.Bans.IsBanned(cd.Peer) {
			ok = append(ok, cd)
		}
	}
	if len(ok) == 0 {
		return route.Candidate{}, fmt.Errorf("no other provider serves %v", r)
	}
	same := func(cd route.Candidate) bool { return exactBetween(backend, cd.Backend) || cd.Backend == backend }
	sort.SliceStable(ok, func(i, j int) bool {
		if same(ok[i]) != same(ok[j]) {
			return same(ok[i])
		}
		if ok[i].Load != ok[j].Load {
			return ok[i].Load < ok[j].Load
		}
		return ok[i].Latency < ok[j].Latency
	})
	return ok[0], nil
}

func covered(local []route.Range, r route.Range) bool {
	for _, l := range local {
		if l.From <= r.From && r.To <= l.To {
			return true
		}
	}
	return false
}
