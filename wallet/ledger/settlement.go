package ledger

import (
	"fmt"
	"sort"
	"strings"
	"time"

	"github.com/hearth-p2p/hearth/wallet/receipt"
	bolt "go.etcd.io/bbolt"
)

// Payment is a confirmed incoming transaction seen on chain.
type Payment struct {
	Signature [64]byte
	Payer     receipt.PublicKey
	// Received is what this provider actually gained in the transaction per
	// currency (zero key: lamports), from the runtime's balance changes.
	Received map[receipt.PublicKey]uint64
	Digests  [][32]byte // receipts the memo names
	Time     time.Time  // block time
}

// Outcome is what a payment did to the ledger.
type Outcome string

// Outcomes of ApplyPayment.
const (
	OutcomeSettled      Outcome = "settled"      // every named receipt is now settled
	OutcomeInsufficient Outcome = "insufficient" // paid less than the named receipts need: nothing settled
	OutcomeUnknown      Outcome = "unknown"      // names no receipt this provider holds
	OutcomeWrongMint    Outcome = "wrong-mint"   // currency differs from a named receipt's
	OutcomeNothingDue   Outcome = "nothing-due"  // the named receipts were already settled
)

type paymentRecord struct {
	Payer   receipt.PublicKey `json:"payer"`
	Mint    receipt.PublicKey `json:"mint"`
	Amount  uint64            `json:"amount"`
	Needed  uint64            `json:"needed"`
	Outcome Outcome           `json:"outcome"`
	Time    time.Time         `json:"time"`
}

// ApplyPayment matches a confirmed payment against the receipts its memo
// names and, if what it delivered in their currency covers all of them (what
// each named receipt says is owed minus what its session already settled),
// marks them settled. A payment that falls short settles nothing. Applying
// the same transaction again returns the first outcome and changes nothing.
func (l *Ledger) ApplyPayment(p Payment) (Outcome, error) {
	var out Outcome
	err := l.db.Update(func(tx *bolt.Tx) error {
		payments := tx.Bucket(bucketProvPayments)
		var prev paymentRecord
		if found, err := getJSON(payments, p.Signature[:], &prev); err != nil || found {
			out = prev.Outcome
			return err
		}
		rec := paymentRecord{Payer: p.Payer, Time: p.Time}
		mint, targets, outcome, err := l.paymentTargets(tx, p)
		if err != nil {
			return err
		}
		rec.Outcome, rec.Mint, rec.Amount = outcome, mint, p.Received[mint]
		if outcome == "" {
			rec.Outcome, rec.Needed, err = l.settle(tx, rec.Amount, targets)
			if err != nil {
				return err
			}
		}
		out = rec.Outcome
		return putJSON(payments, p.Signature[:], &rec)
	})
	if err == nil {
		l.log.Info("payment applied", "receipts", len(p.Digests), "outcome", out)
	}
	return out, err
}

// paymentTargets finds the currency of the receipts a payment names and maps
// each of their sessions to the largest receipt amount named for it. A
// non-empty Outcome ends the matching.
func (l *Ledger) paymentTargets(tx *bolt.Tx, p Payment) (receipt.PublicKey, map[[16]byte]uint64, Outcome, error) {
	digests, sessions := tx.Bucket(bucketProvDigests), tx.Bucket(bucketProvSessions)
	targets := map[[16]byte]uint64{}
	var mint receipt.PublicKey
	for _, d := range p.Digests {
		var dr digestRecord
		found, err := getJSON(digests, d[:], &dr)
		if err != nil {
			return mint, nil, "", err
		}
		if !found {
			continue
		}
		var s provSession
		if _, err := getJSON(sessions, dr.Session[:], &s); err != nil {
			return mint, nil, "", err
		}
		if len(targets) == 0 {
			mint = s.Mint
		} else if s.Mint != mint {
			return mint, nil, OutcomeWrongMint, nil
		}
		targets[dr.Session] = max(targets[dr.Session], dr.Amount)
	}
	if len(targets) == 0 {
		return mint, nil, OutcomeUnknown, nil
	}
	return mint, targets, "", nil
}

