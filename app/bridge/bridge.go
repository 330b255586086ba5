// Package bridge connects the desktop GUI to the runtime: Backend
// implements app.Backend over a runtime.Desktop, translating the runtime's
// types, events and errors into the GUI's. It holds no state of its own.
//
// Open is what `hearth` without arguments runs (launch.OpenBackend): it
// opens the Desktop on the user's data and config directories and serves
// it until the window closes.
package bridge

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"strings"
	"time"

	"github.com/hearth-p2p/hearth/app"
	"github.com/hearth-p2p/hearth/node/runtime"
)

// Backend is app.Backend over a runtime.Desktop.
type Backend struct {
	d *runtime.Desktop
}

var _ app.Backend = (*Backend)(nil)

// New returns the GUI's backend over d.
func New(d *runtime.Desktop) *Backend { return &Backend{d: d} }

// LogLevelEnv sets the desktop app's log level on stderr (debug, info,
// warn, error; default info).
const LogLevelEnv = "HEARTH_LOG_LEVEL"

// serveStop bounds how long release waits for the runtime to stop.
const serveStop = 30 * time.Second

// Open opens the desktop runtime with the default configuration, starts
// its services, and returns the backend with the function that stops and
// releases it. It has launch.OpenBackend's signature.
func Open(ctx context.Context) (app.Backend, func(), error) {
	var level slog.Level
	if v := os.Getenv(LogLevelEnv); v != "" {
		if err := level.UnmarshalText([]byte(v)); err != nil {
			return nil, nil, fmt.Errorf("%s=%q: %w", LogLevelEnv, v, err)
		}
	}
	log := slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: level}))
	return OpenWith(ctx, runtime.DefaultDesktopConfig(), log)
}

// OpenWith is Open with a given configuration and logger.
func OpenWith(ctx context.Context, cfg runtime.DesktopConfig, log *slog.Logger) (app.Backend, func(), error) {
	d, err := runtime.NewDesktop(cfg, log)
	if err != nil {
		return nil, nil, err
	}
	sctx, cancel := context.WithCancel(context.WithoutCancel(ctx))
	done := make(chan error, 1)
	go func() { done <- d.Serve(sctx) }()
	release := func() {
		cancel()
		select {
		case err := <-done:
			if err != nil {
				log.Warn("desktop runtime stopped", "err", err)
			}
		case <-time.After(serveStop):
			log.Warn("desktop runtime still stopping; closing anyway")
		}
		if err := d.Close(); err != nil {
			log.Warn("closing the desktop runtime", "err", err)
		}
	}
	return New(d), release, nil
}

// Subscribe streams the runtime's state changes as the GUI's events until
// ctx is done, then closes the channel. The runtime drops only samples for
// a slow reader (other changes are merged with later ones).
func (b *Backend) Subscribe(ctx context.Context) <-chan app.Event {
	in := b.d.Subscribe(ctx)
	out := make(chan app.Event)
	go func() {
		defer close(out)
		for ev := range in {
			ae := event(ev)
			if ae == nil {
				continue
			}
			select {
			case out <- ae:
			case <-ctx.Done():
				for range in { // the runtime closes in once ctx is done
				}
				return
			}
		}
	}()
	return out
}

// event maps a runtime event to the GUI's; nil for none.
func event(ev runtime.DesktopEvent) app.Event {
	switch e := ev.(type) {
	case runtime.ConversationsChanged:
		return app.ConversationsChanged{}
	case runtime.ModelsChanged:
		return app.ModelsChanged{}
	case runtime.DownloadChanged:
		return app.DownloadEvent{Download: download(e.Download)}
	case runtime.NetSampleTaken:
		return app.NetSampleEvent{Sample: sample(e.Sample)}
	case runtime.NetworkChanged:
		return app.NetworkChanged{}
	case runtime.WalletChanged:
		return app.WalletChanged{}
	case runtime.PayoutReceived:
		return app.PayoutEvent{Transfer: transfer(e.Transfer)}
	case runtime.SettingsChanged:
		return app.SettingsChanged{Settings: settings(e.Settings)}
	case runtime.StatusChanged:
		return app.StatusEvent{Status: status(e.Status)}
	case runtime.MachineBenchChanged:
		return app.EstimateChanged{}
	}
	return nil
}

// Status implements app.Backend.
func (b *Backend) Status(ctx context.Context) (app.Status, error) {
	return status(b.d.Status()), ctx.Err()
}

func status(s runtime.DesktopStatus) app.Status {
	return app.Status{Lending: s.Lending, Serving: s.Serving, PeersUsed: s.PeersUsed, TokensPerSec: s.TokensPerSec, Line: s.Line}
}

// mappedError is a runtime error that also matches the GUI's sentinel.
type mappedError struct {
	sentinel, cause error
}

func (e *mappedError) Error() string   { return e.cause.Error() }
func (e *mappedError) Unwrap() []error { return []error{e.sentinel, e.cause} }

// errorMap pairs the runtime's errors with the GUI's sentinels.
var errorMap = []struct{ runtime, app error }{
	{runtime.ErrWrongPassword, app.ErrWrongPassword},
	{runtime.ErrInsufficientFunds, app.ErrInsufficientFunds},
	{runtime.ErrInvalidSettings, app.ErrInvalidSettings},
	{runtime.ErrNoWallet, app.ErrNoWallet},
}

// mapErr makes err match the GUI's sentinel for it, keeping its message.
func mapErr(err error) error {
	if err == nil {
		return nil
	}
	for _, m := range errorMap {
		if errors.Is(err, m.runtime) && !errors.Is(err, m.app) {
			return &mappedError{sentinel: m.app, cause: err}
		}
	}
	return err
}

// invalid is an ErrInvalidSettings error naming what is wrong.
func invalid(format string, args ...any) error {
	return fmt.Errorf("%w: %s", app.ErrInvalidSettings, strings.TrimSpace(fmt.Sprintf(format, args...)))
}
