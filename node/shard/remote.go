package shard

import (
	"context"
	"crypto/sha256"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/libp2p/go-libp2p/core/network"
	"github.com/libp2p/go-libp2p/core/peer"

	"github.com/hearth-p2p/hearth/node/meter"
	"github.com/hearth-p2p/hearth/wallet/receipt"
)

// ErrBroken reports a remote stage whose stream failed or whose call was
// cancelled mid-flight: its session is gone and the stage must be replaced.
var ErrBroken = errors.New("remote stage broken")

// closeTimeout bounds the goodbye of Close.
const closeTimeout = 5 * time.Second

// RemoteStage is a layer range served by a peer, used like a local stage
// session: it satisfies model.Forwarder. It is safe for concurrent use, but
// calls run one at a time.
type RemoteStage struct {
	client *Client
	st     network.Stream
	c      *conn
	id     [16]byte
	info   ModelInfo
	from   int
	to     int
	maxCtx int
	dtype  DType
	chunk  int // positions per Forward frame
	meter  *meter.Consumer
	every  uint64 // unreceipted units that trigger a receipt

	backend string // the provider's backend, as its Info said at open

	mu     sync.Mutex // serialises calls; guards the fields below
	len    int        // positions the server has cached
	out    []float32  // returned to the caller, valid until the next call
	res    []float32  // decode buffer
	broken error
	closed bool
	stats  StageStats

	inputs    [][32]byte // chained input digests per cached position (ChainInput)
	dtypes    []DType    // wire dtype of each cached position's input
	pending   [][32]byte // digests of the frame in flight
	wire      []byte     // encoding buffer of a frame's tensor data
	sentDType DType      // wire dtype of the frame in flight
	ev        Evidence   // the last result's evidence
	hasEv     bool
}

// StageStats describe a remote stage's traffic and timing.
type StageStats struct {
	Forwards  int
	Tokens    uint64
	Units     uint64 // metered by the provider, checked by the client
	Receipted uint64 // units covered by the last receipt sent
	Receipts  int
	LastRTT   time.Duration // last request → result
	RTT       time.Duration // moving average of request → result
	Compute   time.Duration // moving average of the server's stage time
	BytesIn   uint64
	BytesOut  uint64
}

// Peer is the serving peer.
func (r *RemoteStage) Peer() peer.ID { return r.client.peer }

// Range is the stage's layer range [from,to).
func (r *RemoteStage) Range() (from, to int) { return r.from, r.to }

// Session is the session id (receipts name it).
func (r *RemoteStage) Session() [16]byte { return r.id }

// MaxContext is the positions the server granted.
func (r *RemoteStage) MaxContext() int { return r.maxCtx }

// Terms are the metering terms of the session.
func (r *RemoteStage) Terms() meter.Terms { return r.meter.Terms() }

// Stats returns the stage's counters.
func (r *RemoteStage) Stats() StageStats {
	r.mu.Lock()
	defer r.mu.Unlock()
	s := r.stats
	s.BytesIn, s.BytesOut = r.c.bytesIn.Load(), r.c.bytesOut.Load()
	return s
}

// Len is the number of positions the server holds for the session.
func (r *RemoteStage) Len() int {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.len
}