func (l *Ledger) settle(tx *bolt.Tx, amount uint64, targets map[[16]byte]uint64) (Outcome, uint64, error) {
	sessions := tx.Bucket(bucketProvSessions)
	recs := map[[16]byte]*provSession{}
	var needed uint64
	for id, target := range targets {
		s := new(provSession)
		if _, err := getJSON(sessions, id[:], s); err != nil {
			return "", 0, err
		}
		recs[id] = s
		if target > s.Settled {
			needed += target - s.Settled
		}
	}
	switch {
	case needed == 0:
		return OutcomeNothingDue, 0, nil
	case amount < needed:
		return OutcomeInsufficient, needed, nil
	}
	day := l.day(l.now())
	consumers := map[receipt.PublicKey]bool{}
	for id, s := range recs {
		target := targets[id]
		if target <= s.Settled {
			continue
		}
		if err := addDay(tx, day, s.Mint, 0, target-s.Settled); err != nil {
			return "", 0, err
		}
		s.Settled = target
		latest, err := s.latest()
		if err != nil {
			return "", 0, err
		}
		if s.Settled >= latest.Amount {
			s.UnpaidSince = time.Time{}
		} else {
			// Paid up to an older receipt: the deadline restarts for the rest.
			s.UnpaidSince = l.now()
		}
		if err := putJSON(sessions, id[:], s); err != nil {
			return "", 0, err
		}
		consumers[s.Consumer] = true
	}
	for c := range consumers {
		if err := unbanIfPaidUp(tx, c); err != nil {
			return "", 0, err
		}
	}
	return OutcomeSettled, needed, nil
}

// PaymentOutcome returns what an already applied payment did, or ErrNotFound.
func (l *Ledger) PaymentOutcome(sig [64]byte) (Outcome, error) {
	var rec paymentRecord
	err := l.db.View(func(tx *bolt.Tx) error {
		found, err := getJSON(tx.Bucket(bucketProvPayments), sig[:], &rec)
		if err == nil && !found {
			return fmt.Errorf("payment %x: %w", sig[:8], ErrNotFound)
		}
		return err
	})
	return rec.Outcome, err
}

// Ban is a consumer on the local non-payer list.
type Ban struct {
	Consumer receipt.PublicKey `json:"consumer"`
	Since    time.Time         `json:"since"`
	Owed     uint64            `json:"owed"` // unsettled amount when banned (all mints)
}

// MarkNonPayers bans every consumer with a session that has been unpaid for
// longer than deadline and returns those newly banned.
func (l *Ledger) MarkNonPayers(deadline time.Duration) ([]Ban, error) {
	var out []Ban
	err := l.db.Update(func(tx *bolt.Tx) error {
		now := l.now()
		owed := map[receipt.PublicKey]uint64{}
		late := map[receipt.PublicKey]bool{}
		err := tx.Bucket(bucketProvSessions).ForEach(func(k, v []byte) error {
			var s provSession
			if _, err := getJSON(tx.Bucket(bucketProvSessions), k, &s); err != nil {
				return err
			}
			r, err := s.latest()
			if err != nil {
				return err
			}
			if r.Amount > s.Settled {
				owed[s.Consumer] += r.Amount - s.Settled
				if !s.UnpaidSince.IsZero() && now.Sub(s.UnpaidSince) > deadline {
					late[s.Consumer] = true
				}
			}
			return nil
		})
		if err != nil {
			return err
		}
		banned := tx.Bucket(bucketProvBanned)
		for c := range late {
			if banned.Get(c[:]) != nil {
				continue
			}
			b := Ban{Consumer: c, Since: now, Owed: owed[c]}
			if err := putJSON(banned, c[:], &b); err != nil {
				return err
			}
			out = append(out, b)
		}
		return nil
	})
	sort.Slice(out, func(i, j int) bool { return out[i].Consumer.String() < out[j].Consumer.String() })
	for _, b := range out {
		l.log.Warn("consumer banned as non-payer", "consumer", b.Consumer, "owed", b.Owed)
	}
	return out, err
}

// unbanIfPaidUp lifts a ban once none of the consumer's sessions owes anything.
func unbanIfPaidUp(tx *bolt.Tx, consumer receipt.PublicKey) error {
	banned := tx.Bucket(bucketProvBanned)
	if banned.Get(consumer[:]) == nil {
		return nil
	}
	sessions := tx.Bucket(bucketProvSessions)
	c := sessions.Cursor()
	for k, _ := c.First(); k != nil; k, _ = c.Next() {
		var s provSession
		if _, err := getJSON(sessions, k, &s); err != nil {
			return err
		}
		if s.Consumer != consumer {
			continue
		}
		r, err := s.latest()
		if err != nil {
			return err
		}
		if r.Amount > s.Settled {
			return nil
		}
	}
	return banned.Delete(consumer[:])
}

