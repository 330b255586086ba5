package discovery

import (
	"errors"
	"reflect"
	"sync"
	"testing"
	"time"

	"github.com/libp2p/go-libp2p/core/peer"
)

// fakeClock is a settable clock for registry tests.
type fakeClock struct {
	mu sync.Mutex // guards t
	t  time.Time
}

func (c *fakeClock) now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *fakeClock) advance(d time.Duration) {
	c.mu.Lock()
	c.t = c.t.Add(d)
	c.mu.Unlock()
}

func shard(t *testing.T, id peer.ID, from, to int, seq uint64) Announcement {
	t.Helper()
	a := sampleAnnouncement(id)
	a.From, a.To, a.Seq = from, to, seq
	return a
}

func TestRegistrySeqOrdering(t *testing.T) {
	clk := &fakeClock{t: testNow}
	r := NewRegistry(clk.now)
	_, id := newKey(t)
	m := sampleAnnouncement(id).ModelHash

	if err := r.Put(shard(t, id, 0, 4, 5)); err != nil {
		t.Fatal(err)
	}
	for _, seq := range []uint64{5, 4} {
		if err := r.Put(shard(t, id, 0, 8, seq)); !errors.Is(err, ErrStale) {
			t.Fatalf("Put seq %d over 5: err = %v, want ErrStale", seq, err)
		}
	}
	if err := r.Put(shard(t, id, 0, 8, 6)); err != nil {
		t.Fatal(err)
	}
	p := r.Providers(m)
	if len(p) != 1 || p[0].To != 8 || p[0].Seq != 6 {
		t.Fatalf("Providers = %+v, want the seq 6 range [0,8)", p)
	}
	if r.Newer(id, m, 6) || !r.Newer(id, m, 7) {
		t.Fatal("Newer disagrees with the held seq 6")
	}
}

func TestRegistryWithdrawalTombstone(t *testing.T) {
	clk := &fakeClock{t: testNow}
	r := NewRegistry(clk.now)
	_, id := newKey(t)
	a := shard(t, id, 0, 16, 10)
	if err := r.Put(a); err != nil {
		t.Fatal(err)
	}
	w := a
	w.Seq, w.Withdrawn = 11, true
	if err := r.Put(w); err != nil {
		t.Fatal(err)
	}
	if p := r.Providers(a.ModelHash); len(p) != 0 {
		t.Fatalf("withdrawn provider still listed: %+v", p)
	}
	if got, ok := r.Get(id, a.ModelHash); !ok || !got.Withdrawn {
		t.Fatalf("Get = %+v, %v, want the tombstone", got, ok)
	}
	// A replay of the older announcement cannot resurrect the shard.
	if err := r.Put(a); !errors.Is(err, ErrStale) {
		t.Fatalf("replay after withdrawal: err = %v, want ErrStale", err)
	}
	if got := r.Models(); len(got) != 0 {
		t.Fatalf("Models = %v, want none", got)
	}
}

func TestRegistryExpiry(t *testing.T) {
	clk := &fakeClock{t: testNow}
	r := NewRegistry(clk.now)
	_, id1 := newKey(t)
	_, id2 := newKey(t)
	a1 := shard(t, id1, 0, 8, 1)
	a1.Expires = testNow.Add(30 * time.Second)
	a2 := shard(t, id2, 8, 16, 1)
	if err := r.Put(a1); err != nil {
		t.Fatal(err)
	}
	if err := r.Put(a2); err != nil {
		t.Fatal(err)
	}
	if n := len(r.Providers(a1.ModelHash)); n != 2 {
		t.Fatalf("%d providers, want 2", n)
	}
	clk.advance(30 * time.Second)
	p := r.Providers(a1.ModelHash)
	if len(p) != 1 || p[0].PeerID != id2 {
		t.Fatalf("after a1 expired: Providers = %+v", p)
	}
	if _, ok := r.Get(id1, a1.ModelHash); ok {
		t.Fatal("Get returned an expired announcement")
	}
	// An expired entry does not block a restarted peer with a lower seq.
	restart := a1
	restart.Seq, restart.Expires = 0, clk.now().Add(time.Minute)
	if err := r.Put(restart); err != nil {
		t.Fatalf("Put after expiry: %v", err)
	}
	clk.advance(2 * time.Minute)
	if n := r.Prune(); n != 2 {
		t.Fatalf("Prune removed %d, want 2", n)
	}
	if err := r.Put(a2); !errors.Is(err, ErrExpired) {
		t.Fatalf("Put of an expired announcement: err = %v, want ErrExpired", err)
	}
}

func TestRegistryCoverage(t *testing.T) {
	clk := &fakeClock{t: testNow}
	_, idA := newKey(t)
	_, idB := newKey(t)
	_, idC := newKey(t)
	tests := []struct {
		name     string
		shards   []Announcement
		layers   int
		want     []int
		wantGaps []LayerRange
	}{
		{"nobody", nil, 4, []int{0, 0, 0, 0}, []LayerRange{{0, 4}}},
		{"one full", []Announcement{shard(t, idA, 0, 16, 1)}, 16, ones(16), nil},
		{"split with overlap and gap", []Announcement{
			shard(t, idA, 0, 6, 1), shard(t, idB, 4, 10, 1), shard(t, idC, 12, 16, 1),
		}, 16, []int{1, 1, 1, 1, 2, 2, 1, 1, 1, 1, 0, 0, 1, 1, 1, 1}, []LayerRange{{10, 12}}},
		{"gaps at both ends", []Announcement{withLayers(shard(t, idA, 3, 5, 1), 8)}, 8,
			[]int{0, 0, 0, 1, 1, 0, 0, 0}, []LayerRange{{0, 3}, {5, 8}}},
		{"other layer count ignored", []Announcement{shard(t, idA, 0, 16, 1)}, 32, make([]int, 32), []LayerRange{{0, 32}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := NewRegistry(clk.now)
			for _, a := range tt.shards {
				if err := r.Put(a); err != nil {
					t.Fatal(err)
				}
			}
			c := r.Coverage(sampleAnnouncement(idA).ModelHash, tt.layers)
			if !reflect.DeepEqual(c.Layers, tt.want) || !reflect.DeepEqual(c.Gaps, tt.wantGaps) {
				t.Fatalf("Coverage = %v gaps %v, want %v gaps %v", c.Layers, c.Gaps, tt.want, tt.wantGaps)
			}
			if c.Complete() != (len(tt.wantGaps) == 0) {
				t.Fatalf("Complete() = %v", c.Complete())
			}
		})
	}
	if c := NewRegistry(clk.now).Coverage(ModelHash{}, 0); c.Layers != nil || c.Gaps != nil {
		t.Fatalf("Coverage of 0 layers = %+v", c)
	}
}

func withLayers(a Announcement, n int) Announcement {
	a.NumLayers = n
	return a
}

func ones(n int) []int {
	s := make([]int, n)
	for i := range s {
		s[i] = 1
	}
	return s
}

func TestRegistryRejectsInvalid(t *testing.T) {
	r := NewRegistry(func() time.Time { return testNow })
	_, id := newKey(t)
	a := shard(t, id, 0, 16, 1)
	a.Backend = "tpu"
	if err := r.Put(a); !errors.Is(err, ErrInvalidAnnouncement) {
		t.Fatalf("Put invalid: err = %v", err)
	}
}
