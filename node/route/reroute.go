package route

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"time"
)

// failure describes why a hop's provider is being replaced.
type failure struct {
	from    string
	cause   error
	stalled bool
	faulty  bool
	detect  time.Duration
	at      time.Time
}

// plannedHop is one replacement hop: layers run by a candidate or locally.
type plannedHop struct {
	Range
	local bool
	cand  Candidate
	alts  []Candidate
}

// failover replaces segment i, whose provider failed on the call of n
// positions at pos: it re-plans the segment's layers, opens the new
// sessions, replays the segment's inputs [0,pos+n) through them as one
// batch and splices them in. It returns the call's output and the number of
// segments that replaced segment i.
func (c *FailoverChain) failover(ctx context.Context, i, pos, n int, f failure) ([]float32, int, error) {
	s := c.segs[i]
	total := pos + n
	c.exclude(s.Peer)
	c.retire(s.Session, f.faulty)
	ev := Event{Kind: EventFailover, Range: s.Range, From: s.Peer, Reason: errText(f.cause), Stalled: f.stalled,
		Faulty: f.faulty, Detect: f.detect, Replayed: total}
	c.log.Info("provider failed", "layers", s.Range, "peer", s.Peer, "stalled", f.stalled, "faulty", f.faulty, "err", f.cause)
	var errs []error
	backoff := 50 * time.Millisecond
	for tries := 0; ctx.Err() == nil; {
		if tries >= c.cfg.MaxAttempts {
			// Nobody took over: wait for providers to come (back), within
			// patience, and try again with a fresh lookup.
			if time.Since(f.at)+backoff > c.cfg.Patience {
				break
			}
			select {
			case <-time.After(backoff):
			case <-ctx.Done():
			}
			backoff = min(2*backoff, time.Second)
			tries, errs = c.cfg.MaxAttempts-1, errs[:0]
		}
		tries++
		// The plan's alternatives first; a fresh lookup when they are not
		// enough or have failed.
		lookup := tries > 1 || c.cfg.Find == nil
		hops, err := c.replan(ctx, s, lookup)
		if err != nil && !lookup {
			hops, err = c.replan(ctx, s, true)
		}
		if err != nil {
			errs = append(errs, err)
			tries = c.cfg.MaxAttempts // nothing to try but waiting
			continue
		}
		segs, out, err := c.takeOver(ctx, s, hops, total)
		if err != nil {
			errs = append(errs, err)
			continue
		}
		c.segs = slices.Replace(c.segs, i, i+1, segs...)
		if s.To < c.cfg.NumLayers {
			out = out[(total-n)*c.cfg.Dim:]
		}
		c.stats.Failovers++
		c.stats.Replayed += total
		for _, ns := range segs {
			who := ns.Peer
			if ns.Local {
				who = "local"
			}
			ev.To = append(ev.To, who)
		}
		ev.Time, ev.Recovery = time.Now(), time.Since(f.at)
		c.log.Info("provider replaced", "layers", s.Range, "from", s.Peer, "to", ev.To, "recovery", ev.Recovery, "replayed", total)
		c.emit(ev)
		return out, len(segs), nil
	}
	if ctx.Err() != nil {
		errs = append(errs, ctx.Err())
	}
	// The segment stays, without a session: its inputs are kept, and the
	// next call fails over again, to whoever can serve by then.
	s.Session = lostSession{}
	c.stats.Failed++
	err := fmt.Errorf("%w: %v after %s failed (%s): %w", ErrNoProvider, s.Range, s.Peer, ev.Reason, errors.Join(errs...))
	ev.Time, ev.Recovery, ev.Err = time.Now(), time.Since(f.at), err
	c.emit(ev)
	return nil, 0, err
}

func (c *FailoverChain) emit(ev Event) {
	if c.cfg.OnEvent != nil {
		c.cfg.OnEvent(ev)
	}
}

func errText(err error) string {
	if err == nil {
		return ""
	}
	return err.Error()
}

func (c *FailoverChain) exclude(peer string) {
	if peer != "" {
		c.excluded[peer] = time.Now().Add(c.cfg.Exclude)
	}
}

func (c *FailoverChain) isExcluded(peer string) bool {
	until, ok := c.excluded[peer]
	if ok && time.Now().After(until) {
		delete(c.excluded, peer)
		return false
	}
	return ok
}

// retire ends a failed provider's session: a cheater's without paying, any
// other's in the background (closing a stalled peer's session must not
// delay the recovery).
func (c *FailoverChain) retire(s Session, faulty bool) {
	if a, ok := s.(Aborter); ok && faulty {
		a.Abort()
		return
	}
	go func() {
		if err := s.Close(); err != nil {
			c.log.Debug("closing a failed session", "err", err)
		}
	}()
}

// replan plans segment s's layers over the providers that can still serve
// them: the plan's alternatives and, when lookup is set, a fresh lookup,
// less the banned and those that failed this chain. This node's own layers
// are used only when no provider covers the range.
func (c *FailoverChain) replan(ctx context.Context, s *segment, lookup bool) ([]plannedHop, error) {
	byPeer := map[string]Candidate{}
	var order []string
	add := func(cs []Candidate) {
		for _, cd := range cs {
			if _, seen := byPeer[cd.Peer]; !seen {
				order = append(order, cd.Peer)
			}
			byPeer[cd.Peer] = cd
		}
	}
	add(s.Alternatives)
	if lookup && c.cfg.Find != nil {
		fresh, err := c.cfg.Find(ctx)
		if err != nil {
			c.log.Warn("provider lookup failed", "err", err)
		}
		add(fresh)
	}
	var cands []Candidate
	for _, p := range order {
		cd := byPeer[p]
		if c.isExcluded(p) || (c.cfg.Banned != nil && c.cfg.Banned(p)) || !cd.Range.valid(c.cfg.NumLayers) || !cd.overlaps(s.Range) {
			continue
		}
		cands = append(cands, cd)
	}
	if c.cfg.Book != nil {
		c.cfg.Book.Apply(cands)
	}
	hops, err := c.planWithin(s.Range, cands, nil)
	var gap *GapError
	if errors.As(err, &gap) && lookup && c.cfg.OpenLocal != nil && len(c.cfg.Local) > 0 {
		hops, err = c.planWithin(s.Range, cands, c.cfg.Local)
	}
	if err != nil {
		return nil, fmt.Errorf("%w: %w", ErrNoProvider, err)
	}
	return hops, nil
}

