package shard

import (
	"context"
	"errors"
	"math"
	"strings"
	"testing"
	"time"

	"github.com/libp2p/go-libp2p/core/network"

	"github.com/hearth-p2p/hearth/node/p2p"
	"github.com/hearth-p2p/hearth/node/p2p/p2ptest"
)

// rawPeer speaks the protocol frame by frame, to send what a real client
// never would.
type rawPeer struct {
	t  *testing.T
	st network.Stream
	c  *conn
}

func newRawPeer(t *testing.T, client *p2p.Host, srv *testServer) *rawPeer {
	t.Helper()
	p2ptest.Connect(t, client, srv.h)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	st, err := client.Raw().NewStream(ctx, srv.h.ID(), ProtocolID)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Reset() })
	return &rawPeer{t: t, st: st, c: newConn(st, 64<<20)}
}

func (p *rawPeer) send(m Message) {
	p.t.Helper()
	if err := p.c.send(m, nil, 5*time.Second); err != nil {
		p.t.Fatalf("send %s: %v", m.Type(), err)
	}
}

func (p *rawPeer) write(b []byte) {
	p.t.Helper()
	p.st.SetWriteDeadline(time.Now().Add(5 * time.Second))
	if _, err := p.st.Write(b); err != nil {
		p.t.Fatalf("write: %v", err)
	}
}

func (p *rawPeer) recv() (Message, error) {
	p.st.SetReadDeadline(time.Now().Add(10 * time.Second))
	return p.c.recv(nil)
}

// handshake sends Hello and returns the Info.
func (p *rawPeer) handshake() Info {
	p.t.Helper()
	p.send(Hello{Version: Version})
	m, err := p.recv()
	if err != nil {
		p.t.Fatal(err)
	}
	info, ok := m.(Info)
	if !ok {
		p.t.Fatalf("got %#v, want info", m)
	}
	return info
}

// open handshakes and opens o, failing unless it is granted.
func (p *rawPeer) open(o Open) OpenOK {
	p.t.Helper()
	p.handshake()
	p.send(o)
	m, err := p.recv()
	if err != nil {
		p.t.Fatal(err)
	}
	ok, isOK := m.(OpenOK)
	if !isOK {
		p.t.Fatalf("open: got %#v", m)
	}
	return ok
}

// expectError reads an Error frame with code, then the stream's end unless
// the code leaves the session open.
func (p *rawPeer) expectError(code Code) *Error {
	p.t.Helper()
	m, err := p.recv()
	if err != nil {
		p.t.Fatalf("want error code %d, got read error %v", code, err)
	}
	e, ok := m.(*Error)
	if !ok || e.Code != code {
		p.t.Fatalf("want error code %d, got %#v", code, m)
	}
	if code != CodePaymentRequired {
		p.expectEnd()
	}
	return e
}

// expectEnd requires the server to have closed the stream.
func (p *rawPeer) expectEnd() {
	p.t.Helper()
	m, err := p.recv()
	if err == nil {
		p.t.Fatalf("stream still open: got %#v", m)
	}
	if isTimeout(err) {
		p.t.Fatalf("stream still open: %v", err)
	}
}

func hiddenBytes(v ...float32) []byte { return appendFloats(nil, F32, v) }

// bystander is a healthy session on the same server; it must keep working
// whatever another peer does.
type bystander struct {
	t   *testing.T
	r   *RemoteStage
	pos int
}

func newBystander(t *testing.T, srv *testServer, tm *testModel) *bystander {
	c := dial(t, p2ptest.NewHost(t, nil), srv)
	b := &bystander{t: t, r: openStage(t, c, SessionConfig{Model: tm.hash, From: 0, To: tm.m.NumLayers, MaxContext: 256, DType: F32})}
	b.step()
	return b
}

func (b *bystander) step() {
	b.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if _, err := b.r.Forward(ctx, b.pos, []int32{int32(300 + b.pos)}, nil); err != nil {
		b.t.Fatalf("bystander session broke: %v", err)
	}
	b.pos++
}

