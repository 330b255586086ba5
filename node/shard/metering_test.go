package shard

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/hearth-p2p/hearth/inference/model"
	"github.com/hearth-p2p/hearth/node/meter"
	"github.com/hearth-p2p/hearth/node/p2p/p2ptest"
	"github.com/hearth-p2p/hearth/wallet/keys"
	"github.com/hearth-p2p/hearth/wallet/receipt"
)

func walletKey(t *testing.T) keys.Key {
	t.Helper()
	k, err := keys.Generate()
	if err != nil {
		t.Fatal(err)
	}
	return k
}

func pub(k keys.Key) receipt.PublicKey { return receipt.PublicKey(k.PublicKey()) }

// paidConfig charges perKilo lamports per 1000 units to payout.
func paidConfig(payout keys.Key, perKilo, creditLimit uint64) Config {
	cfg := Default()
	cfg.Price = receipt.Price{PerKiloUnit: perKilo}
	cfg.Payout = pub(payout)
	cfg.CreditLimit = creditLimit
	return cfg
}

func TestFreeSessionMetering(t *testing.T) {
	tm := openTestModel(t, stories260K)
	n := tm.m.NumLayers
	led := meter.NewMemoryLedger()
	srv := startServer(t, Default(), led, tm.backend(t, 0, n))
	c := dial(t, p2ptest.NewHost(t, nil), srv)
	r := openStage(t, c, SessionConfig{Model: tm.hash, From: 2, To: n, MaxContext: 32, DType: F32})
	chain := model.Chain{tm.localStage(t, 0, 2, 32), r}
	decode(t, chain, prompt, 10)
	wantUnits := uint64(len(prompt)+9) * uint64(n-2) // the last sampled token is not fed back
	if st := r.Stats(); st.Units != wantUnits || st.Receipts != 0 {
		t.Fatalf("client stats: %+v, want %d units and no receipts", st, wantUnits)
	}
	ss := srv.s.Stats()
	if len(ss.Sessions) != 1 || ss.Sessions[0].Units != wantUnits || ss.Totals.Units != wantUnits {
		t.Fatalf("server stats: %+v", ss)
	}
	if err := r.Close(); err != nil {
		t.Fatal(err)
	}
	if len(led.All()) != 0 {
		t.Fatalf("free session recorded %d receipts", len(led.All()))
	}
}

func TestPaidSessionReceipts(t *testing.T) {
	tm := openTestModel(t, stories260K)
	n := tm.m.NumLayers
	provider, consumer := walletKey(t), walletKey(t)
	led := meter.NewMemoryLedger()
	// 1 lamport per 1000 units... ×1000: one lamport per unit; 40 lamports
	// of credit: the client receipts every 20 units.
	srv := startServer(t, paidConfig(provider, 1000, 40), led, tm.backend(t, 0, n))
	events, cancel := srv.s.Subscribe(256)
	defer cancel()
	c := dial(t, p2ptest.NewHost(t, nil), srv)
	r := openStage(t, c, SessionConfig{Model: tm.hash, From: 2, To: n, MaxContext: 64, DType: F32,
		MaxPrice: receipt.Price{PerKiloUnit: 1500}, Signer: consumer})
	if terms := r.Terms(); terms.Price.PerKiloUnit != 1000 || terms.Provider != pub(provider) {
		t.Fatalf("session terms %+v", terms)
	}
	_, want := decode(t, model.Chain{tm.localStage(t, 0, n, 64)}, prompt, 30)
	_, got := decode(t, model.Chain{tm.localStage(t, 0, 2, 64), r}, prompt, 30)
	sameLogits(t, got, want)
	if err := r.Close(); err != nil {
		t.Fatal(err)
	}
	units := uint64(len(prompt)+29) * uint64(n-2)
	all := led.All()
	if len(all) < 3 {
		t.Fatalf("%d receipts recorded, want periodic receipts", len(all))
	}
	for i, s := range all {
		if err := s.Verify(); err != nil {
			t.Fatal(err)
		}
		if s.Seq != uint64(i+1) || s.Consumer != pub(consumer) || s.Provider != pub(provider) || s.Model != tm.hash || s.From != 2 || s.To != uint32(n) {
			t.Fatalf("receipt %d: %+v", i, s.Receipt)
		}
		if i > 0 && s.Units <= all[i-1].Units {
			t.Fatalf("receipt %d does not advance: %d after %d units", i, s.Units, all[i-1].Units)
		}
	}
	last := all[len(all)-1]
	if last.Units != units || last.Amount != units {
		t.Fatalf("final receipt for %d units, %d lamports; want %d and %d", last.Units, last.Amount, units, units)
	}
	if sent, _ := r.LastReceipt(); sent != last {
		t.Fatal("the ledger's last receipt is not the client's")
	}
	if ss := srv.s.Stats(); ss.Totals.Refused != 0 {
		t.Fatalf("the well-behaved client was refused %d times", ss.Totals.Refused)
	}
	receipts := 0
	for len(events) > 0 {
		if e := <-events; e.Kind == EventReceipt {
			receipts++
		}
	}
	if receipts != len(all) {
		t.Fatalf("%d receipt events for %d receipts", receipts, len(all))
	}
}

