package discovery

import (
	"bytes"
	"context"
	"errors"
	"log/slog"
	"testing"
	"time"

	pubsub "github.com/libp2p/go-libp2p-pubsub"

	"github.com/hearth-p2p/hearth/node/p2p/p2ptest"
)

// TestPubSubIsShared has another service publish on the discovery's own
// GossipSub router: PubSub waits for Serve, both ends get the router that
// carries their announcements, and a message far above an announcement's
// size (a fraud report's) goes through.
func TestPubSubIsShared(t *testing.T) {
	cfg := testConfig()
	cfg.EnablePubSub = true
	h := p2ptest.NewHost(t, nil)
	svc, err := New(h.Raw(), nil, cfg, p2ptest.Logger(t, slog.LevelWarn))
	if err != nil {
		t.Fatal(err)
	}
	got := make(chan *pubsub.PubSub, 1)
	go func() {
		ps, err := svc.PubSub(t.Context()) // before Serve: waits
		if err != nil {
			t.Error(err)
		}
		got <- ps
	}()
	ctx, cancel := context.WithCancel(t.Context())
	done := make(chan error, 1)
	go func() { done <- svc.Serve(ctx) }()
	var ps *pubsub.PubSub
	select {
	case ps = <-got:
	case <-time.After(10 * time.Second):
		t.Fatal("PubSub did not return once Serve started")
	}
	if ps == nil || ps != svc.running().ps {
		t.Fatal("PubSub is not the service's router")
	}
	other := startNode(t, cfg, nil)
	p2ptest.Connect(t, h, other.host)
	ops, err := other.svc.PubSub(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	const topic = "/hearth/test/1"
	ta, err := ps.Join(topic)
	if err != nil {
		t.Fatal(err)
	}
	tb, err := ops.Join(topic)
	if err != nil {
		t.Fatal(err)
	}
	sub, err := tb.Subscribe()
	if err != nil {
		t.Fatal(err)
	}
	own, err := ta.Subscribe() // a mesh needs both ends subscribed
	if err != nil {
		t.Fatal(err)
	}
	defer own.Cancel()
	big := bytes.Repeat([]byte{7}, 800<<10)
	pctx, pcancel := context.WithTimeout(t.Context(), 20*time.Second)
	defer pcancel()
	if err := ta.Publish(pctx, big, pubsub.WithReadiness(pubsub.MinTopicSize(1))); err != nil {
		t.Fatal(err)
	}
	msg, err := sub.Next(pctx)
	if err != nil || !bytes.Equal(msg.Data, big) {
		t.Fatalf("message not received: %v", err)
	}
	sub.Cancel()
	ta.Close()
	tb.Close()

	// Once Serve returns, PubSub waits for the next run.
	cancel()
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	wctx, wcancel := context.WithTimeout(t.Context(), 100*time.Millisecond)
	defer wcancel()
	if _, err := svc.PubSub(wctx); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("PubSub after Serve returned: %v", err)
	}
	off := testConfig()
	svc2, _ := New(p2ptest.NewHost(t, nil).Raw(), nil, off, nil)
	if _, err := svc2.PubSub(t.Context()); !errors.Is(err, ErrNoPubSub) {
		t.Fatalf("PubSub with gossip off: %v", err)
	}
}
