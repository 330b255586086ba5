package ledger

import (
	"bytes"
	"errors"
	"fmt"
	"time"

	"github.com/hearth-p2p/hearth/wallet/receipt"
	bolt "go.etcd.io/bbolt"
)

// provSession is the provider's record of one session.
type provSession struct {
	Receipt     []byte            `json:"receipt"` // latest signed receipt, canonical binary
	Consumer    receipt.PublicKey `json:"consumer"`
	Mint        receipt.PublicKey `json:"mint"`
	Settled     uint64            `json:"settled"` // amount confirmed paid on chain
	FirstSeen   time.Time         `json:"first_seen"`
	Updated     time.Time         `json:"updated"`
	UnpaidSince time.Time         `json:"unpaid_since,omitzero"` // when Settled first fell behind
}

func (s *provSession) latest() (receipt.Signed, error) {
	var r receipt.Signed
	if err := r.UnmarshalBinary(s.Receipt); err != nil {
		return r, fmt.Errorf("%w: stored receipt: %v", ErrCorrupt, err)
	}
	return r, nil
}

// digestRecord indexes every accepted receipt by digest, for memos.
type digestRecord struct {
	Session [16]byte `json:"session"`
	Amount  uint64   `json:"amount"`
	Seq     uint64   `json:"seq"`
}

type dayRecord struct {
	Earned  uint64 `json:"earned"`
	Settled uint64 `json:"settled"`
}

func dayKey(day string, mint receipt.PublicKey) []byte {
	return []byte(day + "/" + mint.String())
}

func addDay(tx *bolt.Tx, day string, mint receipt.PublicKey, earned, settled uint64) error {
	b := tx.Bucket(bucketProvDays)
	var d dayRecord
	if _, err := getJSON(b, dayKey(day, mint), &d); err != nil {
		return err
	}
	d.Earned += earned
	d.Settled += settled
	return putJSON(b, dayKey(day, mint), &d)
}

// AcceptReceipt verifies a receipt a consumer sent this provider and stores
// it as the session's latest. Replaying a receipt already stored (the latest
// or an older one) is a no-op. It rejects forged signatures (ErrBadReceipt),
// receipts for another provider, receipts that disagree with the session's
// consumer, model, layers or mint, receipts that go back in seq, units or
// amount (ErrNonMonotonic), a second receipt for the same seq (ErrConflict),
// and, when price is not nil, amounts below the price. It returns the amount
// newly earned.
func (l *Ledger) AcceptReceipt(sr receipt.Signed, provider receipt.PublicKey, price *receipt.Price) (uint64, error) {
	if err := sr.Verify(); err != nil {
		return 0, fmt.Errorf("%w: %w", ErrBadReceipt, err)
	}
	if sr.Provider != provider {
		return 0, fmt.Errorf("%w: %s", ErrWrongProvider, sr.Provider)
	}
	if price != nil {
		if err := price.Check(&sr.Receipt); err != nil {
			return 0, fmt.Errorf("%w: %w", ErrBadReceipt, err)
		}
	}
	raw, err := sr.MarshalBinary()
	if err != nil {
		return 0, fmt.Errorf("encode receipt: %w", err)
	}
	digest := sr.Digest()
	var added uint64
	err = l.db.Update(func(tx *bolt.Tx) error {
		sessions, digests := tx.Bucket(bucketProvSessions), tx.Bucket(bucketProvDigests)
		now := l.now()
		var s provSession
		found, err := getJSON(sessions, sr.Session[:], &s)
		if err != nil {
			return err
		}
		var prevAmount uint64
		if found {
			prev, err := s.latest()
			if err != nil {
				return err
			}
			if err := checkSuccessor(&prev, &sr, raw, digests.Get(digest[:]) != nil); err != nil {
				return err
			}
			if sr.Seq == prev.Seq || digests.Get(digest[:]) != nil {
				return nil // replay: nothing to do
			}
			prevAmount = prev.Amount
		} else {
			s = provSession{Consumer: sr.Consumer, Mint: sr.Mint, FirstSeen: now}
		}
		added = sr.Amount - prevAmount
		s.Receipt, s.Updated = raw, now
		if s.Settled < sr.Amount && s.UnpaidSince.IsZero() {
			s.UnpaidSince = now
		}
		if err := putJSON(sessions, sr.Session[:], &s); err != nil {
			return err
		}
		if err := putJSON(digests, digest[:], &digestRecord{Session: sr.Session, Amount: sr.Amount, Seq: sr.Seq}); err != nil {
			return err
		}
		return addDay(tx, l.day(now), sr.Mint, added, 0)
	})
	if err != nil {
		return 0, err
	}
	if added > 0 {
		l.log.Debug("receipt accepted", "session", fmt.Sprintf("%x", sr.Session), "seq", sr.Seq, "amount", sr.Amount)
	}
	return added, nil
}

