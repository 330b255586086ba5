package cli

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"sort"
	"strings"
	"time"

	"github.com/hearth-p2p/hearth/node/runtime"
	"github.com/hearth-p2p/hearth/wallet"
	"github.com/hearth-p2p/hearth/wallet/keystore"
	"github.com/hearth-p2p/hearth/wallet/receipt"
	"github.com/hearth-p2p/hearth/wallet/solana"
	"golang.org/x/term"
)

// PasswordEnv holds the wallet password for non-interactive use.
const PasswordEnv = "HEARTH_WALLET_PASSWORD"

// walletKDF are the keystore parameters for new wallets (tests lower them).
var walletKDF = keystore.DefaultParams()

func init() {
	register(&command{
		name:    "wallet",
		summary: "the built-in Solana wallet: keys, balances, payments, earnings",
		usage:   "create|import|address|balance|send|history|export|earnings|airdrop|settle [--data-dir DIR] [--cluster NAME] [--rpc-url URL] …",
		run:     runWallet,
	})
}

type walletSub struct {
	summary string
	run     func(ctx context.Context, env *Env, wf *walletFlags, args []string) error
}

var walletSubs = map[string]walletSub{
	"create":   {"create a wallet with a new 24-word recovery phrase", walletCreate},
	"import":   {"import a recovery phrase (from stdin or a prompt) or a Solana CLI keypair (--keypair FILE)", walletImport},
	"address":  {"print the wallet address", walletAddress},
	"balance":  {"print SOL and token balances", walletBalance},
	"send":     {"send SOL or an SPL token: --to ADDR --amount N [--mint MINT] [--memo TEXT]", walletSend},
	"history":  {"list recent transactions [--limit N] [--before SIG]", walletHistory},
	"export":   {"print the recovery phrase (or --keypair: the Solana CLI keypair JSON)", walletExport},
	"earnings": {"print earnings from served shards: earned, settled, pending", walletEarnings},
	"airdrop":  {"request free SOL on devnet, testnet or localnet [--amount SOL]", walletAirdrop},
	"settle":   {"pay providers what this node's receipts owe them", walletSettle},
}

func runWallet(ctx context.Context, env *Env, args []string) error {
	if len(args) == 0 || args[0] == "-h" || args[0] == "--help" || args[0] == "help" {
		printWalletHelp(env.Stdout)
		if len(args) == 0 {
			return usageError("missing subcommand")
		}
		return flag.ErrHelp
	}
	sub, ok := walletSubs[args[0]]
	if !ok {
		return usageError("unknown wallet subcommand %q", args[0])
	}
	wf := &walletFlags{}
	return sub.run(ctx, env, wf, args[1:])
}

func printWalletHelp(w io.Writer) {
	names := make([]string, 0, len(walletSubs))
	for n := range walletSubs {
		names = append(names, n)
	}
	sort.Strings(names)
	fmt.Fprintf(w, "usage: hearth wallet <subcommand> [--data-dir DIR] [--cluster devnet|mainnet-beta|testnet|localnet] [--rpc-url URL]\n\n")
	for _, n := range names {
		fmt.Fprintf(w, "  %-9s %s\n", n, walletSubs[n].summary)
	}
	fmt.Fprintf(w, "\nThe password comes from $%s or a terminal prompt.\n", PasswordEnv)
}

// walletFlags are the flags every wallet subcommand takes.
type walletFlags struct {
	dataDir, cluster, rpcURL string
}

func (wf *walletFlags) register(fs *flag.FlagSet) {
	fs.StringVar(&wf.dataDir, "data-dir", runtime.DefaultDataDir(), "data directory")
	fs.StringVar(&wf.cluster, "cluster", "devnet", "Solana cluster: devnet, mainnet-beta, testnet, localnet")
	fs.StringVar(&wf.rpcURL, "rpc-url", "", "RPC endpoint (overrides the cluster's public one)")
}

