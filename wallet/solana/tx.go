package solana

import (
	"context"
	"errors"
	"fmt"
	"time"
	"unicode/utf8"

	sol "github.com/gagliardetto/solana-go"
	"github.com/gagliardetto/solana-go/programs/memo"
	"github.com/gagliardetto/solana-go/programs/system"
	"github.com/gagliardetto/solana-go/rpc"
)

// MaxMemoLen bounds memos so a transfer with a memo fits a 1232-byte packet.
const MaxMemoLen = 566

// Prepared is a signed transaction ready to send (and re-send: resending the
// same bytes can never execute twice).
type Prepared struct {
	Tx                   *sol.Transaction
	Raw                  []byte
	Signature            sol.Signature
	LastValidBlockHeight uint64
}

// PreparedFromRaw rebuilds a Prepared from the bytes of a signed transaction,
// e.g. one saved before a crash.
func PreparedFromRaw(raw []byte, lastValidBlockHeight uint64) (*Prepared, error) {
	tx, err := sol.TransactionFromBytes(raw)
	if err != nil {
		return nil, fmt.Errorf("decode transaction: %w", err)
	}
	if len(tx.Signatures) == 0 {
		return nil, fmt.Errorf("decode transaction: %w: unsigned", ErrTransactionFailed)
	}
	return &Prepared{Tx: tx, Raw: raw, Signature: tx.Signatures[0], LastValidBlockHeight: lastValidBlockHeight}, nil
}

// programs lists the program id of each top-level instruction.
func (p *Prepared) programs() []sol.PublicKey {
	out := make([]sol.PublicKey, len(p.Tx.Message.Instructions))
	for i, ix := range p.Tx.Message.Instructions {
		if int(ix.ProgramIDIndex) < len(p.Tx.Message.AccountKeys) {
			out[i] = p.Tx.Message.AccountKeys[ix.ProgramIDIndex]
		}
	}
	return out
}

// Build signs instructions with a fresh blockhash. payer pays the fee;
// extra signers sign too (e.g. a new account's key).
func (c *Client) Build(ctx context.Context, payer sol.PrivateKey, ixs []sol.Instruction, extra ...sol.PrivateKey) (*Prepared, error) {
	bh, err := c.LatestBlockhash(ctx)
	if err != nil {
		return nil, err
	}
	tx, err := sol.NewTransaction(ixs, bh.Hash, sol.TransactionPayer(payer.PublicKey()))
	if err != nil {
		return nil, fmt.Errorf("build transaction: %w", err)
	}
	signers := append([]sol.PrivateKey{payer}, extra...)
	if _, err := tx.Sign(func(k sol.PublicKey) *sol.PrivateKey {
		for i := range signers {
			if signers[i].PublicKey().Equals(k) {
				return &signers[i]
			}
		}
		return nil
	}); err != nil {
		return nil, fmt.Errorf("sign transaction: %w", err)
	}
	raw, err := tx.MarshalBinary()
	if err != nil {
		return nil, fmt.Errorf("encode transaction: %w", err)
	}
	return &Prepared{Tx: tx, Raw: raw, Signature: tx.Signatures[0], LastValidBlockHeight: bh.LastValidBlockHeight}, nil
}

// Send submits p once with preflight simulation, so a transaction that would
// fail comes back as a *TxError (ErrInsufficientFunds, …) without costing a
// fee. A transaction the cluster already executed gives ErrAlreadyProcessed.
func (c *Client) Send(ctx context.Context, p *Prepared) error {
	return c.send(ctx, p, false)
}

func (c *Client) send(ctx context.Context, p *Prepared, skipPreflight bool) error {
	zero := uint(0)
	return c.call(ctx, "send transaction", p.programs(), func(ctx context.Context) error {
		_, err := c.rpc.SendRawTransactionWithOpts(ctx, p.Raw, rpc.TransactionOpts{
			SkipPreflight:       skipPreflight,
			PreflightCommitment: c.commitment,
			MaxRetries:          &zero, // the client rebroadcasts itself
		})
		return err
	})
}

