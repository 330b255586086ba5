package meter

import (
	"fmt"
	"sync"

	"github.com/hearth-p2p/hearth/wallet/receipt"
)

// MemoryLedger keeps receipts in memory: the latest per session and every one
// recorded, in order. It suits free nodes and tests; a paying node records in
// the wallet's persistent ledger.
type MemoryLedger struct {
	mu     sync.Mutex // guards the fields below
	all    []receipt.Signed
	latest map[[16]byte]receipt.Signed
}

// NewMemoryLedger returns an empty ledger.
func NewMemoryLedger() *MemoryLedger {
	return &MemoryLedger{latest: map[[16]byte]receipt.Signed{}}
}

// Record stores r; it refuses a receipt that is not newer than the session's
// latest.
func (l *MemoryLedger) Record(r receipt.Signed) error {
	l.mu.Lock()
	defer l.mu.Unlock()
	if prev, ok := l.latest[r.Session]; ok && r.Seq <= prev.Seq {
		return fmt.Errorf("ledger: session %x already at seq %d", r.Session[:4], prev.Seq)
	}
	l.latest[r.Session] = r
	l.all = append(l.all, r)
	return nil
}

// Latest returns the newest receipt of a session.
func (l *MemoryLedger) Latest(session [16]byte) (receipt.Signed, bool) {
	l.mu.Lock()
	defer l.mu.Unlock()
	r, ok := l.latest[session]
	return r, ok
}

// All returns every receipt recorded, oldest first.
func (l *MemoryLedger) All() []receipt.Signed {
	l.mu.Lock()
	defer l.mu.Unlock()
	return append([]receipt.Signed(nil), l.all...)
}
