package shard

import (
	"context"
	"crypto/sha256"
	"errors"
	"fmt"
	"io"
	"runtime/debug"
	"sync/atomic"
	"time"

	"github.com/libp2p/go-libp2p/core/network"
	"github.com/libp2p/go-libp2p/core/peer"

	"github.com/hearth-p2p/hearth/inference/model"
	"github.com/hearth-p2p/hearth/node/meter"
	"github.com/hearth-p2p/hearth/wallet/receipt"
)

// session is one open session on a server. Fields after the first group are
// guarded by Server.mu (read by Stats).
type session struct {
	id     [16]byte
	peer   peer.ID
	model  *served
	from   int
	to     int
	maxCtx int
	dtype  DType
	ss     StageSession
	meter  *meter.Provider
	kv     int64 // reserved KV bytes
	conn   *conn
	opened time.Time

	lastActive time.Time
	pos        int
	tokens     uint64
	units      uint64
	compute    time.Duration

	closeReason string // set by the handler before release

	// evicted is why the server ended the session (Evict); the handler
	// sees it when its blocked read wakes, and answers CodeBusy.
	evicted atomic.Pointer[string]

	// inputs[i] is the chained digest of the inputs of positions [0,i]
	// (ChainInput); used only by the session's handler.
	inputs [][32]byte
}

// handler runs one stream.
type handler struct {
	s    *Server
	ctx  context.Context
	st   network.Stream
	c    *conn
	peer peer.ID
	sess *session

	hidden []float32 // decode buffers reused across forwards
	tokens []int32
	outBuf []byte // f16 (or big-endian) encoding of a result
}

// serveStream runs a stream to its end. Whatever a peer sends, the outcome is
// at worst an error frame and a closed stream; a panic in a backend is
// contained to the stream.
func (s *Server) serveStream(ctx context.Context, st network.Stream) {
	h := &handler{s: s, ctx: ctx, st: st, c: newConn(st, handshakeMaxFrame), peer: st.Conn().RemotePeer()}
	defer func() {
		if r := recover(); r != nil {
			s.log.Error("shard stream panicked", "peer", h.peer, "panic", r, "stack", string(debug.Stack()))
			st.Reset()
		}
		if h.sess != nil {
			s.release(h.sess)
		}
	}()
	// Shutting down unblocks a handler waiting for a frame.
	stop := context.AfterFunc(ctx, func() { st.SetReadDeadline(time.Now()) })
	defer stop()
	err := h.run()
	reason := "closed"
	if err != nil {
		reason = err.Error()
		s.log.Debug("shard stream ended", "peer", h.peer, "err", err)
	}
	if h.sess != nil {
		h.sess.closeReason = reason
	}
	st.Close()
}

// run speaks the protocol: hello, info, then an open session or nothing.
func (h *handler) run() error {
	cfg := &h.s.cfg
	if err := h.st.SetReadDeadline(time.Now().Add(cfg.HandshakeTimeout)); err != nil {
		return err
	}
	if h.ctx.Err() != nil {
		return h.reject(errorf(CodeBusy, "server shutting down"))
	}
	m, err := h.c.recv(nil)
	if err != nil {
		return h.fail(err, false)
	}
	hello, ok := m.(Hello)
	if !ok {
		return h.reject(errorf(CodeBadRequest, "expected hello, got %s", m.Type()))
	}
	if hello.Version != Version {
		return h.reject(errorf(CodeVersion, "client speaks version %d, server %d", hello.Version, Version))
	}
	if err := h.c.send(h.s.Info(), nil, cfg.WriteTimeout); err != nil {
		return err
	}
	if m, err = h.c.recv(nil); err != nil {
		return h.fail(err, false)
	}
	switch m := m.(type) {
	case Close:
		return nil
	case Open:
		sess, e := h.s.open(h.peer, m, h.c)
		if e != nil {
			return h.reject(e)
		}
		h.sess = sess
		ok := OpenOK{MaxContext: sess.maxCtx, Price: cfg.Price, Provider: cfg.Payout, CreditLimit: cfg.CreditLimit}
		if cfg.Price.PerKiloUnit == 0 {
			ok.CreditLimit = 0
		}
		if err := h.c.send(ok, nil, cfg.WriteTimeout); err != nil {
			return err
		}
		h.c.maxIn = cfg.MaxFrame
		return h.loop()
	default:
		return h.reject(errorf(CodeBadRequest, "expected open or close, got %s", m.Type()))
	}
}

