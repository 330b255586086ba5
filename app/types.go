package app

import "time"

// Conversation is one chat in the conversation list.
type Conversation struct {
	ID       string
	Title    string
	Updated  time.Time
	Settings ChatSettings
}

// Role says who wrote a message.
type Role string

// Message roles.
const (
	RoleUser      Role = "user"
	RoleAssistant Role = "assistant"
)

// Message is one chat message; Text is Markdown.
type Message struct {
	Role Role
	Text string
	// Stats of the reply that produced an assistant message; zero for
	// user messages and for replies loaded from history without stats.
	Stats ReplyStats
}

// ChatSettings are a conversation's per-conversation choices.
type ChatSettings struct {
	Model        string // ChatModel.ID
	SystemPrompt string
	Sampling     Sampling
	Offload      OffloadMode
}

// OffloadMode says whether a conversation may run layers on peers.
type OffloadMode int

// Offload modes. Local is the default: nothing leaves the machine.
const (
	OffloadLocal OffloadMode = iota
	OffloadPeers
)

// Sampling holds the sampler settings of a conversation.
type Sampling struct {
	Preset        string // SamplingPreset.Name, or "custom"
	Temperature   float64
	TopP          float64
	TopK          int
	MinP          float64
	RepeatPenalty float64
	MaxTokens     int // 0: up to the context limit
}

// SamplingPreset is a named Sampling.
type SamplingPreset struct {
	Name     string
	Label    string
	Sampling Sampling
}

// ChatModel is a model a conversation can pick.
type ChatModel struct {
	ID    string
	Name  string
	Local bool // all layers fit on this machine
}

// ChatDelta is one step of a streamed reply.
type ChatDelta struct {
	Text string // new text since the previous delta
	// Peers is how many peers serve layers of this reply right now.
	Peers int
	// TokensPerSec is the decode rate so far.
	TokensPerSec float64
	Done         bool
	// Set on the final delta only.
	Stats ReplyStats
	Err   error
}

// ReplyStats describes a finished reply.
type ReplyStats struct {
	Finish       string // "stop", "length", "cancelled" or "error"
	Tokens       int
	TokensPerSec float64
	Peers        int
}

// Fit says whether a model fits this machine's memory.
type Fit int

// Fit verdicts.
const (
	FitYes   Fit = iota // fits with room to spare
	FitTight            // fits, but little memory is left
	FitNo               // needs peers or more memory
)

// CatalogEntry is a model that can be downloaded.
type CatalogEntry struct {
	ID          string
	Name        string
	Quant       string
	Params      string // "1.1B"
	SizeBytes   uint64
	RAMBytes    uint64 // memory needed to run it locally
	Fit         Fit
	License     string
	Description string
	Installed   bool
}

// InstalledModel is a model in the local store.
type InstalledModel struct {
	ID        string
	Name      string
	Path      string
	SizeBytes uint64
}

// InstalledModels is the local store's content and disk use.
type InstalledModels struct {
	Models    []InstalledModel
	Dir       string
	UsedBytes uint64 // by models
	FreeBytes uint64 // left on the disk
}

// DownloadState is where a download stands.
type DownloadState int

// Download states.
const (
	DownloadRunning DownloadState = iota
	DownloadPaused
	DownloadDone
	DownloadFailed
	DownloadCancelled
)

// Download is the progress of one model download.
type Download struct {
	ID          string // CatalogEntry.ID
	Name        string
	State       DownloadState
	Done, Total uint64
	BytesPerSec float64
	Err         string // set when State is DownloadFailed
}

// NetworkState is the Network view's snapshot.
type NetworkState struct {
	Node     NodeInfo
	Shards   []ServedShard
	Peers    []PeerUse
	Sessions []SessionEarning
	// Samples are the recent live samples, oldest first.
	Samples []NetSample
}

// NodeInfo describes this node on the network.
type NodeInfo struct {
	Online       bool
	PeerID       string
	Addrs        []string
	Reachability string // "public", "private" or "unknown"
	NAT          string // e.g. "port mapped (UPnP)", "symmetric"
	Relay        string // relay in use, "" if none
	Lending      bool
}

// ServedShard is a layer range this node serves.
type ServedShard struct {
	Model        string
	From, To     int // layers [From,To)
	Sessions     int
	TokensPerSec float64
	Price        uint64 // lamports per 1,000 token-layers
}

// PeerUse is a peer that serves layers to this node.
type PeerUse struct {
	PeerID    string
	Model     string
	From, To  int
	LatencyMs float64
	Trusted   bool
}

// SessionEarning is what one serving session earned.
type SessionEarning struct {
	Session string
	Peer    string
	Model   string
	Started time.Time
	Units   uint64 // token-layers
	Amount  uint64 // lamports
	Settled bool
}

// NetSample is one live measurement.
type NetSample struct {
	At        time.Time
	InBps     float64 // bytes per second received
	OutBps    float64 // bytes per second sent
	LatencyMs float64 // median hop latency; 0 when no peer is in use
}