func (wf *walletFlags) config() (wallet.Config, error) {
	cfg := wallet.DefaultConfig()
	cfg.KDF, cfg.DataDir = walletKDF, wf.dataDir
	if cfg.DataDir == "" {
		return cfg, usageError("cannot find a data directory; pass --data-dir")
	}
	c, err := solana.ParseCluster(wf.cluster)
	if err != nil {
		return cfg, usageError("%v", err)
	}
	cfg.Solana.Cluster, cfg.Solana.RPCURL = c, wf.rpcURL
	if err := cfg.Solana.Validate(); err != nil {
		return cfg, usageError("%v", err)
	}
	return cfg, nil
}

// parse parses a subcommand's flags (plus the common ones) and returns the config.
func (wf *walletFlags) parse(env *Env, name string, args []string, extra func(fs *flag.FlagSet)) (wallet.Config, error) {
	fs := newFlagSet(env, "wallet "+name)
	wf.register(fs)
	if extra != nil {
		extra(fs)
	}
	if err := parseFlags(fs, args); err != nil {
		return wallet.Config{}, err
	}
	if fs.NArg() > 0 {
		return wallet.Config{}, usageError("unexpected argument %q", fs.Arg(0))
	}
	return wf.config()
}

// readPassword takes the password from $HEARTH_WALLET_PASSWORD or prompts on
// the terminal (twice when confirm is set).
func readPassword(env *Env, prompt string, confirm bool) ([]byte, error) {
	if p, ok := os.LookupEnv(PasswordEnv); ok {
		if p == "" {
			return nil, fmt.Errorf("$%s is empty", PasswordEnv)
		}
		return []byte(p), nil
	}
	f, ok := env.Stdin.(*os.File)
	if !ok || !term.IsTerminal(int(f.Fd())) {
		return nil, fmt.Errorf("no password: set $%s or run in a terminal", PasswordEnv)
	}
	fmt.Fprint(env.Stderr, prompt)
	pw, err := term.ReadPassword(int(f.Fd()))
	fmt.Fprintln(env.Stderr)
	if err != nil {
		return nil, fmt.Errorf("read password: %w", err)
	}
	if len(pw) == 0 {
		return nil, errors.New("empty password")
	}
	if confirm {
		fmt.Fprint(env.Stderr, "Repeat the password: ")
		again, err := term.ReadPassword(int(f.Fd()))
		fmt.Fprintln(env.Stderr)
		if err != nil {
			return nil, fmt.Errorf("read password: %w", err)
		}
		if !bytes.Equal(pw, again) {
			return nil, errors.New("the passwords differ")
		}
	}
	return pw, nil
}

// readSecretLine reads one line from a terminal without echo, or from stdin.
func readSecretLine(env *Env, prompt string) (string, error) {
	if f, ok := env.Stdin.(*os.File); ok && term.IsTerminal(int(f.Fd())) {
		fmt.Fprint(env.Stderr, prompt)
		b, err := term.ReadPassword(int(f.Fd()))
		fmt.Fprintln(env.Stderr)
		return string(b), err
	}
	line, err := bufio.NewReader(env.Stdin).ReadString('\n')
	if err != nil && !errors.Is(err, io.EOF) {
		return "", fmt.Errorf("read stdin: %w", err)
	}
	return strings.TrimSpace(line), nil
}

func walletCreate(ctx context.Context, env *Env, wf *walletFlags, args []string) error {
	cfg, err := wf.parse(env, "create", args, nil)
	if err != nil {
		return err
	}
	if wallet.Exists(cfg) {
		return fmt.Errorf("%w: %s", wallet.ErrWalletExists, cfg.KeystorePath())
	}
	pw, err := readPassword(env, "New wallet password: ", true)
	if err != nil {
		return err
	}
	w, mnemonic, err := wallet.Create(cfg, pw, nil)
	if err != nil {
		return err
	}
	defer w.Close()
	fmt.Fprintf(env.Stdout, "address: %s\n\nRecovery phrase (write it down; anyone with it controls the wallet):\n\n  %s\n\n", w.Address(), mnemonic)
	fmt.Fprintf(env.Stdout, "It also opens in Phantom and Solflare. Keystore: %s\n", cfg.KeystorePath())
	return nil
}

