package runtime

import (
	"context"
	"errors"
	"strings"
	"testing"

	"github.com/hearth-p2p/hearth/inference/catalog"
)

// lend turns lending on and waits until the node takes sessions.
func lend(t *testing.T, d *Desktop, on bool) NetworkState {
	t.Helper()
	ctx := context.Background()
	s := d.Settings()
	s.Lending = on
	if err := d.UpdateSettings(ctx, s); err != nil {
		t.Fatal(err)
	}
	var ns NetworkState
	eventually(t, "the node to follow the lending switch", func() bool {
		var err error
		ns, err = d.Network(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if !on {
			return len(ns.Shards) == 0 && !ns.Node.Accepting
		}
		return ns.Node.Online && ns.Node.Accepting && len(ns.Shards) == 1
	})
	return ns
}

// TestDesktopLendingAndOffloading: lending starts a node on loopback that
// the Network view reports; a second desktop's offloading conversation
// runs its middle layers there, with the same greedy reply as running them
// locally; lending off stops the node.
func TestDesktopLendingAndOffloading(t *testing.T) {
	if testing.Short() {
		t.Skip("two desktops and libp2p hosts")
	}
	ctx := context.Background()
	cfgA := testDesktopConfig(t)
	a := openDesktop(t, cfgA)
	withStories(t, a)
	logA := watchEvents(t, a)
	serve(t, a)

	ns := lend(t, a, true)
	if ns.Node.PeerID == "" || len(ns.Node.Addrs) == 0 || !ns.Node.Lending {
		t.Fatalf("node %+v", ns.Node)
	}
	for _, addr := range ns.Node.Addrs {
		if !strings.Contains(addr, "/127.0.0.1/") {
			t.Errorf("address %s is not on loopback", addr)
		}
	}
	if sh := ns.Shards[0]; sh.Model != "llama" || sh.From != 0 || sh.To != 5 || sh.Sessions != 0 || sh.Price != 0 {
		t.Errorf("shard %+v", sh)
	}
	if st := a.Status(); !st.Lending || !strings.HasPrefix(st.Line, "Lending · 0 sessions") {
		t.Errorf("status %+v", st)
	}
	if err := a.Remove(ctx, "stories260K"); !errors.Is(err, ErrModelInUse) {
		t.Errorf("removing the lent model: %v", err)
	}
	logA.waitFor(t, "live samples", hasEvent[NetSampleTaken])

	// A second desktop offloads to the first.
	cfgB := consumerOf(t, ns)
	b := openDesktop(t, cfgB)
	model := withStories(t, b)
	serve(t, b)
	c, err := b.NewConversation(ctx)
	if err != nil {
		t.Fatal(err)
	}
	set := ChatSettings{Model: model.ID, Sampling: greedySettings(12), Offload: true}
	if err := b.Configure(ctx, c.ID, set); err != nil {
		t.Fatal(err)
	}
	ch, err := b.Send(ctx, c.ID, "Once upon a time")
	if err != nil {
		t.Fatal(err)
	}
	remote, _, final := drain(t, ch)
	if final.Err != nil || final.Stats.Peers != 1 || remote == "" {
		t.Fatalf("offloaded reply %q, final %+v", remote, final)
	}
	nb, err := b.Network(ctx)
	if err != nil || len(nb.Peers) != 1 || nb.Peers[0].PeerID != ns.Node.PeerID || nb.Peers[0].From != 1 || nb.Peers[0].To != 4 {
		t.Fatalf("peers in use %+v, %v", nb.Peers, err)
	}
	if st := b.Status(); st.PeersUsed != 1 || st.Lending {
		t.Errorf("consumer status %+v", st)
	}
	eventually(t, "the provider to list the session", func() bool {
		na, _ := a.Network(ctx)
		return len(na.Sessions) == 1 && na.Sessions[0].Units > 0 && na.Shards[0].Sessions == 1
	})

	// The same turn with every layer here gives the same reply.
	set.Offload = false
	if err := b.Configure(ctx, c.ID, set); err != nil {
		t.Fatal(err)
	}
	ch, err = b.Regenerate(ctx, c.ID)
	if err != nil {
		t.Fatal(err)
	}
	if local, _, final := drain(t, ch); final.Err != nil || local != remote || final.Stats.Peers != 0 {
		t.Fatalf("local reply %q (%+v), offloaded %q", local, final, remote)
	}
	eventually(t, "the pipeline to close", func() bool {
		nb, _ := b.Network(ctx)
		return len(nb.Peers) == 0
	})

	ns = lend(t, a, false)
	if ns.Node.Online || a.Status().Lending {
		t.Errorf("after lending off: %+v", ns.Node)
	}
	if err := a.Remove(ctx, "stories260K"); err != nil {
		t.Errorf("removing the model once lending is off: %v", err)
	}
}

// TestDesktopLendingNeedsAModel: lending on with nothing to serve says so.
func TestDesktopLendingNeedsAModel(t *testing.T) {
	d := openDesktop(t, testDesktopConfig(t))
	serve(t, d)
	s := d.Settings()
	s.Lending = true
	if err := d.UpdateSettings(context.Background(), s); err != nil {
		t.Fatal(err)
	}
	ns, err := d.Network(context.Background())
	if err != nil || ns.Node.Online || !strings.Contains(ns.Node.Note, "no model is installed") {
		t.Fatalf("network %+v, %v", ns, err)
	}
	if st := d.Status(); !strings.Contains(st.Line, "no model is installed") {
		t.Errorf("status %q", st.Line)
	}
	s.Price = 100
	withStories(t, d)
	if err := d.UpdateSettings(context.Background(), s); err != nil {
		t.Fatal(err)
	}
	if ns, _ := d.Network(context.Background()); !strings.Contains(ns.Node.Note, "needs a wallet") {
		t.Errorf("a price without a wallet: %q", ns.Node.Note)
	}
}

// TestDesktopLendsWhatFitsTheRAMCap: with a RAM cap that holds two of the
// model's five layers, the lending node serves a window of two layers,
// placed by the node.
func TestDesktopLendsWhatFitsTheRAMCap(t *testing.T) {
	if testing.Short() {
		t.Skip("a libp2p host")
	}
	d := openDesktop(t, testDesktopConfig(t))
	withStories(t, d)
	serve(t, d)
	info, err := catalog.ReadInfo(sharedModel(t, "stories260K.gguf"))
	if err != nil {
		t.Fatal(err)
	}
	s := d.Settings()
	s.MaxRAMGiB = 2.5 * float64(info.WeightBytes/uint64(info.Layers)) / gib
	if err := d.UpdateSettings(context.Background(), s); err != nil {
		t.Fatal(err)
	}
	ns := lend(t, d, true)
	if sh := ns.Shards[0]; sh.To-sh.From != 2 || sh.From < 0 || sh.To > 5 {
		t.Fatalf("shard %+v, want a window of 2 layers", sh)
	}
}
