package runtime

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/hearth-p2p/hearth/inference/catalog"
	"github.com/hearth-p2p/hearth/node/hardware"
	"github.com/hearth-p2p/hearth/node/p2p/p2ptest"
	"github.com/hearth-p2p/hearth/wallet/keystore"
)

// idleMachine is an idle 8-thread machine with 32 GiB: every reading
// lets the lending policy lend.
type idleMachine struct{}

func (idleMachine) Read(context.Context) (hardware.Reading, error) {
	return hardware.Reading{Time: time.Now(), CPU: hardware.CPU{Cores: 4, Threads: 8, UsagePct: 3, OthersPct: 1},
		Mem: hardware.Mem{Total: 32 << 30, Available: 24 << 30}}, nil
}

// fixedMemory reports a fixed amount of available memory.
type fixedMemory uint64

func (m fixedMemory) AvailableMemory() (uint64, error) { return uint64(m), nil }

// testDesktopConfig keeps everything in temporary directories and on
// loopback: no DHT, no mDNS, fast gossip, light wallet keys, fast samples.
func testDesktopConfig(t *testing.T) DesktopConfig {
	t.Helper()
	cfg := DefaultDesktopConfig()
	cfg.DataDir, cfg.ConfigDir = t.TempDir(), t.TempDir()
	cfg.Threads = 1
	cfg.ChatContext = 256
	cfg.P2P, cfg.ConsumerP2P = p2ptest.Config(), p2ptest.Config()
	cfg.Discovery.EnableDHT, cfg.Discovery.EnableMDNS = false, false
	cfg.Discovery.Refresh = 200 * time.Millisecond
	cfg.Lending.HoldIdle = 100 * time.Millisecond
	cfg.Lending.RAMReserveBytes = 0
	cfg.Reader = idleMachine{}
	cfg.Memory = fixedMemory(16 << 30)
	cfg.Wallet.KDF = keystore.Params{Time: 1, MemoryKiB: 1024, Threads: 1}
	cfg.Wallet.Solana.PollInterval = 20 * time.Millisecond
	cfg.Wallet.Solana.RebroadcastInterval = 100 * time.Millisecond
	cfg.Catalog.BackoffBase, cfg.Catalog.BackoffMax = time.Millisecond, 5*time.Millisecond
	cfg.Catalog.ProgressEvery = 0
	cfg.SampleInterval = 100 * time.Millisecond
	cfg.DiscoveryWait = 3 * time.Second
	cfg.Placement.Listen = 100 * time.Millisecond
	cfg.MachineBench = false // desktop_bench_test.go turns it on
	return cfg
}

// openDesktop opens a desktop closed when the test ends.
func openDesktop(t *testing.T, cfg DesktopConfig) *Desktop {
	t.Helper()
	d, err := NewDesktop(cfg, p2ptest.Logger(t, slog.LevelWarn))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { d.Close() })
	return d
}

// serve runs the desktop's services until the test ends (or stop is
// called).
func serve(t *testing.T, d *Desktop) (stop func()) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- d.Serve(ctx) }()
	var once sync.Once
	stop = func() {
		once.Do(func() {
			cancel()
			select {
			case err := <-done:
				if err != nil {
					t.Errorf("serve: %v", err)
				}
			case <-time.After(30 * time.Second):
				t.Error("Serve did not return 30 s after its context ended")
			}
		})
	}
	t.Cleanup(stop)
	eventually(t, "Serve to start", d.net.isServing)
	return stop
}

// withStories imports stories260K into the desktop's store.
func withStories(t *testing.T, d *Desktop) InstalledModel {
	t.Helper()
	m, err := d.Import(context.Background(), sharedModel(t, "stories260K.gguf"))
	if err != nil {
		t.Fatal(err)
	}
	return m
}

// events collects a desktop's events until the test ends.
type eventLog struct {
	mu     sync.Mutex
	events []DesktopEvent
	notify chan struct{}
}

func watchEvents(t *testing.T, d *Desktop) *eventLog {
	ctx, cancel := context.WithCancel(context.Background())
	t.Cleanup(cancel)
	l := &eventLog{notify: make(chan struct{}, 1)}
	ch := d.Subscribe(ctx)
	go func() {
		for ev := range ch {
			l.mu.Lock()
			l.events = append(l.events, ev)
			l.mu.Unlock()
			select {
			case l.notify <- struct{}{}:
			default:
			}
		}
	}()
	return l
}

