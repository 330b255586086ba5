package solana

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"

	sol "github.com/gagliardetto/solana-go"
	ata "github.com/gagliardetto/solana-go/programs/associated-token-account"
	"github.com/gagliardetto/solana-go/programs/system"
	"github.com/gagliardetto/solana-go/programs/token"
	"github.com/gagliardetto/solana-go/rpc"
)

// SPL Token account layouts (the classic Token program).
const (
	mintSize         = token.MINT_SIZE // 82
	tokenAccountSize = 165
)

// ErrUnsupportedMint reports a mint this wallet cannot transfer (e.g. Token-2022).
var ErrUnsupportedMint = errors.New("unsupported mint")

// TokenAccount is an SPL token account and its balance.
type TokenAccount struct {
	Address  sol.PublicKey
	Mint     sol.PublicKey
	Owner    sol.PublicKey
	Amount   uint64 // base units
	Decimals uint8
}

// tokenAccountFields parses the fixed head of a token account.
func tokenAccountFields(data []byte) (mint, owner sol.PublicKey, amount uint64, ok bool) {
	if len(data) < tokenAccountSize || data[108] == 0 { // state: 0 = uninitialized
		return mint, owner, 0, false
	}
	copy(mint[:], data[0:32])
	copy(owner[:], data[32:64])
	return mint, owner, binary.LittleEndian.Uint64(data[64:72]), true
}

// MintDecimals reads a mint's decimals, checking it is a classic SPL Token mint.
func (c *Client) MintDecimals(ctx context.Context, mint sol.PublicKey) (uint8, error) {
	owner, data, err := c.accountData(ctx, mint)
	if err != nil {
		return 0, fmt.Errorf("mint %s: %w", mint, err)
	}
	switch {
	case owner.Equals(sol.Token2022ProgramID):
		return 0, fmt.Errorf("%w: %s is a Token-2022 mint", ErrUnsupportedMint, mint)
	case !owner.Equals(sol.TokenProgramID) || len(data) != mintSize || data[45] == 0:
		return 0, fmt.Errorf("%w: %s is not an SPL token mint", ErrUnsupportedMint, mint)
	}
	return data[44], nil
}

// TokenAccounts lists owner's SPL token accounts with their balances.
func (c *Client) TokenAccounts(ctx context.Context, owner sol.PublicKey) ([]TokenAccount, error) {
	return c.tokenAccounts(ctx, owner, &rpc.GetTokenAccountsConfig{ProgramId: sol.TokenProgramID.ToPointer()})
}

// TokenBalance sums owner's balance of mint across its token accounts.
func (c *Client) TokenBalance(ctx context.Context, owner, mint sol.PublicKey) (uint64, error) {
	accts, err := c.tokenAccounts(ctx, owner, &rpc.GetTokenAccountsConfig{Mint: mint.ToPointer()})
	if err != nil {
		return 0, err
	}
	var sum uint64
	for _, a := range accts {
		sum += a.Amount
	}
	return sum, nil
}