func TestPaidOpenRefusals(t *testing.T) {
	tm := openTestModel(t, stories260K)
	n := tm.m.NumLayers
	provider, consumer := walletKey(t), walletKey(t)
	srv := startServer(t, paidConfig(provider, 1000, 40), meter.NewMemoryLedger(), tm.backend(t, 0, n))
	c := dial(t, p2ptest.NewHost(t, nil), srv)
	ctx := context.Background()
	base := SessionConfig{Model: tm.hash, From: 0, To: n, DType: F32}
	cheap := base
	cheap.MaxPrice, cheap.Signer = receipt.Price{PerKiloUnit: 999}, consumer
	if _, err := c.OpenSession(ctx, cheap); !errors.Is(err, ErrPaymentRequired) {
		t.Fatalf("open below the price: %v", err)
	}
	unsigned := base
	unsigned.MaxPrice = receipt.Price{PerKiloUnit: 1000}
	if _, err := c.OpenSession(ctx, unsigned); !errors.Is(err, ErrPaymentRequired) {
		t.Fatalf("paid open without a signer: %v", err)
	}
	// The server checks too, whatever the client believes.
	for _, o := range []Open{
		{Session: [16]byte{1}, Model: tm.hash, From: 0, To: n, DType: F32, Price: receipt.Price{PerKiloUnit: 10}, Consumer: pub(consumer)},
		{Session: [16]byte{1}, Model: tm.hash, From: 0, To: n, DType: F32, Price: receipt.Price{PerKiloUnit: 1000}},
		{Session: [16]byte{1}, Model: tm.hash, From: 0, To: n, DType: F32, Price: receipt.Price{PerKiloUnit: 1000, Mint: receipt.PublicKey{1}}, Consumer: pub(consumer)},
	} {
		p := newRawPeer(t, p2ptest.NewHost(t, nil), srv)
		p.handshake()
		p.send(o)
		p.expectError(CodePaymentRequired)
	}
}

// paidRawSession opens a paid session frame by frame and returns the peer
// and a consumer meter for its terms.
func paidRawSession(t *testing.T, srv *testServer, tm *testModel, provider, consumer keys.Key, from int) (*rawPeer, *meter.Consumer) {
	t.Helper()
	sid := [16]byte{0xee, 1}
	p := newRawPeer(t, p2ptest.NewHost(t, nil), srv)
	ok := p.open(Open{Session: sid, Model: tm.hash, From: from, To: tm.m.NumLayers, MaxContext: 32, DType: F32,
		Price: receipt.Price{PerKiloUnit: 1000}, Consumer: pub(consumer)})
	terms := meter.Terms{Session: sid, Consumer: pub(consumer), Provider: ok.Provider, Model: tm.hash,
		From: uint32(from), To: uint32(tm.m.NumLayers), Price: ok.Price}
	mc, err := meter.NewConsumer(terms, consumer)
	if err != nil {
		t.Fatal(err)
	}
	return p, mc
}

// step forwards one token and returns the frame answering it.
func (p *rawPeer) step(sid [16]byte, pos int) Message {
	p.t.Helper()
	p.send(Forward{Session: sid, Pos: pos, N: 1, Kind: KindTokens, DType: I32, Data: appendTokens(nil, []int32{int32(300 + pos)})})
	m, err := p.recv()
	if err != nil {
		p.t.Fatal(err)
	}
	return m
}

