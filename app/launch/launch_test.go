package launch

import (
	"context"
	"errors"
	"strings"
	"testing"

	"github.com/hearth-p2p/hearth/app"
)

// These cases fail before any window opens.
func TestMainRefusesBadEnvironment(t *testing.T) {
	for _, tc := range []struct {
		name, demo, tab, theme string
		want                   string
		is                     error
	}{
		{name: "unknown tab", tab: "wallets", want: `HEARTH_TAB="wallets"`},
		{name: "unknown theme", demo: "1", theme: "sepia", want: `HEARTH_THEME="sepia"`},
		{name: "no runtime bridge", is: ErrNoBackend},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Setenv("HEARTH_DEMO", tc.demo)
			t.Setenv("HEARTH_TAB", tc.tab)
			t.Setenv("HEARTH_THEME", tc.theme)
			err := Main()
			if err == nil {
				t.Fatal("Main succeeded")
			}
			if tc.is != nil && !errors.Is(err, tc.is) {
				t.Errorf("error %v, want %v", err, tc.is)
			}
			if tc.want != "" && !strings.Contains(err.Error(), tc.want) {
				t.Errorf("error %q, want it to mention %s", err, tc.want)
			}
		})
	}
}

// Main opens the window on the backend OpenBackend gives, and reports
// when it cannot connect.
func TestMainUsesOpenBackend(t *testing.T) {
	t.Setenv("HEARTH_DEMO", "")
	t.Setenv("HEARTH_TAB", "")
	old := OpenBackend
	t.Cleanup(func() { OpenBackend = old })
	refused := errors.New("data directory locked")
	called := false
	OpenBackend = func(context.Context) (app.Backend, func(), error) {
		called = true
		return nil, nil, refused
	}
	err := Main()
	if !called || !errors.Is(err, refused) || !strings.Contains(err.Error(), "connect to the runtime") {
		t.Fatalf("Main: %v (OpenBackend called: %v)", err, called)
	}
}
