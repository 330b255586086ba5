package solana

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"strconv"
	"time"

	sol "github.com/gagliardetto/solana-go"
	"github.com/gagliardetto/solana-go/rpc"
)

// TxInfo is a confirmed transaction as the wallet reads it.
type TxInfo struct {
	Signature      sol.Signature
	Slot           uint64
	BlockTime      time.Time // zero when the node does not know it
	Err            error     // a *TxError if the transaction failed
	Fee            uint64    // lamports
	FeePayer       sol.PublicKey
	Memos          []string // Memo program instructions, in order
	SOLTransfers   []SOLTransfer
	TokenTransfers []TokenTransfer
	LamportDeltas  map[sol.PublicKey]int64 // post − pre balance per account
	TokenDeltas    []TokenDelta
}

// SOLTransfer is a System program transfer (top level or inner).
type SOLTransfer struct {
	From, To sol.PublicKey
	Lamports uint64
}

// TokenTransfer is an SPL Token Transfer or TransferChecked (Mint is zero for
// an unchecked Transfer).
type TokenTransfer struct {
	Source, Destination, Authority, Mint sol.PublicKey
	Amount                               uint64
}

// TokenDelta is a token account's balance before and after the transaction.
type TokenDelta struct {
	Account, Owner, Mint sol.PublicKey
	Pre, Post            uint64
}

// Received is what addr gained in the transaction, read from the balance
// changes the runtime recorded (not from the instructions, which could be
// crafted to look like more): lamports when mint is zero, otherwise the
// increase of mint held in token accounts owned by addr.
func (t *TxInfo) Received(addr, mint sol.PublicKey) uint64 {
	if t.Err != nil {
		return 0
	}
	if mint.IsZero() {
		if d := t.LamportDeltas[addr]; d > 0 {
			return uint64(d)
		}
		return 0
	}
	var gain uint64
	for _, d := range t.TokenDeltas {
		if d.Owner.Equals(addr) && d.Mint.Equals(mint) && d.Post > d.Pre {
			gain += d.Post - d.Pre
		}
	}
	return gain
}

// SignatureInfo is one entry of an address's transaction list.
type SignatureInfo struct {
	Signature sol.Signature
	Slot      uint64
	Failed    bool
	BlockTime time.Time
}

// SignatureQuery pages through an address's signatures, newest first.
type SignatureQuery struct {
	Limit  int           // 1..1000; 0 means 100
	Before sol.Signature // start after this one (older)
	Until  sol.Signature // stop before this one
}

// Signatures lists confirmed transactions that touch addr, newest first.
func (c *Client) Signatures(ctx context.Context, addr sol.PublicKey, q SignatureQuery) ([]SignatureInfo, error) {
	if q.Limit == 0 {
		q.Limit = 100
	}
	if q.Limit < 0 || q.Limit > 1000 {
		return nil, fmt.Errorf("list signatures: limit %d outside [1,1000]", q.Limit)
	}
	var out []SignatureInfo
	err := c.call(ctx, "get signatures for address", nil, func(ctx context.Context) error {
		res, err := c.rpc.GetSignaturesForAddressWithOpts(ctx, addr, &rpc.GetSignaturesForAddressOpts{
			Limit:      &q.Limit,
			Before:     q.Before,
			Until:      q.Until,
			Commitment: c.commitment,
		})
		if err != nil {
			return err
		}
		out = make([]SignatureInfo, 0, len(res))
		for _, s := range res {
			si := SignatureInfo{Signature: s.Signature, Slot: s.Slot, Failed: s.Err != nil}
			if s.BlockTime != nil {
				si.BlockTime = s.BlockTime.Time()
			}
			out = append(out, si)
		}
		return nil
	})
	return out, err
}

// History returns up to limit of addr's most recent transactions, older than
// before when it is set, fully parsed.
func (c *Client) History(ctx context.Context, addr sol.PublicKey, limit int, before sol.Signature) ([]*TxInfo, error) {
	sigs, err := c.Signatures(ctx, addr, SignatureQuery{Limit: limit, Before: before})
	if err != nil {
		return nil, err
	}
	out := make([]*TxInfo, 0, len(sigs))
	for _, s := range sigs {
		info, err := c.Transaction(ctx, s.Signature)
		if err != nil {
			return nil, err
		}
		out = append(out, info)
	}
	return out, nil
}

// Transaction fetches and parses one confirmed transaction; ErrNotFound if
// the cluster does not know it.
func (c *Client) Transaction(ctx context.Context, sig sol.Signature) (*TxInfo, error) {
	var res *rpc.GetTransactionResult
	v0 := uint64(0)
	err := c.call(ctx, "get transaction", nil, func(ctx context.Context) (err error) {
		res, err = c.rpc.GetTransaction(ctx, sig, &rpc.GetTransactionOpts{
			Encoding:                       sol.EncodingBase64,
			Commitment:                     c.commitment,
			MaxSupportedTransactionVersion: &v0,
		})
		if errors.Is(err, rpc.ErrNotFound) {
			return fmt.Errorf("transaction %s: %w", sig, ErrNotFound)
		}
		return err
	})
	if err != nil {
		return nil, err
	}
	return parseTransaction(sig, res)
}