// IsBanned reports whether consumer is on the non-payer list.
func (l *Ledger) IsBanned(consumer receipt.PublicKey) (bool, error) {
	var banned bool
	err := l.db.View(func(tx *bolt.Tx) error {
		banned = tx.Bucket(bucketProvBanned).Get(consumer[:]) != nil
		return nil
	})
	return banned, err
}

// Unban removes consumer from the non-payer list.
func (l *Ledger) Unban(consumer receipt.PublicKey) error {
	return l.db.Update(func(tx *bolt.Tx) error { return tx.Bucket(bucketProvBanned).Delete(consumer[:]) })
}

// Banned lists the non-payer list.
func (l *Ledger) Banned() ([]Ban, error) {
	var out []Ban
	err := l.db.View(func(tx *bolt.Tx) error {
		return tx.Bucket(bucketProvBanned).ForEach(func(k, v []byte) error {
			var b Ban
			if _, err := getJSON(tx.Bucket(bucketProvBanned), k, &b); err != nil {
				return err
			}
			out = append(out, b)
			return nil
		})
	})
	return out, err
}

// Earnings summarises one currency: Earned is receipted, Settled confirmed
// on chain, Pending the difference; Days break both down by UTC day.
type Earnings struct {
	Mint                     receipt.PublicKey
	Earned, Settled, Pending uint64
	Sessions                 int
	Days                     []DayEarnings // oldest first
}

// DayEarnings is one UTC day's receipted and settled amounts.
type DayEarnings struct {
	Day             string // YYYY-MM-DD
	Earned, Settled uint64
}

// Earnings returns the provider's earnings per currency (SOL first).
func (l *Ledger) Earnings() ([]Earnings, error) {
	by := map[receipt.PublicKey]*Earnings{}
	get := func(m receipt.PublicKey) *Earnings {
		if e, ok := by[m]; ok {
			return e
		}
		e := &Earnings{Mint: m}
		by[m] = e
		return e
	}
	err := l.db.View(func(tx *bolt.Tx) error {
		sessions := tx.Bucket(bucketProvSessions)
		err := sessions.ForEach(func(k, v []byte) error {
			var s provSession
			if _, err := getJSON(sessions, k, &s); err != nil {
				return err
			}
			r, err := s.latest()
			if err != nil {
				return err
			}
			e := get(s.Mint)
			e.Earned += r.Amount
			e.Settled += min(s.Settled, r.Amount)
			e.Sessions++
			return nil
		})
		if err != nil {
			return err
		}
		days := tx.Bucket(bucketProvDays)
		return days.ForEach(func(k, v []byte) error {
			day, mintStr, ok := strings.Cut(string(k), "/")
			mint, err := receipt.ParsePublicKey(mintStr)
			if !ok || err != nil {
				return fmt.Errorf("%w: day key %q", ErrCorrupt, k)
			}
			var d dayRecord
			if _, err := getJSON(days, k, &d); err != nil {
				return err
			}
			e := get(mint)
			e.Days = append(e.Days, DayEarnings{Day: day, Earned: d.Earned, Settled: d.Settled})
			return nil
		})
	})
	if err != nil {
		return nil, err
	}
	out := make([]Earnings, 0, len(by))
	for _, e := range by {
		e.Pending = e.Earned - e.Settled
		out = append(out, *e)
	}
	sort.Slice(out, func(i, j int) bool {
		if out[i].Mint.IsZero() != out[j].Mint.IsZero() {
			return out[i].Mint.IsZero()
		}
		return out[i].Mint.String() < out[j].Mint.String()
	})
	return out, nil
}

// ReceiptMints lists the currencies of the receipts this provider holds, so
// the settlement watcher knows which token accounts to scan.
func (l *Ledger) ReceiptMints() ([]receipt.PublicKey, error) {
	es, err := l.Earnings()
	if err != nil {
		return nil, err
	}
	out := make([]receipt.PublicKey, 0, len(es))
	for _, e := range es {
		if e.Sessions > 0 {
			out = append(out, e.Mint)
		}
	}
	return out, nil
}
