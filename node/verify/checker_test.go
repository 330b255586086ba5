package verify

import (
	"context"
	"errors"
	"fmt"
	"path/filepath"
	"sync"
	"testing"

	"github.com/hearth-p2p/hearth/node/route"
	"github.com/hearth-p2p/hearth/node/shard"
)

// events collects check events.
type events struct {
	mu  sync.Mutex
	all []CheckEvent
}

func (e *events) add(ev CheckEvent) { e.mu.Lock(); e.all = append(e.all, ev); e.mu.Unlock() }

func (e *events) of(kind CheckKind) []CheckEvent {
	e.mu.Lock()
	defer e.mu.Unlock()
	var out []CheckEvent
	for _, ev := range e.all {
		if ev.Kind == kind {
			out = append(out, ev)
		}
	}
	return out
}

// TestCheckerCatchesCheater runs generations through a provider that adds
// 1e-3 to one logit, with a quarter of the results re-run on this node: the
// first check catches it, the provider is banned, written off and replaced,
// and the generation goes on. Over several seeds the steps to detection
// average about 1/rate.
func TestCheckerCatchesCheater(t *testing.T) {
	tm := openModel(t)
	honest := tm.serve(t, 1, tm.m.NumLayers, nil)
	cheater := tm.serve(t, 1, tm.m.NumLayers, func(b *shard.ModelBackend) shard.Backend { return cheatBackend{b} })
	o := newOpener(t, tm, honest, cheater)
	const rate, steps = 0.25, 40
	want := tm.reference(t, steps)
	var detection []int
	for seed := uint64(1); seed <= 8; seed++ {
		bans, err := OpenBanList(filepath.Join(t.TempDir(), "bans.json"))
		if err != nil {
			t.Fatal(err)
		}
		var ev events
		var voided [][16]byte
		chk, err := NewChecker(CheckerConfig{Rate: rate, Rand: seeded(seed), Dim: tm.m.Dim, Bans: bans,
			Local: []route.Range{{From: 0, To: tm.m.NumLayers}}, OpenLocal: tm.exec().OpenLocal, OnEvent: ev.add,
			Void: func(s [16]byte, _ string) error { voided = append(voided, s); return nil }})
		if err != nil {
			t.Fatal(err)
		}
		c := o.chain(t, tm, cheater, chk)
		cheaterSession := c.Segments()[1].Session.(*shard.RemoteStage).Session()
		got := generate(t, c, steps)
		caught := ev.of(CheckCaught)
		if len(caught) != 1 {
			t.Fatalf("seed %d: %d convictions in %d checks (%+v)", seed, len(caught), chk.Stats().Checked, ev.all)
		}
		e := caught[0]
		if e.Peer != cheater.h.ID().String() || e.Checker != "local" || !e.Exact || e.Checked != 1 {
			t.Fatalf("seed %d: conviction %+v", seed, e)
		}
		if !bans.IsBanned(cheater.h.ID().String()) || bans.IsBanned(honest.h.ID().String()) {
			t.Fatalf("seed %d: bans %+v", seed, bans.Entries())
		}
		if len(voided) != 1 || voided[0] != cheaterSession {
			t.Fatalf("seed %d: sessions written off %x, want the cheater's %x", seed, voided, cheaterSession)
		}
		if segs := c.Segments(); segs[1].Peer != honest.h.ID().String() {
			t.Fatalf("seed %d: still routed to %s", seed, segs[1].Peer)
		}
		// A 1e-3 nudge to one logit does not flip a greedy choice of this
		// model, and the caught step itself was re-done by the honest one.
		if fmt.Sprint(got) != fmt.Sprint(want) {
			t.Fatalf("seed %d: ids %v\nwant %v", seed, got, want)
		}
		// The ban persists.
		again, err := OpenBanList(filepath.Join(filepath.Dir(bans.path), "bans.json"))
		if err != nil || !again.IsBanned(cheater.h.ID().String()) {
			t.Fatalf("ban list reloaded: %v %+v", err, again.Entries())
		}
		detection = append(detection, e.Offered)
		c.Close() // a provider takes at most 8 streams from one peer
	}
	mean := 0.0
	for _, d := range detection {
		mean += float64(d)
	}
	mean /= float64(len(detection))
	t.Logf("rate %.2f: cheater's results until detection %v, mean %.1f (expected 1/rate = %.0f)", rate, detection, mean, 1/rate)
	if mean < 1.5 || mean > 10 {
		t.Fatalf("mean steps to detection %.1f at rate %.2f", mean, rate)
	}
}

