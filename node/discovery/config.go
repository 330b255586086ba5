package discovery

import (
	"errors"
	"fmt"
	"time"

	"github.com/libp2p/go-libp2p/core/protocol"
)

// ErrInvalidConfig is returned (wrapped) by Config.Validate.
var ErrInvalidConfig = errors.New("invalid discovery config")

// DHT modes (Config.DHTMode).
const (
	DHTModeAuto   = "auto"   // server when publicly reachable, else client
	DHTModeServer = "server" // always answer DHT queries
	DHTModeClient = "client" // only query
)

// DHT address scopes (Config.DHTScope).
const (
	// DHTScopePublic keeps only peers with public addresses in the routing
	// table: the internet-wide DHT.
	DHTScopePublic = "public"
	// DHTScopeLAN runs a separate LAN DHT (protocol suffix /lan) over
	// private addresses only.
	DHTScopeLAN = "lan"
	// DHTScopeAny applies no address filter: for a private swarm, where the
	// pre-shared key already limits who takes part.
	DHTScopeAny = "any"
)

// Config selects and tunes the discovery mechanisms.
type Config struct {
	// EnablePubSub gossips announcements on /hearth/shards/<model hash>.
	EnablePubSub bool
	// EnableDHT publishes provider records in the Kademlia DHT and finds
	// providers there.
	EnableDHT bool
	// EnableMDNS finds peers on the local network and connects to them.
	EnableMDNS bool

	// DHTProtocolPrefix names the DHT network. The default "/hearth" is
	// Hearth's own DHT (its peers are Hearth nodes, reached through the
	// host's bootstrap peers); "/ipfs" joins the public Amino DHT.
	DHTProtocolPrefix protocol.ID
	DHTMode           string
	DHTScope          string

	// MDNSServiceName is the DNS-SD service name advertised on the LAN.
	MDNSServiceName string

	// TTL is how long our announcements stay valid; they are re-signed and
	// re-published every Refresh.
	TTL     time.Duration
	Refresh time.Duration
	// Reprovide is how often DHT provider records are renewed.
	Reprovide time.Duration
	// Prune is how often expired announcements leave the registry.
	Prune time.Duration
	// FetchTimeout bounds one /hearth/announce/1 request.
	FetchTimeout time.Duration
}

// Default enables every mechanism on the public Hearth DHT.
func Default() Config {
	return Config{
		EnablePubSub:      true,
		EnableDHT:         true,
		EnableMDNS:        true,
		DHTProtocolPrefix: "/hearth",
		DHTMode:           DHTModeAuto,
		DHTScope:          DHTScopePublic,
		MDNSServiceName:   "_hearth._udp",
		TTL:               2 * time.Minute,
		Refresh:           40 * time.Second,
		Reprovide:         time.Hour,
		Prune:             10 * time.Second,
		FetchTimeout:      10 * time.Second,
	}
}

// PrivateSwarm adjusts c for a private swarm (pre-shared key): the DHT runs
// among swarm members only, without address filters.
func (c Config) PrivateSwarm() Config {
	c.DHTScope = DHTScopeAny
	return c
}

// Validate reports the first problem with the configuration.
func (c Config) Validate() error {
	bad := func(format string, args ...any) error {
		return fmt.Errorf("%w: "+format, append([]any{ErrInvalidConfig}, args...)...)
	}
	switch {
	case c.EnableDHT && (len(c.DHTProtocolPrefix) < 2 || c.DHTProtocolPrefix[0] != '/'):
		return bad("DHT protocol prefix %q must start with /", c.DHTProtocolPrefix)
	case c.EnableDHT && c.DHTMode != DHTModeAuto && c.DHTMode != DHTModeServer && c.DHTMode != DHTModeClient:
		return bad("DHT mode %q", c.DHTMode)
	case c.EnableDHT && c.DHTScope != DHTScopePublic && c.DHTScope != DHTScopeLAN && c.DHTScope != DHTScopeAny:
		return bad("DHT scope %q", c.DHTScope)
	case c.EnableMDNS && c.MDNSServiceName == "":
		return bad("empty mDNS service name")
	case c.TTL <= 0 || c.TTL > MaxAnnounceTTL:
		return bad("TTL %v not in (0, %v]", c.TTL, MaxAnnounceTTL)
	case c.Refresh <= 0 || c.Refresh >= c.TTL:
		return bad("refresh %v must be positive and below the TTL %v", c.Refresh, c.TTL)
	case c.Reprovide <= 0:
		return bad("reprovide interval must be positive")
	case c.Prune <= 0:
		return bad("prune interval must be positive")
	case c.FetchTimeout <= 0:
		return bad("fetch timeout must be positive")
	}
	return nil
}
