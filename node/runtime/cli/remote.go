package cli

import (
	"context"
	"crypto/rand"
	"errors"
	"flag"
	"fmt"
	"log/slog"
	"os"
	"strings"
	"time"

	"github.com/libp2p/go-libp2p/core/crypto"

	"github.com/hearth-p2p/hearth/inference/model"
	"github.com/hearth-p2p/hearth/node/discovery"
	"github.com/hearth-p2p/hearth/node/p2p"
	"github.com/hearth-p2p/hearth/node/runtime"
	"github.com/hearth-p2p/hearth/node/shard"
	"github.com/hearth-p2p/hearth/node/verify"
	"github.com/hearth-p2p/hearth/wallet"
	"github.com/hearth-p2p/hearth/wallet/keys"
	"github.com/hearth-p2p/hearth/wallet/receipt"
)

// remoteUsage is the usage of the flags that put layers on peers.
const remoteUsage = "[--local-layers A:B,… [--peers ADDR,… | --bootstrap ADDR,… [--swarm-key HEX] [--no-mdns] [--discovery-wait D]] " +
	"[--wire f32|f16] [--listen MULTIADDR,…] [--keypair FILE | --pay-with-wallet] [--max-price N]]"

// remoteFlags are the flags of `hearth run`, `chat` and `serve` that run
// layers on peers: named ones (--peers), or providers found in the swarm
// (bootstrap peers, the DHT, mDNS on the LAN and gossip).
type remoteFlags struct {
	local, peers, wire, listen, keypair string
	bootstrap, swarmKey                 string
	noMDNS                              bool
	discoveryWait                       time.Duration
	maxPrice                            uint64
	payWithWallet                       bool
	wallet                              walletFlags
	dataDir                             *string // the command's --data-dir: the ban list lives there
}

// addRemoteFlags adds the flags; dataDir is the command's data directory
// flag, where the list of banned providers is kept.
func addRemoteFlags(fs *flag.FlagSet, dataDir *string) *remoteFlags {
	r := &remoteFlags{dataDir: dataDir}
	fs.StringVar(&r.local, "local-layers", "", "layers to run here, A:B (several: A:B,C:D); the rest run on peers")
	fs.StringVar(&r.peers, "peers", "", "comma-separated multiaddrs (ending in /p2p/ID) of shard servers for the other layers (default: found in the swarm)")
	fs.StringVar(&r.bootstrap, "bootstrap", "", "comma-separated multiaddrs of peers to join the swarm through, to find providers")
	fs.StringVar(&r.swarmKey, "swarm-key", "", "pre-shared key (64 hex) of a private swarm")
	fs.BoolVar(&r.noMDNS, "no-mdns", false, "do not look for providers on the local network")
	fs.DurationVar(&r.discoveryWait, "discovery-wait", 15*time.Second, "how long to look for providers of the missing layers")
	fs.StringVar(&r.wire, "wire", "f32", "hidden states on the wire: f32 (exact) or f16 (half the bytes)")
	fs.StringVar(&r.listen, "listen", "/ip4/0.0.0.0/tcp/0,/ip4/0.0.0.0/udp/0/quic-v1", "listen multiaddrs of this node's libp2p host")
	fs.StringVar(&r.keypair, "keypair", "", "Solana keypair JSON file that signs receipts for paid peers")
	fs.Uint64Var(&r.maxPrice, "max-price", 0, "most accepted per 1000 token-layers, in lamports (0: free peers only)")
	fs.BoolVar(&r.payWithWallet, "pay-with-wallet", false, "sign receipts with this data directory's wallet and record what is owed ('hearth wallet settle' pays it)")
	fs.StringVar(&r.wallet.dataDir, "wallet-dir", runtime.DefaultDataDir(), "data directory of the paying wallet")
	return r
}

// enabled reports whether any layer runs on a peer.
func (r *remoteFlags) enabled() bool { return r.local != "" || r.peers != "" || r.bootstrap != "" }

// consumer is the consumer side of pipelines: a host (with discovery when
// no peers are named), the layers kept here, and what pays.
type consumer struct {
	env    *Env
	lm     *runtime.LocalModel
	local  []runtime.LayerRange
	opts   runtime.PipelineOptions
	host   *p2p.Host
	cons   *runtime.Consumer // nil with --peers
	wallet *wallet.Wallet
	log    *slog.Logger
}

