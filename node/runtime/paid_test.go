package runtime

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/hearth-p2p/hearth/inference/model"
	"github.com/hearth-p2p/hearth/node/p2p/p2ptest"
	"github.com/hearth-p2p/hearth/wallet"
	"github.com/hearth-p2p/hearth/wallet/keystore"
	"github.com/hearth-p2p/hearth/wallet/receipt"
	"github.com/hearth-p2p/hearth/wallet/settle"
	"github.com/hearth-p2p/hearth/wallet/solana"
	"github.com/hearth-p2p/hearth/wallet/svmtest"
)

// TestPaidSessionSettlesOnChain runs a paid shard session between two
// nodes on loopback and settles it on a real Solana runtime (LiteSVM): the
// consumer signs receipts, the provider's ledger stores them, the consumer
// pays with a memo naming them, the provider's watcher marks them settled,
// and every balance matches to the lamport.
func TestPaidSessionSettlesOnChain(t *testing.T) {
	srv := svmtest.Start(t)
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	solCfg := solana.DefaultConfig()
	solCfg.Cluster, solCfg.RPCURL = solana.Localnet, srv.URL
	solCfg.PollInterval, solCfg.RebroadcastInterval, solCfg.ConfirmTimeout = 20*time.Millisecond, 100*time.Millisecond, 30*time.Second
	newWallet := func(dir string) *wallet.Wallet {
		cfg := wallet.DefaultConfig()
		cfg.DataDir, cfg.Solana, cfg.KDF = dir, solCfg, keystore.Params{Time: 1, MemoryKiB: 1024, Threads: 1}
		w, _, err := wallet.Create(cfg, []byte("correct horse"), nil)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { w.Close() })
		return w
	}
	provDir := t.TempDir()
	provider, consumer := newWallet(provDir), newWallet(t.TempDir())
	for _, w := range []*wallet.Wallet{provider, consumer} {
		if _, err := w.Airdrop(ctx, 50_000_000); err != nil { // 0.05 SOL: both accounts exist
			t.Fatal(err)
		}
	}
	const price = 20_000_000 // lamports per 1000 token-layers: 20,000 per token-layer

	path := sharedModel(t, "stories260K.gguf")
	cfg := testNodeConfig(t, ServeSpec{Model: path, From: 2})
	cfg.DataDir = provDir
	cfg.Shard.Price = receipt.Price{PerKiloUnit: price}
	cfg.Wallet = provider
	cfg.Watcher = settle.WatcherConfig{Interval: 100 * time.Millisecond, PageSize: 10}
	n := startNode(t, cfg)

	// The consumer runs layers 0–2 itself and pays the node for 2–5.
	lm := openLocal(t, "stories260K.gguf")
	signer, err := consumer.Signer()
	if err != nil {
		t.Fatal(err)
	}
	client := p2ptest.NewHost(t, nil)
	p, err := BuildPipeline(ctx, client, lm, []LayerRange{{From: 0, To: 2}}, PipelineOptions{
		Peers: []string{n.ListenAddr().String()}, MaxContext: 64, Signer: signer, MaxPrice: receipt.Price{PerKiloUnit: price},
	})
	if err != nil {
		t.Fatal(err)
	}
	const steps = 20
	ids, _, err := model.Generate(ctx, p.Chain, []int32{1}, greedySampler{}, model.GenerateOptions{MaxTokens: steps})
	if err != nil {
		t.Fatal(err)
	}
	if want := storiesGreedy40[:len(fmt.Sprint(ids))-1]; fmt.Sprint(ids)[:len(want)] != want {
		t.Fatalf("ids %v", ids)
	}
	if err := p.Close(); err != nil {
		t.Fatal(err)
	}
	consLedger, err := consumer.Ledger()
	if err != nil {
		t.Fatal(err)
	}
	if err := RecordReceipts(p, consLedger); err != nil {
		t.Fatal(err)
	}

	// Work served: the prompt and every generated token but the last went
	// through layers 2–5 (3 layers).
	units := uint64(steps) * 3
	amount := units * price / 1000
	earned := waitEarnings(t, n, func(e settleView) bool { return e.earned == amount })
	if earned.settled != 0 || earned.pending != amount {
		t.Fatalf("before payment: %+v", earned)
	}

	provBefore, consBefore := lamports(t, ctx, provider), lamports(t, ctx, consumer)
	results, err := consumer.Settle(ctx)
	if err != nil || len(results) != 1 || results[0].Err != nil || results[0].Amount != amount {
		t.Fatalf("settle: %v %+v", err, results)
	}
	settled := waitEarnings(t, n, func(e settleView) bool { return e.settled == amount })
	if settled.pending != 0 {
		t.Fatalf("after payment: %+v", settled)
	}
	fee := paymentFee(t, ctx, consumer, results[0])
	if got := lamports(t, ctx, provider); got != provBefore+amount {
		t.Errorf("provider holds %d, want %d + %d", got, provBefore, amount)
	}
	if got := lamports(t, ctx, consumer); got != consBefore-amount-fee {
		t.Errorf("consumer holds %d, want %d - %d - fee %d", got, consBefore, amount, fee)
	}
	// Nothing is owed any more, so settling again pays nothing.
	if again, err := consumer.Settle(ctx); err != nil || len(again) != 0 {
		t.Errorf("second settle: %v %+v", err, again)
	}
}

type settleView struct{ earned, settled, pending uint64 }

func waitEarnings(t *testing.T, n *Node, ok func(settleView) bool) settleView {
	t.Helper()
	deadline := time.Now().Add(60 * time.Second)
	for {
		var v settleView
		es, err := n.Ledger().Earnings()
		if err != nil {
			t.Fatal(err)
		}
		for _, e := range es {
			if e.Mint.IsZero() {
				v = settleView{e.Earned, e.Settled, e.Pending}
			}
		}
		if ok(v) {
			return v
		}
		if time.Now().After(deadline) {
			t.Fatalf("earnings stuck at %+v", v)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

func lamports(t *testing.T, ctx context.Context, w *wallet.Wallet) uint64 {
	t.Helper()
	b, err := w.Balance(ctx)
	if err != nil {
		t.Fatal(err)
	}
	return b.Lamports
}

func paymentFee(t *testing.T, ctx context.Context, w *wallet.Wallet, r settle.Result) uint64 {
	t.Helper()
	hist, err := w.History(ctx, 10, "")
	if err != nil {
		t.Fatal(err)
	}
	for _, h := range hist {
		if h.Signature == r.Signature.String() {
			return h.Fee
		}
	}
	t.Fatalf("payment %s not in the consumer's history", r.Signature)
	return 0
}
