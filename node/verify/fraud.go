package verify

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"time"

	pubsub "github.com/libp2p/go-libp2p-pubsub"
	"github.com/libp2p/go-libp2p/core/host"
	"github.com/libp2p/go-libp2p/core/peer"

	"github.com/hearth-p2p/hearth/node/route"
	"github.com/hearth-p2p/hearth/node/shard"
)

// FraudTopic is the GossipSub topic carrying fraud reports.
const FraudTopic = "/hearth/fraud/1"

// ErrNotServing reports a Publish before Serve has joined the topic.
var ErrNotServing = errors.New("fraud reports: not serving")

// FraudConfig configures the fraud-report service.
type FraudConfig struct {
	// Bans receives the providers convicted by reports this node
	// reproduced, and the reporters whose reports did not hold up.
	Bans *BanList
	// Exec re-runs the accused layers; without it (or without the layers)
	// reports are relayed but not acted on.
	Exec Executor
	// Tolerance of checks of non-CPU results (0: DefaultTolerance).
	Tolerance float64
	// MaxServed bounds the input histories kept to serve on request
	// (default 256 MiB; the oldest go first).
	MaxServed int
	// Inline is the largest input history carried in a published report
	// (0 or above InlineInputs: InlineInputs); larger ones are served.
	Inline int
	// OnEvent is called for each report published or judged; it must not
	// block.
	OnEvent func(ReportEvent)
	Logger  *slog.Logger
}

// ReportKind says what happened to a report.
type ReportKind int

// Report outcomes.
const (
	ReportPublished    ReportKind = iota + 1 // this node published it
	ReportConfirmed                          // re-run here: the result was wrong; the provider is banned
	ReportForged                             // bad signature, inputs or an honest result: the reporter is distrusted
	ReportUnverifiable                       // this node cannot re-run it (layers not held, inputs unavailable)
)

func (k ReportKind) String() string {
	return [...]string{"", "published", "confirmed", "forged", "unverifiable"}[k]
}

// ReportEvent is one report published or judged.
type ReportEvent struct {
	Kind     ReportKind
	Time     time.Time
	Provider string
	Reporter string
	Range    route.Range
	Reason   string
	Digest   [32]byte // of the accused result's statement
}

// Fraud publishes this node's fraud reports on FraudTopic, serves their
// input histories (InputsProtocol), and judges other nodes' reports by
// re-running the accused layers: a provider is banned here only when this
// node reproduces the wrong result, and a reporter whose report does not
// hold up is distrusted. It is a service: Serve runs it.
type Fraud struct {
	h   host.Host
	ps  *pubsub.PubSub
	cfg FraudConfig
	log *slog.Logger

	ready chan struct{}  // closed once Serve has joined the topic
	sends sync.WaitGroup // publications in flight

	mu      sync.Mutex // guards the fields below
	topic   *pubsub.Topic
	ctx     context.Context // Serve's
	serving bool
	seen    map[[32]byte]bool
	blobs   map[[32]byte][]byte
	order   [][32]byte
	size    int
}

// NewFraud prepares the service on a host and its GossipSub router.
func NewFraud(h host.Host, ps *pubsub.PubSub, cfg FraudConfig) (*Fraud, error) {
	if h == nil || ps == nil || cfg.Bans == nil {
		return nil, errors.New("fraud reports: need a host, a pubsub router and a ban list")
	}
	if cfg.Tolerance <= 0 {
		cfg.Tolerance = DefaultTolerance
	}
	if cfg.MaxServed <= 0 {
		cfg.MaxServed = 256 << 20
	}
	if cfg.Inline <= 0 || cfg.Inline > InlineInputs {
		cfg.Inline = InlineInputs
	}
	log := cfg.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	return &Fraud{h: h, ps: ps, cfg: cfg, log: log.With("sub", "fraud"), ready: make(chan struct{}),
		seen: map[[32]byte]bool{}, blobs: map[[32]byte][]byte{}}, nil
}

// Ready is closed once the service takes and publishes reports.
func (f *Fraud) Ready() <-chan struct{} { return f.ready }

// Topic is the joined topic (nil before Serve), e.g. to wait for peers.
func (f *Fraud) Topic() *pubsub.Topic {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.topic
}

