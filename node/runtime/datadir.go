package runtime

import (
	"os"

	"github.com/hearth-p2p/hearth/inference/catalog"
)

// DefaultDataDir is where Hearth keeps models, conversations, the ledger, the
// keystore and the node identity: $HEARTH_DATA_DIR, else the OS data
// directory (catalog.DefaultDataDir: ~/.local/share/hearth on Linux). It is
// "" when neither can be found; commands then ask for --data-dir.
func DefaultDataDir() string {
	if d := os.Getenv("HEARTH_DATA_DIR"); d != "" {
		return d
	}
	d, err := catalog.DefaultDataDir()
	if err != nil {
		return ""
	}
	return d
}
