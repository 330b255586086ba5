// Package p2ptest provides helpers for tests that run real in-process libp2p
// hosts: loopback-only configurations, hosts that close with the test, a
// logger bound to the test, and re-execution of a test inside a fresh
// network namespace (for mDNS and other multicast or non-loopback tests).
package p2ptest

import (
	"context"
	"crypto/rand"
	"io"
	"log/slog"
	"sync"
	"testing"
	"time"

	"github.com/libp2p/go-libp2p/core/crypto"
	"github.com/libp2p/go-libp2p/core/network"
	"github.com/libp2p/go-libp2p/core/protocol"

	"github.com/hearth-p2p/hearth/node/p2p"
)

// Config returns a p2p configuration that only listens on 127.0.0.1 (TCP and
// QUIC), never maps ports and skips AutoNAT, for tests.
func Config() p2p.Config {
	cfg := p2p.Default()
	cfg.ListenAddrs = []string{"/ip4/127.0.0.1/tcp/0", "/ip4/127.0.0.1/udp/0/quic-v1"}
	cfg.NATPortMap = false
	cfg.EnableAutoNAT = false
	return cfg
}

// Logger returns a logger writing to the test output at the given level. It
// goes quiet once the test's cleanups have run, so late log lines from
// background goroutines cannot fail the test binary.
func Logger(t testing.TB, level slog.Level) *slog.Logger {
	w := &testWriter{w: t.Output()}
	t.Cleanup(w.stop)
	return slog.New(slog.NewTextHandler(w, &slog.HandlerOptions{Level: level}))
}

type testWriter struct {
	mu   sync.Mutex // guards done and writes to w
	w    io.Writer
	done bool
}

func (w *testWriter) Write(p []byte) (int, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.done {
		return len(p), nil
	}
	return w.w.Write(p)
}

func (w *testWriter) stop() {
	w.mu.Lock()
	w.done = true
	w.mu.Unlock()
}

// NewHost starts a host with a fresh ed25519 key and closes it when the test
// ends. A nil mutate uses Config() unchanged.
func NewHost(t testing.TB, mutate func(*p2p.Config)) *p2p.Host {
	t.Helper()
	cfg := Config()
	if mutate != nil {
		mutate(&cfg)
	}
	key, _, err := crypto.GenerateEd25519Key(rand.Reader)
	if err != nil {
		t.Fatalf("generate key: %v", err)
	}
	log := Logger(t, slog.LevelWarn)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	h, err := p2p.New(ctx, cfg, key, log)
	if err != nil {
		t.Fatalf("new host: %v", err)
	}
	t.Cleanup(func() {
		if err := h.Close(); err != nil {
			t.Errorf("close host: %v", err)
		}
	})
	return h
}

// Connect connects a to b through b's first listed address, failing the test
// on error.
func Connect(t testing.TB, a, b *p2p.Host) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	addrs := b.Addrs()
	if len(addrs) == 0 {
		t.Fatalf("host %s has no addresses", b.ID())
	}
	if _, err := a.Connect(ctx, addrs[0].String()); err != nil {
		t.Fatalf("connect %s -> %s: %v", a.ID(), b.ID(), err)
	}
}

// EchoProtocol is the protocol served by ServeEcho.
const EchoProtocol protocol.ID = "/hearth/test/echo/1"

// ServeEcho makes h echo every stream of EchoProtocol back to its sender.
func ServeEcho(h *p2p.Host) {
	h.Raw().SetStreamHandler(EchoProtocol, func(s network.Stream) {
		defer s.Close()
		if _, err := io.Copy(s, s); err != nil {
			s.Reset()
		}
	})
}

// Eventually polls cond every 20 ms until it holds or timeout passes, then
// fails the test with msg.
func Eventually(t testing.TB, timeout time.Duration, msg string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out after %v: %s", timeout, msg)
		}
		time.Sleep(20 * time.Millisecond)
	}
}