// Serve joins the topic and judges incoming reports until ctx ends.
func (f *Fraud) Serve(ctx context.Context) error {
	f.mu.Lock()
	if f.serving {
		f.mu.Unlock()
		return errors.New("fraud reports: already serving")
	}
	f.serving = true
	f.mu.Unlock()
	if err := f.ps.RegisterTopicValidator(FraudTopic, f.validate); err != nil {
		return fmt.Errorf("fraud reports: %w", err)
	}
	defer f.ps.UnregisterTopicValidator(FraudTopic)
	t, err := f.ps.Join(FraudTopic)
	if err != nil {
		return fmt.Errorf("fraud reports: %w", err)
	}
	defer t.Close()
	defer f.sends.Wait()
	sub, err := t.Subscribe()
	if err != nil {
		return fmt.Errorf("fraud reports: %w", err)
	}
	defer sub.Cancel()
	f.h.SetStreamHandler(InputsProtocol, f.serveInputs)
	defer f.h.RemoveStreamHandler(InputsProtocol)
	f.mu.Lock()
	f.topic, f.ctx = t, ctx
	f.mu.Unlock()
	close(f.ready)
	for {
		msg, err := sub.Next(ctx)
		if err != nil {
			if ctx.Err() != nil {
				return nil
			}
			return fmt.Errorf("fraud reports: %w", err)
		}
		if msg.GetFrom() == f.h.ID() {
			continue
		}
		if r, ok := msg.ValidatorData.(*Report); ok {
			f.judge(ctx, r, msg.GetFrom())
		}
	}
}

// validate admits a report to the topic when it decodes and carries the
// accused provider's valid signature; anything else is rejected and its
// author distrusted.
func (f *Fraud) validate(_ context.Context, _ peer.ID, msg *pubsub.Message) pubsub.ValidationResult {
	author := msg.GetFrom()
	if author == f.h.ID() {
		var r Report
		if r.UnmarshalBinary(msg.Data) == nil {
			msg.ValidatorData = &r
		}
		return pubsub.ValidationAccept
	}
	if f.cfg.Bans.IsDistrusted(author.String()) {
		return pubsub.ValidationIgnore
	}
	r := new(Report)
	err := r.UnmarshalBinary(msg.Data)
	if err == nil {
		err = r.Verify()
	}
	if err != nil {
		f.forged(r, author, err.Error())
		return pubsub.ValidationReject
	}
	msg.ValidatorData = r
	return pubsub.ValidationAccept
}

// publishWait bounds the wait for a topic peer to publish to.
const publishWait = time.Minute

// Publish sends a report in the background: it goes out once the topic's
// mesh has a peer (a message published before that is lost), within a
// minute. An input history too large to carry is kept and served on
// request instead. Errors are those of building the report.
func (f *Fraud) Publish(_ context.Context, r Report) error {
	f.mu.Lock()
	t, sctx := f.topic, f.ctx
	f.mu.Unlock()
	if t == nil {
		return ErrNotServing
	}
	if len(r.Inputs) > f.cfg.Inline {
		f.keep(r.InputsHash, r.Inputs)
		r.Inputs = nil
	}
	data, err := r.MarshalBinary()
	if err != nil {
		return err
	}
	f.mu.Lock()
	f.seen[r.key()] = true
	f.mu.Unlock()
	ev := ReportEvent{Kind: ReportPublished, Provider: r.Provider.String(), Reporter: f.h.ID().String(),
		Range: stmtRange(r.Statement), Digest: r.Digest()}
	f.sends.Go(func() {
		ctx, cancel := context.WithTimeout(sctx, publishWait)
		defer cancel()
		if err := t.Publish(ctx, data, pubsub.WithReadiness(pubsub.MinTopicSize(1))); err != nil {
			f.log.Warn("fraud report not published", "provider", r.Provider, "err", err)
			return
		}
		f.emit(ev)
	})
	return nil
}

// keep stores an input history to serve, evicting the oldest beyond the
// limit.
func (f *Fraud) keep(hash [32]byte, inputs []byte) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if _, ok := f.blobs[hash]; ok {
		return
	}
	f.blobs[hash] = inputs
	f.order = append(f.order, hash)
	f.size += len(inputs)
	for f.size > f.cfg.MaxServed && len(f.order) > 1 {
		old := f.order[0]
		f.order = f.order[1:]
		f.size -= len(f.blobs[old])
		delete(f.blobs, old)
	}
}

func (f *Fraud) blob(hash [32]byte) ([]byte, bool) {
	f.mu.Lock()
	defer f.mu.Unlock()
	b, ok := f.blobs[hash]
	return b, ok
}

