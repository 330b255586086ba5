package p2p

import (
	"fmt"

	"github.com/libp2p/go-libp2p"
	"github.com/libp2p/go-libp2p/core/crypto"
	"github.com/libp2p/go-libp2p/core/network"
	"github.com/libp2p/go-libp2p/core/peer"
	rcmgr "github.com/libp2p/go-libp2p/p2p/host/resource-manager"
	"github.com/libp2p/go-libp2p/p2p/muxer/yamux"
	"github.com/libp2p/go-libp2p/p2p/net/connmgr"
	"github.com/libp2p/go-libp2p/p2p/protocol/holepunch"
	"github.com/libp2p/go-libp2p/p2p/security/noise"
	libp2ptls "github.com/libp2p/go-libp2p/p2p/security/tls"
	quic "github.com/libp2p/go-libp2p/p2p/transport/quic"
	"github.com/libp2p/go-libp2p/p2p/transport/tcp"
	ma "github.com/multiformats/go-multiaddr"
)

// libp2pOption is libp2p.Option; aliased so Config's test hook reads clearly.
type libp2pOption = libp2p.Option

// hostParts are the pieces built before libp2p.New that the Host keeps.
type hostParts struct {
	opts    []libp2p.Option
	connMgr *connmgr.BasicConnMgr
	private bool
}

// buildOptions turns a validated Config into libp2p options. The hooks give
// options that need the finished host (address factory, relay peer source)
// a way to reach it.
func buildOptions(cfg Config, key crypto.PrivKey, hk *hooks) (*hostParts, error) {
	parts := &hostParts{}
	listen := cfg.ListenAddrs
	opts := []libp2p.Option{
		libp2p.Identity(key),
		libp2p.Security(noise.ID, noise.New),
		libp2p.Security(libp2ptls.ID, libp2ptls.New),
		libp2p.Muxer(yamux.ID, yamux.DefaultTransport),
		libp2p.Transport(tcp.NewTCPTransport),
		libp2p.AddrsFactory(hk.addrsFactory),
	}
	if cfg.PrivateSwarmKey != "" {
		psk, err := ParseSwarmKey(cfg.PrivateSwarmKey)
		if err != nil {
			return nil, err
		}
		parts.private = true
		listen = tcpOnly(listen)
		opts = append(opts, libp2p.PrivateNetwork(psk))
	} else {
		opts = append(opts, libp2p.Transport(quic.NewTransport))
	}
	opts = append(opts, libp2p.ListenAddrStrings(listen...))

	cm, err := connmgr.NewConnManager(cfg.ConnMgr.Low, cfg.ConnMgr.High,
		connmgr.WithGracePeriod(cfg.ConnMgr.Grace),
		connmgr.WithSilencePeriod(cfg.ConnMgr.TrimInterval))
	if err != nil {
		return nil, fmt.Errorf("connection manager: %w", err)
	}
	parts.connMgr = cm
	rm, err := newResourceManager(cfg.Limits)
	if err != nil {
		cm.Close()
		return nil, err
	}
	opts = append(opts, libp2p.ConnectionManager(cm), libp2p.ResourceManager(rm))
	opts = append(opts, natOptions(cfg, hk)...)
	if !cfg.EnableMetrics {
		opts = append(opts, libp2p.DisableMetrics())
	}
	opts = append(opts, cfg.extra...)
	parts.opts = opts
	return parts, nil
}

// natOptions covers relays, hole punching, AutoNAT and port mapping.
func natOptions(cfg Config, hk *hooks) []libp2p.Option {
	var opts []libp2p.Option
	if cfg.EnableRelayClient {
		opts = append(opts, libp2p.EnableRelay())
		if len(cfg.StaticRelays) == 0 {
			// Static relays are handled by the Host's own reservation
			// keeper; otherwise autorelay picks relays among connected peers.
			opts = append(opts, libp2p.EnableAutoRelayWithPeerSource(hk.relayCandidates))
		}
	} else {
		opts = append(opts, libp2p.DisableRelay())
	}
	if cfg.EnableRelayService {
		opts = append(opts, libp2p.EnableRelayService())
	}
	if cfg.EnableHolePunching {
		opts = append(opts, libp2p.EnableHolePunching(holepunch.WithTracer(hk.holePunch)))
	}
	if cfg.EnableAutoNAT {
		opts = append(opts, libp2p.EnableNATService(), libp2p.EnableAutoNATv2())
	}
	switch cfg.ForceReachability {
	case ReachabilityPublic:
		opts = append(opts, libp2p.ForceReachabilityPublic())
	case ReachabilityPrivate:
		opts = append(opts, libp2p.ForceReachabilityPrivate())
	}
	if cfg.NATPortMap {
		opts = append(opts, libp2p.NATPortMap())
	}
	return opts
}

// newResourceManager builds rcmgr limits: libp2p's defaults (with its service
// limits) scaled to the machine or to the configured caps, plus explicit
// caps for Hearth's own protocols.
func newResourceManager(l LimitsConfig) (network.ResourceManager, error) {
	limits := rcmgr.DefaultLimits
	libp2p.SetDefaultServiceLimits(&limits)
	for p, s := range l.Protocols {
		limits.AddProtocolLimit(p, rcmgr.BaseLimit{
			StreamsInbound:  s.Inbound,
			StreamsOutbound: s.Outbound,
			Streams:         s.Inbound + s.Outbound,
			Memory:          s.Memory,
		}, rcmgr.BaseLimitIncrease{})
		limits.AddProtocolPeerLimit(p, rcmgr.BaseLimit{
			StreamsInbound:  s.PerPeer,
			StreamsOutbound: s.PerPeer,
			Streams:         2 * s.PerPeer,
			Memory:          s.Memory,
		}, rcmgr.BaseLimitIncrease{})
	}
	var scaled rcmgr.ConcreteLimitConfig
	if l.MaxMemory > 0 {
		scaled = limits.Scale(l.MaxMemory, l.MaxFD)
	} else {
		scaled = limits.AutoScale()
	}
	rm, err := rcmgr.NewResourceManager(rcmgr.NewFixedLimiter(scaled))
	if err != nil {
		return nil, fmt.Errorf("resource manager: %w", err)
	}
	return rm, nil
}

// withPeerID appends /p2p/<id> to each address that lacks it.
func withPeerID(id peer.ID, addrs []ma.Multiaddr) []ma.Multiaddr {
	suffix, err := ma.NewComponent("p2p", id.String())
	if err != nil {
		return nil
	}
	out := make([]ma.Multiaddr, 0, len(addrs))
	for _, a := range addrs {
		if len(a) == 0 {
			continue
		}
		if last := a[len(a)-1:]; len(last) == 1 && last[0].Code() == ma.P_P2P {
			out = append(out, a)
			continue
		}
		out = append(out, a.Encapsulate(suffix))
	}
	return out
}
