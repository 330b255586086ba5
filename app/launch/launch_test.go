package launch

import (
	"errors"
	"strings"
	"testing"
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
