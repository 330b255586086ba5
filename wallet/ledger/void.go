package ledger

import (
	"bytes"
	"fmt"
	"sort"
	"time"

	"github.com/hearth-p2p/hearth/wallet/receipt"
	bolt "go.etcd.io/bbolt"
)

// VoidedSession is a session whose unpaid work this node wrote off.
type VoidedSession struct {
	Session  [16]byte
	Provider receipt.PublicKey // zero when voided before any receipt
	Mint     receipt.PublicKey
	// WrittenOff is what its latest receipt said beyond what was paid.
	WrittenOff uint64
	Reason     string
	At         time.Time
}

// VoidIssued writes off the unpaid work of one session this node paid for
// as a consumer — its provider was caught returning a wrong result: the
// session is no longer owed, and a payment for it is refused (ErrVoided).
// A session not recorded yet is voided ahead of its receipts (they are
// recorded after the pipeline closes), so they are never owed either.
// What a payment already in flight covers is not recalled. Voiding again
// changes nothing (the first reason stands).
func (l *Ledger) VoidIssued(session [16]byte, reason string) error {
	if reason == "" {
		reason = "voided"
	}
	var writtenOff uint64
	voided := false
	err := l.db.Update(func(tx *bolt.Tx) error {
		b := tx.Bucket(bucketConsSessions)
		var s consSession
		if _, err := getJSON(b, session[:], &s); err != nil {
			return err
		}
		if s.Voided != "" {
			return nil
		}
		if s.Receipt != nil {
			var r receipt.Signed
			if err := r.UnmarshalBinary(s.Receipt); err != nil {
				return fmt.Errorf("%w: stored receipt: %v", ErrCorrupt, err)
			}
			writtenOff = r.Amount - min(r.Amount, s.Paid)
		}
		now := l.now()
		s.Voided, s.VoidedAt, s.Updated = reason, now, now
		voided = true
		return putJSON(b, session[:], &s)
	})
	if err != nil {
		return fmt.Errorf("void session %x: %w", session[:4], err)
	}
	if voided {
		l.log.Warn("session voided", "session", fmt.Sprintf("%x", session), "written_off", writtenOff, "reason", reason)
	}
	return nil
}

// Voided lists the voided sessions, oldest first.
func (l *Ledger) Voided() ([]VoidedSession, error) {
	var out []VoidedSession
	err := l.db.View(func(tx *bolt.Tx) error {
		b := tx.Bucket(bucketConsSessions)
		return b.ForEach(func(k, _ []byte) error {
			var s consSession
			if _, err := getJSON(b, k, &s); err != nil {
				return err
			}
			if s.Voided == "" {
				return nil
			}
			v := VoidedSession{Provider: s.Provider, Mint: s.Mint, Reason: s.Voided, At: s.VoidedAt}
			copy(v.Session[:], k)
			if s.Receipt != nil {
				var r receipt.Signed
				if err := r.UnmarshalBinary(s.Receipt); err != nil {
					return fmt.Errorf("%w: stored receipt: %v", ErrCorrupt, err)
				}
				v.WrittenOff = r.Amount - min(r.Amount, s.Paid)
			}
			out = append(out, v)
			return nil
		})
	})
	sort.Slice(out, func(i, j int) bool {
		if !out[i].At.Equal(out[j].At) {
			return out[i].At.Before(out[j].At)
		}
		return bytes.Compare(out[i].Session[:], out[j].Session[:]) < 0
	})
	return out, err
}
