package demo

import (
	"math"
	"strconv"
	"strings"
	"time"

	"github.com/hearth-p2p/hearth/app"
)

const (
	mb  = 1_000_000
	gb  = 1_000_000_000
	gib = 1 << 30
)

func itoa(n int) string      { return strconv.Itoa(n) }
func ftoa1(f float64) string { return strconv.FormatFloat(f, 'f', 1, 64) }
func sol(f float64) uint64   { return uint64(math.Round(f * 1e9)) }
func day(t time.Time) time.Time {
	return time.Date(t.Year(), t.Month(), t.Day(), 0, 0, 0, 0, t.Location())
}

// fill loads the fixture data: a machine with a mid-range GPU, three
// installed models, a node that lends two shards, a funded wallet.
func (b *Backend) fill() {
	b.machine = app.Machine{Threads: 16, RAMBytes: 32 * gib, VRAMBytes: 8 * gib, GPU: "NVIDIA GeForce RTX 3070"}
	b.settings = app.Settings{
		Lending:        true,
		Schedule:       []app.Window{{Days: []time.Weekday{1, 2, 3, 4, 5}, Start: "22:00", End: "07:00"}, {Days: []time.Weekday{0, 6}, Start: "00:00", End: "23:59"}},
		MaxThreads:     12,
		MaxRAMGiB:      16,
		MaxVRAMGiB:     6,
		MaxCPUPercent:  75,
		ThermalLimitC:  80,
		PauseOnBattery: true,
		Privacy:        app.PrivacyTrusted,
		TrustedPeers:   []string{"12D3KooWK99VoVxNE7XzyBwXEzW7xhK7Gpv85r9F3V3fyKSUKPH5", "12D3KooWJWoaqZhDaoEFshF7Rh1bpY9ohihFhzcW6d69Lr2NASuq"},
		DataDir:        "/home/ana/.local/share/hearth",
		Theme:          app.ThemeSystem,
	}
	b.catalog = []app.CatalogEntry{
		{ID: "tinyllama-1.1b-chat-q4_k_m", Name: "TinyLlama 1.1B Chat", Quant: "Q4_K_M", Params: "1.1B", SizeBytes: 669 * mb, RAMBytes: 1100 * mb, License: "Apache-2.0", Description: "Small and quick; good for testing.", Installed: true},
		{ID: "llama-3.2-3b-instruct-q4_k_m", Name: "Llama 3.2 3B Instruct", Quant: "Q4_K_M", Params: "3.2B", SizeBytes: 2020 * mb, RAMBytes: 3100 * mb, License: "Llama 3.2 Community", Description: "Everyday assistant that runs on most laptops.", Installed: true},
		{ID: "qwen2.5-7b-instruct-q4_k_m", Name: "Qwen2.5 7B Instruct", Quant: "Q4_K_M", Params: "7.6B", SizeBytes: 4680 * mb, RAMBytes: 6200 * mb, License: "Apache-2.0", Description: "Strong at code and multilingual chat.", Installed: true},
		{ID: "mistral-7b-instruct-v0.3-q4_k_m", Name: "Mistral 7B Instruct v0.3", Quant: "Q4_K_M", Params: "7.2B", SizeBytes: 4370 * mb, RAMBytes: 5900 * mb, License: "Apache-2.0", Description: "Fast general-purpose model."},
		{ID: "llama-3.1-8b-instruct-q4_k_m", Name: "Llama 3.1 8B Instruct", Quant: "Q4_K_M", Params: "8.0B", SizeBytes: 4920 * mb, RAMBytes: 6500 * mb, License: "Llama 3.1 Community", Description: "128K context, tool use."},
		{ID: "qwen2.5-14b-instruct-q4_k_m", Name: "Qwen2.5 14B Instruct", Quant: "Q4_K_M", Params: "14.8B", SizeBytes: 8990 * mb, RAMBytes: 11800 * mb, Fit: app.FitTight, License: "Apache-2.0", Description: "Near-frontier quality on a desktop."},
		{ID: "llama-3.3-70b-instruct-q4_k_m", Name: "Llama 3.3 70B Instruct", Quant: "Q4_K_M", Params: "70.6B", SizeBytes: 42500 * mb, RAMBytes: 46000 * mb, Fit: app.FitNo, License: "Llama 3.3 Community", Description: "Runs split across peers."},
	}
	for _, e := range b.catalog {
		if e.Installed {
			b.installed = append(b.installed, app.InstalledModel{ID: e.ID, Name: e.Name, SizeBytes: e.SizeBytes, Path: b.settings.DataDir + "/models/" + e.ID + ".gguf"})
		}
	}
	b.fillChats()
	b.fillNetwork()
	if !b.opt.NoWallet {
		b.fillWallet()
		b.settings.Price = 20 // a price needs the wallet to be paid to
		b.settings.MaxPayPrice = 50
	}
	b.wallet.Cluster = app.Cluster{Name: "devnet", URL: "https://api.devnet.solana.com"}
}

