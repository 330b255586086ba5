package wallet

import (
	"os/exec"
	"strings"
	"testing"
)

// TestImportBoundaries pins DESIGN.md's import rules for wallet: it never
// imports node, app or inference.
func TestImportBoundaries(t *testing.T) {
	goBin, err := exec.LookPath("go")
	if err != nil {
		t.Skip("go tool not on PATH")
	}
	out, err := exec.Command(goBin, "list", "-deps", "github.com/hearth-p2p/hearth/wallet/...").Output()
	if err != nil {
		t.Fatalf("go list: %v", err)
	}
	for _, pkg := range strings.Fields(string(out)) {
		for _, banned := range []string{"/node", "/app", "/inference"} {
			if strings.HasPrefix(pkg, "github.com/hearth-p2p/hearth"+banned) {
				t.Errorf("wallet depends on %s", pkg)
			}
		}
		if strings.HasPrefix(pkg, "fyne.io/") {
			t.Errorf("wallet depends on %s", pkg)
		}
	}
}