func walletImport(ctx context.Context, env *Env, wf *walletFlags, args []string) error {
	var keypair string
	var askPassphrase bool
	cfg, err := wf.parse(env, "import", args, func(fs *flag.FlagSet) {
		fs.StringVar(&keypair, "keypair", "", "Solana CLI keypair JSON file to import instead of a phrase")
		fs.BoolVar(&askPassphrase, "passphrase", false, "the phrase has a BIP39 passphrase (read after the phrase)")
	})
	if err != nil {
		return err
	}
	if wallet.Exists(cfg) {
		return fmt.Errorf("%w: %s", wallet.ErrWalletExists, cfg.KeystorePath())
	}
	var w *wallet.Wallet
	if keypair != "" {
		data, err := os.ReadFile(keypair)
		if err != nil {
			return fmt.Errorf("read keypair: %w", err)
		}
		pw, err := readPassword(env, "New wallet password: ", true)
		if err != nil {
			return err
		}
		w, err = wallet.ImportKeypair(cfg, data, pw, nil)
		if err != nil {
			return err
		}
	} else {
		phrase, err := readSecretLine(env, "Recovery phrase: ")
		if err != nil {
			return err
		}
		var passphrase string
		if askPassphrase {
			if passphrase, err = readSecretLine(env, "BIP39 passphrase: "); err != nil {
				return err
			}
		}
		pw, err := readPassword(env, "New wallet password: ", true)
		if err != nil {
			return err
		}
		w, err = wallet.ImportMnemonic(cfg, phrase, passphrase, pw, nil)
		if err != nil {
			return err
		}
	}
	defer w.Close()
	fmt.Fprintf(env.Stdout, "imported %s\n", w.Address())
	return nil
}

// openReadOnly opens the wallet for commands that do not sign.
func openReadOnly(env *Env, wf *walletFlags, name string, args []string, extra func(fs *flag.FlagSet)) (*wallet.Wallet, error) {
	cfg, err := wf.parse(env, name, args, extra)
	if err != nil {
		return nil, err
	}
	return wallet.OpenReadOnly(cfg, nil)
}

func walletAddress(ctx context.Context, env *Env, wf *walletFlags, args []string) error {
	w, err := openReadOnly(env, wf, "address", args, nil)
	if err != nil {
		return err
	}
	defer w.Close()
	fmt.Fprintln(env.Stdout, w.Address())
	return nil
}

func walletBalance(ctx context.Context, env *Env, wf *walletFlags, args []string) error {
	w, err := openReadOnly(env, wf, "balance", args, nil)
	if err != nil {
		return err
	}
	defer w.Close()
	b, err := w.Balance(ctx)
	if err != nil {
		return err
	}
	fmt.Fprintf(env.Stdout, "%s SOL\n", solana.FormatAmount(b.Lamports, solana.SOLDecimals))
	for _, t := range b.Tokens {
		fmt.Fprintf(env.Stdout, "%s %s\n", solana.FormatAmount(t.Amount, t.Decimals), t.Mint)
	}
	return nil
}

