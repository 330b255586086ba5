// Package solana is the wallet's Solana client: balances, airdrops, SOL and
// SPL transfers with memos, confirmation that rebroadcasts until the
// blockhash expires, and transaction history, over solana-go's JSON-RPC
// client. Errors name what went wrong (ErrRPCUnreachable,
// ErrInsufficientFunds, ErrBlockhashExpired, …).
package solana

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"time"

	sol "github.com/gagliardetto/solana-go"
	"github.com/gagliardetto/solana-go/rpc"
)

// Client talks to one cluster's RPC endpoint. It is safe for concurrent use.
type Client struct {
	cfg        Config
	rpc        *rpc.Client
	log        *slog.Logger
	commitment rpc.CommitmentType
}

// New returns a client for cfg. It does not contact the endpoint.
func New(cfg Config, log *slog.Logger) (*Client, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	return &Client{
		cfg:        cfg,
		rpc:        rpc.NewWithTimeout(cfg.Endpoint(), cfg.RequestTimeout),
		log:        log.With("sub", "solana", "cluster", string(cfg.Cluster)),
		commitment: rpc.CommitmentType(cfg.Commitment),
	}, nil
}

// Config returns the client's configuration.
func (c *Client) Config() Config { return c.cfg }

// Close releases idle connections.
func (c *Client) Close() error { return c.rpc.Close() }

// call runs f with a per-attempt timeout, retrying transport failures with
// exponential backoff. programs names a transaction's instructions for error
// classification.
func (c *Client) call(ctx context.Context, op string, programs []sol.PublicKey, f func(ctx context.Context) error) error {
	backoff := c.cfg.RetryBackoff
	var err error
	for attempt := 0; ; attempt++ {
		actx, cancel := context.WithTimeout(ctx, c.cfg.RequestTimeout)
		err = f(actx)
		cancel()
		if err == nil {
			return nil
		}
		if ctx.Err() != nil {
			return fmt.Errorf("%s: %w", op, ctx.Err())
		}
		if errors.Is(err, context.DeadlineExceeded) {
			err = fmt.Errorf("%s: %w: no answer within %v", op, ErrRPCUnreachable, c.cfg.RequestTimeout)
		} else {
			err = classify(op, err, programs)
		}
		if !retryable(err) || attempt >= c.cfg.Retries {
			return err
		}
		c.log.Debug("rpc retry", "op", op, "attempt", attempt+1, "err", err)
		select {
		case <-ctx.Done():
			return fmt.Errorf("%s: %w", op, ctx.Err())
		case <-time.After(backoff):
		}
		backoff *= 2
	}
}

// Health checks that the node answers and is healthy.
func (c *Client) Health(ctx context.Context) error {
	var out string
	err := c.call(ctx, "get health", nil, func(ctx context.Context) (err error) {
		out, err = c.rpc.GetHealth(ctx)
		return err
	})
	if err != nil {
		return err
	}
	if out != rpc.HealthOk {
		return fmt.Errorf("get health: %w: node says %q", ErrRPCUnreachable, out)
	}
	return nil
}

// BlockHeight returns the current block height.
func (c *Client) BlockHeight(ctx context.Context) (uint64, error) {
	var h uint64
	err := c.call(ctx, "get block height", nil, func(ctx context.Context) (err error) {
		h, err = c.rpc.GetBlockHeight(ctx, c.commitment)
		return err
	})
	return h, err
}

// Balance returns an account's lamports (0 for an account that does not exist).
func (c *Client) Balance(ctx context.Context, owner sol.PublicKey) (uint64, error) {
	var v uint64
	err := c.call(ctx, "get balance", nil, func(ctx context.Context) error {
		out, err := c.rpc.GetBalance(ctx, owner, c.commitment)
		if err != nil {
			return err
		}
		v = out.Value
		return nil
	})
	return v, err
}

// RentExemptMinimum is the lamports an account of size bytes must hold.
func (c *Client) RentExemptMinimum(ctx context.Context, size uint64) (uint64, error) {
	var v uint64
	err := c.call(ctx, "get rent-exempt minimum", nil, func(ctx context.Context) (err error) {
		v, err = c.rpc.GetMinimumBalanceForRentExemption(ctx, size, c.commitment)
		return err
	})
	return v, err
}

