package cli

import (
	"context"
	"fmt"
	"log/slog"
	"os/signal"
	"strings"
	"syscall"
	"time"

	ma "github.com/multiformats/go-multiaddr"
	manet "github.com/multiformats/go-multiaddr/net"

	"github.com/hearth-p2p/hearth/node/p2p"
	"github.com/hearth-p2p/hearth/node/runtime"
	"github.com/hearth-p2p/hearth/node/shard"
	"github.com/hearth-p2p/hearth/wallet"
	"github.com/hearth-p2p/hearth/wallet/receipt"
	"github.com/hearth-p2p/hearth/wallet/settle"
)

func init() {
	register(&command{
		name:    "node",
		summary: "serve layers of a model to peers (headless shard provider)",
		usage: "--model FILE [--layers A:B|auto[:N]] [--listen MULTIADDR,…] [--data-dir D] [--price N --payout ADDRESS [--mint MINT]] " +
			"[--max-sessions N] [--max-context N] [--credit-limit N] [--idle-timeout D] [--threads N] " +
			"[--bootstrap ADDRS] [--swarm-key HEX] [--lend-when-idle] [--no-mdns] [--wallet [--cluster C] [--rpc-url URL]] [--gpu]",
		run: runNode,
	})
}

// nodeFlags are the parsed flags of `hearth node`.
type nodeFlags struct {
	model, layers, listen, dataDir string
	payout, mint                   string
	price, creditLimit             uint64
	maxSessions, maxContext        int
	threads                        int
	idle                           time.Duration
	logLevel                       string
	bootstrap, swarmKey            string
	lendWhenIdle, noMDNS           bool
	useWallet                      bool
	cluster, rpcURL                string
	settleEvery                    time.Duration
	gpu                            bool
}

func parseNodeFlags(env *Env, args []string) (*nodeFlags, error) {
	fs := newFlagSet(env, "node")
	def := shard.Default()
	f := &nodeFlags{}
	fs.StringVar(&f.model, "model", "", "GGUF model file, or the name of an installed model")
	fs.StringVar(&f.layers, "layers", "", "layers to serve: A:B for [A,B), or auto:N for the N layers the swarm lacks most, moving when others become scarcer (default: all)")
	fs.StringVar(&f.listen, "listen", strings.Join(p2p.Default().ListenAddrs, ","), "comma-separated listen multiaddrs")
	fs.StringVar(&f.dataDir, "data-dir", runtime.DefaultDataDir(), "data directory (node identity, ledger, hash cache)")
	fs.Uint64Var(&f.price, "price", 0, "price in lamports (or base units of --mint) per 1000 token-layers; 0 = free")
	fs.StringVar(&f.payout, "payout", "", "Solana address receipts pay (required with --price)")
	fs.StringVar(&f.mint, "mint", "", "SPL token mint of the price (default: SOL)")
	fs.Uint64Var(&f.creditLimit, "credit-limit", def.CreditLimit, "most a session may owe beyond its last receipt, in base units")
	fs.IntVar(&f.maxSessions, "max-sessions", def.MaxSessions, "most concurrent sessions")
	fs.IntVar(&f.maxContext, "max-context", def.MaxContext, "most positions per session")
	fs.DurationVar(&f.idle, "idle-timeout", def.IdleTimeout, "close sessions idle this long")
	fs.IntVar(&f.threads, "threads", 0, "CPU threads (0 = all)")
	fs.StringVar(&f.logLevel, "log-level", "info", "stderr log level: debug, info, warn, error")
	fs.StringVar(&f.bootstrap, "bootstrap", "", "comma-separated multiaddrs of peers to join the swarm through")
	fs.StringVar(&f.swarmKey, "swarm-key", "", "pre-shared key (64 hex) of a private swarm: only your own devices")
	fs.BoolVar(&f.lendWhenIdle, "lend-when-idle", false, "serve only while this machine is idle (the lending policy)")
	fs.BoolVar(&f.noMDNS, "no-mdns", false, "do not look for peers on the local network")
	fs.BoolVar(&f.gpu, "gpu", false, "serve the layers from the GPU (WebGPU; HEARTH_GPU_ALLOW_CPU=1 accepts a CPU Vulkan driver)")
	fs.BoolVar(&f.useWallet, "wallet", false, "paid to this data directory's wallet, which watches the chain for payments")
	fs.StringVar(&f.cluster, "cluster", "devnet", "Solana cluster of the wallet (with --wallet)")
	fs.StringVar(&f.rpcURL, "rpc-url", "", "Solana RPC endpoint (with --wallet)")
	fs.DurationVar(&f.settleEvery, "settle-interval", 30*time.Second, "how often the wallet looks for payments (with --wallet)")
	if err := parseFlags(fs, args); err != nil {
		return nil, err
	}
	if f.model == "" {
		return nil, usageError("--model is required")
	}
	if f.price > 0 && f.payout == "" && !f.useWallet {
		return nil, usageError("--price needs --payout, the address receipts pay (or --wallet)")
	}
	return f, nil
}

