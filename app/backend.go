package app

import (
	"context"
	"errors"
)

// Backend is everything the GUI reads from and asks of the runtime. The GUI
// is a thin client: it renders what these calls and Subscribe report and
// sends commands back; it decides nothing on its own. Each view depends only
// on the part of Backend it renders.
//
// Calls that may block take a context first; the GUI makes them from
// goroutines it owns, never from the Fyne thread. Stop, PauseDownload,
// CancelDownload and LockPayments must return promptly; SamplingPresets
// must not block.
type Backend interface {
	ChatBackend
	ModelsBackend
	NetworkBackend
	WalletBackend
	SettingsBackend

	// Subscribe streams state changes until ctx is done, then closes the
	// channel. A slow reader may miss samples but never a state change:
	// implementations drop only NetSample events when the buffer is full.
	Subscribe(ctx context.Context) <-chan Event
	// Status is the one-line state shown in the tray and the status bar.
	Status(ctx context.Context) (Status, error)
}

// ChatBackend serves the Chat view.
type ChatBackend interface {
	// Conversations lists conversations, most recently updated first.
	Conversations(ctx context.Context) ([]Conversation, error)
	NewConversation(ctx context.Context) (Conversation, error)
	DeleteConversation(ctx context.Context, id string) error
	RenameConversation(ctx context.Context, id, title string) error
	// Messages loads a conversation's messages, oldest first.
	Messages(ctx context.Context, id string) ([]Message, error)
	// Configure sets a conversation's model, system prompt, sampling and
	// offload mode; they apply from the next reply on.
	Configure(ctx context.Context, id string, s ChatSettings) error
	// Send appends the user's text and streams the assistant's reply. The
	// channel is closed after the final delta (Done set). Cancelling ctx or
	// calling Stop ends the reply early with Finish "cancelled".
	Send(ctx context.Context, id, text string) (<-chan ChatDelta, error)
	// Regenerate replaces the last assistant reply with a new one.
	Regenerate(ctx context.Context, id string) (<-chan ChatDelta, error)
	// Stop ends the reply being generated in conversation id, if any.
	Stop(id string)
	// ChatModels lists the models a conversation can use.
	ChatModels(ctx context.Context) ([]ChatModel, error)
	// SamplingPresets lists the named sampling settings, "balanced" first.
	SamplingPresets() []SamplingPreset
}

// ModelsBackend serves the Models view. Download progress arrives as
// DownloadEvent on Subscribe.
type ModelsBackend interface {
	Catalog(ctx context.Context) ([]CatalogEntry, error)
	Installed(ctx context.Context) (InstalledModels, error)
	// Downloads lists downloads that are running, paused or failed.
	Downloads(ctx context.Context) ([]Download, error)
	// Pull starts downloading a catalog entry and returns at once.
	Pull(ctx context.Context, id string) error
	PauseDownload(id string) error
	ResumeDownload(ctx context.Context, id string) error
	CancelDownload(id string) error
	// Import copies or links a GGUF file from disk into the model store.
	Import(ctx context.Context, path string) (InstalledModel, error)
	Remove(ctx context.Context, id string) error
}

// NetworkBackend serves the Network view. Live samples arrive as NetSample
// events on Subscribe.
type NetworkBackend interface {
	Network(ctx context.Context) (NetworkState, error)
}

// WalletBackend serves the Wallet view.
type WalletBackend interface {
	// Wallet reports whether a wallet exists and, if so, its address,
	// balances and cluster.
	Wallet(ctx context.Context) (WalletInfo, error)
	// CreateWallet makes a new wallet encrypted with password and returns
	// its recovery phrase. This is the only time the phrase is shown.
	CreateWallet(ctx context.Context, password string) ([]string, error)
	// ImportWallet restores a wallet from a recovery phrase or a Solana
	// keypair JSON array; the backend tells which it is.
	ImportWallet(ctx context.Context, secret, password string) error
	// SendFunds signs and submits a transfer; it returns the signature.
	SendFunds(ctx context.Context, req SendRequest) (string, error)
	// History lists transfers, newest first.
	History(ctx context.Context) ([]Transfer, error)
	// Earnings lists earned, settled and pending amounts per day for the
	// last days days, oldest first.
	Earnings(ctx context.Context, days int) ([]DayEarnings, error)
	SetCluster(ctx context.Context, c Cluster) error
	// UnlockPayments opens the wallet's key with password (ErrWrongPassword
	// when it does not): offloading conversations may then pay peers
	// charging up to Settings.MaxPayPrice, and PayProviders pays them.
	UnlockPayments(ctx context.Context, password string) error
	// LockPayments forgets the key: offloading uses free peers only.
	LockPayments()
	// PayProviders pays every provider what is owed and returns the
	// payments' signatures.
	PayProviders(ctx context.Context) ([]string, error)
}

// SettingsBackend serves the Settings view and the tray's lending toggle.
type SettingsBackend interface {
	Settings(ctx context.Context) (Settings, error)
	// UpdateSettings validates and stores s; a validation error wraps
	// ErrInvalidSettings and names the field.
	UpdateSettings(ctx context.Context, s Settings) error
	// Machine reports the hardware the limits are bounded by.
	Machine(ctx context.Context) (Machine, error)
	// EstimateEarnings is what lending under s (stored or being edited)
	// could earn a day on this machine; EstimateChanged reports a new
	// speed test result.
	EstimateEarnings(ctx context.Context, s Settings) (EarningsEstimate, error)
	// MeasureMachine runs the speed test again in the background;
	// EstimateChanged reports when it starts and ends.
	MeasureMachine(ctx context.Context) error
}

// Errors a Backend reports that the GUI shows in a specific way.
var (
	// ErrWrongPassword: the wallet password did not decrypt the keystore.
	ErrWrongPassword = errors.New("wrong password")
	// ErrInsufficientFunds: the balance does not cover amount plus fee.
	ErrInsufficientFunds = errors.New("insufficient funds")
	// ErrInvalidSettings: a setting is out of range.
	ErrInvalidSettings = errors.New("invalid settings")
	// ErrNoWallet: a wallet call needs a wallet that does not exist yet.
	ErrNoWallet = errors.New("no wallet")
)