// loop serves an open session's frames until it closes, idles out or fails.
func (h *handler) loop() error {
	cfg, ss := &h.s.cfg, h.sess
	for {
		idle := ss.lastActive.Add(cfg.IdleTimeout)
		if err := h.st.SetReadDeadline(idle); err != nil {
			return err
		}
		if h.ctx.Err() != nil {
			return h.reject(errorf(CodeBusy, "server shutting down"))
		}
		if why := ss.evicted.Load(); why != nil {
			return h.reject(errorf(CodeBusy, "session ended by the provider: %s", *why))
		}
		started := false
		m, err := h.c.recv(func() error {
			started = true
			return h.st.SetReadDeadline(time.Now().Add(cfg.FrameTimeout))
		})
		if err != nil {
			return h.fail(err, started)
		}
		switch m := m.(type) {
		case Forward:
			e, err := h.forward(m)
			if err != nil {
				return err
			}
			if e != nil {
				h.s.refused(h.peer, e)
				if err := h.c.send(e, nil, cfg.WriteTimeout); err != nil {
					return err
				}
				if e.Code != CodePaymentRequired {
					return e
				}
			}
		case ReceiptMsg:
			if err := h.receipt(m); err != nil {
				return err
			}
		case Challenge:
			ok, e := h.answer(m)
			if e != nil {
				return h.reject(e)
			}
			if err := h.c.send(ok, nil, cfg.WriteTimeout); err != nil {
				return err
			}
		case Close:
			served, receipted := ss.meter.Units()
			return h.c.send(Closed{Units: served, Receipted: receipted}, nil, cfg.WriteTimeout)
		default:
			return h.reject(errorf(CodeBadRequest, "unexpected %s frame in a session", m.Type()))
		}
	}
}

// fail answers a failed read with the matching error frame (when the peer
// can still hear it) and returns the error.
func (h *handler) fail(err error, started bool) error {
	switch {
	case h.ctx.Err() != nil:
		return h.reject(errorf(CodeBusy, "server shutting down"))
	case h.sess != nil && h.sess.evicted.Load() != nil:
		return h.reject(errorf(CodeBusy, "session ended by the provider: %s", *h.sess.evicted.Load()))
	case errors.Is(err, ErrFrameTooLarge) || errors.Is(err, ErrMalformed):
		return h.reject(errorf(CodeBadRequest, "%v", err))
	case isTimeout(err) && h.sess != nil && !started:
		return h.reject(errorf(CodeUnknownSession, "session closed after %v idle", h.s.cfg.IdleTimeout))
	case isTimeout(err):
		return h.reject(errorf(CodeBadRequest, "frame not received in time"))
	case errors.Is(err, io.EOF):
		return nil // the peer left without closing
	}
	return err
}

// reject counts e, sends it best-effort and returns it.
func (h *handler) reject(e *Error) error {
	h.s.refused(h.peer, e)
	_ = h.c.send(e, nil, time.Second)
	return e
}

// receipt accepts a signed receipt; a rejected one ends the session.
func (h *handler) receipt(m ReceiptMsg) error {
	ss := h.sess
	err := ss.meter.Accept(m.Receipt)
	switch {
	case errors.Is(err, meter.ErrRejected):
		return h.reject(errorf(CodeBadRequest, "%v", err))
	case err != nil:
		// The ledger failed: keep serving; the credit limit bounds the risk.
		h.s.log.Warn("receipt not recorded", "peer", h.peer, "err", err)
		return nil
	}
	h.s.emit(Event{Kind: EventReceipt, Session: ss.id, Peer: h.peer, Units: m.Receipt.Units})
	return nil
}

