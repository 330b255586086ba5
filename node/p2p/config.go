package p2p

import (
	"errors"
	"fmt"
	"net"
	"time"

	"github.com/libp2p/go-libp2p/core/peer"
	"github.com/libp2p/go-libp2p/core/protocol"
	ma "github.com/multiformats/go-multiaddr"
)

// Well-known Hearth stream protocols. They are declared here so the resource
// manager can cap them; the packages that implement them use the same IDs.
const (
	// ShardProtocol carries pipeline traffic (hidden states) between stages.
	ShardProtocol protocol.ID = "/hearth/shard/1"
	// AnnounceProtocol fetches a provider's signed shard announcement.
	AnnounceProtocol protocol.ID = "/hearth/announce/1"
)

// Reachability overrides for Config.ForceReachability.
const (
	ReachabilityAuto    = ""
	ReachabilityPublic  = "public"
	ReachabilityPrivate = "private"
)

// ErrInvalidConfig is returned (wrapped) by Config.Validate.
var ErrInvalidConfig = errors.New("invalid p2p config")

// Config configures the libp2p host. Start from Default and override fields.
type Config struct {
	// ListenAddrs are multiaddrs to listen on. With a PrivateSwarmKey only the
	// TCP addresses are used: libp2p's private networks (pnet) protect raw
	// byte streams, and QUIC has no PSK support, so QUIC is switched off.
	ListenAddrs []string
	// NoAnnounce lists CIDR ranges (e.g. "172.17.0.0/16" for a Docker
	// bridge) whose addresses this host listens on but never advertises to
	// peers (identify, DHT records, mDNS).
	NoAnnounce []string
	// BootstrapPeers are full multiaddrs (with /p2p/<id>) dialed by Bootstrap.
	BootstrapPeers []string
	// PrivateSwarmKey, when set, restricts the host to a private swarm of
	// peers holding the same 32-byte pre-shared key ("only my devices").
	// Accepted forms: 64 hex characters or a go-ipfs swarm.key file content
	// (/key/swarm/psk/1.0.0/). See GenerateSwarmKey. Implies TCP only.
	PrivateSwarmKey string

	// EnableRelayService runs a circuit relay v2 service for other peers.
	// libp2p only starts it while this host is publicly reachable; meant for
	// well-connected nodes.
	EnableRelayService bool
	// EnableRelayClient lets the host dial through relays and accept relayed
	// connections, and keeps reservations on relays while it is not publicly
	// reachable (StaticRelays, else connected peers that offer a relay).
	EnableRelayClient bool
	// StaticRelays are full multiaddrs of relays to hold reservations on.
	StaticRelays []string
	// EnableHolePunching runs DCUtR: a peer reached through a relay is
	// upgraded to a direct connection when both sides can punch through NAT.
	EnableHolePunching bool
	// EnableAutoNAT answers other peers' AutoNAT dial-back requests and runs
	// the AutoNAT v2 client (per-address reachability). The v1 client that
	// drives Reachability runs regardless.
	EnableAutoNAT bool
	// ForceReachability overrides AutoNAT: "" (detect), "public" or "private".
	ForceReachability string
	// NATPortMap asks the router for a port mapping (UPnP / NAT-PMP).
	NATPortMap bool
	// EnableMetrics registers libp2p's Prometheus metrics.
	EnableMetrics bool

	ConnMgr ConnMgrConfig
	Limits  LimitsConfig

	// BootstrapInterval is how often Serve checks connectivity and re-dials
	// bootstrap peers when fewer than ConnMgr.Low peers are connected.
	BootstrapInterval time.Duration

	// extra holds test-only libp2p options (transport tweaks, address
	// factories). It is unexported on purpose.
	extra []libp2pOption
}

// ConnMgrConfig configures connection trimming.
type ConnMgrConfig struct {
	// Low and High are the watermarks: above High, connections are trimmed
	// down to Low (protected peers and connections in their grace period are
	// kept).
	Low, High int
	// Grace is how long a new connection is exempt from trimming.
	Grace time.Duration
	// TrimInterval is how often the manager checks the watermarks.
	TrimInterval time.Duration
}

// LimitsConfig configures the libp2p resource manager. Limits start from
// rcmgr's defaults scaled to the machine (or to MaxMemory/MaxFD when set),
// plus explicit stream caps for Hearth protocols.
type LimitsConfig struct {
	// MaxMemory caps the memory libp2p may reserve (0: scale to the machine).
	MaxMemory int64
	// MaxFD caps file descriptors used by libp2p (0: scale to the machine).
	MaxFD int
	// Protocols holds per-protocol stream caps.
	Protocols map[protocol.ID]StreamLimit
}

// StreamLimit caps streams of one protocol.
type StreamLimit struct {
	// Inbound and Outbound cap concurrent streams of the protocol in total.
	Inbound, Outbound int
	// PerPeer caps concurrent streams of the protocol with one peer, per
	// direction.
	PerPeer int
	// Memory caps the memory the protocol's streams may reserve, in bytes.
	Memory int64
}

// Default returns the configuration for a desktop node.
func Default() Config {
	return Config{
		ListenAddrs: []string{
			"/ip4/0.0.0.0/tcp/0",
			"/ip4/0.0.0.0/udp/0/quic-v1",
			"/ip6/::/tcp/0",
			"/ip6/::/udp/0/quic-v1",
		},
		EnableRelayClient:  true,
		EnableHolePunching: true,
		EnableAutoNAT:      true,
		NATPortMap:         true,
		ConnMgr: ConnMgrConfig{
			Low:          32,
			High:         96,
			Grace:        time.Minute,
			TrimInterval: 10 * time.Second,
		},
		Limits: LimitsConfig{
			Protocols: map[protocol.ID]StreamLimit{
				ShardProtocol:    {Inbound: 64, Outbound: 64, PerPeer: 8, Memory: 512 << 20},
				AnnounceProtocol: {Inbound: 128, Outbound: 128, PerPeer: 4, Memory: 16 << 20},
			},
		},
		BootstrapInterval: time.Minute,
	}
}