func (f *Fraud) emit(e ReportEvent) {
	if e.Time.IsZero() {
		e.Time = time.Now()
	}
	if f.cfg.OnEvent != nil {
		f.cfg.OnEvent(e)
	}
}

func stmtRange(s shard.ResultStatement) route.Range { return route.Range{From: s.From, To: s.To} }

// forged distrusts the author of a report that does not hold up.
func (f *Fraud) forged(r *Report, author peer.ID, why string) {
	f.log.Warn("forged fraud report", "reporter", author, "why", why)
	if err := f.cfg.Bans.Distrust(author.String(), "forged fraud report: "+why); err != nil {
		f.log.Error("ban list not saved", "err", err)
	}
	f.emit(ReportEvent{Kind: ReportForged, Provider: r.Provider.String(), Reporter: author.String(),
		Range: stmtRange(r.Statement), Reason: why, Digest: r.Digest()})
}

// judge re-runs a report's accused result and acts on the outcome.
func (f *Fraud) judge(ctx context.Context, r *Report, author peer.ID) {
	d := r.Digest()
	key := r.key()
	f.mu.Lock()
	seen := f.seen[key]
	f.seen[key] = true
	f.mu.Unlock()
	if seen || f.cfg.Bans.IsBanned(r.Provider.String()) {
		return
	}
	ev := ReportEvent{Provider: r.Provider.String(), Reporter: author.String(), Range: stmtRange(r.Statement), Digest: d}
	kind, why := f.reproduce(ctx, r, author)
	switch kind {
	case ReportConfirmed:
		f.log.Warn("fraud report reproduced", "provider", r.Provider, "reporter", author, "why", why)
		if err := f.cfg.Bans.Ban(r.Provider.String(), "fraud report by "+author.String()+" reproduced: "+why, d); err != nil {
			f.log.Error("ban list not saved", "err", err)
		}
	case ReportForged:
		f.forged(r, author, why)
		return
	default:
		f.log.Info("fraud report not verifiable here", "provider", r.Provider, "why", why)
	}
	ev.Kind, ev.Reason = kind, why
	f.emit(ev)
}

// reproduce re-runs the accused layers on the report's inputs.
func (f *Fraud) reproduce(ctx context.Context, r *Report, author peer.ID) (ReportKind, string) {
	st := r.Statement
	if f.cfg.Exec == nil {
		return ReportUnverifiable, "no layers to re-run"
	}
	raw := r.Inputs
	if raw == nil {
		var err error
		if raw, err = fetchInputs(ctx, f.h, author, r.InputsHash, r.InputsLen); err != nil {
			return ReportUnverifiable, fmt.Sprintf("inputs unavailable: %v", err)
		}
	}
	in, err := DecodeInputs(raw)
	switch {
	case err != nil:
		return ReportForged, err.Error()
	case in.Chain != st.Inputs || in.Len() != st.Pos+st.N:
		return ReportForged, "the inputs are not those the provider signed"
	case (st.From == 0) != (in.Tokens != nil):
		return ReportForged, "inputs of the wrong kind for the layers"
	}
	s, err := f.cfg.Exec.Open(st.Model, stmtRange(st), in.Len())
	if err != nil {
		return ReportUnverifiable, err.Error()
	}
	defer s.Close()
	out, err := s.Forward(ctx, 0, in.Tokens, in.Hidden)
	if err != nil {
		return ReportUnverifiable, fmt.Sprintf("re-run failed: %v", err)
	}
	if st.Kind == shard.KindHidden {
		dim := len(out) / in.Len()
		out = out[st.Pos*dim:]
	}
	if exactBetween(st.Backend, BackendCPU) {
		if sha256Sum(shard.EncodeFloats(st.DType, out)) == st.Output {
			return ReportForged, "the provider's result is right"
		}
		return ReportConfirmed, "re-run output differs from the signed one"
	}
	if len(r.Output) == 0 {
		return ReportUnverifiable, "no output to compare within tolerance"
	}
	claimed, err := shard.DecodeFloats(st.DType, r.Output)
	if err != nil {
		return ReportForged, err.Error()
	}
	ref, err := roundTo(st.DType, out)
	if err != nil {
		return ReportConfirmed, "re-run output does not fit the signed dtype"
	}
	row := len(ref)
	if st.Kind == shard.KindHidden {
		row = len(ref) / st.N
	}
	if why := mismatch(claimed, ref, row, false, f.cfg.Tolerance); why != "" {
		return ReportConfirmed, why
	}
	return ReportForged, "the provider's result is within tolerance"
}