// WalletInfo is the wallet's state.
type WalletInfo struct {
	Exists   bool
	Address  string
	Cluster  Cluster
	Balances []Balance
	Payments Payments
}

// Payments says whether offloading may pay peers that charge, and what it
// owes them.
type Payments struct {
	// Unlocked: the wallet signs receipts (UnlockPayments), so offloading
	// conversations may use peers charging up to Settings.MaxPayPrice.
	Unlocked bool
	// Owed is what receipts owe providers and PayProviders would pay, in
	// lamports; Providers is how many providers that is.
	Owed      uint64
	Providers int
}

// Cluster is the Solana cluster the wallet talks to.
type Cluster struct {
	Name string // "devnet", "testnet", "mainnet-beta" or "custom"
	URL  string // RPC URL; required for "custom"
}

// Balance is an amount of SOL or an SPL token.
type Balance struct {
	Symbol   string // "SOL" or the token's symbol
	Mint     string // "" for SOL
	Amount   uint64 // base units (lamports for SOL)
	Decimals int
}

// SendRequest is a transfer the user asked for.
type SendRequest struct {
	To       string
	Symbol   string // Balance.Symbol
	Amount   uint64 // base units
	Password string
}

// TransferKind says how a transfer relates to this wallet.
type TransferKind string

// Transfer kinds.
const (
	TransferIn     TransferKind = "in"
	TransferOut    TransferKind = "out"
	TransferPayout TransferKind = "payout" // settlement for shards served
)

// Transfer is one entry of the wallet history.
type Transfer struct {
	Signature    string
	Time         time.Time
	Kind         TransferKind
	Symbol       string
	Amount       uint64
	Decimals     int
	Counterparty string
	Confirmed    bool
	Memo         string
}

// DayEarnings is what serving earned on one day, in lamports.
type DayEarnings struct {
	Day     time.Time
	Earned  uint64 // receipted by consumers
	Settled uint64 // paid on chain
	Pending uint64 // receipted, not yet paid
}

// Privacy limits which peers a conversation may offload to.
type Privacy int

// Privacy modes.
const (
	PrivacyNever   Privacy = iota // never offload
	PrivacyTrusted                // only to trusted peers (own devices)
	PrivacyAny                    // to any peer
)

// ThemeMode picks the window's colours.
type ThemeMode int

// Theme modes.
const (
	ThemeSystem ThemeMode = iota
	ThemeDark
	ThemeLight
)

// Settings are the user's preferences.
type Settings struct {
	Lending        bool
	Schedule       []Window // lend only inside these windows; empty: any time
	MaxThreads     int
	MaxRAMGiB      float64
	MaxVRAMGiB     float64
	MaxCPUPercent  int
	ThermalLimitC  int
	PauseOnBattery bool
	Privacy        Privacy
	// TrustedPeers are the peer IDs PrivacyTrusted may offload to (the
	// user's other devices; each shows its ID in the Network tab).
	TrustedPeers []string
	// LendModel is the InstalledModel.ID lending serves; "": the first
	// installed model.
	LendModel string
	// Price is what lending charges, in lamports per 1,000 token-layers;
	// 0 lends for free. A price needs a wallet to be paid to.
	Price uint64
	// MaxPayPrice is the most offloading pays peers, in lamports per 1,000
	// token-layers, once payments are unlocked; 0 uses free peers only.
	MaxPayPrice uint64
	DataDir     string
	Theme       ThemeMode
}

// Window is a weekly time window, e.g. weekdays 22:00–07:00. End before
// Start means the window runs past midnight.
type Window struct {
	Days       []time.Weekday
	Start, End string // "HH:MM"
}

// Machine is the hardware limits are bounded by.
type Machine struct {
	Threads   int
	RAMBytes  uint64
	VRAMBytes uint64 // 0: no GPU
	GPU       string
	OnBattery bool
}

// EarningsEstimate is what this machine could earn a day lending, from a
// speed test the backend runs at the first start: the layers the RAM cap
// holds of the model lending serves, at the measured speed, for the hours
// the schedule allows, at the price, with peers keeping it busy.
type EarningsEstimate struct {
	Ready   bool   // the speed test has a result
	Running bool   // the speed test runs now
	Err     string // why the last speed test failed
	// Model1BTokS is tokens per second through a whole 1B model;
	// LayerTokS through one of its layers; Threads the threads measured.
	Model1BTokS float64
	LayerTokS   float64
	Threads     int
	// Model is the model the estimate serves (a 1B reference when none is
	// installed); Layers how many of its layers the RAM cap holds.
	Model       string
	Layers      int
	TokS        float64 // tokens per second through those layers
	HoursPerDay float64
	Price       uint64 // lamports per 1,000 token-layers
	PerDay      uint64 // lamports a day
}

// Status is the short state for the tray and status bar.
type Status struct {
	Lending      bool
	Serving      int // sessions served right now
	PeersUsed    int
	TokensPerSec float64 // served throughput
	Line         string  // one line that says all of the above
}