func TestServerRejectsBadFrames(t *testing.T) {
	tm := openTestModel(t, stories260K)
	n, dim := tm.m.NumLayers, tm.m.Dim
	cfg := Default()
	cfg.MaxBatch = 16
	cfg.MaxFrame = 1 << 20
	srv := startServer(t, cfg, nil, tm.backend(t, 0, n))
	by := newBystander(t, srv, tm)
	sid := [16]byte{7}
	first := Open{Session: sid, Model: tm.hash, From: 0, To: n, MaxContext: 32, DType: F32}
	mid := Open{Session: sid, Model: tm.hash, From: 2, To: n, MaxContext: 32, DType: F32}
	nan := float32(math.NaN())
	tests := []struct {
		name string
		open *Open // nil: stay in the handshake
		send func(p *rawPeer)
		code Code
	}{
		{"garbage before hello", nil, func(p *rawPeer) { p.write([]byte("GET / HTTP/1.1\r\nHost: x\r\n\r\n")) }, CodeBadRequest},
		{"unknown frame type", nil, func(p *rawPeer) { p.write([]byte{0, 0, 0, 3, 0xee, 1, 2}) }, CodeBadRequest},
		{"open before hello", nil, func(p *rawPeer) { p.send(first) }, CodeBadRequest},
		{"wrong version", nil, func(p *rawPeer) { p.send(Hello{Version: 99}) }, CodeVersion},
		{"unknown model", nil, func(p *rawPeer) {
			p.handshake()
			p.send(Open{Session: sid, Model: [32]byte{1}, From: 0, To: 1, DType: F32})
		}, CodeBadRequest},
		{"layers not served", nil, func(p *rawPeer) {
			p.handshake()
			p.send(Open{Session: sid, Model: tm.hash, From: 0, To: n + 1, DType: F32})
		}, CodeBadRequest},
		{"context too long", nil, func(p *rawPeer) {
			p.handshake()
			p.send(Open{Session: sid, Model: tm.hash, From: 0, To: n, MaxContext: cfg.MaxContext + 1, DType: F32})
		}, CodeBadRequest},
		{"frame too large", &first, func(p *rawPeer) { p.write([]byte{0, 0x10, 0, 1, byte(MsgForward)}) }, CodeBadRequest},
		{"garbage in session", &first, func(p *rawPeer) { p.write([]byte{0, 0, 0, 9, byte(MsgForward), 1, 2, 3, 4, 5, 6, 7, 8}) }, CodeBadRequest},
		{"oversized n", &first, func(p *rawPeer) {
			p.send(Forward{Session: sid, N: 17, Kind: KindTokens, DType: I32, Data: appendTokens(nil, make([]int32, 17))})
		}, CodeBadRequest},
		{"token outside vocabulary", &first, func(p *rawPeer) {
			p.send(Forward{Session: sid, N: 1, Kind: KindTokens, DType: I32, Data: appendTokens(nil, []int32{512})})
		}, CodeBadRequest},
		{"hidden to first stage", &first, func(p *rawPeer) {
			p.send(Forward{Session: sid, N: 1, Kind: KindHidden, DType: F32, Data: hiddenBytes(make([]float32, dim)...)})
		}, CodeBadRequest},
		{"wrong dims", &mid, func(p *rawPeer) {
			p.send(Forward{Session: sid, N: 1, Kind: KindHidden, DType: F32, Data: hiddenBytes(make([]float32, dim-1)...)})
		}, CodeBadRequest},
		{"NaN hidden", &mid, func(p *rawPeer) {
			h := make([]float32, dim)
			h[5] = nan
			p.send(Forward{Session: sid, N: 1, Kind: KindHidden, DType: F32, Data: hiddenBytes(h...)})
		}, CodeBadRequest},
		{"position beyond cache", &first, func(p *rawPeer) {
			p.send(Forward{Session: sid, Pos: 3, N: 1, Kind: KindTokens, DType: I32, Data: appendTokens(nil, []int32{1})})
		}, CodeBadRequest},
		{"beyond context", &first, func(p *rawPeer) {
			ids := make([]int32, 16)
			p.send(Forward{Session: sid, N: 16, Kind: KindTokens, DType: I32, Data: appendTokens(nil, ids)})
			if m, err := p.recv(); err != nil || m.Type() != MsgResult {
				p.t.Fatalf("first batch: %v %v", m, err)
			}
			p.send(Forward{Session: sid, Pos: 16, N: 16, Kind: KindTokens, DType: I32, Data: appendTokens(nil, ids)})
			if m, err := p.recv(); err != nil || m.Type() != MsgResult {
				p.t.Fatalf("second batch: %v %v", m, err)
			}
			p.send(Forward{Session: sid, Pos: 32, N: 1, Kind: KindTokens, DType: I32, Data: appendTokens(nil, ids[:1])})
		}, CodeBadRequest},
		{"wrong session id", &first, func(p *rawPeer) {
			p.send(Forward{Session: [16]byte{8}, N: 1, Kind: KindTokens, DType: I32, Data: appendTokens(nil, []int32{1})})
		}, CodeUnknownSession},
		{"hello inside session", &first, func(p *rawPeer) { p.send(Hello{Version: Version}) }, CodeBadRequest},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			p := newRawPeer(t, p2ptest.NewHost(t, nil), srv)
			p.t = t
			if tc.open != nil {
				p.open(*tc.open)
			}
			tc.send(p)
			p.expectError(tc.code)
			by.step()
			p2ptest.Eventually(t, 5*time.Second, "bad session released", func() bool { return len(srv.s.Stats().Sessions) == 1 })
		})
	}
	if st := srv.s.Stats(); st.Totals.Refused != uint64(len(tests)) || st.KVBytes <= 0 {
		t.Errorf("stats after refusals: %+v", st)
	}
}

