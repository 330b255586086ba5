package solana

import (
	"context"
	"testing"
	"time"

	sol "github.com/gagliardetto/solana-go"
	"github.com/hearth-p2p/hearth/wallet/internal/svmtest"
)

// testClient starts a LiteSVM RPC server and returns a client with quick
// polling, so tests that wait for confirmation stay fast.
func testClient(t *testing.T) (*Client, *svmtest.Server) {
	t.Helper()
	srv := svmtest.Start(t)
	cfg := DefaultConfig()
	cfg.Cluster = Localnet
	cfg.RPCURL = srv.URL
	cfg.PollInterval = 20 * time.Millisecond
	cfg.RebroadcastInterval = 100 * time.Millisecond
	cfg.ConfirmTimeout = 20 * time.Second
	c, err := New(cfg, nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = c.Close() })
	return c, srv
}

func newKey(t *testing.T) sol.PrivateKey {
	t.Helper()
	k, err := sol.NewRandomPrivateKey()
	if err != nil {
		t.Fatal(err)
	}
	return k
}

// funded returns a new key holding lamports from the faucet.
func funded(t *testing.T, c *Client, lamports uint64) sol.PrivateKey {
	t.Helper()
	k := newKey(t)
	if _, err := c.Airdrop(testCtx(t), k.PublicKey(), lamports); err != nil {
		t.Fatal(err)
	}
	return k
}

func testCtx(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	t.Cleanup(cancel)
	return ctx
}

func balance(t *testing.T, c *Client, k sol.PublicKey) uint64 {
	t.Helper()
	b, err := c.Balance(testCtx(t), k)
	if err != nil {
		t.Fatal(err)
	}
	return b
}
