package p2p

import (
	"context"
	"log/slog"
	"net"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/libp2p/go-libp2p/core/host"
	"github.com/libp2p/go-libp2p/core/network"
	"github.com/libp2p/go-libp2p/core/peer"
	"github.com/libp2p/go-libp2p/p2p/protocol/circuitv2/client"
	"github.com/libp2p/go-libp2p/p2p/protocol/circuitv2/proto"
	"github.com/libp2p/go-libp2p/p2p/protocol/holepunch"
	ma "github.com/multiformats/go-multiaddr"
	manet "github.com/multiformats/go-multiaddr/net"
)

// Reservation is a slot held on a circuit relay v2: peers reach this host
// through the relay at Addrs while the reservation lasts.
type Reservation struct {
	Relay peer.ID
	// Addrs are this host's circuit addresses through the relay, ending in
	// /p2p-circuit/p2p/<our id>.
	Addrs []ma.Multiaddr
	// Expires is when the relay drops the slot unless renewed; zero when the
	// reservation is managed by libp2p's autorelay, which does not expose it.
	Expires time.Time
}

// HolePunchStats counts DCUtR outcomes since the host started.
type HolePunchStats struct {
	// DirectDials are attempts to dial a relayed peer's public address
	// directly before punching; DirectDialsOK succeeded.
	DirectDials, DirectDialsOK int64
	// Punches are completed hole-punch rounds; PunchesOK succeeded.
	Punches, PunchesOK int64
	// ProtocolErrors are failures of the DCUtR exchange itself.
	ProtocolErrors int64
}

// hooks lets options built before the host exists reach it afterwards.
type hooks struct {
	host       atomic.Pointer[host.Host]
	keeper     *reservationKeeper // nil without static relays
	holePunch  *holePunchTracer
	noAnnounce []*net.IPNet
}

// addrsFactory shapes the addresses the host advertises: it drops direct
// addresses in NoAnnounce ranges and adds circuit addresses through relays
// holding a reservation for us.
func (hk *hooks) addrsFactory(addrs []ma.Multiaddr) []ma.Multiaddr {
	if len(hk.noAnnounce) > 0 {
		addrs = slices.DeleteFunc(slices.Clone(addrs), hk.hidden)
	}
	if hk.keeper != nil {
		addrs = append(addrs, hk.keeper.circuitAddrs()...)
	}
	return addrs
}

func (hk *hooks) hidden(a ma.Multiaddr) bool {
	if isCircuitAddr(a) {
		return false
	}
	ip, err := manet.ToIP(a)
	if err != nil {
		return false
	}
	for _, n := range hk.noAnnounce {
		if n.Contains(ip) {
			return true
		}
	}
	return false
}

func isCircuitAddr(a ma.Multiaddr) bool {
	for _, c := range a {
		if c.Code() == ma.P_CIRCUIT {
			return true
		}
	}
	return false
}

// relayCandidates is autorelay's peer source: connected peers that speak the
// circuit v2 hop protocol.
func (hk *hooks) relayCandidates(ctx context.Context, num int) <-chan peer.AddrInfo {
	out := make(chan peer.AddrInfo, max(num, 0))
	defer close(out)
	hp := hk.host.Load()
	if hp == nil {
		return out
	}
	h := *hp
	for _, p := range h.Network().Peers() {
		if len(out) == cap(out) || ctx.Err() != nil {
			break
		}
		if ok, err := h.Peerstore().SupportsProtocols(p, proto.ProtoIDv2Hop); err != nil || len(ok) == 0 {
			continue
		}
		out <- peer.AddrInfo{ID: p, Addrs: h.Peerstore().Addrs(p)}
	}
	return out
}

// reservationKeeper holds reservations on the configured static relays while
// the host is not publicly reachable, renewing them before they expire and
// re-reserving after a disconnect.
type reservationKeeper struct {
	relays []peer.AddrInfo
	log    *slog.Logger

	mu    sync.Mutex // guards state
	state map[peer.ID]*relayState
}

type relayState struct {
	rsvp     *client.Reservation // nil until the first success
	obtained time.Time
	failures int
	nextTry  time.Time
}

const (
	keeperTick       = 500 * time.Millisecond
	reserveTimeout   = 15 * time.Second
	maxReserveBackof = time.Minute
	relayProtectTag  = "hearth-relay"
)

func newReservationKeeper(relays []peer.AddrInfo, log *slog.Logger) *reservationKeeper {
	st := make(map[peer.ID]*relayState, len(relays))
	for _, r := range relays {
		st[r.ID] = &relayState{}
	}
	return &reservationKeeper{relays: relays, log: log, state: st}
}