// Validate reports the first problem with the configuration.
func (c Config) Validate() error {
	if len(c.ListenAddrs) == 0 {
		return fmt.Errorf("%w: no listen addresses", ErrInvalidConfig)
	}
	for _, s := range c.ListenAddrs {
		if _, err := ma.NewMultiaddr(s); err != nil {
			return fmt.Errorf("%w: listen address %q: %w", ErrInvalidConfig, s, err)
		}
	}
	for _, s := range c.NoAnnounce {
		if _, _, err := net.ParseCIDR(s); err != nil {
			return fmt.Errorf("%w: no-announce range: %w", ErrInvalidConfig, err)
		}
	}
	if err := validatePeerAddrs("bootstrap peer", c.BootstrapPeers); err != nil {
		return err
	}
	if err := validatePeerAddrs("static relay", c.StaticRelays); err != nil {
		return err
	}
	if c.PrivateSwarmKey != "" {
		if _, err := ParseSwarmKey(c.PrivateSwarmKey); err != nil {
			return fmt.Errorf("%w: %w", ErrInvalidConfig, err)
		}
		if len(tcpOnly(c.ListenAddrs)) == 0 {
			return fmt.Errorf("%w: a private swarm needs a TCP listen address (QUIC has no PSK support)", ErrInvalidConfig)
		}
	}
	switch c.ForceReachability {
	case ReachabilityAuto, ReachabilityPublic, ReachabilityPrivate:
	default:
		return fmt.Errorf("%w: force reachability %q (want \"\", public or private)", ErrInvalidConfig, c.ForceReachability)
	}
	if len(c.StaticRelays) > 0 && !c.EnableRelayClient {
		return fmt.Errorf("%w: static relays need the relay client", ErrInvalidConfig)
	}
	if err := c.ConnMgr.validate(); err != nil {
		return err
	}
	if err := c.Limits.validate(); err != nil {
		return err
	}
	if c.BootstrapInterval <= 0 {
		return fmt.Errorf("%w: bootstrap interval must be positive", ErrInvalidConfig)
	}
	return nil
}

func (c ConnMgrConfig) validate() error {
	switch {
	case c.Low < 0 || c.High <= 0:
		return fmt.Errorf("%w: conn manager watermarks must be positive (low %d, high %d)", ErrInvalidConfig, c.Low, c.High)
	case c.Low > c.High:
		return fmt.Errorf("%w: conn manager low watermark %d above high %d", ErrInvalidConfig, c.Low, c.High)
	case c.Grace < 0:
		return fmt.Errorf("%w: conn manager grace period is negative", ErrInvalidConfig)
	case c.TrimInterval <= 0:
		return fmt.Errorf("%w: conn manager trim interval must be positive", ErrInvalidConfig)
	}
	return nil
}

func (l LimitsConfig) validate() error {
	if l.MaxMemory < 0 || l.MaxFD < 0 {
		return fmt.Errorf("%w: negative resource limit", ErrInvalidConfig)
	}
	if (l.MaxMemory == 0) != (l.MaxFD == 0) {
		return fmt.Errorf("%w: set both MaxMemory and MaxFD, or neither", ErrInvalidConfig)
	}
	for p, s := range l.Protocols {
		if p == "" {
			return fmt.Errorf("%w: stream limit for an empty protocol ID", ErrInvalidConfig)
		}
		if s.Inbound <= 0 || s.Outbound <= 0 || s.PerPeer <= 0 || s.Memory <= 0 {
			return fmt.Errorf("%w: stream limit for %s must be positive in every field", ErrInvalidConfig, p)
		}
	}
	return nil
}

func validatePeerAddrs(what string, addrs []string) error {
	for _, s := range addrs {
		if _, err := parsePeerAddr(s); err != nil {
			return fmt.Errorf("%w: %s: %w", ErrInvalidConfig, what, err)
		}
	}
	return nil
}

// parsePeerAddr parses a multiaddr that ends in /p2p/<peer id>.
func parsePeerAddr(s string) (*peer.AddrInfo, error) {
	m, err := ma.NewMultiaddr(s)
	if err != nil {
		return nil, fmt.Errorf("parse %q: %w", s, err)
	}
	ai, err := peer.AddrInfoFromP2pAddr(m)
	if err != nil {
		return nil, fmt.Errorf("address %q needs a /p2p/<peer id> suffix: %w", s, err)
	}
	return ai, nil
}

// tcpOnly keeps the listen addresses whose transport is plain TCP.
func tcpOnly(addrs []string) []string {
	var out []string
	for _, s := range addrs {
		m, err := ma.NewMultiaddr(s)
		if err != nil {
			continue
		}
		if isPlainTCP(m) {
			out = append(out, s)
		}
	}
	return out
}

func isPlainTCP(m ma.Multiaddr) bool {
	hasTCP := false
	for _, c := range m {
		switch c.Protocol().Code {
		case ma.P_TCP:
			hasTCP = true
		case ma.P_IP4, ma.P_IP6, ma.P_DNS, ma.P_DNS4, ma.P_DNS6, ma.P_P2P:
		default:
			return false
		}
	}
	return hasTCP
}
