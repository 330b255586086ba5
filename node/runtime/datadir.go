package runtime

import (
	"os"
	"path/filepath"
	"runtime"
)

// DefaultDataDir is where Hearth keeps models, conversations, the ledger and
// the keystore: $HEARTH_DATA_DIR, else the OS data directory
// ($XDG_DATA_HOME/hearth or ~/.local/share/hearth on Linux,
// ~/Library/Application Support/Hearth on macOS, %LocalAppData%\Hearth on
// Windows).
func DefaultDataDir() string {
	if d := os.Getenv("HEARTH_DATA_DIR"); d != "" {
		return d
	}
	home, _ := os.UserHomeDir()
	switch runtime.GOOS {
	case "darwin":
		return filepath.Join(home, "Library", "Application Support", "Hearth")
	case "windows":
		if d := os.Getenv("LocalAppData"); d != "" {
			return filepath.Join(d, "Hearth")
		}
		return filepath.Join(home, "AppData", "Local", "Hearth")
	}
	if d := os.Getenv("XDG_DATA_HOME"); d != "" {
		return filepath.Join(d, "hearth")
	}
	return filepath.Join(home, ".local", "share", "hearth")
}
