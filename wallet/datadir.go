package wallet

import (
	"fmt"
	"os"
	"path/filepath"
	"runtime"
)

// DefaultDataDir is where Hearth keeps its data (models, ledger, keystore):
// $XDG_DATA_HOME/hearth or ~/.local/share/hearth on Linux and BSD,
// ~/Library/Application Support/Hearth on macOS, %LOCALAPPDATA%\Hearth on
// Windows.
func DefaultDataDir() (string, error) {
	return dataDir(runtime.GOOS, os.Getenv, os.UserHomeDir)
}

func dataDir(goos string, getenv func(string) string, home func() (string, error)) (string, error) {
	switch goos {
	case "windows":
		if d := getenv("LOCALAPPDATA"); d != "" {
			return filepath.Join(d, "Hearth"), nil
		}
		if d := getenv("APPDATA"); d != "" {
			return filepath.Join(d, "Hearth"), nil
		}
	case "darwin", "ios":
		h, err := home()
		if err != nil {
			return "", fmt.Errorf("find data directory: %w", err)
		}
		return filepath.Join(h, "Library", "Application Support", "Hearth"), nil
	default:
		if d := getenv("XDG_DATA_HOME"); d != "" && filepath.IsAbs(d) {
			return filepath.Join(d, "hearth"), nil
		}
	}
	h, err := home()
	if err != nil {
		return "", fmt.Errorf("find data directory: %w", err)
	}
	if goos == "windows" {
		return filepath.Join(h, "AppData", "Local", "Hearth"), nil
	}
	return filepath.Join(h, ".local", "share", "hearth"), nil
}