func (b *Backend) fillChats() {
	at := func(h time.Duration) time.Time { return b.now.Add(-h) }
	mk := func(id, title string, updated time.Time, model string, off app.OffloadMode, msgs ...app.Message) {
		b.convs = append(b.convs, &conv{
			Conversation: app.Conversation{ID: id, Title: title, Updated: updated, Settings: app.ChatSettings{
				Model: model, Sampling: presets[0].Sampling, Offload: off,
				SystemPrompt: "You are a concise, friendly assistant.",
			}},
			messages: msgs,
		})
	}
	mk("kv", "How does a KV cache work?", at(4*time.Minute), "qwen2.5-7b-instruct-q4_k_m", app.OffloadLocal,
		app.Message{Role: app.RoleUser, Text: "How does a KV cache speed up generation?"},
		app.Message{Role: app.RoleAssistant, Text: kvAnswer, Stats: app.ReplyStats{Finish: "stop", Tokens: 182, TokensPerSec: 21.3}},
	)
	mk("lisbon", "Weekend in Lisbon", at(3*time.Hour), "llama-3.2-3b-instruct-q4_k_m", app.OffloadLocal,
		app.Message{Role: app.RoleUser, Text: "Plan a relaxed weekend in Lisbon."},
		app.Message{Role: app.RoleAssistant, Text: "**Saturday:** Alfama in the morning, lunch at a tasca, sunset at Miradouro da Senhora do Monte.\n\n**Sunday:** Belém, pastéis de nata, and the riverside walk to LX Factory.", Stats: app.ReplyStats{Finish: "stop", Tokens: 61, TokensPerSec: 34.8}},
	)
	mk("go-rust", "Go or Rust for a CLI?", at(27*time.Hour), "llama-3.3-70b-instruct-q4_k_m", app.OffloadPeers,
		app.Message{Role: app.RoleUser, Text: "Go or Rust for a small CLI tool?"},
		app.Message{Role: app.RoleAssistant, Text: "Both work. Pick **Go** for quick builds and one static binary; pick **Rust** when you need tight control over memory.", Stats: app.ReplyStats{Finish: "stop", Tokens: 38, TokensPerSec: 6.2, Peers: 2}},
	)
	b.nextConv = len(b.convs)
}

const kvAnswer = "A transformer attends to every earlier token at each step. Without a cache it would recompute the **keys and values** of the whole prompt for every new token.\n\n" +
	"With a KV cache:\n\n" +
	"1. The prompt is evaluated once; each layer stores its K and V rows.\n" +
	"2. Each new token computes only its own K and V and appends them.\n" +
	"3. Attention reads the cached rows, so a step costs O(n) instead of O(n²).\n\n" +
	"```go\nk, v := layer.Project(x)\ncache.Append(layer.ID, k, v)\n```\n\n" +
	"The price is memory: `2 × layers × context × kv_dim` values per session."

// replyFor is the canned reply to a prompt.
func replyFor(prompt string) string {
	p := strings.ToLower(prompt)
	switch {
	case strings.Contains(p, "haiku"):
		return "Embers in the grate,\nquiet fans hum through the night —\nwarmth shared with a stranger."
	case strings.Contains(p, "hello") || strings.Contains(p, "hi"):
		return "Hello! I run **entirely on this machine**. Ask me anything."
	}
	return "Here is a short answer:\n\n- Hearth runs the model **locally** by default.\n- Offloading to peers is opt-in per conversation.\n\nWant more detail?"
}