// shardConfig turns the flags into the server's configuration.
func (f *nodeFlags) shardConfig() (shard.Config, error) {
	cfg := shard.Default()
	cfg.MaxSessions, cfg.MaxContext, cfg.CreditLimit, cfg.IdleTimeout = f.maxSessions, f.maxContext, f.creditLimit, f.idle
	cfg.Price.PerKiloUnit = f.price
	var err error
	if f.payout != "" {
		if cfg.Payout, err = receipt.ParsePublicKey(f.payout); err != nil {
			return cfg, usageError("--payout: %v", err)
		}
	}
	if f.mint != "" {
		if cfg.Price.Mint, err = receipt.ParsePublicKey(f.mint); err != nil {
			return cfg, usageError("--mint: %v", err)
		}
	}
	if err := cfg.Validate(); err != nil && !(f.useWallet && cfg.Payout.IsZero()) {
		return cfg, usageError("%v", err)
	}
	return cfg, nil
}

func runNode(ctx context.Context, env *Env, args []string) error {
	f, err := parseNodeFlags(env, args)
	if err != nil {
		return err
	}
	cfg, err := f.nodeConfig()
	if err != nil {
		return err
	}
	log, err := stderrLogger(env, f.logLevel)
	if err != nil {
		return err
	}
	if f.useWallet {
		wf := walletFlags{dataDir: f.dataDir, cluster: f.cluster, rpcURL: f.rpcURL}
		wcfg, err := wf.config()
		if err != nil {
			return err
		}
		// Watching for payments needs no password: the address is public.
		w, err := wallet.OpenReadOnly(wcfg, log)
		if err != nil {
			return err
		}
		defer w.Close()
		cfg.Wallet = w
		cfg.Watcher = settle.DefaultWatcherConfig()
		cfg.Watcher.Interval = f.settleEvery
	}
	// SIGINT is handled by Run's context; a daemon also stops on SIGTERM.
	ctx, stop := signal.NotifyContext(ctx, syscall.SIGTERM)
	defer stop()
	n, err := runtime.NewNode(ctx, cfg, log)
	if err != nil {
		return err
	}
	defer n.Close()
	done := make(chan error, 1)
	go func() { done <- n.Serve(ctx) }()
	for _, ready := range []<-chan struct{}{n.Ready(), n.Placed()} {
		select {
		case <-ready:
		case err := <-done:
			return err
		}
	}
	fmt.Fprintf(env.Stdout, "listening %s\n", n.ListenAddr())
	for _, sm := range n.ServedModels() {
		fmt.Fprintf(env.Stdout, "serving %q layers %d:%d of %d on %s, sha256 %x, price %d, %.1f tok/s\n",
			sm.Name, sm.From, sm.To, sm.NumLayers, sm.Backend, sm.Hash, cfg.Shard.Price.PerKiloUnit, sm.TokPerSec)
	}
	// The machine benchmark only when cached: measuring would compete
	// with the node for the CPU.
	if b, ok := runtime.LoadMachineBench(cfg.DataDir, runtime.MachineKeyFor(ctx, cfg.Threads)); ok {
		fmt.Fprintf(env.Stdout, "this machine: ~%.1f tok/s per 1B model, %.0f tok/s per 1B layer (hearth bench --machine, %s)\n",
			b.Model1BTokS, b.LayerTokS, b.At.Local().Format("2006-01-02"))
	}
	if cfg.Lending.Enabled {
		fmt.Fprintln(env.Stdout, "lending only while this machine is idle")
	}
	err = <-done
	st := n.Server().Stats()
	fmt.Fprintf(env.Stderr, "stopped: %d sessions served, %d tokens, %d token-layers\n",
		st.Totals.Opened, st.Totals.Tokens, st.Totals.Units)
	return err
}

