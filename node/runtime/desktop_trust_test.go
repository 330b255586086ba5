package runtime

import (
	"testing"
	"time"
)

// TestDesktopSharesOneBanList: the offloading host's fraud reports and the
// lending node keep their bans in the one list of the data directory, and
// the offloading host takes part in fraud reports once started.
func TestDesktopSharesOneBanList(t *testing.T) {
	d := openDesktop(t, testDesktopConfig(t))
	withStories(t, d)
	serve(t, d)
	c, err := d.consumer()
	if err != nil {
		t.Fatal(err)
	}
	fr := c.Fraud()
	if fr == nil {
		t.Fatal("the offloading host has no fraud reports")
	}
	select {
	case <-fr.Ready():
	case <-time.After(10 * time.Second):
		t.Fatal("fraud reports not ready")
	}
	cfg, err := d.nodeConfig(d.Settings())
	if err != nil {
		t.Fatal(err)
	}
	if cfg.Bans == nil || cfg.Bans != fr.Bans() {
		t.Fatal("the lending node and the offloading host keep different ban lists")
	}
	if err := fr.Bans().Ban("12D3KooWBanned", "wrong result", [32]byte{}); err != nil {
		t.Fatal(err)
	}
	kept, err := OpenBans(d.dataDir)
	if err != nil || !kept.IsBanned("12D3KooWBanned") {
		t.Fatalf("ban not in the data directory: %+v, %v", kept.Entries(), err)
	}
	if es, err := d.Bans(); err != nil || len(es) != 1 {
		t.Fatalf("Bans %+v, %v", es, err)
	}
}
