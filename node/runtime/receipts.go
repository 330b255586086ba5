package runtime

import (
	"errors"

	"github.com/hearth-p2p/hearth/wallet/ledger"
)

// RecordReceipts records in the consumer's ledger the last receipt signed
// for each remote hop of p, so that the wallet can settle what is owed.
// Receipts are cumulative: the last one per session covers all its work.
// Call it after p.Close, which sends each session's final receipt.
func RecordReceipts(p *Pipeline, l *ledger.Ledger) error {
	var errs []error
	for _, h := range p.Hops {
		if h.Remote == nil {
			continue
		}
		if r, ok := h.Remote.LastReceipt(); ok {
			if err := l.RecordIssued(r); err != nil {
				errs = append(errs, err)
			}
		}
	}
	return errors.Join(errs...)
}