// nodeConfig turns the flags into the runtime's node configuration.
func (f *nodeFlags) nodeConfig() (runtime.NodeConfig, error) {
	cfg := runtime.DefaultNodeConfig(f.dataDir)
	if f.dataDir == "" {
		return cfg, usageError("cannot find a data directory; pass --data-dir")
	}
	var err error
	if cfg.Shard, err = f.shardConfig(); err != nil {
		return cfg, err
	}
	if cfg.P2P, err = hostConfig(f.listen); err != nil {
		return cfg, err
	}
	cfg.P2P.BootstrapPeers = splitList(f.bootstrap)
	cfg.P2P.PrivateSwarmKey = f.swarmKey
	cfg.Discovery.EnableMDNS = !f.noMDNS
	path, err := resolveModel(f.model, f.dataDir)
	if err != nil {
		return cfg, err
	}
	spec := runtime.ServeSpec{Model: path, GPU: f.gpu}
	if f.layers != "" {
		if err := runtime.ParseServeLayers(f.layers, &spec); err != nil {
			return cfg, usageError("--layers: %v", err)
		}
	}
	cfg.Serve, cfg.Threads = []runtime.ServeSpec{spec}, f.threads
	cfg.Lending.Enabled = f.lendWhenIdle
	if err := cfg.Validate(); err != nil && !(f.useWallet && cfg.Shard.Payout.IsZero()) {
		return cfg, usageError("%v", err)
	}
	return cfg, nil
}

// splitList splits a comma-separated flag value, dropping empty items.
func splitList(s string) []string {
	var out []string
	for _, v := range strings.Split(s, ",") {
		if v = strings.TrimSpace(v); v != "" {
			out = append(out, v)
		}
	}
	return out
}

// stderrLogger logs text to stderr at level.
func stderrLogger(env *Env, level string) (*slog.Logger, error) {
	var l slog.Level
	if err := l.UnmarshalText([]byte(level)); err != nil {
		return nil, usageError("--log-level: %v", err)
	}
	return slog.New(slog.NewTextHandler(env.Stderr, &slog.HandlerOptions{Level: l})), nil
}

// hostConfig is the p2p configuration for the comma-separated listen
// addresses. A host that only listens on loopback does no NAT mapping,
// AutoNAT, relaying or hole punching.
func hostConfig(listen string) (p2p.Config, error) {
	cfg := p2p.Default()
	cfg.ListenAddrs = nil
	for _, a := range strings.Split(listen, ",") {
		if a = strings.TrimSpace(a); a != "" {
			cfg.ListenAddrs = append(cfg.ListenAddrs, a)
		}
	}
	if loopbackOnly(cfg.ListenAddrs) {
		cfg.NATPortMap, cfg.EnableAutoNAT, cfg.EnableRelayClient, cfg.EnableHolePunching = false, false, false, false
	}
	if err := cfg.Validate(); err != nil {
		return cfg, usageError("--listen: %v", err)
	}
	return cfg, nil
}

func loopbackOnly(addrs []string) bool {
	for _, s := range addrs {
		m, err := ma.NewMultiaddr(s)
		if err != nil || !manet.IsIPLoopback(m) {
			return false
		}
	}
	return len(addrs) > 0
}

// listenAddr picks the address to print: the first direct TCP one, else the
// first at all.
func listenAddr(h *p2p.Host) ma.Multiaddr {
	addrs := h.Addrs()
	for _, a := range addrs {
		if _, err := a.ValueForProtocol(ma.P_TCP); err == nil {
			if _, err := a.ValueForProtocol(ma.P_CIRCUIT); err != nil {
				return a
			}
		}
	}
	if len(addrs) == 0 {
		return nil
	}
	return addrs[0]
}

// contextFor is the context `hearth run` needs: the prompt plus max tokens,
// as the runtime computes it.
func contextFor(lm *runtime.LocalModel, prompt string, maxTokens int) int {
	n := max(len(lm.Tok.Encode(prompt, true, true)), 1)
	return min(n+max(maxTokens, 0), lm.Model.ContextLen)
}