// forward runs one Forward. It returns an error frame for the peer, or an
// I/O error that ends the stream.
func (h *handler) forward(f Forward) (*Error, error) {
	ss, cfg := h.sess, &h.s.cfg
	if f.Session != ss.id {
		return errorf(CodeUnknownSession, "session %x is not this stream's", f.Session[:4]), nil
	}
	if err := ss.meter.CheckCredit(); err != nil {
		return errorf(CodePaymentRequired, "%v", err), nil
	}
	if e := h.decodeInput(f); e != nil {
		return e, nil
	}
	var tokens []int32
	var hidden []float32
	if f.Kind == KindTokens {
		tokens = h.tokens
	} else {
		hidden = h.hidden
	}
	start := time.Now()
	out, err := ss.ss.Forward(h.ctx, f.Pos, tokens, hidden)
	compute := time.Since(start)
	if err != nil {
		switch {
		case h.ctx.Err() != nil:
			return errorf(CodeBusy, "server shutting down"), nil
		case errors.Is(err, model.ErrBadInput):
			return errorf(CodeBadRequest, "%v", err), nil
		}
		h.s.log.Error("stage forward failed", "peer", h.peer, "err", err)
		return errorf(CodeInternal, "forward failed"), nil
	}
	info := &ss.model.info
	kind, want := KindHidden, f.N*info.Dim
	if ss.to == info.NumLayers {
		kind, want = KindLogits, info.Vocab
	}
	if len(out) != want {
		h.s.log.Error("stage returned wrong size", "got", len(out), "want", want)
		return errorf(CodeInternal, "forward returned %d values", len(out)), nil
	}
	units, err := meter.Units(f.N, ss.to-ss.from)
	if err == nil {
		err = ss.meter.Served(units)
	}
	if err != nil {
		return errorf(CodeInternal, "metering: %v", err), nil
	}
	dt := F32
	if kind == KindHidden {
		dt = wireDType(ss.dtype, out)
	}
	ss.inputs = chainInputs(ss.inputs[:f.Pos], f.Kind, f.DType, f.N, f.Data)
	data := h.encodeOutput(dt, out)
	served, _ := ss.meter.Units()
	res := Result{Pos: f.Pos, N: f.N, Kind: kind, DType: dt, Units: units, Total: served, Compute: compute}
	if h.s.key != nil {
		stmt := ResultStatement{Session: ss.id, Model: info.Hash, From: ss.from, To: ss.to, Pos: f.Pos, N: f.N,
			Backend: cfg.Backend, Inputs: ss.inputs[len(ss.inputs)-1], Kind: kind, DType: dt, Output: sha256.Sum256(data)}
		if res.Sig, err = stmt.Sign(h.s.key); err != nil {
			return errorf(CodeInternal, "%v", err), nil
		}
	}
	h.s.served(ss, f.N, f.Pos+f.N, units, compute) // before the peer can see the result
	if err := h.c.send(res, func(b []byte) []byte { return append(b, data...) }, cfg.WriteTimeout); err != nil {
		return nil, err
	}
	return nil, nil
}

// encodeOutput returns out encoded as dt: a view of its memory for f32 on a
// little-endian machine, else an encoding in the handler's buffer.
func (h *handler) encodeOutput(dt DType, out []float32) []byte {
	if dt == F32 && littleEndian {
		return floatBytes(out)
	}
	h.outBuf = appendFloats(h.outBuf[:0], dt, out)
	return h.outBuf
}

// decodeInput validates f against the session and decodes its payload into
// h.tokens or h.hidden.
func (h *handler) decodeInput(f Forward) *Error {
	ss, cfg := h.sess, &h.s.cfg
	info := &ss.model.info
	first := ss.from == 0
	switch {
	case first && f.Kind != KindTokens:
		return errorf(CodeBadRequest, "the first stage takes token ids")
	case !first && f.Kind != KindHidden:
		return errorf(CodeBadRequest, "stage [%d,%d) takes hidden states", ss.from, ss.to)
	case f.N > cfg.MaxBatch:
		return errorf(CodeBadRequest, "batch of %d positions, limit %d", f.N, cfg.MaxBatch)
	case f.Pos > ss.ss.Len():
		return errorf(CodeBadRequest, "position %d beyond the %d cached", f.Pos, ss.ss.Len())
	case f.Pos+f.N > ss.maxCtx:
		return errorf(CodeBadRequest, "positions up to %d exceed the session's context of %d", f.Pos+f.N, ss.maxCtx)
	}
	var err error
	if first {
		h.tokens, err = decodeTokens(h.tokens, f.Data, info.Vocab)
	} else {
		if len(f.Data) != f.N*info.Dim*f.DType.size() {
			return errorf(CodeBadRequest, "%d bytes of %s hidden states for %d positions of dim %d", len(f.Data), f.DType, f.N, info.Dim)
		}
		h.hidden, err = decodeFloats(h.hidden, f.DType, f.Data)
	}
	if err != nil {
		return errorf(CodeBadRequest, "%v", err)
	}
	return nil
}

