package settle

import (
	"testing"

	"github.com/hearth-p2p/hearth/wallet/ledger"
	"github.com/hearth-p2p/hearth/wallet/solana"
)

// TestCrashBetweenSendAndRecord covers a consumer process that dies at each
// point of a payment. In every case the provider is paid exactly once and
// the consumer's ledger ends up knowing it.
func TestCrashBetweenSendAndRecord(t *testing.T) {
	const amount = 3_000_000
	for _, tc := range []struct {
		name string
		// crash runs the part of a payment that happened before the crash.
		crash func(e *env, prep *solana.Prepared)
		// newTx reports whether recovery must build a second transaction
		// (the first one provably never landed).
		newTx bool
	}{
		{"sent and landed, not recorded", func(e *env, prep *solana.Prepared) {
			if err := e.chain.Send(e.ctx, prep); err != nil {
				t.Fatal(err)
			}
		}, false},
		{"recorded, never sent", func(e *env, prep *solana.Prepared) {}, false},
		{"recorded, never sent, blockhash expired", func(e *env, prep *solana.Prepared) {
			e.srv.AdvanceSlots(151)
		}, true},
		{"sent but lost on the way, blockhash expired", func(e *env, prep *solana.Prepared) {
			e.srv.DropTransactions(1)
			if err := e.chain.Send(e.ctx, prep); err != nil {
				t.Fatal(err)
			}
			e.srv.AdvanceSlots(151)
		}, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			e := newEnv(t, 2*solana.LamportsPerSOL)
			p := e.newProvider()
			e.work(p, 1, 1, 1000, amount, solMint)
			owed, err := e.consLed.Owed()
			if err != nil || len(owed) != 1 {
				t.Fatalf("owed %+v, %v", owed, err)
			}
			prep, _, err := e.payer().Prepare(e.ctx, owed[0])
			if err != nil {
				t.Fatal(err)
			}
			tc.crash(e, prep)
			e.crashConsumer()

			rs := e.payAll() // a fresh run: resumes, then pays what is still owed
			var confirmed []Result
			for _, r := range rs {
				if r.Err == nil {
					confirmed = append(confirmed, r)
				}
			}
			if len(confirmed) != 1 {
				t.Fatalf("results %+v, want exactly one confirmed payment", rs)
			}
			if (confirmed[0].Signature != prep.Signature) != tc.newTx {
				t.Fatalf("paid with %s (first transaction %s), new transaction expected: %v", confirmed[0].Signature, prep.Signature, tc.newTx)
			}
			if got := e.balance(p.addr()); got != amount {
				t.Fatalf("provider holds %d, want exactly %d", got, amount)
			}
			if open, _ := e.consLed.OpenIntents(); len(open) != 0 {
				t.Fatalf("open intents %+v", open)
			}
			if owed, _ := e.consLed.Owed(); len(owed) != 0 {
				t.Fatalf("still owed %+v", owed)
			}
			if paid, _ := e.consLed.Payments(); len(paid) != 1 || paid[0].Amount != amount {
				t.Fatalf("payments %+v", paid)
			}
			// Another run pays nothing more.
			if rs := e.payAll(); len(rs) != 0 {
				t.Fatalf("second run paid %+v", rs)
			}
			if got := e.balance(p.addr()); got != amount {
				t.Fatalf("provider holds %d after a second run", got)
			}
			if applied := p.scan(t, e.ctx); len(applied) != 1 || applied[0].Outcome != ledger.OutcomeSettled {
				t.Fatalf("provider saw %+v", applied)
			}
		})
	}
}
