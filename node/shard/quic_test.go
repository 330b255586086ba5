package shard

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/hearth-p2p/hearth/inference/model"
	"github.com/hearth-p2p/hearth/node/p2p"
	"github.com/hearth-p2p/hearth/node/p2p/p2ptest"
)

// TestOverQUIC repeats the essentials over QUIC, whose streams close
// differently from yamux's: the pipeline is exact, the server's reasons for
// ending a session reach the client, and Close is clean.
func TestOverQUIC(t *testing.T) {
	tm := openTestModel(t, stories260K)
	n := tm.m.NumLayers
	cfg := Default()
	cfg.IdleTimeout = 300 * time.Millisecond
	srv := startServer(t, cfg, nil, tm.backend(t, 0, n))
	var addr string
	for _, a := range srv.h.Addrs() {
		if strings.Contains(a.String(), "/quic-v1/") {
			addr = a.String()
		}
	}
	if addr == "" {
		t.Fatal("no QUIC address")
	}
	client := p2ptest.NewHost(t, func(c *p2p.Config) { c.ListenAddrs = []string{"/ip4/127.0.0.1/udp/0/quic-v1"} })
	c, err := DialAddr(context.Background(), client.Raw(), addr)
	if err != nil {
		t.Fatal(err)
	}
	open := func(from, to int) *RemoteStage {
		return openStage(t, c, SessionConfig{Model: tm.hash, From: from, To: to, MaxContext: 32, DType: F32})
	}
	_, want := decode(t, model.Chain{tm.localStage(t, 0, n, 32)}, prompt, 8)
	head, tail := open(0, 2), open(2, n)
	_, got := decode(t, model.Chain{head, tail}, prompt, 8)
	sameLogits(t, got, want)
	if err := head.Close(); err != nil {
		t.Fatalf("close over QUIC: %v", err)
	}
	// tail idles out; its next forward learns why.
	p2ptest.Eventually(t, 5*time.Second, "idle session closed", func() bool { return len(srv.s.Stats().Sessions) == 0 })
	if _, err := tail.Forward(context.Background(), 0, nil, make([]float32, tm.m.Dim)); !errors.Is(err, ErrUnknownSession) {
		t.Fatalf("forward after idle timeout over QUIC: %v", err)
	}
}
