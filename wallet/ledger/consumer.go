package ledger

import (
	"bytes"
	"fmt"
	"sort"
	"time"

	"github.com/hearth-p2p/hearth/wallet/receipt"
	bolt "go.etcd.io/bbolt"
)

// consSession is the consumer's record of one session it pays for.
type consSession struct {
	Receipt  []byte            `json:"receipt"` // latest receipt this node signed
	Provider receipt.PublicKey `json:"provider"`
	Mint     receipt.PublicKey `json:"mint"`
	Paid     uint64            `json:"paid"`             // confirmed on chain
	Intent   []byte            `json:"intent,omitempty"` // signature of the open payment covering it
	Updated  time.Time         `json:"updated"`
	// Voided says why the unpaid work was written off (VoidIssued); a
	// voided session is never owed. Receipt is empty when it was voided
	// before any receipt was recorded.
	Voided   string    `json:"voided,omitempty"`
	VoidedAt time.Time `json:"voided_at,omitzero"`
}

// RecordIssued stores a receipt this node signed as a consumer, keeping the
// latest per session; the same monotonicity rules as AcceptReceipt apply.
func (l *Ledger) RecordIssued(sr receipt.Signed) error {
	if err := sr.Verify(); err != nil {
		return fmt.Errorf("%w: %w", ErrBadReceipt, err)
	}
	raw, err := sr.MarshalBinary()
	if err != nil {
		return fmt.Errorf("encode receipt: %w", err)
	}
	return l.db.Update(func(tx *bolt.Tx) error {
		b := tx.Bucket(bucketConsSessions)
		var s consSession
		found, err := getJSON(b, sr.Session[:], &s)
		if err != nil {
			return err
		}
		if found && s.Receipt == nil { // voided before its first receipt
			s.Provider, s.Mint = sr.Provider, sr.Mint
		} else if found {
			var prev receipt.Signed
			if err := prev.UnmarshalBinary(s.Receipt); err != nil {
				return fmt.Errorf("%w: stored receipt: %v", ErrCorrupt, err)
			}
			if err := checkSuccessor(&prev, &sr, raw, false); err != nil {
				return err
			}
			if sr.Seq <= prev.Seq {
				return nil
			}
		} else {
			s = consSession{Provider: sr.Provider, Mint: sr.Mint}
		}
		s.Receipt, s.Updated = raw, l.now()
		return putJSON(b, sr.Session[:], &s)
	})
}

// Due is one session's share of a payment: bring Paid up to Target, the
// amount of the receipt named by Digest.
type Due struct {
	Session [16]byte `json:"session"`
	Target  uint64   `json:"target"`
	Paid    uint64   `json:"paid"`
	Digest  [32]byte `json:"digest"`
}

// Owed is what this node owes one provider in one currency.
type Owed struct {
	Provider receipt.PublicKey
	Mint     receipt.PublicKey
	Amount   uint64
	Sessions []Due
}

// Owed lists unpaid amounts per provider and currency, leaving out sessions
// that have a payment in flight and voided ones.
func (l *Ledger) Owed() ([]Owed, error) {
	type key struct{ p, m receipt.PublicKey }
	by := map[key]*Owed{}
	err := l.db.View(func(tx *bolt.Tx) error {
		b := tx.Bucket(bucketConsSessions)
		return b.ForEach(func(k, v []byte) error {
			var s consSession
			if _, err := getJSON(b, k, &s); err != nil {
				return err
			}
			if s.Voided != "" {
				return nil
			}
			var r receipt.Signed
			if err := r.UnmarshalBinary(s.Receipt); err != nil {
				return fmt.Errorf("%w: stored receipt: %v", ErrCorrupt, err)
			}
			if s.Intent != nil || r.Amount <= s.Paid {
				return nil
			}
			o := by[key{s.Provider, s.Mint}]
			if o == nil {
				o = &Owed{Provider: s.Provider, Mint: s.Mint}
				by[key{s.Provider, s.Mint}] = o
			}
			o.Amount += r.Amount - s.Paid
			o.Sessions = append(o.Sessions, Due{Session: r.Session, Target: r.Amount, Paid: s.Paid, Digest: r.Digest()})
			return nil
		})
	})
	if err != nil {
		return nil, err
	}
	out := make([]Owed, 0, len(by))
	for _, o := range by {
		out = append(out, *o)
	}
	sort.Slice(out, func(i, j int) bool {
		if out[i].Provider != out[j].Provider {
			return bytes.Compare(out[i].Provider[:], out[j].Provider[:]) < 0
		}
		return bytes.Compare(out[i].Mint[:], out[j].Mint[:]) < 0
	})
	return out, nil
}

// Intent is a payment recorded before its transaction is sent.
type Intent struct {
	Signature            [64]byte          `json:"signature"`
	Provider             receipt.PublicKey `json:"provider"`
	Mint                 receipt.PublicKey `json:"mint"`
	Amount               uint64            `json:"amount"`
	Sessions             []Due             `json:"sessions"`
	Raw                  []byte            `json:"raw"` // the signed transaction
	LastValidBlockHeight uint64            `json:"last_valid_block_height"`
	Created              time.Time         `json:"created"`
	Confirmed            time.Time         `json:"confirmed,omitzero"`
}