func (c *Client) tokenAccounts(ctx context.Context, owner sol.PublicKey, conf *rpc.GetTokenAccountsConfig) ([]TokenAccount, error) {
	var out []TokenAccount
	err := c.call(ctx, "get token accounts", nil, func(ctx context.Context) error {
		res, err := c.rpc.GetTokenAccountsByOwner(ctx, owner, conf, &rpc.GetTokenAccountsOpts{
			Commitment: c.commitment,
			Encoding:   sol.EncodingBase64,
		})
		if err != nil {
			return err
		}
		out = out[:0]
		for _, a := range res.Value {
			if a == nil || a.Account.Data == nil {
				continue
			}
			mint, own, amount, ok := tokenAccountFields(a.Account.Data.GetBinary())
			if !ok || !own.Equals(owner) {
				continue
			}
			out = append(out, TokenAccount{Address: a.Pubkey, Mint: mint, Owner: own, Amount: amount})
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	decimals := map[sol.PublicKey]uint8{}
	for i := range out {
		d, ok := decimals[out[i].Mint]
		if !ok {
			if d, err = c.MintDecimals(ctx, out[i].Mint); err != nil {
				return nil, err
			}
			decimals[out[i].Mint] = d
		}
		out[i].Decimals = d
	}
	return out, nil
}

// AssociatedTokenAddress is owner's associated token account for mint.
func AssociatedTokenAddress(owner, mint sol.PublicKey) (sol.PublicKey, error) {
	a, _, err := sol.FindAssociatedTokenAddress(owner, mint)
	if err != nil {
		return sol.PublicKey{}, fmt.Errorf("derive associated token address: %w", err)
	}
	return a, nil
}

// tokenTransferInstructions moves amount of mint from from's associated token
// account to to's, creating to's account (idempotently) when it is missing.
func (c *Client) tokenTransferInstructions(ctx context.Context, from, to, mint sol.PublicKey, amount uint64) ([]sol.Instruction, error) {
	decimals, err := c.MintDecimals(ctx, mint)
	if err != nil {
		return nil, err
	}
	src, err := AssociatedTokenAddress(from, mint)
	if err != nil {
		return nil, err
	}
	dst, err := AssociatedTokenAddress(to, mint)
	if err != nil {
		return nil, err
	}
	var ixs []sol.Instruction
	if _, _, err := c.accountData(ctx, dst); errors.Is(err, ErrNotFound) {
		ixs = append(ixs, ata.NewCreateIdempotentInstruction(from, to, mint).Build())
	} else if err != nil {
		return nil, err
	}
	ixs = append(ixs, token.NewTransferCheckedInstruction(amount, decimals, src, mint, dst, from, nil).Build())
	return ixs, nil
}

// CreateMint creates a new SPL token mint with the given authority and
// decimals, paid by payer, and returns its address.
func (c *Client) CreateMint(ctx context.Context, payer sol.PrivateKey, authority sol.PublicKey, decimals uint8) (sol.PublicKey, error) {
	mintKey, err := sol.NewRandomPrivateKey()
	if err != nil {
		return sol.PublicKey{}, fmt.Errorf("generate mint key: %w", err)
	}
	rent, err := c.RentExemptMinimum(ctx, mintSize)
	if err != nil {
		return sol.PublicKey{}, err
	}
	mint := mintKey.PublicKey()
	ixs := []sol.Instruction{
		system.NewCreateAccountInstruction(rent, mintSize, sol.TokenProgramID, payer.PublicKey(), mint).Build(),
		token.NewInitializeMint2InstructionBuilder().SetDecimals(decimals).SetMintAuthority(authority).SetMintAccount(mint).Build(),
	}
	p, err := c.Build(ctx, payer, ixs, mintKey)
	if err != nil {
		return sol.PublicKey{}, err
	}
	if err := c.Submit(ctx, p); err != nil {
		return sol.PublicKey{}, fmt.Errorf("create mint: %w", err)
	}
	return mint, nil
}

// MintTo mints amount base units of mint to owner's associated token account,
// creating it if needed. authority must be the mint authority; it pays.
func (c *Client) MintTo(ctx context.Context, authority sol.PrivateKey, mint, owner sol.PublicKey, amount uint64) (sol.Signature, error) {
	decimals, err := c.MintDecimals(ctx, mint)
	if err != nil {
		return sol.Signature{}, err
	}
	dst, err := AssociatedTokenAddress(owner, mint)
	if err != nil {
		return sol.Signature{}, err
	}
	auth := authority.PublicKey()
	ixs := []sol.Instruction{
		ata.NewCreateIdempotentInstruction(auth, owner, mint).Build(),
		token.NewMintToCheckedInstruction(amount, decimals, mint, dst, auth, nil).Build(),
	}
	p, err := c.Build(ctx, authority, ixs)
	if err != nil {
		return sol.Signature{}, err
	}
	if err := c.Submit(ctx, p); err != nil {
		return sol.Signature{}, fmt.Errorf("mint to: %w", err)
	}
	return p.Signature, nil
}