// Forward runs n positions from pos through the remote layers: token ids for
// a first stage, n×dim hidden states otherwise. It returns n×dim hidden
// states, or the last position's logits for a last stage; the slice is valid
// until the next call. Batches beyond the server's frame or batch limits are
// sent in chunks. Cancelling ctx (or its deadline) breaks the stage.
func (r *RemoteStage) Forward(ctx context.Context, pos int, tokens []int32, hidden []float32) ([]float32, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.broken != nil {
		return nil, r.broken
	}
	if r.closed {
		return nil, fmt.Errorf("remote stage [%d,%d) on %s: closed", r.from, r.to, r.client.peer)
	}
	n, err := r.checkInput(pos, tokens, hidden)
	if err != nil {
		return nil, err
	}
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	// The stream's deadline follows ctx: cancellation or its deadline sets
	// it to now, so ctx.Err() is already set when the read fails.
	if err := r.st.SetDeadline(time.Time{}); err != nil {
		return nil, r.breakWith(err)
	}
	stop := context.AfterFunc(ctx, func() { r.st.SetDeadline(time.Now()) })
	out, err := r.forwardChunks(pos, n, tokens, hidden)
	if !stop() && err == nil {
		err = ctx.Err() // fired after the last read: the stream's deadline is spent
	}
	if err != nil {
		if errors.Is(err, ErrPaymentRequired) && ctx.Err() == nil {
			return nil, err // the session is paused, not lost
		}
		return nil, r.breakWith(ctxErr(ctx, err))
	}
	r.len = pos + n
	return out, nil
}

// breakWith marks the stage broken and resets its stream.
func (r *RemoteStage) breakWith(err error) error {
	r.broken = fmt.Errorf("%w: [%d,%d) on %s: %w", ErrBroken, r.from, r.to, r.client.peer, err)
	r.st.Reset()
	return r.broken
}

// checkInput validates a call and returns its number of positions.
func (r *RemoteStage) checkInput(pos int, tokens []int32, hidden []float32) (int, error) {
	var n int
	if r.from == 0 {
		n = len(tokens)
		for _, id := range tokens {
			if id < 0 || int(id) >= r.info.Vocab {
				return 0, fmt.Errorf("remote stage: token %d outside vocabulary of %d", id, r.info.Vocab)
			}
		}
	} else {
		if len(hidden)%r.info.Dim != 0 {
			return 0, fmt.Errorf("remote stage: %d hidden floats is not a multiple of dim %d", len(hidden), r.info.Dim)
		}
		n = len(hidden) / r.info.Dim
	}
	switch {
	case n == 0:
		return 0, errors.New("remote stage: empty batch")
	case pos < 0 || pos > r.len:
		return 0, fmt.Errorf("remote stage: position %d with %d cached", pos, r.len)
	case pos+n > r.maxCtx:
		return 0, fmt.Errorf("remote stage: positions up to %d exceed the context of %d", pos+n, r.maxCtx)
	}
	return n, nil
}

// forwardChunks sends the batch in chunks and gathers the output.
func (r *RemoteStage) forwardChunks(pos, n int, tokens []int32, hidden []float32) ([]float32, error) {
	if n <= r.chunk { // one frame: its decoded result is the output
		if r.from == 0 {
			return r.roundTrip(pos, n, tokens, nil)
		}
		return r.roundTrip(pos, n, nil, hidden)
	}
	last := r.to == r.info.NumLayers
	r.out = r.out[:0]
	for off := 0; off < n; off += r.chunk {
		k := min(r.chunk, n-off)
		var tk []int32
		var hd []float32
		if r.from == 0 {
			tk = tokens[off : off+k]
		} else {
			hd = hidden[off*r.info.Dim : (off+k)*r.info.Dim]
		}
		res, err := r.roundTrip(pos+off, k, tk, hd)
		if err != nil {
			return nil, err
		}
		if last && off+k < n {
			continue // only the final position's logits matter
		}
		r.out = append(r.out, res...)
	}
	return r.out, nil
}