// RecordIntent durably records a payment before it is sent. It checks the
// intent against the sessions (same provider and currency, amount = Σ target −
// paid) and fails with ErrIntentOpen if one of them is already being paid.
func (l *Ledger) RecordIntent(in Intent) error {
	if len(in.Raw) == 0 || len(in.Sessions) == 0 || in.Amount == 0 {
		return fmt.Errorf("record intent: empty intent")
	}
	if in.Created.IsZero() {
		in.Created = l.now()
	}
	return l.db.Update(func(tx *bolt.Tx) error {
		b := tx.Bucket(bucketConsSessions)
		var sum uint64
		for _, d := range in.Sessions {
			var s consSession
			found, err := getJSON(b, d.Session[:], &s)
			if err != nil {
				return err
			}
			if !found {
				return fmt.Errorf("record intent: session %x: %w", d.Session, ErrNotFound)
			}
			if s.Intent != nil {
				return fmt.Errorf("record intent: session %x: %w", d.Session, ErrIntentOpen)
			}
			if s.Voided != "" {
				return fmt.Errorf("record intent: session %x: %w", d.Session, ErrVoided)
			}
			if s.Provider != in.Provider || s.Mint != in.Mint || d.Paid != s.Paid || d.Target <= s.Paid {
				return fmt.Errorf("record intent: session %x: %w", d.Session, ErrSessionMismatch)
			}
			sum += d.Target - d.Paid
			s.Intent = in.Signature[:]
			if err := putJSON(b, d.Session[:], &s); err != nil {
				return err
			}
		}
		if sum != in.Amount {
			return fmt.Errorf("record intent: amount %d, sessions owe %d: %w", in.Amount, sum, ErrSessionMismatch)
		}
		return putJSON(tx.Bucket(bucketConsIntents), in.Signature[:], &in)
	})
}

// OpenIntents lists payments recorded but not yet resolved, oldest first.
func (l *Ledger) OpenIntents() ([]Intent, error) {
	out, err := l.listIntents(bucketConsIntents)
	sort.Slice(out, func(i, j int) bool { return out[i].Created.Before(out[j].Created) })
	return out, err
}

// Payments lists confirmed payments, oldest first.
func (l *Ledger) Payments() ([]Intent, error) {
	out, err := l.listIntents(bucketConsPaid)
	sort.Slice(out, func(i, j int) bool { return out[i].Confirmed.Before(out[j].Confirmed) })
	return out, err
}

func (l *Ledger) listIntents(bucket []byte) ([]Intent, error) {
	var out []Intent
	err := l.db.View(func(tx *bolt.Tx) error {
		b := tx.Bucket(bucket)
		return b.ForEach(func(k, v []byte) error {
			var in Intent
			if _, err := getJSON(b, k, &in); err != nil {
				return err
			}
			out = append(out, in)
			return nil
		})
	})
	return out, err
}

// ConfirmIntent records that the payment is confirmed on chain: its sessions
// count as paid up to their targets. Confirming twice is a no-op.
func (l *Ledger) ConfirmIntent(sig [64]byte) error {
	return l.resolveIntent(sig, true)
}

// AbandonIntent records that the payment can never land (blockhash expired
// without it, or it failed on chain); its sessions are owed again.
func (l *Ledger) AbandonIntent(sig [64]byte) error {
	return l.resolveIntent(sig, false)
}

func (l *Ledger) resolveIntent(sig [64]byte, paid bool) error {
	return l.db.Update(func(tx *bolt.Tx) error {
		intents, sessions := tx.Bucket(bucketConsIntents), tx.Bucket(bucketConsSessions)
		var in Intent
		found, err := getJSON(intents, sig[:], &in)
		if err != nil {
			return err
		}
		if !found {
			if paid && tx.Bucket(bucketConsPaid).Get(sig[:]) != nil {
				return nil
			}
			return fmt.Errorf("intent %x: %w", sig[:8], ErrNotFound)
		}
		for _, d := range in.Sessions {
			var s consSession
			if _, err := getJSON(sessions, d.Session[:], &s); err != nil {
				return err
			}
			if !bytes.Equal(s.Intent, sig[:]) {
				return fmt.Errorf("%w: session %x is not held by intent %x", ErrCorrupt, d.Session, sig[:8])
			}
			s.Intent = nil
			if paid {
				s.Paid = max(s.Paid, d.Target)
			}
			if err := putJSON(sessions, d.Session[:], &s); err != nil {
				return err
			}
		}
		if err := intents.Delete(sig[:]); err != nil {
			return err
		}
		if !paid {
			return nil
		}
		in.Confirmed = l.now()
		in.Raw = nil
		return putJSON(tx.Bucket(bucketConsPaid), sig[:], &in)
	})
}
