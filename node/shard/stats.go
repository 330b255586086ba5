package shard

import (
	"time"

	"github.com/libp2p/go-libp2p/core/peer"
)

// Totals count everything a server has done since it started.
type Totals struct {
	Opened   uint64 // sessions opened
	Refused  uint64 // error frames sent: opens refused, bad frames, paused sessions
	Forwards uint64
	Tokens   uint64 // positions forwarded
	Units    uint64 // token-layers served
	BytesIn  uint64 // frame bytes of closed and open sessions
	BytesOut uint64
}

// SessionStats describe one open session.
type SessionStats struct {
	ID         [16]byte
	Peer       peer.ID
	Model      [32]byte
	From, To   int
	Pos        int // positions in the session's cache
	Tokens     uint64
	Units      uint64
	Receipted  uint64
	BytesIn    uint64
	BytesOut   uint64
	Opened     time.Time
	LastActive time.Time
	TokPerSec  float64 // tokens forwarded per second of compute
}

// Stats is a snapshot of a server for the GUI.
type Stats struct {
	Accepting bool
	Sessions  []SessionStats
	KVBytes   int64 // reserved by open sessions
	Totals    Totals
}

// Stats returns a snapshot.
func (s *Server) Stats() Stats {
	s.mu.Lock()
	defer s.mu.Unlock()
	st := Stats{Accepting: s.accepting.Load(), KVBytes: s.kvBytes, Totals: s.totals}
	for _, ss := range s.sessions {
		in, out := ss.conn.bytesIn.Load(), ss.conn.bytesOut.Load()
		st.Totals.BytesIn += in
		st.Totals.BytesOut += out
		_, receipted := ss.meter.Units()
		v := SessionStats{
			ID: ss.id, Peer: ss.peer, Model: ss.model.info.Hash, From: ss.from, To: ss.to, Pos: ss.pos,
			Tokens: ss.tokens, Units: ss.units, Receipted: receipted, BytesIn: in, BytesOut: out,
			Opened: ss.opened, LastActive: ss.lastActive,
		}
		if ss.compute > 0 {
			v.TokPerSec = float64(ss.tokens) / ss.compute.Seconds()
		}
		st.Sessions = append(st.Sessions, v)
	}
	return st
}

// EventKind says what an Event reports.
type EventKind int

// Event kinds.
const (
	EventOpened    EventKind = iota + 1 // a session opened
	EventClosed                         // a session ended (Reason says why)
	EventForward                        // a forward was served
	EventReceipt                        // a receipt was accepted
	EventRefused                        // an error frame was sent (Err)
	EventAccepting                      // SetAccepting changed (Accepting)
)

// Event is one thing a server did, for live views.
type Event struct {
	Kind      EventKind
	Time      time.Time
	Session   [16]byte
	Peer      peer.ID
	Tokens    int
	Units     uint64
	Compute   time.Duration
	Reason    string
	Err       error
	Accepting bool
}

// Subscribe returns a channel of events with room for buffer of them; events
// that find it full are dropped (the server never waits for a slow reader).
// cancel stops delivery and closes the channel.
func (s *Server) Subscribe(buffer int) (events <-chan Event, cancel func()) {
	ch := make(chan Event, max(buffer, 1))
	s.mu.Lock()
	s.subs[ch] = struct{}{}
	s.mu.Unlock()
	return ch, func() {
		s.mu.Lock()
		defer s.mu.Unlock()
		if _, ok := s.subs[ch]; ok {
			delete(s.subs, ch)
			close(ch)
		}
	}
}

func (s *Server) emit(e Event) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.emitLocked(e)
}

func (s *Server) emitLocked(e Event) {
	if e.Time.IsZero() {
		e.Time = time.Now()
	}
	for ch := range s.subs {
		select {
		case ch <- e:
		default:
		}
	}
}
