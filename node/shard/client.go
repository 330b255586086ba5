package shard

import (
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"math/bits"
	"sync"
	"time"

	"github.com/libp2p/go-libp2p/core/host"
	"github.com/libp2p/go-libp2p/core/network"
	"github.com/libp2p/go-libp2p/core/peer"
	ma "github.com/multiformats/go-multiaddr"

	"github.com/hearth-p2p/hearth/node/meter"
	"github.com/hearth-p2p/hearth/wallet/receipt"
)

// ErrNotServed reports a model or layer range a server does not serve.
var ErrNotServed = errors.New("not served by this peer")

// ErrProtocol reports a server answering outside the protocol.
var ErrProtocol = errors.New("shard protocol violation")

// infoMaxFrame is the largest Info (or OpenOK) a client reads.
const infoMaxFrame = 1 << 20

// Client talks to one shard server. It is safe for concurrent use.
type Client struct {
	h    host.Host
	peer peer.ID

	mu   sync.Mutex // guards info and rtt
	info Info
	rtt  time.Duration
}

// DialAddr connects to the server at addr, a multiaddr ending in /p2p/<id>,
// and fetches its Info.
func DialAddr(ctx context.Context, h host.Host, addr string) (*Client, error) {
	m, err := ma.NewMultiaddr(addr)
	if err != nil {
		return nil, fmt.Errorf("shard dial: %w", err)
	}
	ai, err := peer.AddrInfoFromP2pAddr(m)
	if err != nil {
		return nil, fmt.Errorf("shard dial %s: %w", addr, err)
	}
	return Dial(ctx, h, *ai)
}

// Dial connects to a server and fetches its Info.
func Dial(ctx context.Context, h host.Host, ai peer.AddrInfo) (*Client, error) {
	if ai.ID == h.ID() {
		return nil, fmt.Errorf("shard dial: %s is this host", ai.ID)
	}
	if err := h.Connect(ctx, ai); err != nil {
		return nil, fmt.Errorf("shard dial %s: %w", ai.ID, err)
	}
	c := &Client{h: h, peer: ai.ID}
	if _, err := c.Refresh(ctx); err != nil {
		return nil, err
	}
	return c, nil
}

// Peer is the server's peer ID.
func (c *Client) Peer() peer.ID { return c.peer }

// Info is the server's Info as last fetched.
func (c *Client) Info() Info {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.info
}

// RTT is the round trip of the last Info query (hello → info).
func (c *Client) RTT() time.Duration {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.rtt
}

func (c *Client) setInfo(info Info) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.info = info
}

// Refresh fetches the server's Info again.
func (c *Client) Refresh(ctx context.Context) (Info, error) {
	st, cn, info, err := c.handshake(ctx)
	if err != nil {
		return Info{}, err
	}
	err = cn.send(Close{}, nil, 0)
	st.Close()
	if err != nil {
		return Info{}, fmt.Errorf("shard info from %s: %w", c.peer, err)
	}
	c.setInfo(info)
	return info, nil
}

// handshake opens a stream and exchanges Hello and Info. The stream's
// deadline follows ctx until the caller resets it.
func (c *Client) handshake(ctx context.Context) (network.Stream, *conn, Info, error) {
	st, err := c.h.NewStream(ctx, c.peer, ProtocolID)
	if err != nil {
		return nil, nil, Info{}, fmt.Errorf("shard stream to %s: %w", c.peer, err)
	}
	fail := func(err error) (network.Stream, *conn, Info, error) {
		st.Reset()
		return nil, nil, Info{}, fmt.Errorf("shard handshake with %s: %w", c.peer, err)
	}
	stop := context.AfterFunc(ctx, func() { st.SetDeadline(time.Now()) })
	defer stop()
	cn := newConn(st, infoMaxFrame)
	start := time.Now()
	if err := cn.send(Hello{Version: Version}, nil, 0); err != nil {
		return fail(err)
	}
	m, err := cn.recv(nil)
	if err != nil {
		return fail(ctxErr(ctx, err))
	}
	info, ok := m.(Info)
	if !ok {
		if e, isErr := m.(*Error); isErr {
			return fail(e)
		}
		return fail(fmt.Errorf("%w: %s instead of info", ErrProtocol, m.Type()))
	}
	c.mu.Lock()
	c.rtt = time.Since(start)
	c.mu.Unlock()
	return st, cn, info, nil
}

// ctxErr prefers the context's error to the deadline error it caused.
func ctxErr(ctx context.Context, err error) error {
	if ctx.Err() != nil {
		return fmt.Errorf("%w (%v)", ctx.Err(), err)
	}
	return err
}

// SessionConfig asks for a remote stage.
type SessionConfig struct {
	ID         [16]byte // zero: random
	Model      [32]byte
	From, To   int
	MaxContext int   // 0: the server's limit
	DType      DType // hidden states on the wire: F32 (exact) or F16
	// MaxPrice is the most the consumer pays per 1,000 units; a server
	// asking more is refused. Zero accepts free servers only.
	MaxPrice receipt.Price
	// Signer signs receipts (the consumer's wallet key); a paid session
	// needs one.
	Signer receipt.Signer
	// ReceiptEvery is how many unreceipted units trigger a receipt; 0 sends
	// one when half the server's credit limit is used.
	ReceiptEvery uint64
}