// waitFor waits until cond holds over the events seen so far.
func (l *eventLog) waitFor(t *testing.T, what string, cond func([]DesktopEvent) bool) {
	t.Helper()
	deadline := time.After(30 * time.Second)
	for {
		l.mu.Lock()
		ok := cond(l.events)
		l.mu.Unlock()
		if ok {
			return
		}
		select {
		case <-l.notify:
		case <-deadline:
			t.Fatalf("timed out waiting for %s", what)
		}
	}
}

// eventually polls cond for up to 30 s.
func eventually(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// modelServer serves files at catalog paths, with HTTP ranges, and can
// slow down transfers so that a test can pause one mid-way.
type modelServer struct {
	*httptest.Server
	mu     sync.Mutex
	files  map[string][]byte
	ranges []string // Range header of each request
	delay  time.Duration
}

func newModelServer(t *testing.T) *modelServer {
	s := &modelServer{files: map[string][]byte{}}
	s.Server = httptest.NewServer(http.HandlerFunc(s.serve))
	t.Cleanup(s.Close)
	return s
}

func (s *modelServer) serve(w http.ResponseWriter, r *http.Request) {
	s.mu.Lock()
	data, ok := s.files[r.URL.Path]
	s.ranges = append(s.ranges, r.Header.Get("Range"))
	delay := s.delay
	s.mu.Unlock()
	if !ok {
		http.NotFound(w, r)
		return
	}
	http.ServeContent(w, r, "model.gguf", time.Time{}, &slowReader{ReadSeeker: bytes.NewReader(data), delay: delay})
}

func (s *modelServer) requestRanges() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]string(nil), s.ranges...)
}

// slowReader reads 32 KiB at a time, waiting delay before each read.
type slowReader struct {
	io.ReadSeeker
	delay time.Duration
}

func (r *slowReader) Read(p []byte) (int, error) {
	if r.delay > 0 {
		time.Sleep(r.delay)
		p = p[:min(len(p), 32<<10)]
	}
	return r.ReadSeeker.Read(p)
}

// storiesEntry is a catalog entry for stories260K served by s.
func storiesEntry(t *testing.T, s *modelServer) catalog.Entry {
	t.Helper()
	data, err := os.ReadFile(sharedModel(t, "stories260K.gguf"))
	if err != nil {
		t.Fatal(err)
	}
	sum := sha256.Sum256(data)
	e := catalog.Entry{Name: "stories260k", Title: "Stories 260K", Repo: "karpathy/tinyllamas", Revision: "abc123",
		File: "stories260K.gguf", Size: int64(len(data)), SHA256: hex.EncodeToString(sum[:]), Verify: catalog.VerifySHA256,
		Quant: "F32", Params: "292K", Arch: "llama", Layers: 5, KVHeads: 4, HeadDim: 8, ContextLength: 512,
		License: "MIT", Template: "chatml"}
	s.mu.Lock()
	s.files["/"+e.Repo+"/resolve/"+e.Revision+"/"+e.File] = data
	s.mu.Unlock()
	return e
}

// drain reads a reply to its end.
func drain(t *testing.T, ch <-chan TurnDelta) (text string, deltas int, final TurnDelta) {
	t.Helper()
	timeout := time.After(2 * time.Minute)
	for {
		select {
		case d, ok := <-ch:
			if !ok {
				if !final.Done {
					t.Fatal("the reply channel closed without a final delta")
				}
				return text, deltas, final
			}
			if final.Done {
				t.Fatal("a delta after the final one")
			}
			text += d.Text
			if d.Done {
				final = d
			} else {
				deltas++
			}
		case <-timeout:
			t.Fatal("the reply did not end in 2 minutes")
		}
	}
}

// consumerOf is the configuration of a second desktop that finds the
// providers of the network state ns through its node.
func consumerOf(t *testing.T, ns NetworkState) DesktopConfig {
	t.Helper()
	cfg := testDesktopConfig(t)
	addr := ns.Node.Addrs[0]
	if !strings.Contains(addr, "/p2p/") {
		addr += "/p2p/" + ns.Node.PeerID
	}
	cfg.ConsumerP2P.BootstrapPeers = []string{addr}
	cfg.DiscoveryWait = 15 * time.Second
	return cfg
}
