package app_test

import (
	"context"
	"os"
	"sync"
	"testing"
	"time"

	"fyne.io/fyne/v2"
	"fyne.io/fyne/v2/test"

	"github.com/hearth-p2p/hearth/app"
	"github.com/hearth-p2p/hearth/app/internal/demo"
)

func TestMain(m *testing.M) {
	time.Local = time.UTC // history shows local times; goldens need one zone
	os.Exit(m.Run())
}

// harness runs a UI on the Fyne test driver over a demo backend. Backend
// results reach the UI through a queue that the test drains on its own
// goroutine, so every widget is touched by one goroutine only.
type harness struct {
	t *testing.T
	a fyne.App
	b *demo.Backend
	u *app.UI
	w fyne.Window

	mu    sync.Mutex
	queue []func()
}

func start(t *testing.T, opt demo.Options, tab string, prepare ...func(*demo.Backend)) *harness {
	t.Helper()
	h := &harness{t: t, a: test.NewTempApp(t), b: demo.New(opt)}
	for _, p := range prepare {
		p(h.b)
	}
	h.u = app.New(h.a, h.b, app.Options{Tab: tab, Dispatch: h.dispatch, Now: func() time.Time { return demo.Epoch }})
	h.w = test.NewTempWindow(t, nil)
	h.u.Attach(h.w)
	h.u.Start()
	t.Cleanup(func() {
		h.u.Close()
		h.b.Close()
	})
	h.settle()
	return h
}

func (h *harness) dispatch(f func()) {
	h.mu.Lock()
	h.queue = append(h.queue, f)
	h.mu.Unlock()
}

// pump runs the queued UI updates and reports how many ran.
func (h *harness) pump() int {
	h.mu.Lock()
	q := h.queue
	h.queue = nil
	h.mu.Unlock()
	for _, f := range q {
		f()
	}
	return len(q)
}

// waitFor pumps updates until cond holds, failing after thirty seconds
// (a bound for loaded CI machines under -race, not a timing check).
func (h *harness) waitFor(what string, cond func() bool) {
	h.t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for {
		h.pump()
		if cond() {
			return
		}
		if time.Now().After(deadline) {
			h.t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(2 * time.Millisecond)
	}
}

// settle pumps until no update has arrived for a while.
func (h *harness) settle() {
	h.t.Helper()
	quiet := 0
	for deadline := time.Now().Add(30 * time.Second); quiet < 10; {
		if h.pump() > 0 {
			quiet = 0
		} else {
			quiet++
		}
		if time.Now().After(deadline) {
			h.t.Fatal("UI did not settle")
		}
		time.Sleep(2 * time.Millisecond)
	}
}

// setTheme stores mode in the demo's settings before the UI starts.
func setTheme(mode app.ThemeMode) func(*demo.Backend) {
	return func(b *demo.Backend) {
		ctx := context.Background()
		s, err := b.Settings(ctx)
		if err == nil {
			s.Theme = mode
			err = b.UpdateSettings(ctx, s)
		}
		if err != nil {
			panic(err)
		}
	}
}
