package solana

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/url"
	"strings"
	"syscall"

	sol "github.com/gagliardetto/solana-go"
	"github.com/gagliardetto/solana-go/rpc/jsonrpc"
)

var (
	// ErrConfig reports an invalid Config.
	ErrConfig = errors.New("invalid solana config")
	// ErrRPCUnreachable means the RPC endpoint could not be reached.
	ErrRPCUnreachable = errors.New("solana rpc unreachable")
	// ErrRPC is an error answer from the RPC node that has no better name.
	ErrRPC = errors.New("solana rpc error")
	// ErrInsufficientFunds means the payer cannot cover the amount, rent or fee.
	ErrInsufficientFunds = errors.New("insufficient funds")
	// ErrTransactionFailed means the transaction was rejected or failed on chain.
	ErrTransactionFailed = errors.New("transaction failed")
	// ErrAlreadyProcessed means the cluster has already executed this very transaction.
	ErrAlreadyProcessed = errors.New("transaction already processed")
	// ErrBlockhashExpired means the transaction's blockhash expired before it
	// landed: it never will, and a new transaction is needed.
	ErrBlockhashExpired = errors.New("blockhash expired before confirmation")
	// ErrConfirmTimeout means confirmation did not arrive within ConfirmTimeout;
	// the transaction may still land until its blockhash expires.
	ErrConfirmTimeout = errors.New("confirmation timed out")
	// ErrAirdropUnavailable means the cluster gives no airdrops.
	ErrAirdropUnavailable = errors.New("airdrop unavailable on this cluster")
	// ErrNotFound means the account or transaction does not exist.
	ErrNotFound = errors.New("not found")
	// ErrInvalidAddress reports a malformed base58 address.
	ErrInvalidAddress = errors.New("invalid address")
	// ErrInvalidAmount reports an amount that cannot be sent.
	ErrInvalidAmount = errors.New("invalid amount")
)

// TxError is a transaction error reported by the cluster (preflight
// simulation or execution), with the program logs that explain it.
type TxError struct {
	Message string   // the RPC node's message, or a rendering of Err
	Err     any      // Solana's error JSON, e.g. {"InstructionError":[0,{"Custom":1}]}
	Logs    []string // program logs
	kind    error    // ErrInsufficientFunds, ErrAlreadyProcessed or ErrTransactionFailed
}

func (e *TxError) Error() string {
	msg := e.Message
	if msg == "" {
		b, _ := json.Marshal(e.Err)
		msg = string(b)
	}
	// The most telling log line, e.g. "Transfer: insufficient lamports 5, need 10".
	for _, l := range e.Logs {
		if strings.Contains(strings.ToLower(l), "insufficient") || strings.HasPrefix(l, "Program log: Error:") {
			msg += " (" + l + ")"
			break
		}
	}
	return e.kind.Error() + ": " + msg
}

func (e *TxError) Unwrap() error { return e.kind }

// newTxError classifies a Solana transaction error. programs are the message's
// program ids per instruction, to name custom errors; nil if unknown.
func newTxError(message string, errJSON any, logs []string, programs []sol.PublicKey) *TxError {
	e := &TxError{Message: message, Err: errJSON, Logs: logs, kind: ErrTransactionFailed}
	switch v := errJSON.(type) {
	case string:
		switch v {
		case "InsufficientFundsForFee", "AccountNotFound":
			// AccountNotFound: the fee payer has never held SOL.
			e.kind = ErrInsufficientFunds
		case "AlreadyProcessed":
			e.kind = ErrAlreadyProcessed
		}
	case map[string]any:
		if _, ok := v["InsufficientFundsForRent"]; ok {
			e.kind = ErrInsufficientFunds
		}
		if ie, ok := v["InstructionError"].([]any); ok && len(ie) == 2 {
			if insufficientInstruction(ie, programs) {
				e.kind = ErrInsufficientFunds
			}
		}
	}
	if e.kind == ErrTransactionFailed {
		for _, l := range logs {
			ll := strings.ToLower(l)
			if strings.Contains(ll, "insufficient lamports") || strings.Contains(ll, "error: insufficient funds") {
				e.kind = ErrInsufficientFunds
			}
		}
	}
	return e
}