func walletSend(ctx context.Context, env *Env, wf *walletFlags, args []string) error {
	var to, amount, mint, memo string
	var dryRun bool
	cfg, err := wf.parse(env, "send", args, func(fs *flag.FlagSet) {
		fs.StringVar(&to, "to", "", "recipient address")
		fs.StringVar(&amount, "amount", "", "amount in SOL (or in token units with --mint), e.g. 0.25")
		fs.StringVar(&mint, "mint", "", "SPL token mint (default: SOL)")
		fs.StringVar(&memo, "memo", "", "memo to attach")
		fs.BoolVar(&dryRun, "dry-run", false, "simulate the transfer without sending it")
	})
	if err != nil {
		return err
	}
	if to == "" || amount == "" {
		return usageError("--to and --amount are required")
	}
	decimals := uint8(solana.SOLDecimals)
	if mint != "" {
		ro, err := wallet.OpenReadOnly(cfg, nil)
		if err != nil {
			return err
		}
		decimals, err = ro.TokenDecimals(ctx, mint)
		ro.Close()
		if err != nil {
			return err
		}
	}
	units, err := solana.ParseAmount(amount, decimals)
	if err != nil || units == 0 {
		return usageError("bad --amount %q", amount)
	}
	pw, err := readPassword(env, "Wallet password: ", false)
	if err != nil {
		return err
	}
	w, err := wallet.Open(cfg, pw, nil)
	if err != nil {
		return err
	}
	defer w.Close()
	if dryRun {
		sim, err := w.Preview(ctx, to, mint, units, memo)
		if err != nil {
			return err
		}
		if sim.Err != nil {
			return fmt.Errorf("the transfer would fail: %w", sim.Err)
		}
		fmt.Fprintf(env.Stdout, "would send %s %s to %s (%d compute units); nothing sent\n", amount, currency(mint), to, sim.UnitsConsumed)
		return nil
	}
	var sig string
	if mint == "" {
		sig, err = w.Send(ctx, to, units, memo)
	} else {
		sig, err = w.SendToken(ctx, to, mint, units, memo)
	}
	if err != nil {
		return err
	}
	fmt.Fprintf(env.Stdout, "sent %s %s to %s\nsignature: %s\n", amount, currency(mint), to, sig)
	return nil
}

func currency(mint string) string {
	if mint == "" {
		return "SOL"
	}
	return mint
}

func walletHistory(ctx context.Context, env *Env, wf *walletFlags, args []string) error {
	var limit int
	var before string
	w, err := openReadOnly(env, wf, "history", args, func(fs *flag.FlagSet) {
		fs.IntVar(&limit, "limit", 20, "most transactions to list (1..1000)")
		fs.StringVar(&before, "before", "", "list transactions older than this signature")
	})
	if err != nil {
		return err
	}
	defer w.Close()
	if limit < 1 || limit > 1000 {
		return usageError("--limit %d outside 1..1000", limit)
	}
	hist, err := w.History(ctx, limit, before)
	if err != nil {
		return err
	}
	if len(hist) == 0 {
		fmt.Fprintln(env.Stdout, "no transactions")
	}
	for _, h := range hist {
		when := "unknown time"
		if !h.Time.IsZero() {
			when = h.Time.UTC().Format(time.DateTime)
		}
		line := fmt.Sprintf("%s  %s SOL", when, signedAmount(h.Lamports, solana.SOLDecimals))
		for _, d := range h.TokenDeltas {
			line += fmt.Sprintf("  %s×%s", signedAmount(d.Delta, 0), d.Mint)
		}
		if len(h.Memos) > 0 {
			line += fmt.Sprintf("  memo %q", strings.Join(h.Memos, "; "))
		}
		if h.Failed != "" {
			line += "  FAILED: " + h.Failed
		}
		fmt.Fprintf(env.Stdout, "%s\n  %s\n", line, h.Signature)
	}
	return nil
}

func signedAmount(v int64, decimals uint8) string {
	if v < 0 {
		return "-" + solana.FormatAmount(uint64(-v), decimals)
	}
	return "+" + solana.FormatAmount(uint64(v), decimals)
}