// planWithin plans the layers r over cands (clipped to r) and the local
// ranges: PlanChain on r shifted to start at 0.
func (c *FailoverChain) planWithin(r Range, cands []Candidate, local []Range) ([]plannedHop, error) {
	req := Request{NumLayers: r.Len(), Weights: c.cfg.Weights}
	for _, l := range local {
		if cl, ok := clip(l, r); ok {
			req.Local = append(req.Local, cl)
		}
	}
	for _, cd := range cands {
		cl, ok := clip(cd.Range, r)
		if !ok {
			continue
		}
		shifted := cd
		shifted.Range = cl
		if cd.TokPerSec > 0 { // the same per-layer speed over fewer layers
			shifted.TokPerSec = cd.TokPerSec * float64(cd.Len()) / float64(cl.Len())
		}
		req.Candidates = append(req.Candidates, shifted)
	}
	plan, err := PlanChain(req)
	if err != nil {
		var gap *GapError
		if errors.As(err, &gap) {
			for i := range gap.Gaps {
				gap.Gaps[i].From += r.From
				gap.Gaps[i].To += r.From
			}
		}
		return nil, err
	}
	if c.cfg.Rand != nil {
		plan = Spread(plan, req, c.cfg.Rand, c.cfg.Slack)
	}
	hops := make([]plannedHop, len(plan.Hops))
	for i, h := range plan.Hops {
		ph := plannedHop{Range: Range{h.From + r.From, h.To + r.From}, local: h.Local}
		if !h.Local {
			ph.cand = cands[candIndex(req, h.Provider, cands)]
			for _, a := range h.Alternatives {
				ph.alts = append(ph.alts, cands[candIndex(req, a, cands)])
			}
		}
		hops[i] = ph
	}
	return hops, nil
}

// candIndex maps an index into req.Candidates back to cands (some were
// dropped by clipping).
func candIndex(req Request, i int, cands []Candidate) int {
	peer := req.Candidates[i].Peer
	for j, cd := range cands {
		if cd.Peer == peer {
			return j
		}
	}
	panic("route: planned candidate not among the candidates")
}

// clip returns l ∩ r shifted so that r starts at 0.
func clip(l, r Range) (Range, bool) {
	from, to := max(l.From, r.From), min(l.To, r.To)
	if from >= to {
		return Range{}, false
	}
	return Range{from - r.From, to - r.From}, true
}

// takeOver opens the planned hops and replays segment s's inputs for
// positions [0,total) through them. It returns the new segments and the
// last one's output.
func (c *FailoverChain) takeOver(ctx context.Context, s *segment, hops []plannedHop, total int) ([]*segment, []float32, error) {
	var opened []*segment
	fail := func(peer string, err error) ([]*segment, []float32, error) {
		c.exclude(peer)
		for _, ns := range opened {
			c.retire(ns.Session, false)
		}
		return nil, nil, err
	}
	var tokens []int32
	var hidden []float32
	if s.From == 0 {
		tokens = s.tokens[:total]
	} else {
		hidden = s.hidden[:total*c.cfg.Dim]
	}
	var out []float32
	for _, h := range hops {
		ns, err := c.openHop(ctx, s, h)
		if err != nil {
			return fail(h.cand.Peer, fmt.Errorf("open %v on %s: %w", h.Range, h.cand.Peer, err))
		}
		opened = append(opened, ns)
		rctx, cancel := ctx, context.CancelFunc(func() {})
		if !ns.Local {
			ns.record(0, tokens, hidden, c.cfg.Dim)
			rctx, cancel = context.WithTimeout(ctx, s.deadline.For(total))
		}
		out, err = ns.Session.Forward(rctx, 0, tokens, hidden)
		cancel()
		if err != nil {
			return fail(h.cand.Peer, fmt.Errorf("replay %d positions of %v on %s: %w", total, h.Range, h.cand.Peer, err))
		}
		tokens, hidden = nil, out
	}
	return opened, out, nil
}

// openHop opens one replacement session.
func (c *FailoverChain) openHop(ctx context.Context, s *segment, h plannedHop) (*segment, error) {
	ns := &segment{Segment: Segment{Range: h.Range, Local: h.local, Peer: h.cand.Peer, Alternatives: h.alts}, deadline: s.deadline.Fresh()}
	var err error
	if h.local {
		ns.Session, err = c.cfg.OpenLocal(h.Range, c.cfg.MaxContext)
	} else {
		octx, cancel := context.WithTimeout(ctx, c.cfg.OpenTimeout)
		ns.Session, err = c.cfg.Open(octx, h.cand, h.Range, c.cfg.MaxContext)
		cancel()
	}
	return ns, err
}

// lostSession stands in for a failed provider that nobody replaced yet.
type lostSession struct{}

var errLost = errors.New("provider lost and not replaced")

func (lostSession) Forward(context.Context, int, []int32, []float32) ([]float32, error) {
	return nil, errLost
}

func (lostSession) Close() error { return nil }