func parseTransaction(sig sol.Signature, res *rpc.GetTransactionResult) (*TxInfo, error) {
	if res.Transaction == nil || res.Meta == nil {
		return nil, fmt.Errorf("transaction %s: %w: no transaction or meta in answer", sig, ErrRPC)
	}
	tx, err := res.Transaction.GetTransaction()
	if err != nil || tx == nil {
		return nil, fmt.Errorf("transaction %s: %w: undecodable transaction", sig, ErrRPC)
	}
	meta := res.Meta
	keys := append(sol.PublicKeySlice{}, tx.Message.AccountKeys...)
	keys = append(keys, meta.LoadedAddresses.Writable...)
	keys = append(keys, meta.LoadedAddresses.ReadOnly...)
	info := &TxInfo{Signature: sig, Slot: res.Slot, Fee: meta.Fee, LamportDeltas: map[sol.PublicKey]int64{}}
	if len(keys) > 0 {
		info.FeePayer = keys[0]
	}
	if res.BlockTime != nil {
		info.BlockTime = res.BlockTime.Time()
	}
	if meta.Err != nil {
		info.Err = newTxError("", meta.Err, meta.LogMessages, nil)
	}
	if len(meta.PreBalances) != len(keys) || len(meta.PostBalances) != len(keys) {
		return nil, fmt.Errorf("transaction %s: %w: %d keys but %d/%d balances", sig, ErrRPC, len(keys), len(meta.PreBalances), len(meta.PostBalances))
	}
	for i, k := range keys {
		info.LamportDeltas[k] += int64(meta.PostBalances[i]) - int64(meta.PreBalances[i])
	}
	deltas, err := tokenDeltas(keys, meta)
	if err != nil {
		return nil, fmt.Errorf("transaction %s: %w", sig, err)
	}
	info.TokenDeltas = deltas
	for _, ix := range tx.Message.Instructions {
		info.parseInstruction(keys, ix.ProgramIDIndex, ix.Accounts, ix.Data)
	}
	for _, inner := range meta.InnerInstructions {
		for _, ix := range inner.Instructions {
			info.parseInstruction(keys, ix.ProgramIDIndex, ix.Accounts, ix.Data)
		}
	}
	return info, nil
}

func tokenDeltas(keys sol.PublicKeySlice, meta *rpc.TransactionMeta) ([]TokenDelta, error) {
	byIndex := map[uint16]*TokenDelta{}
	var order []uint16
	add := func(list []rpc.TokenBalance, post bool) error {
		for _, b := range list {
			if int(b.AccountIndex) >= len(keys) || b.UiTokenAmount == nil {
				return fmt.Errorf("%w: bad token balance entry", ErrRPC)
			}
			amt, err := strconv.ParseUint(b.UiTokenAmount.Amount, 10, 64)
			if err != nil {
				return fmt.Errorf("%w: token amount %q", ErrRPC, b.UiTokenAmount.Amount)
			}
			d, ok := byIndex[b.AccountIndex]
			if !ok {
				d = &TokenDelta{Account: keys[b.AccountIndex], Mint: b.Mint}
				if b.Owner != nil {
					d.Owner = *b.Owner
				}
				byIndex[b.AccountIndex] = d
				order = append(order, b.AccountIndex)
			}
			if post {
				d.Post = amt
			} else {
				d.Pre = amt
			}
		}
		return nil
	}
	if err := add(meta.PreTokenBalances, false); err != nil {
		return nil, err
	}
	if err := add(meta.PostTokenBalances, true); err != nil {
		return nil, err
	}
	out := make([]TokenDelta, 0, len(order))
	for _, i := range order {
		out = append(out, *byIndex[i])
	}
	return out, nil
}

// parseInstruction records memos and transfers; other instructions are ignored.
func (t *TxInfo) parseInstruction(keys sol.PublicKeySlice, prog uint16, accts []uint16, data []byte) {
	if int(prog) >= len(keys) {
		return
	}
	acct := func(i int) (sol.PublicKey, bool) {
		if i >= len(accts) || int(accts[i]) >= len(keys) {
			return sol.PublicKey{}, false
		}
		return keys[accts[i]], true
	}
	switch p := keys[prog]; {
	case p.Equals(sol.MemoProgramID) || p.Equals(sol.MemoProgramIDV1):
		t.Memos = append(t.Memos, string(data))
	case p.Equals(sol.SystemProgramID):
		// SystemInstruction::Transfer = 2: u32 tag, u64 lamports; [from, to].
		if len(data) == 12 && binary.LittleEndian.Uint32(data) == 2 {
			from, ok1 := acct(0)
			to, ok2 := acct(1)
			if ok1 && ok2 {
				t.SOLTransfers = append(t.SOLTransfers, SOLTransfer{From: from, To: to, Lamports: binary.LittleEndian.Uint64(data[4:])})
			}
		}
	case p.Equals(sol.TokenProgramID):
		t.parseTokenInstruction(acct, data)
	}
}

func (t *TxInfo) parseTokenInstruction(acct func(int) (sol.PublicKey, bool), data []byte) {
	switch {
	case len(data) == 9 && data[0] == 3: // Transfer: [source, destination, authority]
		src, ok1 := acct(0)
		dst, ok2 := acct(1)
		auth, ok3 := acct(2)
		if ok1 && ok2 && ok3 {
			t.TokenTransfers = append(t.TokenTransfers, TokenTransfer{Source: src, Destination: dst, Authority: auth, Amount: binary.LittleEndian.Uint64(data[1:])})
		}
	case len(data) == 10 && data[0] == 12: // TransferChecked: [source, mint, destination, authority]
		src, ok1 := acct(0)
		mint, ok2 := acct(1)
		dst, ok3 := acct(2)
		auth, ok4 := acct(3)
		if ok1 && ok2 && ok3 && ok4 {
			t.TokenTransfers = append(t.TokenTransfers, TokenTransfer{Source: src, Destination: dst, Authority: auth, Mint: mint, Amount: binary.LittleEndian.Uint64(data[1:])})
		}
	}
}
