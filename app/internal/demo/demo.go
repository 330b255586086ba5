// Package demo is an in-memory app.Backend with realistic, deterministic
// data. The GUI's tests drive it step by step (Live off: replies, downloads
// and samples advance only when the test says so); the demo mode of the
// desktop app (HEARTH_DEMO=1) runs it Live, with replies streamed token by
// token, downloads that progress and live network samples.
package demo

import (
	"context"
	"sync"
	"time"

	"github.com/hearth-p2p/hearth/app"
)

// Options configure a Backend.
type Options struct {
	// Live runs background goroutines: replies stream on their own,
	// downloads progress and network samples tick. Off, tests drive
	// them with Emit, Finish, Progress and Sample.
	Live bool
	// NoWallet starts without a wallet, for the create and import flows.
	NoWallet bool
	// Now is the fixed clock of the fixture data; zero means Epoch.
	Now time.Time
}

// Epoch is the default fixed "now" of the fixture data.
var Epoch = time.Date(2026, time.November, 20, 14, 30, 0, 0, time.UTC)

// Backend is the in-memory app.Backend.
type Backend struct {
	opt Options
	now time.Time

	mu sync.Mutex // guards everything below
	// chat
	convs    []*conv
	nextConv int
	streams  map[string]*stream
	// models
	catalog   []app.CatalogEntry
	installed []app.InstalledModel
	downloads map[string]*app.Download
	imports   []string
	// network
	network app.NetworkState
	// wallet
	wallet   app.WalletInfo
	password string
	history  []app.Transfer
	earnings []app.DayEarnings
	sent     []app.SendRequest
	// settings
	settings app.Settings
	machine  app.Machine
	updates  int
	measured int // speed tests asked for again
	// events
	subs map[chan app.Event]struct{}

	liveCtx  context.Context // cancelled by Close
	stopLive context.CancelFunc
	liveWG   sync.WaitGroup
}

var _ app.Backend = (*Backend)(nil)

// New returns a Backend filled with the fixture data.
func New(opt Options) *Backend {
	if opt.Now.IsZero() {
		opt.Now = Epoch
	}
	b := &Backend{
		opt:       opt,
		now:       opt.Now,
		streams:   map[string]*stream{},
		downloads: map[string]*app.Download{},
		subs:      map[chan app.Event]struct{}{},
	}
	b.fill()
	if opt.Live {
		ctx, cancel := context.WithCancel(context.Background())
		b.liveCtx, b.stopLive = ctx, cancel
		b.liveWG.Add(1)
		go func() {
			defer b.liveWG.Done()
			b.runSamples(ctx)
		}()
	}
	return b
}

// Close stops the live goroutines.
func (b *Backend) Close() {
	if b.stopLive != nil {
		b.stopLive()
	}
	b.liveWG.Wait()
}

// Subscribe implements app.Backend.
func (b *Backend) Subscribe(ctx context.Context) <-chan app.Event {
	ch := make(chan app.Event, 64)
	b.mu.Lock()
	b.subs[ch] = struct{}{}
	b.mu.Unlock()
	go func() {
		<-ctx.Done()
		b.mu.Lock()
		delete(b.subs, ch)
		close(ch)
		b.mu.Unlock()
	}()
	return ch
}

// publish delivers ev to every subscriber; b.mu must be held. Samples are
// dropped for a full subscriber, other events are not (the buffer is far
// larger than a test's burst).
func (b *Backend) publish(ev app.Event) {
	for ch := range b.subs {
		if _, sample := ev.(app.NetSampleEvent); sample {
			select {
			case ch <- ev:
			default:
			}
			continue
		}
		ch <- ev
	}
}

// Publish delivers ev to every subscriber, as the runtime would.
func (b *Backend) Publish(ev app.Event) {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.publish(ev)
}

// Status implements app.Backend.
func (b *Backend) Status(context.Context) (app.Status, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.status(), nil
}

func (b *Backend) status() app.Status {
	s := app.Status{Lending: b.settings.Lending}
	for _, sh := range b.network.Shards {
		s.Serving += sh.Sessions
		s.TokensPerSec += sh.TokensPerSec
	}
	s.PeersUsed = len(b.network.Peers)
	if !s.Lending || b.cannotLend() != "" {
		s.Serving, s.TokensPerSec = 0, 0
	}
	s.Line = statusLine(s)
	if why := b.cannotLend(); s.Lending && why != "" {
		s.Line = "Lending: " + why + " · chat is local"
	}
	return s
}

// cannotLend is the note the runtime gives when lending cannot start; ""
// when it can. b.mu must be held.
func (b *Backend) cannotLend() string {
	if b.settings.Price > 0 && !b.wallet.Exists {
		return "cannot lend: a price needs a wallet to be paid to: no wallet"
	}
	return ""
}

// statusLine is the status the runtime would write.
func statusLine(s app.Status) string {
	if !s.Lending {
		return "Lending paused · chat is local"
	}
	return "Lending · " + itoa(s.Serving) + " sessions · " + ftoa1(s.TokensPerSec) + " tok/s served"
}

// Sample publishes a network sample and keeps it in the snapshot.
func (b *Backend) Sample(s app.NetSample) {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.network.Samples = append(b.network.Samples, s)
	if n := len(b.network.Samples); n > maxSamples {
		b.network.Samples = b.network.Samples[n-maxSamples:]
	}
	b.publish(app.NetSampleEvent{Sample: s})
}

const maxSamples = 120

func (b *Backend) runSamples(ctx context.Context) {
	t := time.NewTicker(time.Second)
	defer t.Stop()
	i := len(b.network.Samples)
	for {
		select {
		case <-ctx.Done():
			return
		case now := <-t.C:
			s := sampleAt(i)
			s.At = now
			i++
			b.Sample(s)
		}
	}
}