func walletExport(ctx context.Context, env *Env, wf *walletFlags, args []string) error {
	var asKeypair bool
	w, err := openReadOnly(env, wf, "export", args, func(fs *flag.FlagSet) {
		fs.BoolVar(&asKeypair, "keypair", false, "print the Solana CLI keypair JSON instead of the phrase")
	})
	if err != nil {
		return err
	}
	defer w.Close()
	pw, err := readPassword(env, "Wallet password: ", false)
	if err != nil {
		return err
	}
	if asKeypair {
		js, err := w.ExportKeypair(pw)
		if err != nil {
			return err
		}
		fmt.Fprintf(env.Stdout, "%s\n", js)
		return nil
	}
	m, err := w.ExportMnemonic(pw)
	if err != nil {
		return err
	}
	fmt.Fprintf(env.Stderr, "Anyone with this phrase controls the wallet.\n")
	fmt.Fprintln(env.Stdout, m)
	return nil
}

func walletEarnings(ctx context.Context, env *Env, wf *walletFlags, args []string) error {
	var days int
	w, err := openReadOnly(env, wf, "earnings", args, func(fs *flag.FlagSet) {
		fs.IntVar(&days, "days", 7, "also list the last N days (0: none)")
	})
	if err != nil {
		return err
	}
	defer w.Close()
	es, err := w.Earnings()
	if err != nil {
		return err
	}
	if len(es) == 0 {
		fmt.Fprintln(env.Stdout, "no earnings yet")
		return nil
	}
	for _, e := range es {
		cur, dec := "SOL", uint8(solana.SOLDecimals)
		if !e.Mint.IsZero() {
			cur, dec = e.Mint.String(), 0
			if d, err := w.TokenDecimals(ctx, cur); err == nil {
				dec = d
			}
		}
		f := func(v uint64) string { return solana.FormatAmount(v, dec) }
		fmt.Fprintf(env.Stdout, "%s: earned %s, settled %s, pending %s (%d sessions)\n", cur, f(e.Earned), f(e.Settled), f(e.Pending), e.Sessions)
		for _, d := range e.Days[max(0, len(e.Days)-days):] {
			fmt.Fprintf(env.Stdout, "  %s  earned %s  settled %s\n", d.Day, f(d.Earned), f(d.Settled))
		}
	}
	return nil
}

func walletAirdrop(ctx context.Context, env *Env, wf *walletFlags, args []string) error {
	var amount string
	w, err := openReadOnly(env, wf, "airdrop", args, func(fs *flag.FlagSet) {
		fs.StringVar(&amount, "amount", "1", "SOL to request")
	})
	if err != nil {
		return err
	}
	defer w.Close()
	lamports, err := solana.ParseAmount(amount, solana.SOLDecimals)
	if err != nil || lamports == 0 {
		return usageError("bad --amount %q", amount)
	}
	sig, err := w.Airdrop(ctx, lamports)
	if err != nil {
		return err
	}
	fmt.Fprintf(env.Stdout, "received %s SOL\nsignature: %s\n", amount, sig)
	return nil
}

func walletSettle(ctx context.Context, env *Env, wf *walletFlags, args []string) error {
	cfg, err := wf.parse(env, "settle", args, nil)
	if err != nil {
		return err
	}
	pw, err := readPassword(env, "Wallet password: ", false)
	if err != nil {
		return err
	}
	w, err := wallet.Open(cfg, pw, nil)
	if err != nil {
		return err
	}
	defer w.Close()
	rs, err := w.Settle(ctx)
	for _, r := range rs {
		status := "confirmed"
		if r.Err != nil {
			status = "failed: " + r.Err.Error()
		}
		fmt.Fprintf(env.Stdout, "%s: %d base units of %s for %d receipts, %s\n  %s\n", r.Provider, r.Amount, mintName(r.Mint), r.Receipts, status, r.Signature)
	}
	if err != nil {
		return err
	}
	if len(rs) == 0 {
		fmt.Fprintln(env.Stdout, "nothing owed")
	}
	return nil
}

func mintName(m receipt.PublicKey) string {
	if m.IsZero() {
		return "SOL"
	}
	return m.String()
}
