package runtime

import (
	"sync"

	"github.com/hearth-p2p/hearth/node/verify"
)

// trustState is the desktop's ban list (BansFile in its data directory),
// shared by its offloading pipelines, which ban the providers they catch,
// and its lending node, which bans those it convicts from fraud reports.
type trustState struct {
	mu   sync.Mutex // guards bans
	bans *verify.BanList
}

// banList opens the ban list on first use.
func (d *Desktop) banList() (*verify.BanList, error) {
	t := &d.trust
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.bans == nil {
		b, err := OpenBans(d.dataDir)
		if err != nil {
			return nil, err
		}
		t.bans = b
	}
	return t.bans, nil
}

// Bans lists the providers this desktop banned (caught returning wrong
// results, or convicted by a fraud report it re-ran) and the reporters it
// distrusts.
func (d *Desktop) Bans() ([]verify.Entry, error) {
	b, err := d.banList()
	if err != nil {
		return nil, err
	}
	return b.Entries(), nil
}