// open validates an Open and reserves the session's capacity.
func (s *Server) open(p peer.ID, o Open, c *conn) (*session, *Error) {
	cfg := &s.cfg
	if !s.accepting.Load() {
		return nil, errorf(CodeBusy, "not accepting new sessions")
	}
	sv := s.servedModel(o.Model)
	if sv == nil {
		return nil, errorf(CodeBadRequest, "model %x is not served here", o.Model[:8])
	}
	if o.From < sv.info.From || o.To > sv.info.To {
		return nil, errorf(CodeBadRequest, "layers [%d,%d) requested, [%d,%d) served", o.From, o.To, sv.info.From, sv.info.To)
	}
	limit := min(cfg.MaxContext, sv.info.ContextLen)
	maxCtx := o.MaxContext
	if maxCtx == 0 {
		maxCtx = limit
	}
	if maxCtx > limit {
		return nil, errorf(CodeBadRequest, "context of %d positions requested, limit %d", maxCtx, limit)
	}
	if e := s.checkPrice(o); e != nil {
		return nil, e
	}
	terms := meter.Terms{Session: o.Session, Consumer: o.Consumer, Provider: cfg.Payout, Model: o.Model,
		From: uint32(o.From), To: uint32(o.To), Price: cfg.Price}
	pm, err := meter.NewProvider(terms, s.ledger, cfg.CreditLimit)
	if err != nil {
		return nil, errorf(CodeBadRequest, "%v", err)
	}
	ss := &session{id: o.Session, peer: p, model: sv, from: o.From, to: o.To, maxCtx: maxCtx, dtype: o.DType,
		meter: pm, conn: c, kv: int64(o.To-o.From) * int64(sv.info.KVDim) * 8 * int64(maxCtx)}
	if e := s.reserve(ss); e != nil {
		return nil, e
	}
	st, err := sv.b.OpenSession(o.From, o.To, maxCtx)
	if err != nil {
		s.release(ss)
		s.log.Error("open stage session", "err", err)
		return nil, errorf(CodeInternal, "cannot open the stage")
	}
	ss.ss = st
	s.mu.Lock()
	s.totals.Opened++
	s.emitLocked(Event{Kind: EventOpened, Session: ss.id, Peer: p})
	s.mu.Unlock()
	s.log.Info("session opened", "peer", p, "layers", fmt.Sprintf("[%d,%d)", o.From, o.To), "ctx", maxCtx, "dtype", o.DType)
	return ss, nil
}

// checkPrice checks that a paid server's price was accepted with a key to
// sign receipts.
func (s *Server) checkPrice(o Open) *Error {
	p := s.cfg.Price
	if p.PerKiloUnit == 0 {
		return nil
	}
	switch {
	case o.Price.Mint != p.Mint || o.Price.PerKiloUnit < p.PerKiloUnit:
		return errorf(CodePaymentRequired, "price is %d per 1000 units of %s", p.PerKiloUnit, mintName(p))
	case o.Consumer.IsZero():
		return errorf(CodePaymentRequired, "a paid session needs a consumer key to sign receipts")
	case o.Consumer == s.cfg.Payout:
		return errorf(CodeBadRequest, "consumer key is the provider's payout address")
	}
	return nil
}

func mintName(p receipt.Price) string {
	if p.Mint.IsZero() {
		return "SOL (lamports)"
	}
	return p.Mint.String()
}

// reserve admits ss under the session and memory limits.
func (s *Server) reserve(ss *session) *Error {
	s.mu.Lock()
	defer s.mu.Unlock()
	switch {
	case s.sessions[ss.id] != nil:
		return errorf(CodeBadRequest, "session id %x already open", ss.id[:4])
	case len(s.sessions) >= s.cfg.MaxSessions:
		return errorf(CodeNoCapacity, "%d sessions open, limit %d", len(s.sessions), s.cfg.MaxSessions)
	case s.kvBytes+ss.kv > s.cfg.MaxKVBytes:
		return errorf(CodeNoCapacity, "KV cache of %d MiB does not fit (%d of %d MiB reserved)",
			ss.kv>>20, s.kvBytes>>20, s.cfg.MaxKVBytes>>20)
	}
	ss.opened = time.Now()
	ss.lastActive = ss.opened
	s.sessions[ss.id] = ss
	s.kvBytes += ss.kv
	return nil
}

// release closes a session and frees its reservation.
func (s *Server) release(ss *session) {
	if ss.ss != nil {
		ss.ss.Close()
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.sessions[ss.id] != ss {
		return
	}
	delete(s.sessions, ss.id)
	s.kvBytes -= ss.kv
	s.totals.BytesIn += ss.conn.bytesIn.Load()
	s.totals.BytesOut += ss.conn.bytesOut.Load()
	if ss.ss == nil {
		return // never opened
	}
	s.emitLocked(Event{Kind: EventClosed, Session: ss.id, Peer: ss.peer, Units: ss.units, Reason: ss.closeReason})
}

// served records a completed forward.
func (s *Server) served(ss *session, n, pos int, units uint64, compute time.Duration) {
	ss.model.observe(n, ss.to-ss.from, compute)
	s.mu.Lock()
	defer s.mu.Unlock()
	now := time.Now()
	ss.lastActive, ss.pos = now, pos
	ss.tokens += uint64(n)
	ss.units += units
	ss.compute += compute
	s.totals.Forwards++
	s.totals.Tokens += uint64(n)
	s.totals.Units += units
	s.emitLocked(Event{Kind: EventForward, Time: now, Session: ss.id, Peer: ss.peer, Tokens: n, Units: units, Compute: compute})
}

// refused counts an error frame sent to a peer: a refused open, a bad frame,
// a paused session.
func (s *Server) refused(p peer.ID, err error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.totals.Refused++
	s.emitLocked(Event{Kind: EventRefused, Peer: p, Err: err})
}