// OpenSession opens a session on layers [From,To) of Model and returns it
// as a remote stage.
func (c *Client) OpenSession(ctx context.Context, cfg SessionConfig) (*RemoteStage, error) {
	mi, err := c.checkSession(cfg)
	if err != nil {
		return nil, err
	}
	if cfg.ID == ([16]byte{}) {
		rand.Read(cfg.ID[:])
	}
	var consumer receipt.PublicKey
	if cfg.Signer != nil {
		copy(consumer[:], cfg.Signer.PublicKey())
	}
	st, cn, info, err := c.handshake(ctx)
	if err != nil {
		return nil, err
	}
	c.setInfo(info)
	stop := context.AfterFunc(ctx, func() { st.SetDeadline(time.Now()) })
	fail := func(err error) (*RemoteStage, error) {
		stop()
		st.Reset()
		return nil, fmt.Errorf("open session on %s: %w", c.peer, ctxErr(ctx, err))
	}
	open := Open{Session: cfg.ID, Model: cfg.Model, From: cfg.From, To: cfg.To, MaxContext: cfg.MaxContext,
		Price: cfg.MaxPrice, DType: cfg.DType, Consumer: consumer}
	if err := cn.send(open, nil, 0); err != nil {
		return fail(err)
	}
	m, err := cn.recv(nil)
	if err != nil {
		return fail(err)
	}
	var ok OpenOK
	switch m := m.(type) {
	case OpenOK:
		ok = m
	case *Error:
		return fail(m)
	default:
		return fail(fmt.Errorf("%w: %s instead of open-ok", ErrProtocol, m.Type()))
	}
	r, err := newRemoteStage(c, st, cn, cfg, mi, info, ok, consumer)
	if err != nil {
		return fail(err)
	}
	if !stop() {
		return fail(ctx.Err())
	}
	if err := st.SetDeadline(time.Time{}); err != nil {
		return fail(err)
	}
	return r, nil
}

// checkSession checks cfg against the server's Info before asking.
func (c *Client) checkSession(cfg SessionConfig) (ModelInfo, error) {
	var mi ModelInfo
	found := false
	info := c.Info()
	for _, m := range info.Models {
		if m.Hash == cfg.Model {
			mi, found = m, true
		}
	}
	switch {
	case !found:
		return mi, fmt.Errorf("%w: model %x on %s", ErrNotServed, cfg.Model[:8], c.peer)
	case cfg.From < mi.From || cfg.To > mi.To || cfg.From >= cfg.To:
		return mi, fmt.Errorf("%w: layers [%d,%d) on %s, which serves [%d,%d)", ErrNotServed, cfg.From, cfg.To, c.peer, mi.From, mi.To)
	case cfg.DType != F32 && cfg.DType != F16:
		return mi, fmt.Errorf("open session: wire dtype %s", cfg.DType)
	}
	if p := info.Price; p.PerKiloUnit > 0 {
		if p.Mint != cfg.MaxPrice.Mint || p.PerKiloUnit > cfg.MaxPrice.PerKiloUnit {
			return mi, fmt.Errorf("%w: %s charges %d per 1000 units of %s, above the accepted %d",
				ErrPaymentRequired, c.peer, p.PerKiloUnit, mintName(p), cfg.MaxPrice.PerKiloUnit)
		}
		if cfg.Signer == nil {
			return mi, fmt.Errorf("%w: %s charges %d per 1000 units and no wallet key signs receipts", ErrPaymentRequired, c.peer, p.PerKiloUnit)
		}
	}
	return mi, nil
}

// newRemoteStage builds the stage of an accepted open.
func newRemoteStage(c *Client, st network.Stream, cn *conn, cfg SessionConfig, mi ModelInfo, info Info, ok OpenOK, consumer receipt.PublicKey) (*RemoteStage, error) {
	if cfg.MaxContext > 0 && ok.MaxContext > cfg.MaxContext {
		return nil, fmt.Errorf("%w: granted context %d above the %d asked", ErrProtocol, ok.MaxContext, cfg.MaxContext)
	}
	if ok.Price.PerKiloUnit > 0 && (ok.Price.Mint != cfg.MaxPrice.Mint || ok.Price.PerKiloUnit > cfg.MaxPrice.PerKiloUnit) {
		return nil, fmt.Errorf("%w: granted price %d above the %d accepted", ErrProtocol, ok.Price.PerKiloUnit, cfg.MaxPrice.PerKiloUnit)
	}
	terms := meter.Terms{Session: cfg.ID, Consumer: consumer, Provider: ok.Provider, Model: cfg.Model,
		From: uint32(cfg.From), To: uint32(cfg.To), Price: ok.Price}
	mc, err := meter.NewConsumer(terms, cfg.Signer)
	if err != nil {
		return nil, err
	}
	every := cfg.ReceiptEvery
	if every == 0 && !terms.Free() {
		// Units whose price is half the credit limit, at least one.
		hi, lo := bits.Mul64(ok.CreditLimit/2, 1000)
		if hi >= ok.Price.PerKiloUnit {
			every = ^uint64(0)
		} else {
			every, _ = bits.Div64(hi, lo, ok.Price.PerKiloUnit)
			every = max(1, every)
		}
	}
	// Positions per Forward frame: the server's batch limit, and what fits
	// its frame limit with room for the header.
	perPos := max(4, mi.Dim*4)
	chunk := max(1, min(info.MaxBatch, (info.MaxFrame-128)/perPos))
	// The largest result: a chunk of hidden states or the logits.
	cn.maxIn = max(chunk*mi.Dim*4, mi.Vocab*4) + 128
	return &RemoteStage{
		client: c, st: st, c: cn, id: cfg.ID, info: mi, from: cfg.From, to: cfg.To,
		maxCtx: ok.MaxContext, dtype: cfg.DType, chunk: chunk, meter: mc, every: every, backend: info.Backend,
	}, nil
}