// open starts the consumer host for lm's pipelines.
func (r *remoteFlags) open(ctx context.Context, env *Env, lm *runtime.LocalModel) (*consumer, error) {
	rm := &consumer{env: env, lm: lm}
	for _, s := range splitList(r.local) {
		lr, err := runtime.ParseLayerRange(s)
		if err != nil {
			return nil, usageError("--local-layers: %v", err)
		}
		rm.local = append(rm.local, lr)
	}
	wire, err := shard.ParseDType(r.wire)
	if err != nil {
		return nil, usageError("--wire: %v", err)
	}
	if r.peers != "" && (r.bootstrap != "" || r.swarmKey != "") {
		return nil, usageError("--peers names the providers: it does not combine with --bootstrap or --swarm-key")
	}
	rm.opts = runtime.PipelineOptions{WireDType: wire, MaxPrice: receipt.Price{PerKiloUnit: r.maxPrice}, Peers: splitList(r.peers)}
	if err := r.signer(env, rm); err != nil {
		return nil, err
	}
	rm.log = slog.New(slog.NewTextHandler(env.Stderr, &slog.HandlerOptions{Level: slog.LevelWarn}))
	rm.opts.Logger = rm.log
	hcfg, err := hostConfig(r.listen)
	if err != nil {
		rm.close()
		return nil, err
	}
	bans, err := runtime.OpenBans(*r.dataDir)
	if err != nil {
		rm.close()
		return nil, err
	}
	// A cheater is banned here, and its unpaid work written off in the
	// paying wallet's ledger.
	rm.opts.Bans = bans
	if rm.wallet != nil {
		owed, err := rm.wallet.Ledger()
		if err != nil {
			rm.close()
			return nil, err
		}
		rm.opts.Void = runtime.VoidIn(owed)
	}
	if len(rm.opts.Peers) > 0 {
		// Named peers, no swarm: cheaters are reported to nobody.
		if rm.host, err = startEphemeralHost(ctx, hcfg, rm.log); err != nil {
			rm.close()
			return nil, err
		}
		return rm, nil
	}
	hcfg.BootstrapPeers, hcfg.PrivateSwarmKey = splitList(r.bootstrap), r.swarmKey
	dcfg := discovery.Default()
	dcfg.EnableMDNS = !r.noMDNS
	if rm.cons, err = runtime.StartConsumer(ctx, hcfg, dcfg, rm.log); err != nil {
		rm.close()
		return nil, err
	}
	rm.host = rm.cons.Host()
	rm.opts.Providers = rm.cons
	hash, err := runtime.ModelIdentity(lm, "")
	if err != nil {
		rm.close()
		return nil, err
	}
	// Cheaters this consumer catches are also reported to the swarm;
	// others' reports on this model are re-run here.
	if rm.opts.Reporter, err = rm.cons.ReportFraud(bans, verify.ModelExecutor{Hash: hash, Model: lm.Model, Pool: lm.Pool}); err != nil {
		rm.close()
		return nil, err
	}
	fmt.Fprintf(env.Stderr, "looking for providers of %s (up to %v)\n", lm.Model.Name, r.discoveryWait)
	if !rm.cons.FindProviders(ctx, discovery.ModelHash(hash), rm.cons, rm.local, lm.Model.NumLayers, r.discoveryWait) {
		n := len(rm.cons.Providers(discovery.ModelHash(hash)))
		rm.close()
		if err := ctx.Err(); err != nil {
			return nil, err
		}
		return nil, fmt.Errorf("no providers cover the layers not run here after %v (%d providers of model %x heard of); "+
			"name them with --peers, join a swarm with --bootstrap, or run more layers locally", r.discoveryWait, n, hash[:8])
	}
	return rm, nil
}

// signer sets the key that signs receipts for paid providers.
func (r *remoteFlags) signer(env *Env, rm *consumer) error {
	if r.payWithWallet {
		if r.keypair != "" {
			return usageError("--pay-with-wallet and --keypair are exclusive")
		}
		r.wallet.cluster = "devnet" // signing receipts needs no RPC
		wcfg, err := r.wallet.config()
		if err != nil {
			return err
		}
		pw, err := readPassword(env, "Wallet password: ", false)
		if err != nil {
			return err
		}
		if rm.wallet, err = wallet.Open(wcfg, pw, nil); err != nil {
			return err
		}
		if rm.opts.Signer, err = rm.wallet.Signer(); err != nil {
			rm.wallet.Close()
			rm.wallet = nil
			return err
		}
	}
	if r.keypair != "" {
		b, err := os.ReadFile(r.keypair)
		if err != nil {
			return fmt.Errorf("--keypair: %w", err)
		}
		k, err := keys.ParseKeypairJSON(b)
		if err != nil {
			return fmt.Errorf("--keypair: %w", err)
		}
		rm.opts.Signer = k
	}
	return nil
}

