// Package launch opens the desktop app when hearth runs without arguments:
// it picks the backend and the first tab from the environment.
//
//	HEARTH_DEMO=1        run on the in-memory demo backend (realistic data, nothing real)
//	                     instead of the desktop runtime (OpenBackend)
//	HEARTH_TAB=name      open on chat, models, network, wallet or settings
//	HEARTH_THEME=mode    dark, light or system, over the saved setting (demo only)
package launch

import (
	"context"
	"errors"
	"fmt"
	"os"
	"slices"
	"time"

	"github.com/hearth-p2p/hearth/app"
	"github.com/hearth-p2p/hearth/app/internal/demo"
)

// OpenBackend connects to the runtime and returns its Backend and a
// function that releases it. The hearth command sets it to bridge.Open (the
// desktop runtime); a binary that leaves it nil opens only the demo.
var OpenBackend func(ctx context.Context) (app.Backend, func(), error)

// ErrNoBackend: the binary has no runtime bridge linked in.
var ErrNoBackend = errors.New("the desktop app is not connected to the runtime in this build; " +
	"run 'HEARTH_DEMO=1 hearth' to preview it with demo data, or use the CLI ('hearth help')")

// Main opens the window and returns when the app quits.
func Main() error {
	tab := os.Getenv("HEARTH_TAB")
	if tab != "" && !slices.Contains(app.Tabs, tab) {
		return fmt.Errorf("HEARTH_TAB=%q: want one of %v", tab, app.Tabs)
	}
	opt := app.Options{Tab: tab}
	if os.Getenv("HEARTH_DEMO") == "1" {
		b, err := newDemo(os.Getenv("HEARTH_THEME"))
		if err != nil {
			return err
		}
		defer b.Close()
		return app.Run(b, opt)
	}
	if OpenBackend == nil {
		return ErrNoBackend
	}
	b, release, err := OpenBackend(context.Background())
	if err != nil {
		return fmt.Errorf("connect to the runtime: %w", err)
	}
	defer release()
	return app.Run(b, opt)
}

// newDemo returns a live demo backend with a download under way.
func newDemo(themeName string) (*demo.Backend, error) {
	b := demo.New(demo.Options{Live: true, Now: time.Now()})
	ctx := context.Background()
	if themeName != "" {
		modes := map[string]app.ThemeMode{"system": app.ThemeSystem, "dark": app.ThemeDark, "light": app.ThemeLight}
		m, ok := modes[themeName]
		if !ok {
			b.Close()
			return nil, fmt.Errorf("HEARTH_THEME=%q: want dark, light or system", themeName)
		}
		s, err := b.Settings(ctx)
		if err == nil {
			s.Theme = m
			err = b.UpdateSettings(ctx, s)
		}
		if err != nil {
			b.Close()
			return nil, err
		}
	}
	if err := b.Pull(ctx, "mistral-7b-instruct-v0.3-q4_k_m"); err != nil {
		b.Close()
		return nil, err
	}
	return b, nil
}