func (b *Backend) fillNetwork() {
	b.network.Node = app.NodeInfo{
		Online:       true,
		PeerID:       "12D3KooWQm7E4sR3YH8pV2JbzLkDfA9cN1xTgUe6WvPqMhZrKoYs",
		Addrs:        []string{"/ip4/192.168.1.23/tcp/4001", "/ip4/192.168.1.23/udp/4001/quic-v1", "/ip4/83.44.120.9/udp/4001/quic-v1"},
		Reachability: "public",
		NAT:          "port mapped (UPnP)",
		Relay:        "",
	}
	b.network.Shards = []app.ServedShard{
		{Model: "Llama 3.3 70B Instruct", From: 0, To: 20, Sessions: 2, TokensPerSec: 14.2, Price: 50},
		{Model: "Qwen2.5 14B Instruct", From: 24, To: 48, Sessions: 1, TokensPerSec: 9.7, Price: 20},
	}
	b.network.Peers = []app.PeerUse{
		{PeerID: "12D3KooWBx91kLmQe4Rt", Model: "Llama 3.3 70B Instruct", From: 20, To: 52, LatencyMs: 38, Trusted: true},
		{PeerID: "12D3KooWNa7cPz2sYd8f", Model: "Llama 3.3 70B Instruct", From: 52, To: 80, LatencyMs: 61},
	}
	peers := []string{"12D3KooWLp3e…q8Rz", "12D3KooWDs9a…m2Xc", "12D3KooWTk4n…v7Hb"}
	for i := range 6 {
		b.network.Sessions = append(b.network.Sessions, app.SessionEarning{
			Session: "s-" + strconv.Itoa(4810+i), Peer: peers[i%3],
			Model:   b.network.Shards[i%2].Model,
			Started: b.now.Add(-time.Duration(i*47+5) * time.Minute),
			Units:   uint64(120_000 + 37_000*i), Amount: uint64(6_000_000 + 1_850_000*i),
			Settled: i >= 3,
		})
	}
	for i := range 60 {
		s := sampleAt(i)
		s.At = b.now.Add(time.Duration(i-60) * time.Second)
		b.network.Samples = append(b.network.Samples, s)
	}
}

// sampleAt is the i-th sample of a smooth, deterministic traffic curve.
func sampleAt(i int) app.NetSample {
	x := float64(i)
	return app.NetSample{
		InBps:     2.4e6 + 1.1e6*math.Sin(x/6) + 0.4e6*math.Sin(x/1.7),
		OutBps:    1.6e6 + 0.8e6*math.Sin(x/5+1) + 0.3e6*math.Cos(x/2.3),
		LatencyMs: 45 + 9*math.Sin(x/4) + 4*math.Cos(x/1.3),
	}
}

func (b *Backend) fillWallet() {
	b.password = "correct horse battery"
	b.wallet.Exists = true
	b.wallet.Address = "7xKXtg2CW87d97TXJSDpbD5jBkheTqA83TZRuJosgAsU"
	b.wallet.Balances = []app.Balance{
		{Symbol: "SOL", Amount: sol(2.48315), Decimals: 9},
		{Symbol: "USDC", Mint: "4zMMC9srt5Ri5X14GAgXhaHii3GnPAEERYPJgZJDncDU", Amount: 12_500_000, Decimals: 6},
	}
	b.wallet.Payments = app.Payments{Owed: 1_840_000, Providers: 2} // locked
	from := []string{"9WzDXwBbmkg8ZTbNMqUxvQRAyrZzDsGYdLVL9zYtAWWM", "3Kz7c9Gf1Yq2LrTm8pVnX4dWs6JbHe5RaUoNi2PtQcMv"}
	today := day(b.now)
	for i := range 6 {
		t := b.now.Add(-time.Duration(i*19+2) * time.Hour)
		tr := app.Transfer{
			Signature: "5Hq" + strconv.Itoa(9000+i) + "xPtV8mZc2RkLw1YbNf4GdJs7TqUe3AoKiWnBy6Cr",
			Time:      t, Kind: app.TransferPayout, Symbol: "SOL", Amount: sol(0.0125 + 0.004*float64(i%3)),
			Decimals: 9, Counterparty: from[i%2], Confirmed: true, Memo: "hearth settle",
		}
		switch i {
		case 1:
			tr.Kind, tr.Amount, tr.Memo = app.TransferOut, sol(0.25), ""
			tr.Counterparty = "DRpbCBMxVnDK7maPM5tGv6MvB3v1sRMC86PZ8okm21hy"
		case 4:
			tr.Kind, tr.Amount, tr.Memo = app.TransferIn, sol(1), ""
		}
		b.history = append(b.history, tr)
	}
	for i := range 14 {
		d := today.AddDate(0, 0, i-13)
		e := uint64(18_000_000 + 9_000_000*math.Abs(math.Sin(float64(i)/2.2)))
		settled := e
		if i >= 11 {
			settled = e * uint64(14-i) / 4
		}
		b.earnings = append(b.earnings, app.DayEarnings{Day: d, Earned: e, Settled: settled, Pending: e - settled})
	}
}
