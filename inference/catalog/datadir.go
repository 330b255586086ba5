package catalog

import (
	"errors"
	"os"
	"path/filepath"
	"runtime"
)

// ModelsDir is the store's directory inside the data directory.
const ModelsDir = "models"

// DefaultDataDir is the OS data directory for Hearth (models, ledger,
// keystore, conversations):
//
//	Linux and other Unix: $XDG_DATA_HOME/hearth, else ~/.local/share/hearth
//	macOS:                ~/Library/Application Support/Hearth
//	Windows:              %LocalAppData%\Hearth
func DefaultDataDir() (string, error) {
	return dataDirFor(runtime.GOOS, os.Getenv, os.UserHomeDir)
}

func dataDirFor(goos string, getenv func(string) string, home func() (string, error)) (string, error) {
	switch goos {
	case "windows":
		if d := getenv("LocalAppData"); d != "" {
			return filepath.Join(d, "Hearth"), nil
		}
		h, err := home()
		if err != nil {
			return "", errors.New("data directory: neither %LocalAppData% nor a home directory is set")
		}
		return filepath.Join(h, "AppData", "Local", "Hearth"), nil
	case "darwin", "ios":
		h, err := home()
		if err != nil {
			return "", errors.New("data directory: no home directory ($HOME is unset)")
		}
		return filepath.Join(h, "Library", "Application Support", "Hearth"), nil
	}
	if d := getenv("XDG_DATA_HOME"); d != "" && filepath.IsAbs(d) {
		return filepath.Join(d, "hearth"), nil
	}
	h, err := home()
	if err != nil {
		return "", errors.New("data directory: neither $XDG_DATA_HOME nor $HOME is set")
	}
	return filepath.Join(h, ".local", "share", "hearth"), nil
}