// Blockhash is a recent blockhash and the last block height it is valid at.
type Blockhash struct {
	Hash                 sol.Hash
	LastValidBlockHeight uint64
}

// LatestBlockhash fetches a blockhash for a new transaction.
func (c *Client) LatestBlockhash(ctx context.Context) (Blockhash, error) {
	var b Blockhash
	err := c.call(ctx, "get latest blockhash", nil, func(ctx context.Context) error {
		out, err := c.rpc.GetLatestBlockhash(ctx, c.commitment)
		if err != nil {
			return err
		}
		if out == nil || out.Value == nil {
			return fmt.Errorf("%w: empty blockhash answer", ErrRPC)
		}
		b = Blockhash{Hash: out.Value.Blockhash, LastValidBlockHeight: out.Value.LastValidBlockHeight}
		return nil
	})
	return b, err
}

// accountData returns an account's owner program and data, or ErrNotFound.
func (c *Client) accountData(ctx context.Context, addr sol.PublicKey) (sol.PublicKey, []byte, error) {
	var owner sol.PublicKey
	var data []byte
	err := c.call(ctx, "get account info", nil, func(ctx context.Context) error {
		out, err := c.rpc.GetAccountInfoWithOpts(ctx, addr, &rpc.GetAccountInfoOpts{
			Encoding:   sol.EncodingBase64,
			Commitment: c.commitment,
		})
		if errors.Is(err, rpc.ErrNotFound) {
			return fmt.Errorf("account %s: %w", addr, ErrNotFound)
		}
		if err != nil {
			return err
		}
		owner = out.Value.Owner
		data = out.GetBinary()
		return nil
	})
	return owner, data, err
}

// Airdrop asks the cluster's faucet for lamports and waits for confirmation.
func (c *Client) Airdrop(ctx context.Context, to sol.PublicKey, lamports uint64) (sol.Signature, error) {
	if !c.cfg.Cluster.AllowsAirdrop() {
		return sol.Signature{}, fmt.Errorf("airdrop: %w: %s", ErrAirdropUnavailable, c.cfg.Cluster)
	}
	if lamports == 0 {
		return sol.Signature{}, fmt.Errorf("airdrop: %w: zero lamports", ErrInvalidAmount)
	}
	var sig sol.Signature
	err := c.call(ctx, "request airdrop", nil, func(ctx context.Context) (err error) {
		sig, err = c.rpc.RequestAirdrop(ctx, to, lamports, c.commitment)
		return err
	})
	if err != nil {
		if errors.Is(err, ErrRPC) {
			return sig, fmt.Errorf("%w: %w", ErrAirdropUnavailable, err)
		}
		return sig, err
	}
	if err := c.waitStatus(ctx, sig); err != nil {
		return sig, fmt.Errorf("airdrop %s: %w", sig, err)
	}
	c.log.Info("airdrop confirmed", "to", to, "lamports", lamports, "sig", sig)
	return sig, nil
}

// waitStatus polls a signature the client did not build (no blockhash known)
// until it is confirmed or ConfirmTimeout passes.
func (c *Client) waitStatus(ctx context.Context, sig sol.Signature) error {
	ctx, cancel := context.WithTimeout(ctx, c.cfg.ConfirmTimeout)
	defer cancel()
	for {
		st, err := c.SignatureStatus(ctx, sig)
		if err == nil && st.Confirmed {
			return st.Err
		}
		select {
		case <-ctx.Done():
			if errors.Is(ctx.Err(), context.DeadlineExceeded) {
				return ErrConfirmTimeout
			}
			return ctx.Err()
		case <-time.After(c.cfg.PollInterval):
		}
	}
}

// Version is the node's software version.
func (c *Client) Version(ctx context.Context) (string, error) {
	var v string
	err := c.call(ctx, "get version", nil, func(ctx context.Context) error {
		out, err := c.rpc.GetVersion(ctx)
		if err != nil {
			return err
		}
		v = out.SolanaCore
		return nil
	})
	return v, err
}

// Slot is the current slot.
func (c *Client) Slot(ctx context.Context) (uint64, error) {
	var s uint64
	err := c.call(ctx, "get slot", nil, func(ctx context.Context) (err error) {
		s, err = c.rpc.GetSlot(ctx, c.commitment)
		return err
	})
	return s, err
}