// run keeps reservations until ctx ends.
func (k *reservationKeeper) run(ctx context.Context, h host.Host, reach func() network.Reachability) {
	t := time.NewTicker(keeperTick)
	defer t.Stop()
	for {
		if reach() != network.ReachabilityPublic {
			for _, r := range k.relays {
				if k.due(h, r.ID, time.Now()) {
					k.reserve(ctx, h, r)
				}
			}
		}
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}

// due reports whether relay r needs a (new) reservation now.
func (k *reservationKeeper) due(h host.Host, r peer.ID, now time.Time) bool {
	k.mu.Lock()
	defer k.mu.Unlock()
	st := k.state[r]
	if now.Before(st.nextTry) {
		return false
	}
	if st.rsvp == nil || h.Network().Connectedness(r) != network.Connected {
		return true
	}
	// Renew once three quarters of the reservation's lifetime have passed.
	life := st.rsvp.Expiration.Sub(st.obtained)
	return now.After(st.obtained.Add(life * 3 / 4))
}

func (k *reservationKeeper) reserve(ctx context.Context, h host.Host, r peer.AddrInfo) {
	rctx, cancel := context.WithTimeout(ctx, reserveTimeout)
	defer cancel()
	rsvp, err := client.Reserve(rctx, h, r)
	now := time.Now()
	k.mu.Lock()
	defer k.mu.Unlock()
	st := k.state[r.ID]
	if err != nil {
		st.failures++
		backoff := min(time.Second<<min(st.failures, 6), maxReserveBackof)
		st.nextTry = now.Add(backoff)
		if st.rsvp != nil && now.After(st.rsvp.Expiration) {
			st.rsvp = nil
		}
		if ctx.Err() == nil {
			k.log.Warn("relay reservation failed", "relay", r.ID, "err", err, "retry_in", backoff)
		}
		return
	}
	h.ConnManager().Protect(r.ID, relayProtectTag)
	if st.rsvp == nil {
		k.log.Info("relay reservation obtained", "relay", r.ID, "expires", rsvp.Expiration)
	}
	st.rsvp, st.obtained, st.failures, st.nextTry = rsvp, now, 0, time.Time{}
}

// active returns the relays with a live reservation.
func (k *reservationKeeper) active(now time.Time) []Reservation {
	k.mu.Lock()
	defer k.mu.Unlock()
	var out []Reservation
	for _, r := range k.relays {
		st := k.state[r.ID]
		if st.rsvp == nil || now.After(st.rsvp.Expiration) {
			continue
		}
		out = append(out, Reservation{Relay: r.ID, Addrs: circuitVia(r), Expires: st.rsvp.Expiration})
	}
	return out
}

func (k *reservationKeeper) circuitAddrs() []ma.Multiaddr {
	var out []ma.Multiaddr
	for _, r := range k.active(time.Now()) {
		out = append(out, r.Addrs...)
	}
	return out
}

// circuitVia returns <relay addr>/p2p/<relay>/p2p-circuit for each relay
// address (without our own /p2p suffix, which Host.Addrs adds).
func circuitVia(r peer.AddrInfo) []ma.Multiaddr {
	suffix, err := ma.NewMultiaddr("/p2p/" + r.ID.String() + "/p2p-circuit")
	if err != nil {
		return nil
	}
	out := make([]ma.Multiaddr, 0, len(r.Addrs))
	for _, a := range r.Addrs {
		out = append(out, a.Encapsulate(suffix))
	}
	return out
}

// relayOf returns the relay peer of a circuit address.
func relayOf(a ma.Multiaddr) (peer.ID, bool) {
	before, _ := ma.SplitFunc(a, func(c ma.Component) bool { return c.Code() == ma.P_CIRCUIT })
	if len(before) == 0 || len(before) == len(a) {
		return "", false
	}
	id, err := peer.IDFromP2PAddr(before)
	if err != nil {
		return "", false
	}
	return id, true
}

// groupByRelay turns autorelay's circuit addresses into reservations.
func groupByRelay(addrs []ma.Multiaddr) []Reservation {
	var out []Reservation
	for _, a := range addrs {
		id, ok := relayOf(a)
		if !ok {
			continue
		}
		i := slices.IndexFunc(out, func(r Reservation) bool { return r.Relay == id })
		if i < 0 {
			out = append(out, Reservation{Relay: id})
			i = len(out) - 1
		}
		out[i].Addrs = append(out[i].Addrs, a)
	}
	return out
}

// holePunchTracer counts and logs DCUtR events.
type holePunchTracer struct {
	log                        *slog.Logger
	dials, dialsOK             atomic.Int64
	punches, punchesOK, protoE atomic.Int64
}

// Trace implements holepunch.EventTracer.
func (t *holePunchTracer) Trace(evt *holepunch.Event) {
	switch e := evt.Evt.(type) {
	case *holepunch.DirectDialEvt:
		t.dials.Add(1)
		if e.Success {
			t.dialsOK.Add(1)
		}
		t.log.Debug("dcutr direct dial", "peer", evt.Remote, "ok", e.Success, "took", e.EllapsedTime, "err", e.Error)
	case *holepunch.EndHolePunchEvt:
		t.punches.Add(1)
		if e.Success {
			t.punchesOK.Add(1)
		}
		t.log.Info("dcutr hole punch", "peer", evt.Remote, "ok", e.Success, "took", e.EllapsedTime, "err", e.Error)
	case *holepunch.ProtocolErrorEvt:
		t.protoE.Add(1)
		t.log.Debug("dcutr protocol error", "peer", evt.Remote, "err", e.Error)
	}
}

func (t *holePunchTracer) stats() HolePunchStats {
	return HolePunchStats{
		DirectDials:    t.dials.Load(),
		DirectDialsOK:  t.dialsOK.Load(),
		Punches:        t.punches.Load(),
		PunchesOK:      t.punchesOK.Load(),
		ProtocolErrors: t.protoE.Load(),
	}
}