func TestServerSessionLimits(t *testing.T) {
	tm := openTestModel(t, stories260K)
	n := tm.m.NumLayers
	cfg := Default()
	cfg.MaxSessions = 2
	// Each layer-position costs 2 × KVDim × 4 bytes; allow 3 sessions of
	// 100 positions over every layer, so that memory binds first below.
	perSession := int64(n * tm.m.KVDim() * 8 * 100)
	cfg.MaxKVBytes = 3 * perSession
	srv := startServer(t, cfg, nil, tm.backend(t, 0, n))
	c := dial(t, p2ptest.NewHost(t, nil), srv)
	open := func(maxCtx int) (*RemoteStage, error) {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		return c.OpenSession(ctx, SessionConfig{Model: tm.hash, From: 0, To: n, MaxContext: maxCtx, DType: F32})
	}
	big, err := open(250) // 2.5 sessions' worth of memory
	if err != nil {
		t.Fatal(err)
	}
	if _, err := open(100); !errors.Is(err, ErrNoCapacity) {
		t.Fatalf("open beyond the KV memory limit: %v", err)
	}
	a, err := open(50)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := open(10); !errors.Is(err, ErrNoCapacity) {
		t.Fatalf("open beyond max sessions: %v", err)
	}
	if err := big.Close(); err != nil {
		t.Fatal(err)
	}
	p2ptest.Eventually(t, 5*time.Second, "session released", func() bool { return len(srv.s.Stats().Sessions) == 1 })
	b, err := open(100)
	if err != nil {
		t.Fatalf("open after a close: %v", err)
	}
	a.Close()
	b.Close()
}

func TestServerIdleTimeout(t *testing.T) {
	tm := openTestModel(t, stories260K)
	cfg := Default()
	cfg.IdleTimeout = 300 * time.Millisecond
	srv := startServer(t, cfg, nil, tm.backend(t, 0, tm.m.NumLayers))
	events, cancel := srv.s.Subscribe(64)
	defer cancel()
	c := dial(t, p2ptest.NewHost(t, nil), srv)
	r := openStage(t, c, SessionConfig{Model: tm.hash, From: 0, To: tm.m.NumLayers, MaxContext: 16, DType: F32})
	ctx := context.Background()
	for pos := range 3 { // activity keeps it open past the timeout
		if _, err := r.Forward(ctx, pos, []int32{1}, nil); err != nil {
			t.Fatal(err)
		}
		time.Sleep(150 * time.Millisecond)
	}
	p2ptest.Eventually(t, 5*time.Second, "idle session closed", func() bool { return len(srv.s.Stats().Sessions) == 0 })
	_, err := r.Forward(ctx, 3, []int32{1}, nil)
	if !errors.Is(err, ErrUnknownSession) || !errors.Is(err, ErrBroken) {
		t.Fatalf("forward after idle timeout: %v", err)
	}
	for e := range events {
		if e.Kind == EventClosed {
			if e.Units != 3*uint64(tm.m.NumLayers) {
				t.Errorf("closed event units %d", e.Units)
			}
			break
		}
	}
}

