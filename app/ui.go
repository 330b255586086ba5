package app

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	"fyne.io/fyne/v2"
	"fyne.io/fyne/v2/container"
	"fyne.io/fyne/v2/dialog"
	"fyne.io/fyne/v2/theme"
	"fyne.io/fyne/v2/widget"
)

// Tab names, for Options.Tab and SelectTab.
const (
	TabChat     = "chat"
	TabModels   = "models"
	TabNetwork  = "network"
	TabWallet   = "wallet"
	TabSettings = "settings"
)

// Tabs lists the tab names in display order.
var Tabs = []string{TabChat, TabModels, TabNetwork, TabWallet, TabSettings}

// Options configure a UI.
type Options struct {
	// Tab is the tab shown first; "" shows Chat.
	Tab string
	// Dispatch runs f on the Fyne thread; nil means fyne.Do. Tests queue
	// the calls and run them on the test's goroutine.
	Dispatch func(f func())
	// Now is the clock for "4 min ago"; nil means time.Now.
	Now func() time.Time
}

// UI is Hearth's window content: a sidebar of tabs over a status bar. It
// keeps no state of its own beyond what is on screen; every change comes
// from the Backend through calls it makes or events it receives.
type UI struct {
	app fyne.App
	b   Backend
	opt Options

	ctx    context.Context
	cancel context.CancelFunc
	wg     sync.WaitGroup // backend calls and the event bridge

	win    fyne.Window // nil until Attach
	tabs   *container.AppTabs
	items  map[string]*container.TabItem
	status *widget.Label
	root   fyne.CanvasObject

	chat     *chatView
	models   *modelsView
	network  *networkView
	wallet   *walletView
	settings *settingsView
	tray     *trayMenu
}

// New builds the UI for backend b in app a. Call Start to load data and
// follow events, and Close when done.
func New(a fyne.App, b Backend, opt Options) *UI {
	if opt.Dispatch == nil {
		opt.Dispatch = fyne.Do
	}
	if opt.Now == nil {
		opt.Now = time.Now
	}
	u := &UI{app: a, b: b, opt: opt, items: map[string]*container.TabItem{}}
	u.ctx, u.cancel = context.WithCancel(context.Background())
	u.chat = newChatView(u)
	u.models = newModelsView(u)
	u.network = newNetworkView(u)
	u.wallet = newWalletView(u)
	u.settings = newSettingsView(u)
	u.tray = newTrayMenu(u)

	u.items[TabChat] = container.NewTabItemWithIcon("Chat", theme.MailComposeIcon(), u.chat.root)
	u.items[TabModels] = container.NewTabItemWithIcon("Models", theme.StorageIcon(), u.models.root)
	u.items[TabNetwork] = container.NewTabItemWithIcon("Network", theme.ComputerIcon(), u.network.root)
	u.items[TabWallet] = container.NewTabItemWithIcon("Wallet", theme.AccountIcon(), u.wallet.root)
	u.items[TabSettings] = container.NewTabItemWithIcon("Settings", theme.SettingsIcon(), u.settings.root)
	u.tabs = container.NewAppTabs()
	for _, name := range Tabs {
		u.tabs.Append(u.items[name])
	}
	u.tabs.SetTabLocation(container.TabLocationLeading)
	u.status = &widget.Label{Text: "Connecting…", Truncation: fyne.TextTruncateEllipsis}
	bar := container.NewBorder(widget.NewSeparator(), nil, nil, nil, u.status)
	u.root = container.NewBorder(nil, bar, nil, nil, u.tabs)
	u.SelectTab(opt.Tab)
	return u
}

// Content is the window content.
func (u *UI) Content() fyne.CanvasObject { return u.root }

// SelectTab shows the named tab; an unknown name shows Chat.
func (u *UI) SelectTab(name string) {
	item, ok := u.items[name]
	if !ok {
		item = u.items[TabChat]
	}
	u.tabs.Select(item)
}

// SelectedTab names the tab on show.
func (u *UI) SelectedTab() string {
	for name, item := range u.items {
		if u.tabs.Selected() == item {
			return name
		}
	}
	return ""
}

