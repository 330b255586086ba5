package app

// Event is a state change the backend reports on Subscribe. The GUI's
// bridge applies each one on the Fyne thread.
type Event interface{ event() }

// ConversationsChanged: the conversation list changed (title, order).
type ConversationsChanged struct{}

// DownloadEvent: a download made progress or changed state.
type DownloadEvent struct{ Download Download }

// ModelsChanged: the catalog or the installed models changed.
type ModelsChanged struct{}

// NetSampleEvent: a new live throughput and latency sample.
type NetSampleEvent struct{ Sample NetSample }

// NetworkChanged: node, shards, peers or sessions changed.
type NetworkChanged struct{}

// WalletChanged: balances, history or earnings changed.
type WalletChanged struct{}

// PayoutEvent: a settlement payment to this wallet was confirmed.
type PayoutEvent struct{ Transfer Transfer }

// SettingsChanged: settings changed (from the GUI, the CLI or the tray).
type SettingsChanged struct{ Settings Settings }

// EstimateChanged: the machine's speed test started or finished, so the
// earnings estimate changed.
type EstimateChanged struct{}

// StatusEvent: the tray status changed.
type StatusEvent struct{ Status Status }

func (ConversationsChanged) event() {}
func (DownloadEvent) event()        {}
func (ModelsChanged) event()        {}
func (NetSampleEvent) event()       {}
func (NetworkChanged) event()       {}
func (WalletChanged) event()        {}
func (PayoutEvent) event()          {}
func (SettingsChanged) event()      {}
func (StatusEvent) event()          {}
func (EstimateChanged) event()      {}