// TestServerSlowloris: a peer that opens a stream and trickles bytes is cut
// off by the read deadlines, in the handshake and inside a session.
func TestServerSlowloris(t *testing.T) {
	tm := openTestModel(t, stories260K)
	cfg := Default()
	cfg.HandshakeTimeout = 400 * time.Millisecond
	cfg.FrameTimeout = 400 * time.Millisecond
	srv := startServer(t, cfg, nil, tm.backend(t, 0, tm.m.NumLayers))
	by := newBystander(t, srv, tm)
	trickle := func(p *rawPeer, b []byte) time.Duration {
		start := time.Now()
		for _, x := range b {
			if _, err := p.st.Write([]byte{x}); err != nil {
				break
			}
			time.Sleep(150 * time.Millisecond)
		}
		return time.Since(start)
	}
	t.Run("handshake", func(t *testing.T) {
		p := newRawPeer(t, p2ptest.NewHost(t, nil), srv)
		start := time.Now()
		go trickle(p, AppendFrame(nil, Hello{Version: Version})[:5])
		p.expectError(CodeBadRequest)
		if d := time.Since(start); d > 3*time.Second {
			t.Fatalf("cut off after %v", d)
		}
	})
	t.Run("session", func(t *testing.T) {
		p := newRawPeer(t, p2ptest.NewHost(t, nil), srv)
		p.open(Open{Session: [16]byte{1}, Model: tm.hash, From: 0, To: tm.m.NumLayers, MaxContext: 8, DType: F32})
		frame := AppendFrame(nil, Forward{Session: [16]byte{1}, N: 1, Kind: KindTokens, DType: I32, Data: appendTokens(nil, []int32{1})})
		start := time.Now()
		go trickle(p, frame)
		e := p.expectError(CodeBadRequest)
		if d := time.Since(start); d > 3*time.Second {
			t.Fatalf("cut off after %v (%v)", d, e)
		}
		by.step()
	})
}

func TestServerSetAccepting(t *testing.T) {
	tm := openTestModel(t, stories260K)
	n := tm.m.NumLayers
	srv := startServer(t, Default(), nil, tm.backend(t, 0, n))
	c := dial(t, p2ptest.NewHost(t, nil), srv)
	cfg := SessionConfig{Model: tm.hash, From: 0, To: n, MaxContext: 16, DType: F32}
	running := openStage(t, c, cfg)
	ctx := context.Background()
	if _, err := running.Forward(ctx, 0, []int32{1}, nil); err != nil {
		t.Fatal(err)
	}
	srv.s.SetAccepting(false)
	if info, err := c.Refresh(ctx); err != nil || info.Accepting {
		t.Fatalf("info while draining: %+v, %v", info, err)
	}
	if _, err := c.OpenSession(ctx, cfg); !errors.Is(err, ErrBusy) {
		t.Fatalf("open while draining: %v", err)
	}
	if _, err := running.Forward(ctx, 1, []int32{403}, nil); err != nil {
		t.Fatalf("running session stopped by draining: %v", err)
	}
	srv.s.SetAccepting(true)
	r, err := c.OpenSession(ctx, cfg)
	if err != nil {
		t.Fatalf("open after accepting again: %v", err)
	}
	r.Close()
}