// roundTrip sends one Forward frame and reads its result, paying once and
// retrying when the server pauses the session for a receipt.
func (r *RemoteStage) roundTrip(pos, k int, tokens []int32, hidden []float32) ([]float32, error) {
	if err := r.sendReceipt(false); err != nil {
		return nil, r.explain(err)
	}
	f := Forward{Session: r.id, Pos: pos, N: k, Kind: KindTokens, DType: I32}
	var data []byte
	if r.from > 0 {
		f.Kind, f.DType = KindHidden, wireDType(r.dtype, hidden)
		if f.DType == F32 && littleEndian {
			data = floatBytes(hidden)
		} else {
			r.wire = appendFloats(r.wire[:0], f.DType, hidden)
			data = r.wire
		}
	} else {
		r.wire = appendTokens(r.wire[:0], tokens)
		data = r.wire
	}
	r.sentDType = f.DType
	r.pending = r.pending[:0]
	if pos > 0 {
		r.pending = append(r.pending, r.inputs[pos-1])
	}
	r.pending = chainInputs(r.pending, f.Kind, f.DType, k, data)
	tail := func(b []byte) []byte { return append(b, data...) }
	for attempt := 0; ; attempt++ {
		start := time.Now()
		if err := r.c.send(f, tail, 0); err != nil {
			return nil, r.explain(err)
		}
		m, err := r.c.recv(nil)
		if err != nil {
			return nil, err
		}
		switch m := m.(type) {
		case Result:
			return r.accept(m, pos, k, time.Since(start))
		case *Error:
			if m.Code == CodePaymentRequired && attempt == 0 && r.meter.Unreceipted() > 0 {
				if err := r.sendReceipt(true); err != nil {
					return nil, err
				}
				continue
			}
			return nil, m
		default:
			return nil, fmt.Errorf("%w: %s instead of result", ErrProtocol, m.Type())
		}
	}
}

// explain turns a failed write into the server's reason when it sent one
// before closing (an idle timeout, a shutdown): some transports refuse writes
// to a stream the peer closed while its last frame is still readable.
func (r *RemoteStage) explain(err error) error {
	if isTimeout(err) {
		return err // cancelled or timed out: nothing to wait for
	}
	r.st.SetReadDeadline(time.Now().Add(time.Second))
	if m, rerr := r.c.recv(nil); rerr == nil {
		if e, ok := m.(*Error); ok {
			return fmt.Errorf("%w (%v)", e, err)
		}
	}
	return err
}

// accept validates a result against its request and meters it.
func (r *RemoteStage) accept(m Result, pos, k int, rtt time.Duration) ([]float32, error) {
	layers := r.to - r.from
	kind, want := KindHidden, k*r.info.Dim
	if r.to == r.info.NumLayers {
		kind, want = KindLogits, r.info.Vocab
	}
	units, err := meter.Units(k, layers)
	if err != nil {
		return nil, err
	}
	switch {
	case m.Pos != pos || m.N != k || m.Kind != kind:
		return nil, fmt.Errorf("%w: result for %d positions at %d (kind %d), asked %d at %d", ErrProtocol, m.N, m.Pos, m.Kind, k, pos)
	case len(m.Data) != want*m.DType.size():
		return nil, fmt.Errorf("%w: %d result bytes of %s, want %d values", ErrProtocol, len(m.Data), m.DType, want)
	case m.Units != units || m.Total != r.stats.Units+units:
		return nil, fmt.Errorf("%w: metered %d units (total %d) for %d positions × %d layers (total %d)",
			ErrProtocol, m.Units, m.Total, k, layers, r.stats.Units+units)
	}
	res, err := decodeFloats(r.res, m.DType, m.Data)
	r.res = res
	if err != nil {
		return nil, fmt.Errorf("%w: %w", ErrProtocol, err)
	}
	if err := r.meter.Add(units); err != nil {
		return nil, err
	}
	r.inputs = append(r.inputs[:pos], r.pending[len(r.pending)-k:]...)
	r.dtypes = r.dtypes[:pos]
	for range k {
		r.dtypes = append(r.dtypes, r.sentDType)
	}
	r.keepEvidence(m, pos, k, kind)
	s := &r.stats
	s.Forwards++
	s.Tokens += uint64(k)
	s.Units += units
	s.LastRTT = rtt
	s.RTT = ewma(s.RTT, rtt, s.Forwards)
	s.Compute = ewma(s.Compute, m.Compute, s.Forwards)
	return res, nil
}

func ewma(avg, v time.Duration, n int) time.Duration {
	if n <= 1 {
		return v
	}
	return avg + (v-avg)/8
}

