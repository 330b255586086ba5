package discovery

import (
	"context"
	"crypto/sha256"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/ipfs/go-cid"
	dht "github.com/libp2p/go-libp2p-kad-dht"
	"github.com/libp2p/go-libp2p/core/host"
	"github.com/libp2p/go-libp2p/core/peer"
	"github.com/libp2p/go-libp2p/core/peerstore"
	ma "github.com/multiformats/go-multiaddr"
	manet "github.com/multiformats/go-multiaddr/net"
	mh "github.com/multiformats/go-multihash"
)

// providerDomain separates provider-record keys from the model hash itself,
// so a record never claims we hold the model file as a content block.
const providerDomain = "hearth/shard-providers/v1\x00"

// maxFindProviders caps how many providers one Find contacts.
const maxFindProviders = 32

// ProviderKey is the DHT key (CIDv1, raw codec, sha256 multihash) under
// which providers of a model's shards are recorded:
// sha256(providerDomain || model hash).
func ProviderKey(model ModelHash) cid.Cid {
	d := sha256.Sum256(append([]byte(providerDomain), model[:]...))
	m, err := mh.Encode(d[:], mh.SHA2_256)
	if err != nil {
		// A 32-byte digest with a known code always encodes.
		panic(fmt.Sprintf("encode multihash: %v", err))
	}
	return cid.NewCidV1(cid.Raw, m)
}

// newDHT starts a Kademlia DHT on h and bootstraps it.
func newDHT(ctx context.Context, h host.Host, cfg Config) (*dht.IpfsDHT, error) {
	opts := []dht.Option{dht.ProtocolPrefix(cfg.DHTProtocolPrefix)}
	switch cfg.DHTMode {
	case DHTModeServer:
		opts = append(opts, dht.Mode(dht.ModeServer))
	case DHTModeClient:
		opts = append(opts, dht.Mode(dht.ModeClient))
	default:
		opts = append(opts, dht.Mode(dht.ModeAuto))
	}
	if cfg.DHTProtocolPrefix != "/ipfs" {
		// Hearth's own DHT stores provider records only.
		opts = append(opts, dht.DisableValues())
	}
	switch cfg.DHTScope {
	case DHTScopePublic:
		opts = append(opts,
			dht.QueryFilter(dht.PublicQueryFilter),
			dht.RoutingTableFilter(dht.PublicRoutingTableFilter),
			dht.AddressFilter(func(addrs []ma.Multiaddr) []ma.Multiaddr {
				return ma.FilterAddrs(addrs, manet.IsPublicAddr)
			}))
	case DHTScopeLAN:
		opts = append(opts,
			dht.ProtocolExtension("/lan"),
			dht.QueryFilter(dht.PrivateQueryFilter),
			dht.RoutingTableFilter(dht.PrivateRoutingTableFilter))
	}
	d, err := dht.New(h, opts...)
	if err != nil {
		return nil, fmt.Errorf("start DHT: %w", err)
	}
	if err := d.Bootstrap(ctx); err != nil {
		d.Close()
		return nil, fmt.Errorf("bootstrap DHT: %w", err)
	}
	return d, nil
}

// provideAsync publishes a provider record for a model in the background.
func (s *Service) provideAsync(run *running, model ModelHash) {
	run.goAsync(func() {
		ctx, cancel := context.WithTimeout(run.ctx, time.Minute)
		defer cancel()
		if err := run.dht.Provide(ctx, ProviderKey(model), true); err != nil {
			if run.ctx.Err() == nil {
				s.log.Warn("DHT provide", "model", model, "err", err)
			}
			return
		}
		s.markProvided(model, s.now())
		s.log.Debug("DHT provide", "model", model)
	})
}

// Find looks a model's providers up in the DHT, fetches each provider's
// signed announcement over /hearth/announce/1, stores the valid ones in the
// registry and returns those still serving. Providers that cannot be
// reached or answer badly are skipped.
func (s *Service) Find(ctx context.Context, model ModelHash) ([]Announcement, error) {
	run := s.running()
	if run == nil {
		return nil, ErrNotRunning
	}
	if run.dht == nil {
		return nil, ErrDHTDisabled
	}
	var (
		mu    sync.Mutex // guards found
		found = make(map[peer.ID]Announcement)
		wg    sync.WaitGroup
	)
	// The lookup can yield a provider several times (local store, several
	// DHT peers), with or without addresses: fetch again only when a
	// result brings addresses not tried yet for that peer.
	tried := make(map[peer.ID]map[string]bool)
	for ai := range run.dht.FindProvidersAsync(ctx, ProviderKey(model), maxFindProviders) {
		if s.isSelf(ai.ID) || !newAddrs(tried, ai) {
			continue
		}
		wg.Go(func() {
			a, err := s.fetch(ctx, run.dht, ai, model)
			if err != nil {
				s.log.Debug("fetch announcement", "peer", ai.ID, "err", err)
				return
			}
			if err := s.reg.Put(a); err != nil && !errors.Is(err, ErrStale) {
				s.log.Debug("registry rejected fetched announcement", "peer", ai.ID, "err", err)
				return
			}
			mu.Lock()
			if old, ok := found[a.PeerID]; !ok || old.Seq < a.Seq {
				found[a.PeerID] = a
			}
			mu.Unlock()
		})
	}
	wg.Wait()
	out := make([]Announcement, 0, len(found))
	for _, a := range found {
		if !a.Withdrawn {
			out = append(out, a)
		}
	}
	if err := ctx.Err(); err != nil && len(out) == 0 {
		return nil, fmt.Errorf("find providers of %s: %w", model, err)
	}
	return out, nil
}

// newAddrs records ai's addresses in tried and reports whether this is the
// first sighting of the peer or brings an address not seen before.
func newAddrs(tried map[peer.ID]map[string]bool, ai peer.AddrInfo) bool {
	seen, ok := tried[ai.ID]
	if !ok {
		seen = make(map[string]bool)
		tried[ai.ID] = seen
	}
	fresh := !ok
	for _, a := range ai.Addrs {
		if k := string(a.Bytes()); !seen[k] {
			seen[k] = true
			fresh = true
		}
	}
	return fresh
}

// fetch connects to a provider and asks for its announcement of model.
// A provider record without addresses is resolved through the DHT first.
func (s *Service) fetch(ctx context.Context, d *dht.IpfsDHT, ai peer.AddrInfo, model ModelHash) (Announcement, error) {
	ctx, cancel := context.WithTimeout(ctx, s.cfg.FetchTimeout)
	defer cancel()
	if len(ai.Addrs) == 0 && len(s.h.Peerstore().Addrs(ai.ID)) == 0 {
		found, err := d.FindPeer(ctx, ai.ID)
		if err != nil {
			return Announcement{}, fmt.Errorf("resolve provider %s: %w", ai.ID, err)
		}
		ai.Addrs = found.Addrs
	}
	if len(ai.Addrs) > 0 {
		s.h.Peerstore().AddAddrs(ai.ID, ai.Addrs, peerstore.TempAddrTTL)
	}
	raw, err := requestAnnouncement(ctx, s.h, ai.ID, model)
	if err != nil {
		return Announcement{}, err
	}
	a, err := DecodeAnnouncement(raw, s.now())
	if err != nil {
		return Announcement{}, err
	}
	if a.PeerID != ai.ID || a.ModelHash != model {
		return Announcement{}, fmt.Errorf("%w: asked %s for %s, got %s for %s",
			ErrInvalidAnnouncement, ai.ID, model, a.PeerID, a.ModelHash)
	}
	return a, nil
}