// TestServerEvict: evicted sessions end with CodeBusy at their next frame
// and their memory is released, while the server stays up for new ones.
func TestServerEvict(t *testing.T) {
	tm := openTestModel(t, stories260K)
	n := tm.m.NumLayers
	srv := startServer(t, Default(), nil, tm.backend(t, 0, n))
	c := dial(t, p2ptest.NewHost(t, nil), srv)
	cfg := SessionConfig{Model: tm.hash, From: 0, To: n, MaxContext: 16, DType: F32}
	ctx := context.Background()
	a, b := openStage(t, c, cfg), openStage(t, c, cfg)
	for _, r := range []*RemoteStage{a, b} {
		if _, err := r.Forward(ctx, 0, []int32{1}, nil); err != nil {
			t.Fatal(err)
		}
	}
	if got := srv.s.Evict("the user is back"); got != 2 {
		t.Fatalf("evicted %d sessions, want 2", got)
	}
	// Both handlers were waiting for a frame: they end at once, before
	// the peers send anything.
	p2ptest.Eventually(t, 5*time.Second, "sessions released", func() bool {
		st := srv.s.Stats()
		return len(st.Sessions) == 0 && st.KVBytes == 0
	})
	for _, r := range []*RemoteStage{a, b} {
		_, err := r.Forward(ctx, 1, []int32{403}, nil)
		if !errors.Is(err, ErrBusy) || !strings.Contains(err.Error(), "the user is back") {
			t.Fatalf("forward after eviction: %v", err)
		}
	}
	if got := srv.s.Evict("again"); got != 0 {
		t.Fatalf("evicted %d sessions of none", got)
	}
	r, err := c.OpenSession(ctx, cfg)
	if err != nil {
		t.Fatalf("open after eviction: %v", err)
	}
	defer r.Close()
	if _, err := r.Forward(ctx, 0, []int32{1}, nil); err != nil {
		t.Fatal(err)
	}
}

func TestServerShutdownEndsSessions(t *testing.T) {
	tm := openTestModel(t, stories260K)
	h := p2ptest.NewHost(t, nil)
	s, err := NewServer(h.Raw(), Default(), nil, nil, tm.backend(t, 0, tm.m.NumLayers))
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- s.Serve(ctx) }()
	srv := &testServer{h: h, s: s}
	var r *RemoteStage
	p2ptest.Eventually(t, 5*time.Second, "session open", func() bool {
		c, err := DialAddr(context.Background(), p2ptest.NewHost(t, nil).Raw(), h.Addrs()[0].String())
		if err != nil {
			return false
		}
		r, err = c.OpenSession(context.Background(), SessionConfig{Model: tm.hash, From: 0, To: tm.m.NumLayers, DType: F32})
		return err == nil
	})
	if _, err := r.Forward(context.Background(), 0, []int32{1}, nil); err != nil {
		t.Fatal(err)
	}
	cancel()
	select {
	case err := <-done:
		if err != nil {
			t.Fatal(err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("Serve did not return")
	}
	if _, err := r.Forward(context.Background(), 1, []int32{1}, nil); !errors.Is(err, ErrBusy) || !errors.Is(err, ErrBroken) {
		t.Fatalf("forward after shutdown: %v", err)
	}
	if n := len(srv.s.Stats().Sessions); n != 0 {
		t.Fatalf("%d sessions left after shutdown", n)
	}
	if err := s.Serve(context.Background()); !errors.Is(err, ErrServing) {
		t.Fatalf("second Serve: %v", err)
	}
}

func TestConfigValidate(t *testing.T) {
	tests := []struct {
		name   string
		mutate func(*Config)
	}{
		{"no sessions", func(c *Config) { c.MaxSessions = 0 }},
		{"no memory", func(c *Config) { c.MaxKVBytes = 0 }},
		{"no batch", func(c *Config) { c.MaxBatch = 0 }},
		{"tiny frame", func(c *Config) { c.MaxFrame = 100 }},
		{"no idle timeout", func(c *Config) { c.IdleTimeout = 0 }},
		{"paid without payout", func(c *Config) { c.Price.PerKiloUnit = 5 }},
	}
	if err := Default().Validate(); err != nil {
		t.Fatalf("default: %v", err)
	}
	for _, tc := range tests {
		c := Default()
		tc.mutate(&c)
		if err := c.Validate(); !errors.Is(err, ErrInvalidConfig) {
			t.Errorf("%s: %v", tc.name, err)
		}
	}
}
