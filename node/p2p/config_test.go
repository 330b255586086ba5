package p2p_test

import (
	"errors"
	"strings"
	"testing"

	"github.com/libp2p/go-libp2p/core/crypto"

	"github.com/hearth-p2p/hearth/node/p2p"
)

func TestConfigValidate(t *testing.T) {
	const pid = "12D3KooWGzxzKZYveHXtpG6AsrUJBcWxHBFS2HsEoGTxrMLvKXtf"
	key, err := p2p.GenerateSwarmKey()
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name    string
		mutate  func(*p2p.Config)
		wantErr string // empty: valid
	}{
		{"default", func(*p2p.Config) {}, ""},
		{"no listen", func(c *p2p.Config) { c.ListenAddrs = nil }, "no listen addresses"},
		{"bad listen", func(c *p2p.Config) { c.ListenAddrs = []string{"/ip4/nope"} }, "listen address"},
		{"bootstrap without id", func(c *p2p.Config) { c.BootstrapPeers = []string{"/ip4/127.0.0.1/tcp/1"} }, "bootstrap peer"},
		{"bootstrap ok", func(c *p2p.Config) { c.BootstrapPeers = []string{"/ip4/127.0.0.1/tcp/1/p2p/" + pid} }, ""},
		{"relay without client", func(c *p2p.Config) {
			c.StaticRelays = []string{"/ip4/127.0.0.1/tcp/1/p2p/" + pid}
			c.EnableRelayClient = false
		}, "relay client"},
		{"bad relay", func(c *p2p.Config) { c.StaticRelays = []string{"relay"} }, "static relay"},
		{"swarm key ok", func(c *p2p.Config) { c.PrivateSwarmKey = key }, ""},
		{"swarm key short", func(c *p2p.Config) { c.PrivateSwarmKey = "abcd" }, "swarm key"},
		{"swarm key quic only", func(c *p2p.Config) {
			c.PrivateSwarmKey = key
			c.ListenAddrs = []string{"/ip4/0.0.0.0/udp/0/quic-v1"}
		}, "needs a TCP listen address"},
		{"force reachability", func(c *p2p.Config) { c.ForceReachability = "maybe" }, "force reachability"},
		{"low above high", func(c *p2p.Config) { c.ConnMgr.Low, c.ConnMgr.High = 10, 5 }, "low watermark"},
		{"zero high", func(c *p2p.Config) { c.ConnMgr.High = 0 }, "watermarks"},
		{"negative grace", func(c *p2p.Config) { c.ConnMgr.Grace = -1 }, "grace"},
		{"zero trim interval", func(c *p2p.Config) { c.ConnMgr.TrimInterval = 0 }, "trim interval"},
		{"memory without fd", func(c *p2p.Config) { c.Limits.MaxMemory = 1 << 30 }, "MaxMemory and MaxFD"},
		{"bad stream limit", func(c *p2p.Config) { c.Limits.Protocols[p2p.ShardProtocol] = p2p.StreamLimit{Inbound: 1} }, "stream limit"},
		{"no-announce ok", func(c *p2p.Config) { c.NoAnnounce = []string{"172.17.0.0/16", "fd00::/8"} }, ""},
		{"no-announce bad", func(c *p2p.Config) { c.NoAnnounce = []string{"172.17.0.0"} }, "no-announce"},
		{"zero bootstrap interval", func(c *p2p.Config) { c.BootstrapInterval = 0 }, "bootstrap interval"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cfg := p2p.Default()
			tt.mutate(&cfg)
			err := cfg.Validate()
			if tt.wantErr == "" {
				if err != nil {
					t.Fatalf("Validate() = %v, want nil", err)
				}
				return
			}
			if err == nil || !errors.Is(err, p2p.ErrInvalidConfig) || !strings.Contains(err.Error(), tt.wantErr) {
				t.Fatalf("Validate() = %v, want ErrInvalidConfig containing %q", err, tt.wantErr)
			}
		})
	}
}

func TestParseSwarmKey(t *testing.T) {
	hexKey := strings.Repeat("0f", 32)
	tests := []struct {
		name  string
		in    string
		first byte
		ok    bool
	}{
		{"hex", hexKey, 0x0f, true},
		{"hex with newline", hexKey + "\n", 0x0f, true},
		{"swarm.key base16", "/key/swarm/psk/1.0.0/\n/base16/\n" + strings.Repeat("a1", 32) + "\n", 0xa1, true},
		{"swarm.key short", "/key/swarm/psk/1.0.0/\n/base16/\nabcd\n", 0, false},
		{"swarm.key bad encoding", "/key/swarm/psk/1.0.0/\n/base99/\nabcd\n", 0, false},
		{"too short", "abcd", 0, false},
		{"not hex", strings.Repeat("zz", 32), 0, false},
		{"empty", "", 0, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			psk, err := p2p.ParseSwarmKey(tt.in)
			if !tt.ok {
				if !errors.Is(err, p2p.ErrBadSwarmKey) {
					t.Fatalf("ParseSwarmKey = %v, want ErrBadSwarmKey", err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if len(psk) != 32 || psk[0] != tt.first || psk[31] != tt.first {
				t.Fatalf("psk = %x", psk)
			}
		})
	}
}

func TestNewRejectsBadInput(t *testing.T) {
	key, _, err := crypto.GenerateEd25519Key(nil)
	if err != nil {
		t.Fatal(err)
	}
	cfg := p2p.Default()
	cfg.ListenAddrs = nil
	if _, err := p2p.New(t.Context(), cfg, key, nil); !errors.Is(err, p2p.ErrInvalidConfig) {
		t.Fatalf("New with invalid config = %v, want ErrInvalidConfig", err)
	}
	if _, err := p2p.New(t.Context(), p2p.Default(), nil, nil); err == nil {
		t.Fatal("New with nil key succeeded")
	}
}