// checkSuccessor decides whether next may follow prev in a session. known
// reports whether next's digest is already stored (an older receipt replayed).
func checkSuccessor(prev, next *receipt.Signed, nextRaw []byte, known bool) error {
	if prev.Consumer != next.Consumer || prev.Provider != next.Provider || prev.Model != next.Model ||
		prev.From != next.From || prev.To != next.To || prev.Mint != next.Mint {
		return ErrSessionMismatch
	}
	switch {
	case next.Seq == prev.Seq:
		prevRaw, _ := prev.MarshalBinary()
		if !bytes.Equal(prevRaw[:receipt.EncodedLen], nextRaw[:receipt.EncodedLen]) {
			return fmt.Errorf("%w: seq %d", ErrConflict, next.Seq)
		}
		return nil
	case next.Seq < prev.Seq:
		if known {
			return nil
		}
		return fmt.Errorf("%w: seq %d after %d", ErrNonMonotonic, next.Seq, prev.Seq)
	case next.Units < prev.Units:
		return fmt.Errorf("%w: units %d after %d", ErrNonMonotonic, next.Units, prev.Units)
	case next.Amount < prev.Amount:
		return fmt.Errorf("%w: amount %d after %d", ErrNonMonotonic, next.Amount, prev.Amount)
	}
	return nil
}

// Receipted returns the latest receipt stored for a session, or ErrNotFound.
func (l *Ledger) Receipted(session [16]byte) (receipt.Signed, error) {
	var out receipt.Signed
	err := l.db.View(func(tx *bolt.Tx) error {
		var s provSession
		found, err := getJSON(tx.Bucket(bucketProvSessions), session[:], &s)
		if err != nil {
			return err
		}
		if !found {
			return fmt.Errorf("session %x: %w", session, ErrNotFound)
		}
		out, err = s.latest()
		return err
	})
	return out, err
}

// UnreceiptedCredit is how many of the served units of a session (as the
// shard server counts them) no receipt covers yet.
func (l *Ledger) UnreceiptedCredit(session [16]byte, served uint64) (uint64, error) {
	r, err := l.Receipted(session)
	if errors.Is(err, ErrNotFound) {
		return served, nil
	}
	if err != nil {
		return 0, err
	}
	if served <= r.Units {
		return 0, nil
	}
	return served - r.Units, nil
}

// CheckCredit is what the shard server asks before serving more: ErrBanned
// if the consumer is a known non-payer, ErrCreditExceeded if more than limit
// of the served units are unreceipted. Read-only; cheap enough per step.
func (l *Ledger) CheckCredit(session [16]byte, consumer receipt.PublicKey, served, limit uint64) error {
	banned, err := l.IsBanned(consumer)
	if err != nil {
		return err
	}
	if banned {
		return fmt.Errorf("%w: %s", ErrBanned, consumer)
	}
	open, err := l.UnreceiptedCredit(session, served)
	if err != nil {
		return err
	}
	if open > limit {
		return fmt.Errorf("%w: %d units unreceipted, limit %d", ErrCreditExceeded, open, limit)
	}
	return nil
}