// insufficientInstruction recognises InstructionError(i, X) meaning "not
// enough": the generic InsufficientFunds, the System program's custom error 1
// (ResultWithNegativeLamports) and the Token program's custom error 1
// (InsufficientFunds).
func insufficientInstruction(ie []any, programs []sol.PublicKey) bool {
	if s, ok := ie[1].(string); ok {
		return s == "InsufficientFunds"
	}
	m, ok := ie[1].(map[string]any)
	if !ok {
		return false
	}
	code, ok := jsonInt(m["Custom"])
	if !ok || code != 1 {
		return false
	}
	idx, ok := jsonInt(ie[0])
	if !ok || programs == nil || idx < 0 || int(idx) >= len(programs) {
		return false
	}
	p := programs[idx]
	return p.Equals(sol.SystemProgramID) || p.Equals(sol.TokenProgramID) || p.Equals(sol.Token2022ProgramID)
}

func jsonInt(v any) (int64, bool) {
	switch n := v.(type) {
	case json.Number:
		i, err := n.Int64()
		return i, err == nil
	case float64:
		return int64(n), n == float64(int64(n))
	case int64:
		return n, true
	case int:
		return int64(n), true
	}
	return 0, false
}

// classify turns an error from solana-go's rpc client into this package's
// errors. programs names the instructions of a transaction being sent.
func classify(op string, err error, programs []sol.PublicKey) error {
	if err == nil {
		return nil
	}
	if errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded) {
		return fmt.Errorf("%s: %w", op, err)
	}
	var rpcErr *jsonrpc.RPCError
	if errors.As(err, &rpcErr) {
		return fmt.Errorf("%s: %w", op, rpcErrorToError(rpcErr, programs))
	}
	var httpErr *jsonrpc.HTTPError
	if errors.As(err, &httpErr) {
		if httpErr.Code >= 500 || httpErr.Code == 429 {
			return fmt.Errorf("%s: %w: HTTP %d", op, ErrRPCUnreachable, httpErr.Code)
		}
		return fmt.Errorf("%s: %w: HTTP %d", op, ErrRPC, httpErr.Code)
	}
	if transportError(err) {
		return fmt.Errorf("%s: %w: %v", op, ErrRPCUnreachable, rootCause(err))
	}
	return fmt.Errorf("%s: %w", op, err)
}

func rpcErrorToError(e *jsonrpc.RPCError, programs []sol.PublicKey) error {
	switch e.Code {
	case -32002: // preflight simulation failed
		data, _ := e.Data.(map[string]any)
		var logs []string
		if ls, ok := data["logs"].([]any); ok {
			for _, l := range ls {
				if s, ok := l.(string); ok {
					logs = append(logs, s)
				}
			}
		}
		msg := strings.TrimPrefix(e.Message, "Transaction simulation failed: ")
		return newTxError(msg, data["err"], logs, programs)
	case -32003:
		return &TxError{Message: e.Message, Err: "SignatureFailure", kind: ErrTransactionFailed}
	case -32005: // node is unhealthy / behind
		return fmt.Errorf("%w: %s", ErrRPCUnreachable, e.Message)
	}
	return fmt.Errorf("%w: %s (code %d)", ErrRPC, e.Message, e.Code)
}

// transportError reports network-level failures: refused, reset, DNS, timeouts, EOF.
func transportError(err error) bool {
	var netErr net.Error
	var opErr *net.OpError
	var dnsErr *net.DNSError
	var urlErr *url.Error
	return errors.As(err, &opErr) || errors.As(err, &dnsErr) || errors.As(err, &netErr) ||
		errors.As(err, &urlErr) || errors.Is(err, syscall.ECONNREFUSED) || errors.Is(err, syscall.ECONNRESET) ||
		errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF)
}

func rootCause(err error) error {
	for {
		u := errors.Unwrap(err)
		if u == nil {
			return err
		}
		err = u
	}
}

// retryable reports whether a classified error is worth another attempt.
func retryable(err error) bool {
	return errors.Is(err, ErrRPCUnreachable)
}
