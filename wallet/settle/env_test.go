package settle

import (
	"context"
	"path/filepath"
	"testing"
	"time"

	sol "github.com/gagliardetto/solana-go"
	"github.com/hearth-p2p/hearth/wallet/internal/svmtest"
	"github.com/hearth-p2p/hearth/wallet/keys"
	"github.com/hearth-p2p/hearth/wallet/ledger"
	"github.com/hearth-p2p/hearth/wallet/receipt"
	"github.com/hearth-p2p/hearth/wallet/solana"
)

// env is a consumer and providers on one LiteSVM cluster, each with its own ledger.
type env struct {
	t        *testing.T
	ctx      context.Context
	srv      *svmtest.Server
	chain    *solana.Client
	consumer keys.Key
	consPath string
	consLed  *ledger.Ledger
	model    [32]byte
}

type provider struct {
	key     keys.Key
	ledger  *ledger.Ledger
	watcher *Watcher
}

func newEnv(t *testing.T, consumerLamports uint64) *env {
	t.Helper()
	srv := svmtest.Start(t)
	cfg := solana.DefaultConfig()
	cfg.Cluster, cfg.RPCURL = solana.Localnet, srv.URL
	cfg.PollInterval, cfg.RebroadcastInterval, cfg.ConfirmTimeout = 20*time.Millisecond, 100*time.Millisecond, 20*time.Second
	chain, err := solana.New(cfg, nil)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	t.Cleanup(cancel)
	e := &env{t: t, ctx: ctx, srv: srv, chain: chain, model: [32]byte{0xee}}
	e.consumer, _ = keys.Generate()
	if consumerLamports > 0 {
		if _, err := chain.Airdrop(ctx, e.consumerAddr(), consumerLamports); err != nil {
			t.Fatal(err)
		}
	}
	e.consPath = filepath.Join(t.TempDir(), "consumer.db")
	e.consLed = e.openLedger(e.consPath)
	return e
}

func (e *env) consumerAddr() sol.PublicKey { return sol.PublicKey(e.consumer.PublicKey()) }

func (e *env) openLedger(path string) *ledger.Ledger {
	e.t.Helper()
	l, err := ledger.Open(path, nil)
	if err != nil {
		e.t.Fatal(err)
	}
	e.t.Cleanup(func() { _ = l.Close() })
	return l
}

// crashConsumer closes the consumer's ledger as a dying process would and
// opens it again.
func (e *env) crashConsumer() {
	e.t.Helper()
	if err := e.consLed.Close(); err != nil {
		e.t.Fatal(err)
	}
	e.consLed = e.openLedger(e.consPath)
}

func (e *env) payer() *Payer { return NewPayer(e.chain, e.consLed, e.consumer.Solana(), nil) }

func (e *env) newProvider() *provider {
	e.t.Helper()
	k, _ := keys.Generate()
	l := e.openLedger(filepath.Join(e.t.TempDir(), "provider.db"))
	w, err := NewWatcher(e.chain, l, sol.PublicKey(k.PublicKey()), WatcherConfig{Interval: time.Second, PageSize: 2}, nil)
	if err != nil {
		e.t.Fatal(err)
	}
	return &provider{key: k, ledger: l, watcher: w}
}

func (p *provider) addr() sol.PublicKey { return sol.PublicKey(p.key.PublicKey()) }

// work has the consumer sign a cumulative receipt and the provider accept it.
func (e *env) work(p *provider, session byte, seq, units, amount uint64, mint sol.PublicKey) receipt.Signed {
	e.t.Helper()
	r, err := receipt.Sign(receipt.Receipt{
		Session:  [16]byte{session},
		Consumer: receipt.PublicKey(e.consumer.PublicKey()),
		Provider: receipt.PublicKey(p.key.PublicKey()),
		Model:    e.model,
		To:       8,
		Units:    units,
		Amount:   amount,
		Mint:     receipt.PublicKey(mint),
		Seq:      seq,
	}, e.consumer)
	if err != nil {
		e.t.Fatal(err)
	}
	if err := e.consLed.RecordIssued(r); err != nil {
		e.t.Fatal(err)
	}
	if _, err := p.ledger.AcceptReceipt(r, receipt.PublicKey(p.key.PublicKey()), nil); err != nil {
		e.t.Fatal(err)
	}
	return r
}

func (e *env) balance(k sol.PublicKey) uint64 {
	e.t.Helper()
	b, err := e.chain.Balance(e.ctx, k)
	if err != nil {
		e.t.Fatal(err)
	}
	return b
}

func (e *env) fee(sig sol.Signature) uint64 {
	e.t.Helper()
	info, err := e.chain.Transaction(e.ctx, sig)
	if err != nil {
		e.t.Fatal(err)
	}
	return info.Fee
}

func (e *env) payAll() []Result {
	e.t.Helper()
	rs, err := e.payer().PayAll(e.ctx)
	if err != nil {
		e.t.Fatal(err)
	}
	return rs
}

// earnings returns a provider's earnings in one currency.
func earnings(t *testing.T, p *provider, mint sol.PublicKey) ledger.Earnings {
	t.Helper()
	es, err := p.ledger.Earnings()
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range es {
		if e.Mint == receipt.PublicKey(mint) {
			return e
		}
	}
	return ledger.Earnings{}
}

func (p *provider) scan(t *testing.T, ctx context.Context) []Applied {
	t.Helper()
	a, err := p.watcher.ScanOnce(ctx)
	if err != nil {
		t.Fatal(err)
	}
	return a
}