// TestCheckerTieBreak checks on second providers (this node holds none of
// the layers): a disagreement is settled by a third provider, which
// convicts whichever of the two lied.
func TestCheckerTieBreak(t *testing.T) {
	tm := openModel(t)
	n := tm.m.NumLayers
	cheat := func(b *shard.ModelBackend) shard.Backend { return cheatBackend{b} }
	t.Run("the provider lied", func(t *testing.T) {
		liar, a, b := tm.serve(t, 1, n, cheat), tm.serve(t, 1, n, nil), tm.serve(t, 1, n, nil)
		o := newOpener(t, tm, liar, a, b)
		var ev events
		bans, _ := OpenBanList("")
		chk, err := NewChecker(CheckerConfig{Rate: 1, Dim: tm.m.Dim, Bans: bans, Find: o.find, Open: o.open, OnEvent: ev.add})
		if err != nil {
			t.Fatal(err)
		}
		c := o.chain(t, tm, liar, chk)
		generate(t, c, 4)
		caught := ev.of(CheckCaught)
		if len(caught) != 1 || caught[0].Peer != liar.h.ID().String() || caught[0].Checker == "local" {
			t.Fatalf("events %+v", ev.all)
		}
		if !bans.IsBanned(liar.h.ID().String()) || len(bans.Entries()) != 1 {
			t.Fatalf("bans %+v", bans.Entries())
		}
	})
	t.Run("the checker lied", func(t *testing.T) {
		h, liar, b := tm.serve(t, 1, n, nil), tm.serve(t, 1, n, cheat), tm.serve(t, 1, n, nil)
		o := newOpener(t, tm, h, liar, b)
		// The liar looks idle, so it is asked first.
		find := func(ctx context.Context) ([]route.Candidate, error) {
			cs, _ := o.find(ctx)
			for i := range cs {
				if cs[i].Peer != liar.h.ID().String() {
					cs[i].Load = 0.5
				}
			}
			return cs, nil
		}
		var ev events
		var reports []Report
		bans, _ := OpenBanList("")
		chk, err := NewChecker(CheckerConfig{Rate: 1, Dim: tm.m.Dim, Bans: bans, Find: find, Open: o.open, OnEvent: ev.add,
			Reporter: reporterFunc(func(r Report) { reports = append(reports, r) })})
		if err != nil {
			t.Fatal(err)
		}
		c := o.chain(t, tm, h, chk)
		want := tm.reference(t, 6)
		if got := generate(t, c, 6); fmt.Sprint(got) != fmt.Sprint(want) {
			t.Fatalf("ids %v, want %v", got, want)
		}
		caught := ev.of(CheckCaughtPeer)
		if len(caught) != 1 || caught[0].Peer != liar.h.ID().String() || !bans.IsBanned(liar.h.ID().String()) || bans.IsBanned(h.h.ID().String()) {
			t.Fatalf("events %+v, bans %+v", ev.all, bans.Entries())
		}
		if c.Segments()[1].Peer != h.h.ID().String() {
			t.Fatal("the honest provider was dropped")
		}
		// The lying checker's signed re-run makes a report that a third
		// party reproduces.
		if len(reports) != 1 || reports[0].Provider != liar.h.ID() {
			t.Fatalf("%d reports", len(reports))
		}
		f := &Fraud{cfg: FraudConfig{Exec: tm.exec(), Tolerance: DefaultTolerance}}
		if kind, why := f.reproduce(context.Background(), &reports[0], ""); kind != ReportConfirmed {
			t.Fatalf("report of the lying checker: %v (%s)", kind, why)
		}
	})
}

type reporterFunc func(Report)

func (f reporterFunc) Publish(_ context.Context, r Report) error { f(r); return nil }

func TestCheckerRate(t *testing.T) {
	bans, _ := OpenBanList("")
	chk, err := NewChecker(CheckerConfig{Rate: -1, Dim: 8, Bans: bans})
	if err != nil {
		t.Fatal(err)
	}
	for range 100 {
		if err := chk.Audit(context.Background(), route.Audit{Peer: "p"}); err != nil {
			t.Fatal(err)
		}
	}
	if st := chk.Stats(); st.Offered != 100 || st.Checked != 0 {
		t.Fatalf("stats %+v with checks off", st)
	}
	// A banned provider's results are refused outright.
	bans.Ban("p", "test", [32]byte{})
	if err := chk.Audit(context.Background(), route.Audit{Peer: "p"}); !errors.Is(err, route.ErrFaulty) {
		t.Fatalf("banned provider: %v", err)
	}
	def, _ := NewChecker(CheckerConfig{Dim: 8, Bans: bans, Rand: seeded(3)})
	for range 10000 {
		def.draw("q")
	}
	if st := def.Stats(); st.Checked < 140 || st.Checked > 260 {
		t.Fatalf("%d of 10000 checked at the default rate of 2%%", st.Checked)
	}
}

func TestChallengeWeights(t *testing.T) {
	tm := openModel(t)
	n := tm.m.NumLayers
	honest := tm.serve(t, 1, n, nil)
	lazy := tm.serve(t, 1, n, func(b *shard.ModelBackend) shard.Backend { return lazyBackend{b} })
	o := newOpener(t, tm, honest, lazy)
	ctx := context.Background()
	for _, tc := range []struct {
		p    *provider
		want error
	}{{honest, nil}, {lazy, shard.ErrWrongWeights}} {
		s, err := o.open(ctx, tc.p.candidate(), route.Range{From: 1, To: n}, 16)
		if err != nil {
			t.Fatal(err)
		}
		err = ChallengeWeights(ctx, s.(Challengeable), tm.m, route.Range{From: 1, To: n}, 4, seeded(9))
		if !errors.Is(err, tc.want) && !(tc.want == nil && err == nil) {
			t.Fatalf("challenge: %v, want %v", err, tc.want)
		}
		s.Close()
	}
}