// sendReceipt sends a receipt for the unreceipted work when it reaches the
// threshold, or whenever there is some if force.
func (r *RemoteStage) sendReceipt(force bool) error {
	if r.meter.Terms().Free() {
		return nil
	}
	u := r.meter.Unreceipted()
	if u == 0 || (!force && u < r.every) {
		return nil
	}
	s, err := r.meter.Receipt()
	if err != nil {
		return err
	}
	if err := r.c.send(ReceiptMsg{Receipt: s}, nil, 0); err != nil {
		return err
	}
	r.stats.Receipted = s.Units
	r.stats.Receipts++
	return nil
}

// keepEvidence records the statement the provider should have signed for
// m and its signature. The output's bytes and digest are computed only when
// asked for (Evidence), from the decoded values, which re-encode to exactly
// the bytes received: the common step costs no hashing.
func (r *RemoteStage) keepEvidence(m Result, pos, k int, kind Kind) {
	e := &r.ev
	e.Provider = r.client.peer
	e.Statement = ResultStatement{Session: r.id, Model: r.info.Hash, From: r.from, To: r.to, Pos: pos, N: k,
		Backend: r.backend, Inputs: r.inputs[pos+k-1], Kind: kind, DType: m.DType}
	e.Sig = append(e.Sig[:0], m.Sig...)
	r.hasEv = true
}

// Evidence returns the provider's signed answer to the last frame of the
// last Forward, with the statement the client expects it to have signed. It
// must be asked for before the next call; it is not checked here (see
// Evidence.Verify).
func (r *RemoteStage) Evidence() (Evidence, bool) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if !r.hasEv || r.broken != nil {
		return Evidence{}, false
	}
	e := r.ev
	e.Sig = append([]byte(nil), e.Sig...)
	e.Output = appendFloats(nil, e.Statement.DType, r.res) // r.res: the last frame's values
	e.Statement.Output = sha256.Sum256(e.Output)
	e.InputDTypes = append([]DType(nil), r.dtypes[:e.Statement.Pos+e.Statement.N]...)
	return e, true
}

// Backend is the provider's compute backend ("cpu" computes bit-exactly).
func (r *RemoteStage) Backend() string { return r.backend }

// WireDType is how the session's hidden states travel.
func (r *RemoteStage) WireDType() DType { return r.dtype }

// Abort ends the session without paying for the work not yet receipted (a
// provider found cheating): the stream is reset, no receipt is signed.
func (r *RemoteStage) Abort() {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.closed {
		return
	}
	r.closed = true
	if r.broken == nil {
		r.broken = fmt.Errorf("%w: [%d,%d) on %s: aborted", ErrBroken, r.from, r.to, r.client.peer)
		r.st.Reset()
	}
}

// LastReceipt returns the last receipt sent, if any.
func (r *RemoteStage) LastReceipt() (receipt.Signed, bool) { return r.meter.Last() }

// Close pays for the work not yet receipted, ends the session and closes
// the stream. Closing a broken stage just releases it.
func (r *RemoteStage) Close() error {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.closed {
		return nil
	}
	r.closed = true
	if r.broken != nil {
		return nil
	}
	r.st.SetDeadline(time.Now().Add(closeTimeout))
	err := r.sendReceipt(true)
	if err == nil {
		err = r.c.send(Close{}, nil, 0)
	}
	if err == nil {
		var m Message
		if m, err = r.c.recv(nil); err == nil {
			switch m := m.(type) {
			case Closed:
			case *Error:
				err = m
			default:
				err = fmt.Errorf("%w: %s instead of closed", ErrProtocol, m.Type())
			}
		}
	}
	if err != nil {
		r.st.Reset()
		return fmt.Errorf("close remote stage [%d,%d) on %s: %w", r.from, r.to, r.client.peer, err)
	}
	// The server has closed its end after Closed; some transports report
	// closing ours as an error then, which changes nothing.
	_ = r.st.Close()
	return nil
}