func TestUnreceiptedLimitPausesSession(t *testing.T) {
	tm := openTestModel(t, stories260K)
	n := tm.m.NumLayers // 5 units, 5 lamports per token
	provider, consumer := walletKey(t), walletKey(t)
	led := meter.NewMemoryLedger()
	srv := startServer(t, paidConfig(provider, 1000, 5), led, tm.backend(t, 0, n))
	p, mc := paidRawSession(t, srv, tm, provider, consumer, 0)
	sid := mc.Terms().Session
	for pos := range 2 { // owes 0, then 5: at most the limit
		m := p.step(sid, pos)
		res, ok := m.(Result)
		if !ok {
			t.Fatalf("step %d: %#v", pos, m)
		}
		if err := mc.Add(res.Units); err != nil {
			t.Fatal(err)
		}
	}
	m := p.step(sid, 2) // owes 10 > 5: paused
	if e, ok := m.(*Error); !ok || e.Code != CodePaymentRequired {
		t.Fatalf("over the credit limit: %#v", m)
	}
	if ss := srv.s.Stats(); len(ss.Sessions) != 1 || ss.Sessions[0].Pos != 2 {
		t.Fatalf("paused session: %+v", ss.Sessions)
	}
	s, err := mc.Receipt()
	if err != nil {
		t.Fatal(err)
	}
	p.send(ReceiptMsg{Receipt: s})
	if m := p.step(sid, 2); m.Type() != MsgResult {
		t.Fatalf("after paying: %#v", m)
	}
	if latest, ok := led.Latest(sid); !ok || latest.Units != uint64(2*n) {
		t.Fatalf("ledger: %+v %v", latest, ok)
	}

	// A client that never receipts on its own pays when the server asks.
	c := dial(t, p2ptest.NewHost(t, nil), srv)
	r := openStage(t, c, SessionConfig{Model: tm.hash, From: 0, To: n, MaxContext: 32, DType: F32,
		MaxPrice: receipt.Price{PerKiloUnit: 1000}, Signer: consumer, ReceiptEvery: 1 << 40})
	for pos := range 6 {
		if _, err := r.Forward(context.Background(), pos, []int32{int32(300 + pos)}, nil); err != nil {
			t.Fatalf("pos %d: %v", pos, err)
		}
	}
	if st := r.Stats(); st.Receipts < 2 {
		t.Fatalf("client sent %d receipts when asked", st.Receipts)
	}
}

func TestForgedReceiptRejected(t *testing.T) {
	tm := openTestModel(t, stories260K)
	n := tm.m.NumLayers
	provider, consumer, mallory := walletKey(t), walletKey(t), walletKey(t)
	tests := []struct {
		name  string
		forge func(t *testing.T, mc *meter.Consumer) receipt.Signed
	}{
		{"signed by another key", func(t *testing.T, mc *meter.Consumer) receipt.Signed {
			terms := mc.Terms()
			terms.Consumer = pub(mallory)
			other, err := meter.NewConsumer(terms, mallory)
			if err != nil {
				t.Fatal(err)
			}
			other.Add(uint64(n))
			s, err := other.Receipt()
			if err != nil {
				t.Fatal(err)
			}
			return s
		}},
		{"tampered after signing", func(t *testing.T, mc *meter.Consumer) receipt.Signed {
			s, err := mc.Receipt()
			if err != nil {
				t.Fatal(err)
			}
			s.Amount = 1 << 40
			return s
		}},
		{"more units than served", func(t *testing.T, mc *meter.Consumer) receipt.Signed {
			mc.Add(1000)
			s, err := mc.Receipt()
			if err != nil {
				t.Fatal(err)
			}
			return s
		}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			led := meter.NewMemoryLedger()
			srv := startServer(t, paidConfig(provider, 1000, 100), led, tm.backend(t, 0, n))
			p, mc := paidRawSession(t, srv, tm, provider, consumer, 0)
			res, ok := p.step(mc.Terms().Session, 0).(Result)
			if !ok {
				t.Fatal("first step failed")
			}
			mc.Add(res.Units)
			p.send(ReceiptMsg{Receipt: tc.forge(t, mc)})
			if e, ok := p.step(mc.Terms().Session, 1).(*Error); !ok || e.Code != CodeBadRequest {
				t.Fatalf("forged receipt answered by %#v", e)
			}
			p.expectEnd()
			if len(led.All()) != 0 {
				t.Fatalf("forged receipt recorded")
			}
			p2ptest.Eventually(t, 5*time.Second, "session closed", func() bool { return len(srv.s.Stats().Sessions) == 0 })
		})
	}
}
