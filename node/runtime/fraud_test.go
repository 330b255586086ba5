package runtime

import (
	"context"
	"log/slog"
	"math/rand/v2"
	"path/filepath"
	"testing"
	"time"

	"github.com/hearth-p2p/hearth/node/discovery"
	"github.com/hearth-p2p/hearth/node/meter"
	"github.com/hearth-p2p/hearth/node/p2p/p2ptest"
	"github.com/hearth-p2p/hearth/node/route"
	"github.com/hearth-p2p/hearth/node/shard"
	"github.com/hearth-p2p/hearth/node/verify"
	"github.com/hearth-p2p/hearth/wallet/keys"
	"github.com/hearth-p2p/hearth/wallet/ledger"
	"github.com/hearth-p2p/hearth/wallet/receipt"
)

// TestCheaterIsBannedVoidedAndReported routes a paying pipeline through a
// provider that nudges one value of its results, with a quarter of them
// re-checked here: the cheater is caught and replaced (the ids stay right),
// banned in the consumer's persistent ban list, its session's unpaid work
// is written off in the paying wallet's ledger (nothing is owed to it), and
// the fraud report reaches a node that holds the layers: it re-runs the
// accused result, convicts the cheater too (ReportConfirmed) and keeps the
// ban in its own data directory.
func TestCheaterIsBannedVoidedAndReported(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	path := sharedModel(t, "stories260K.gguf")
	lm := openLocal(t, "stories260K.gguf")

	// A node that holds the layers and judges the reports it hears.
	judgeCfg := testNodeConfig(t, ServeSpec{Model: path, From: 1})
	judge := startNode(t, judgeCfg)
	judged, stopJudged := judge.Subscribe()
	defer stopJudged()

	// The consumer: its discovery router carries the reports.
	dir := t.TempDir()
	dcfg := discovery.Default()
	dcfg.EnableDHT, dcfg.EnableMDNS = false, false
	cons, err := StartConsumer(ctx, p2ptest.Config(), dcfg, p2ptest.Logger(t, slog.LevelWarn))
	if err != nil {
		t.Fatal(err)
	}
	defer cons.Close()
	client := cons.Host()
	bans, err := OpenBans(dir)
	if err != nil {
		t.Fatal(err)
	}
	reports, err := cons.ReportFraud(bans, nil)
	if err != nil {
		t.Fatal(err)
	}
	p2ptest.Connect(t, client, judge.Host())
	waitFraudMesh(t, reports, judge.Fraud())
	wl, err := ledger.Open(filepath.Join(dir, "wallet", "ledger.db"), nil)
	if err != nil {
		t.Fatal(err)
	}
	defer wl.Close()

	const price = 1_000_000
	payout, _ := keys.Generate()
	cheater := startPaidCheater(t, receipt.Price{PerKiloUnit: price}, receipt.PublicKey(payout.PublicKey()))
	honest := loadedProvider(t, lm) // free, half loaded: the cheater is chosen first
	signer, _ := keys.Generate()
	var ev pipelineEvents
	w := route.DefaultWeights()
	w.UnitValue = 1 // price hardly counts: the idle cheater wins the plan
	opts := PipelineOptions{Weights: w, Peers: []string{cheater.addr(), honest.addr()}, NoSpread: true, MaxContext: 64,
		CheckRate: 0.25, Rand: rand.New(rand.NewPCG(7, 7)), Signer: signer, MaxPrice: receipt.Price{PerKiloUnit: price},
		HashCacheDir: t.TempDir(), Logger: p2ptest.Logger(t, slog.LevelWarn), OnEvent: ev.add}
	reports.Apply(&opts, wl)
	p, err := BuildPipeline(ctx, client, lm, []LayerRange{{From: 0, To: 1}}, opts)
	if err != nil {
		t.Fatal(err)
	}
	if p.Hops[1].Peer != cheater.h.ID() {
		t.Fatalf("pipeline %s does not start on the cheater", p)
	}
	session := p.Hops[1].Remote.Session()
	if got := generateWith(t, p, func(int) {}); got != storiesGreedyIDs {
		t.Fatalf("ids %s", got)
	}
	if caught := ev.checks(verify.CheckCaught); len(caught) != 1 || caught[0].Peer != cheater.h.ID().String() {
		t.Fatalf("convictions %+v", caught)
	}
	if err := p.Close(); err != nil {
		t.Fatal(err)
	}
	if err := RecordReceipts(p, wl); err != nil {
		t.Fatal(err)
	}

	// Banned here, for good.
	reopened, err := OpenBans(dir)
	if err != nil || !reopened.IsBanned(cheater.h.ID().String()) {
		t.Fatalf("ban list after reopening %+v, %v", reopened.Entries(), err)
	}
	// Its unpaid work is written off: the wallet owes it nothing.
	owed, err := wl.Owed()
	if err != nil {
		t.Fatal(err)
	}
	for _, o := range owed {
		if o.Provider == receipt.PublicKey(payout.PublicKey()) {
			t.Fatalf("the cheater is still owed %+v", o)
		}
	}
	voided, err := wl.Voided()
	if err != nil || len(voided) != 1 || voided[0].Session != session || voided[0].WrittenOff == 0 ||
		voided[0].Provider != receipt.PublicKey(payout.PublicKey()) {
		t.Fatalf("voided %+v, %v", voided, err)
	}
	t.Logf("written off: %d lamports of session %x (%s)", voided[0].WrittenOff, session[:4], voided[0].Reason)

	// The judge re-ran the report and banned the cheater too.
	e := waitReport(t, judged, 90*time.Second)
	if e.Kind != verify.ReportConfirmed || e.Provider != cheater.h.ID().String() || e.Reporter != client.ID().String() {
		t.Fatalf("judgement %+v", e)
	}
	if !judge.Bans().IsBanned(cheater.h.ID().String()) {
		t.Fatal("the judge did not ban the cheater")
	}
	kept, err := OpenBans(judgeCfg.DataDir)
	if err != nil || !kept.IsBanned(cheater.h.ID().String()) || kept.IsDistrusted(client.ID().String()) {
		t.Fatalf("judge's ban list on disk %+v, %v", kept.Entries(), err)
	}
}

