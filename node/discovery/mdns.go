package discovery

import (
	"context"
	"fmt"
	"log/slog"
	"time"

	"github.com/libp2p/go-libp2p/core/host"
	"github.com/libp2p/go-libp2p/core/network"
	"github.com/libp2p/go-libp2p/core/peer"
	"github.com/libp2p/go-libp2p/p2p/discovery/mdns"
)

const mdnsConnectTimeout = 10 * time.Second

// mdnsNotifee connects to peers announced on the LAN.
type mdnsNotifee struct {
	ctx context.Context
	h   host.Host
	log *slog.Logger
}

// HandlePeerFound implements mdns.Notifee. libp2p calls it on its own
// goroutine per peer.
func (n *mdnsNotifee) HandlePeerFound(ai peer.AddrInfo) {
	if ai.ID == n.h.ID() || n.ctx.Err() != nil {
		return
	}
	if n.h.Network().Connectedness(ai.ID) == network.Connected {
		return
	}
	ctx, cancel := context.WithTimeout(n.ctx, mdnsConnectTimeout)
	defer cancel()
	if err := n.h.Connect(ctx, ai); err != nil {
		n.log.Debug("mDNS peer unreachable", "peer", ai.ID, "err", err)
		return
	}
	n.log.Info("connected to LAN peer", "peer", ai.ID)
}

// startMDNS advertises h on the LAN and connects to the peers it finds.
// The returned function stops it.
func startMDNS(ctx context.Context, h host.Host, service string, log *slog.Logger) (func(), error) {
	svc := mdns.NewMdnsService(h, service, &mdnsNotifee{ctx: ctx, h: h, log: log})
	if err := svc.Start(); err != nil {
		return nil, fmt.Errorf("start mDNS: %w", err)
	}
	return func() {
		if err := svc.Close(); err != nil {
			log.Debug("close mDNS", "err", err)
		}
	}, nil
}