// Start loads every view and follows the backend's events until Close.
func (u *UI) Start() {
	events := u.b.Subscribe(u.ctx)
	u.wg.Add(1)
	go func() {
		defer u.wg.Done()
		for ev := range events {
			u.dispatch(func() { u.handle(ev) })
		}
	}()
	u.refreshStatus()
	u.chat.load()
	u.models.load()
	u.network.load()
	u.wallet.load()
	u.settings.load()
}

// closeWait bounds how long Close waits for the UI's goroutines: after the
// Fyne loop has stopped, one may be stuck handing an update to it.
const closeWait = 2 * time.Second

// Close stops the event bridge and cancels running backend calls, and
// waits (a bounded time) for the goroutines that make them.
func (u *UI) Close() {
	u.chat.stopAll()
	u.cancel()
	done := make(chan struct{})
	go func() {
		u.wg.Wait()
		close(done)
	}()
	select {
	case <-done:
	case <-time.After(closeWait):
		fyne.LogError("close", errors.New("backend calls still running after 2s"))
	}
}

// dispatch hands f to the Fyne thread unless the UI is closed.
func (u *UI) dispatch(f func()) {
	if u.ctx.Err() != nil {
		return
	}
	u.opt.Dispatch(f)
}

// handle applies one backend event; it runs on the Fyne thread.
func (u *UI) handle(ev Event) {
	switch ev := ev.(type) {
	case ConversationsChanged:
		u.chat.loadList()
	case DownloadEvent:
		u.models.applyDownload(ev.Download)
		if ev.Download.State == DownloadDone {
			u.notify("Download finished", ev.Download.Name+" is ready to chat.")
		}
	case ModelsChanged:
		u.models.load()
		u.chat.loadModels()
		u.settings.loadModels()
	case NetSampleEvent:
		u.network.addSample(ev.Sample)
	case NetworkChanged:
		u.network.load()
	case WalletChanged:
		u.wallet.load()
	case PayoutEvent:
		t := ev.Transfer
		u.notify("Payout received", fmt.Sprintf("%s %s from %s", formatAmount(t.Amount, t.Decimals), t.Symbol, shortID(t.Counterparty)))
	case SettingsChanged:
		u.settings.apply(ev.Settings)
	case EstimateChanged:
		u.settings.loadEstimate()
	case StatusEvent:
		u.applyStatus(ev.Status)
	}
}

func (u *UI) notify(title, content string) {
	u.app.SendNotification(fyne.NewNotification(title, content))
}

func (u *UI) refreshStatus() {
	call(u, func(ctx context.Context) (Status, error) { return u.b.Status(ctx) }, u.applyStatus)
}

func (u *UI) applyStatus(s Status) {
	u.status.SetText(s.Line)
	u.tray.setStatus(s)
}

// showError reports err to the user: in a dialog once a window is attached.
func (u *UI) showError(what string, err error) {
	err = fmt.Errorf("%s: %w", what, err)
	fyne.LogError(what, err)
	if u.win != nil {
		dialog.ShowError(err, u.win)
	}
}

// call runs f on a goroutine the UI owns and hands its result to apply on
// the Fyne thread, or reports its error. Nothing runs after Close.
func call[T any](u *UI, f func(ctx context.Context) (T, error), apply func(T)) {
	callErr(u, f, apply, func(err error) { u.showError("hearth", err) })
}

// callErr is call with its own error handler, also run on the Fyne thread.
func callErr[T any](u *UI, f func(ctx context.Context) (T, error), apply func(T), onErr func(error)) {
	if u.ctx.Err() != nil {
		return
	}
	u.wg.Add(1)
	go func() {
		defer u.wg.Done()
		v, err := f(u.ctx)
		if u.ctx.Err() != nil {
			return
		}
		u.dispatch(func() {
			if err != nil {
				onErr(err)
				return
			}
			apply(v)
		})
	}()
}

// do runs command f like call; a failure is reported as "what: err".
func (u *UI) do(what string, f func(ctx context.Context) error, then func()) {
	callErr(u, func(ctx context.Context) (struct{}, error) { return struct{}{}, f(ctx) },
		func(struct{}) {
			if then != nil {
				then()
			}
		},
		func(err error) { u.showError(what, err) })
}
