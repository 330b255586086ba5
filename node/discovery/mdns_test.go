package discovery

import (
	"testing"
	"time"

	"github.com/libp2p/go-libp2p/core/network"

	"github.com/hearth-p2p/hearth/node/p2p/p2ptest"
)

// TestMDNSFindsLANPeer runs only inside a fresh network namespace holding
// just the loopback interface (multicast enabled and routed to lo), so the
// mDNS multicast never reaches a real network. Outside such a namespace
// InNetNS re-executes this test in one (or skips, see p2ptest.InNetNS).
func TestMDNSFindsLANPeer(t *testing.T) {
	if !p2ptest.InNetNS(t, p2ptest.LoopbackMulticast) {
		return
	}
	cfg := testConfig()
	cfg.EnableMDNS = true
	cfg.EnablePubSub = true
	a, b := startNode(t, cfg, nil), startNode(t, cfg, nil)
	// Nobody dials anybody: only mDNS can bring the two together.
	p2ptest.Eventually(t, 30*time.Second, "hosts find each other over mDNS", func() bool {
		return a.host.Raw().Network().Connectedness(b.host.ID()) == network.Connected
	})
	// Once connected, announcements flow between them.
	model := shardOf(0, 16).ModelHash
	b.svc.Watch(model)
	if err := a.svc.Announce(t.Context(), shardOf(0, 16)); err != nil {
		t.Fatal(err)
	}
	p2ptest.Eventually(t, 20*time.Second, "announcement reaches the LAN peer", func() bool {
		return len(b.svc.Registry().Providers(model)) == 1
	})
}