// pipeline opens a pipeline holding maxCtx positions. The returned function
// closes it and records what is owed for it in the paying wallet.
func (rm *consumer) pipeline(ctx context.Context, maxCtx int) (*runtime.Pipeline, func(), error) {
	opts := rm.opts
	opts.MaxContext = maxCtx
	p, err := runtime.BuildPipeline(ctx, rm.host, rm.lm, rm.local, opts)
	if err != nil {
		return nil, nil, err
	}
	fmt.Fprintf(rm.env.Stderr, "pipeline %s (wire %s)\n", p, opts.WireDType)
	return p, func() {
		errs := []error{p.Close()}
		if rm.wallet != nil {
			if l, err := rm.wallet.Ledger(); err != nil {
				errs = append(errs, err)
			} else {
				errs = append(errs, runtime.RecordReceipts(p, l))
			}
		}
		if err := errors.Join(errs...); err != nil {
			rm.log.Warn("closing the pipeline", "err", err)
		}
	}, nil
}

// chatOptions are a chat engine's options with nctx positions per
// conversation: its turns run on pipelines when layers go to peers. The
// returned function stops the consumer.
func (r *remoteFlags) chatOptions(ctx context.Context, env *Env, lm *runtime.LocalModel, nctx int) (runtime.ChatOptions, func(), error) {
	opts := runtime.ChatOptions{Context: nctx}
	if !r.enabled() {
		return opts, func() {}, nil
	}
	rm, err := r.open(ctx, env, lm)
	if err != nil {
		return opts, nil, err
	}
	opts.Chain = func(ctx context.Context, maxCtx int) (model.Chain, func(), error) {
		p, closeP, err := rm.pipeline(ctx, maxCtx)
		if err != nil {
			return nil, nil, err
		}
		return p.Chain, closeP, nil
	}
	return opts, rm.close, nil
}

// close stops the host and closes the wallet.
func (rm *consumer) close() {
	var errs []error
	switch {
	case rm.cons != nil:
		errs = append(errs, rm.cons.Close())
	case rm.host != nil:
		errs = append(errs, rm.host.Close())
	}
	if rm.wallet != nil {
		errs = append(errs, rm.wallet.Close())
	}
	if err := errors.Join(errs...); err != nil && rm.log != nil {
		rm.log.Warn("closing the consumer", "err", err)
	}
}

// build opens one pipeline (for `hearth run`); the returned function closes
// it, records what is owed, and stops the host.
func (r *remoteFlags) build(ctx context.Context, env *Env, lm *runtime.LocalModel, maxCtx int) (*runtime.Pipeline, func(), error) {
	rm, err := r.open(ctx, env, lm)
	if err != nil {
		return nil, nil, err
	}
	p, closeP, err := rm.pipeline(ctx, maxCtx)
	if err != nil {
		rm.close()
		return nil, nil, err
	}
	return p, func() { closeP(); rm.close() }, nil
}

// startEphemeralHost starts a host with a throwaway identity: a consumer
// needs no stable peer ID.
func startEphemeralHost(ctx context.Context, cfg p2p.Config, log *slog.Logger) (*p2p.Host, error) {
	key, _, err := crypto.GenerateEd25519Key(rand.Reader)
	if err != nil {
		return nil, err
	}
	return p2p.New(ctx, cfg, key, log)
}

// describe names where the layers run, for a chat's or server's banner.
func (r *remoteFlags) describe() string {
	switch {
	case r.peers != "":
		return fmt.Sprintf("layers %s here, the rest on %d named peers", layersOrNone(r.local), len(splitList(r.peers)))
	case r.enabled():
		return fmt.Sprintf("layers %s here, the rest on providers found in the swarm", layersOrNone(r.local))
	}
	return "local only"
}

// layersOrNone is --local-layers for people ("none" when empty).
func layersOrNone(local string) string {
	if local == "" {
		return "none"
	}
	return strings.ReplaceAll(local, ",", " and ")
}