// Status is a transaction's status on chain.
type Status struct {
	Slot      uint64
	Confirmed bool  // reached the client's commitment
	Err       error // a *TxError if it failed on chain; nil if it succeeded
}

// SignatureStatus looks a signature up, searching the whole history; an
// unknown signature gives ErrNotFound.
func (c *Client) SignatureStatus(ctx context.Context, sig sol.Signature) (*Status, error) {
	var st *Status
	err := c.call(ctx, "get signature status", nil, func(ctx context.Context) error {
		out, err := c.rpc.GetSignatureStatuses(ctx, true, sig)
		if err != nil && !errors.Is(err, rpc.ErrNotFound) {
			return err
		}
		if out == nil || len(out.Value) == 0 || out.Value[0] == nil {
			return fmt.Errorf("signature %s: %w", sig, ErrNotFound)
		}
		v := out.Value[0]
		st = &Status{Slot: v.Slot}
		switch v.ConfirmationStatus {
		case rpc.ConfirmationStatusFinalized:
			st.Confirmed = true
		case rpc.ConfirmationStatusConfirmed:
			st.Confirmed = c.commitment == rpc.CommitmentConfirmed
		}
		if v.Err != nil {
			st.Err = newTxError("", v.Err, nil, nil)
		}
		return nil
	})
	return st, err
}

// Confirm waits until p is confirmed, re-sending it (without preflight) every
// RebroadcastInterval while its blockhash is valid. It returns the on-chain
// *TxError if the transaction failed, ErrBlockhashExpired once it can no
// longer land, and ErrConfirmTimeout after ConfirmTimeout.
func (c *Client) Confirm(ctx context.Context, p *Prepared) (*Status, error) {
	parent := ctx
	ctx, cancel := context.WithTimeout(ctx, c.cfg.ConfirmTimeout)
	defer cancel()
	lastSend := time.Now()
	for {
		st, err := c.SignatureStatus(ctx, p.Signature)
		switch {
		case err == nil && st.Confirmed:
			return st, st.Err
		case err != nil && !errors.Is(err, ErrNotFound):
			c.log.Debug("status poll failed", "sig", p.Signature, "err", err)
		case err != nil: // not found: has the blockhash expired?
			h, herr := c.BlockHeight(ctx)
			if herr == nil && h > p.LastValidBlockHeight {
				// It may have landed in the last valid block: look once more.
				if st, err := c.SignatureStatus(ctx, p.Signature); err == nil && st.Confirmed {
					return st, st.Err
				}
				return nil, fmt.Errorf("transaction %s: %w (height %d > %d)", p.Signature, ErrBlockhashExpired, h, p.LastValidBlockHeight)
			}
			if time.Since(lastSend) >= c.cfg.RebroadcastInterval {
				if err := c.send(ctx, p, true); err != nil && !errors.Is(err, ErrAlreadyProcessed) {
					c.log.Debug("rebroadcast failed", "sig", p.Signature, "err", err)
				}
				lastSend = time.Now()
			}
		}
		select {
		case <-ctx.Done():
			if parent.Err() != nil {
				return nil, fmt.Errorf("confirm %s: %w", p.Signature, parent.Err())
			}
			return nil, fmt.Errorf("transaction %s: %w after %v", p.Signature, ErrConfirmTimeout, c.cfg.ConfirmTimeout)
		case <-time.After(c.cfg.PollInterval):
		}
	}
}

// Submit sends p with preflight and waits for confirmation.
func (c *Client) Submit(ctx context.Context, p *Prepared) error {
	if err := c.Send(ctx, p); err != nil && !errors.Is(err, ErrAlreadyProcessed) {
		return err
	}
	if _, err := c.Confirm(ctx, p); err != nil {
		return err
	}
	c.log.Info("transaction confirmed", "sig", p.Signature)
	return nil
}

