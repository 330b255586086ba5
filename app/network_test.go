package app_test

import (
	"testing"

	"fyne.io/fyne/v2"
	"fyne.io/fyne/v2/test"

	"github.com/hearth-p2p/hearth/app"
	"github.com/hearth-p2p/hearth/app/internal/demo"
)

func TestNetworkViewAndLiveSamples(t *testing.T) {
	h := start(t, demo.Options{}, app.TabNetwork)
	if h.u.NetworkPeerID() != "12D3KooWQm7E4sR3YH8pV2JbzLkDfA9cN1xTgUe6WvPqMhZrKoYs" {
		t.Errorf("peer ID %q", h.u.NetworkPeerID())
	}
	if h.u.NetworkShardRows() != 2 || h.u.NetworkSessionRows() != 6 {
		t.Errorf("%d shard rows, %d session rows", h.u.NetworkShardRows(), h.u.NetworkSessionRows())
	}
	if h.u.NetworkBadge() != "Online · lending" {
		t.Errorf("badge %q", h.u.NetworkBadge())
	}
	if h.u.NetworkSamples() != 60 {
		t.Fatalf("%d samples on the chart", h.u.NetworkSamples())
	}
	h.b.Sample(app.NetSample{InBps: 5e6, OutBps: 1e6, LatencyMs: 12.5})
	h.waitFor("live sample", func() bool { return h.u.NetworkLastIn() == 5e6 })
	if h.u.NetworkLastLatency() != 12.5 || h.u.NetworkSamples() != 60 {
		t.Errorf("latency %v, %d samples (window is 60)", h.u.NetworkLastLatency(), h.u.NetworkSamples())
	}
}

func TestPayoutNotification(t *testing.T) {
	h := start(t, demo.Options{}, app.TabWallet)
	rows := h.u.WalletHistoryRows()
	from := "9WzDXwBbmkg8ZTbNMqUxvQRAyrZzDsGYdLVL9zYtAWWM"
	test.AssertNotificationSent(t, &fyne.Notification{Title: "Payout received", Content: "0.05 SOL from 9WzDXw…YtAWWM"}, func() {
		h.b.Payout(50_000_000, from)
		h.waitFor("history row", func() bool { return h.u.WalletHistoryRows() == rows+1 })
	})
}
