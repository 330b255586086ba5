// Package ledger is the wallet's crash-safe record of metering and payments,
// in one bbolt file.
//
// Provider side: verified receipts per session (the latest cumulative one),
// what was settled on chain, earnings per day, the credit check the shard
// server uses to pause serving, and a local ban list of consumers that do not
// pay. Consumer side: the receipts this node signed, what it owes each
// provider (less the sessions of providers caught cheating, written off),
// and payment intents recorded before a transaction is sent, so a
// crash between sending and recording can be resolved against the chain
// instead of paying twice.
package ledger

import (
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"time"

	bolt "go.etcd.io/bbolt"
)

var (
	// ErrBadReceipt wraps receipts that fail decoding or signature verification.
	ErrBadReceipt = errors.New("bad receipt")
	// ErrWrongProvider means a receipt names another provider.
	ErrWrongProvider = errors.New("receipt is for another provider")
	// ErrSessionMismatch means a receipt's fixed fields differ from its session's.
	ErrSessionMismatch = errors.New("receipt does not match its session")
	// ErrNonMonotonic means a receipt goes back in seq, units or amount.
	ErrNonMonotonic = errors.New("receipt is not monotonic")
	// ErrConflict means two different receipts claim the same seq.
	ErrConflict = errors.New("conflicting receipt for the same seq")
	// ErrCreditExceeded means unreceipted work passed the provider's limit.
	ErrCreditExceeded = errors.New("unreceipted credit limit exceeded")
	// ErrBanned means the consumer is on the local non-payer list.
	ErrBanned = errors.New("consumer banned as a non-payer")
	// ErrIntentOpen means a session already has an unresolved payment.
	ErrIntentOpen = errors.New("payment already in flight")
	// ErrNotFound means the record does not exist.
	ErrNotFound = errors.New("not found")
	// ErrVoided means a session's unpaid work was written off (VoidIssued).
	ErrVoided = errors.New("session voided")
	// ErrCorrupt means a stored record cannot be decoded.
	ErrCorrupt = errors.New("ledger record corrupt")
)

// Bucket names. Keys: sessions 16 bytes, digests 32, signatures 64,
// consumers 32, days "YYYY-MM-DD/<mint>".
var (
	bucketMeta         = []byte("meta")
	bucketProvSessions = []byte("provider/sessions")
	bucketProvDigests  = []byte("provider/digests")
	bucketProvPayments = []byte("provider/payments")
	bucketProvDays     = []byte("provider/days")
	bucketProvBanned   = []byte("provider/banned")
	bucketConsSessions = []byte("consumer/sessions")
	bucketConsIntents  = []byte("consumer/intents")
	bucketConsPaid     = []byte("consumer/paid")
	bucketCursors      = []byte("provider/cursors")
	allBuckets         = [][]byte{
		bucketMeta, bucketProvSessions, bucketProvDigests, bucketProvPayments, bucketProvDays,
		bucketProvBanned, bucketConsSessions, bucketConsIntents, bucketConsPaid, bucketCursors,
	}
)

const schemaVersion = 1

// Ledger is an open ledger file. It is safe for concurrent use; bbolt
// serialises writers.
type Ledger struct {
	db  *bolt.DB
	log *slog.Logger
	now func() time.Time
}

// Option configures Open.
type Option func(*Ledger)

// WithClock replaces time.Now (tests, and days in UTC are computed from it).
func WithClock(now func() time.Time) Option { return func(l *Ledger) { l.now = now } }

// Open opens (creating if needed) the ledger file at path, mode 0600.
func Open(path string, log *slog.Logger, opts ...Option) (*Ledger, error) {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		return nil, fmt.Errorf("create ledger directory: %w", err)
	}
	db, err := bolt.Open(path, 0o600, &bolt.Options{Timeout: 5 * time.Second})
	if err != nil {
		return nil, fmt.Errorf("open ledger %s: %w", path, err)
	}
	l := &Ledger{db: db, log: log.With("sub", "ledger"), now: time.Now}
	for _, o := range opts {
		o(l)
	}
	err = db.Update(func(tx *bolt.Tx) error {
		for _, b := range allBuckets {
			if _, err := tx.CreateBucketIfNotExists(b); err != nil {
				return err
			}
		}
		meta := tx.Bucket(bucketMeta)
		if v := meta.Get([]byte("schema")); v != nil && string(v) != fmt.Sprint(schemaVersion) {
			return fmt.Errorf("%w: schema %s, this build reads %d", ErrCorrupt, v, schemaVersion)
		}
		return meta.Put([]byte("schema"), []byte(fmt.Sprint(schemaVersion)))
	})
	if err != nil {
		_ = db.Close()
		return nil, fmt.Errorf("init ledger: %w", err)
	}
	return l, nil
}

// Close closes the file.
func (l *Ledger) Close() error { return l.db.Close() }

func (l *Ledger) day(t time.Time) string { return t.UTC().Format("2006-01-02") }

func getJSON(b *bolt.Bucket, key []byte, v any) (bool, error) {
	raw := b.Get(key)
	if raw == nil {
		return false, nil
	}
	if err := json.Unmarshal(raw, v); err != nil {
		return true, fmt.Errorf("%w: record %x: %v", ErrCorrupt, key, err)
	}
	return true, nil
}

func putJSON(b *bolt.Bucket, key []byte, v any) error {
	raw, err := json.Marshal(v)
	if err != nil {
		return fmt.Errorf("encode record: %w", err)
	}
	return b.Put(key, raw)
}

// Cursor returns a named scan position (e.g. the newest transaction the
// settlement watcher has processed for an address), or nil.
func (l *Ledger) Cursor(name string) ([]byte, error) {
	var out []byte
	err := l.db.View(func(tx *bolt.Tx) error {
		out = append([]byte(nil), tx.Bucket(bucketCursors).Get([]byte(name))...)
		return nil
	})
	if len(out) == 0 {
		out = nil
	}
	return out, err
}

// SetCursor stores a named scan position.
func (l *Ledger) SetCursor(name string, pos []byte) error {
	return l.db.Update(func(tx *bolt.Tx) error { return tx.Bucket(bucketCursors).Put([]byte(name), pos) })
}