// memoInstruction builds a Memo (v2) instruction signed by signer.
func memoInstruction(text string, signer sol.PublicKey) (sol.Instruction, error) {
	if len(text) > MaxMemoLen {
		return nil, fmt.Errorf("%w: memo is %d bytes, max %d", ErrInvalidAmount, len(text), MaxMemoLen)
	}
	if !utf8.ValidString(text) {
		return nil, fmt.Errorf("%w: memo is not UTF-8", ErrInvalidAmount)
	}
	return memo.NewMemoInstruction([]byte(text), signer).Build(), nil
}

// Transfer describes a payment: Amount lamports of SOL when Mint is zero,
// otherwise Amount base units of the SPL token Mint.
type Transfer struct {
	From   sol.PrivateKey
	To     sol.PublicKey
	Amount uint64
	Mint   sol.PublicKey
	Memo   string
}

// BuildTransfer builds and signs a transfer. For SPL tokens it adds an
// idempotent creation of the recipient's associated token account when that
// account does not exist yet (paid by the sender).
func (c *Client) BuildTransfer(ctx context.Context, t Transfer) (*Prepared, error) {
	if t.Amount == 0 {
		return nil, fmt.Errorf("build transfer: %w: zero", ErrInvalidAmount)
	}
	from := t.From.PublicKey()
	if from.Equals(t.To) {
		return nil, fmt.Errorf("build transfer: %w: sender and recipient are the same", ErrInvalidAddress)
	}
	var ixs []sol.Instruction
	if t.Mint.IsZero() {
		ixs = append(ixs, system.NewTransferInstruction(t.Amount, from, t.To).Build())
	} else {
		tokenIxs, err := c.tokenTransferInstructions(ctx, from, t.To, t.Mint, t.Amount)
		if err != nil {
			return nil, err
		}
		ixs = append(ixs, tokenIxs...)
	}
	if t.Memo != "" {
		m, err := memoInstruction(t.Memo, from)
		if err != nil {
			return nil, err
		}
		ixs = append(ixs, m)
	}
	return c.Build(ctx, t.From, ixs)
}

// SendSOL transfers lamports and waits for confirmation.
func (c *Client) SendSOL(ctx context.Context, from sol.PrivateKey, to sol.PublicKey, lamports uint64, memo string) (sol.Signature, error) {
	p, err := c.BuildTransfer(ctx, Transfer{From: from, To: to, Amount: lamports, Memo: memo})
	if err != nil {
		return sol.Signature{}, err
	}
	return p.Signature, c.Submit(ctx, p)
}

// SendToken transfers SPL token base units and waits for confirmation.
func (c *Client) SendToken(ctx context.Context, from sol.PrivateKey, to, mint sol.PublicKey, amount uint64, memo string) (sol.Signature, error) {
	if mint.IsZero() {
		return sol.Signature{}, fmt.Errorf("send token: %w: no mint", ErrInvalidAddress)
	}
	p, err := c.BuildTransfer(ctx, Transfer{From: from, To: to, Amount: amount, Mint: mint, Memo: memo})
	if err != nil {
		return sol.Signature{}, err
	}
	return p.Signature, c.Submit(ctx, p)
}

// Simulation is what simulating a transaction predicts.
type Simulation struct {
	Err           error // a *TxError when the transaction would fail
	Logs          []string
	UnitsConsumed uint64
}

// Simulate runs p against the cluster's current state without sending it.
func (c *Client) Simulate(ctx context.Context, p *Prepared) (*Simulation, error) {
	var sim *Simulation
	err := c.call(ctx, "simulate transaction", p.programs(), func(ctx context.Context) error {
		out, err := c.rpc.SimulateRawTransactionWithOpts(ctx, p.Raw, &rpc.SimulateTransactionOpts{
			SigVerify:  true,
			Commitment: c.commitment,
		})
		if err != nil {
			return err
		}
		if out == nil || out.Value == nil {
			return fmt.Errorf("%w: empty simulation answer", ErrRPC)
		}
		sim = &Simulation{Logs: out.Value.Logs}
		if out.Value.UnitsConsumed != nil {
			sim.UnitsConsumed = *out.Value.UnitsConsumed
		}
		if out.Value.Err != nil {
			sim.Err = newTxError("", out.Value.Err, out.Value.Logs, p.programs())
		}
		return nil
	})
	return sim, err
}