// waitFraudMesh waits until both services take reports and see each other
// on the topic.
func waitFraudMesh(t *testing.T, a, b *FraudReports) {
	t.Helper()
	for _, f := range []*FraudReports{a, b} {
		select {
		case <-f.Ready():
		case <-time.After(10 * time.Second):
			t.Fatal("fraud reports not ready")
		}
	}
	p2ptest.Eventually(t, 20*time.Second, "fraud topic peers", func() bool {
		return len(a.fraud.Topic().ListPeers()) > 0 && len(b.fraud.Topic().ListPeers()) > 0
	})
}

// startPaidCheater serves layers 1–4 at a price with a cheatBackend.
func startPaidCheater(t *testing.T, price receipt.Price, payout receipt.PublicKey) *provider {
	t.Helper()
	lm := openLocal(t, "stories260K.gguf")
	hash, err := ModelHash(lm.Path, t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	be, err := shard.NewModelBackend(lm.Model, lm.Pool, hash, 1, 5)
	if err != nil {
		t.Fatal(err)
	}
	cfg := shard.Default()
	cfg.Price, cfg.Payout = price, payout
	cfg.CreditLimit = 8 * price.PerKiloUnit / 1000 // a receipt every token or so
	h := p2ptest.NewHost(t, nil)
	return serveProvider(t, h, lm, cfg, meter.NewMemoryLedger(), slog.LevelError, cheatBackend{be})
}

// waitReport waits for a node's next judgement of a fraud report.
func waitReport(t *testing.T, events <-chan NodeEvent, within time.Duration) verify.ReportEvent {
	t.Helper()
	timeout := time.After(within)
	for {
		select {
		case e := <-events:
			if e.Report != nil && e.Report.Kind != verify.ReportPublished {
				return *e.Report
			}
		case <-timeout:
			t.Fatal("no fraud report judged")
		}
	}
}
