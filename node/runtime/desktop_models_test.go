package runtime

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/hearth-p2p/hearth/inference/catalog"
)

// modelsDesktop is a desktop whose catalog has stories260K (served by s)
// and a model far too big for the machine.
func modelsDesktop(t *testing.T, s *modelServer) (*Desktop, catalog.Entry) {
	t.Helper()
	e := storiesEntry(t, s)
	huge := catalog.Entry{Name: "huge-70b-q4", Title: "Huge 70B", Repo: "nobody/huge", File: "huge.gguf", Size: 40 << 30,
		Verify: catalog.VerifySizeOnly, Quant: "Q4_K_M", Params: "70B", Arch: "llama", Layers: 80, KVHeads: 8, HeadDim: 128,
		ContextLength: 8192, License: "test", Template: "llama3"}
	cfg := testDesktopConfig(t)
	cfg.Catalog.BaseURL = s.URL
	cfg.Catalog.Catalog = &catalog.Catalog{Version: 1, Models: []catalog.Entry{e, huge}}
	return openDesktop(t, cfg), e
}

func downloadEvent(id string, state DownloadState) func([]DesktopEvent) bool {
	return func(evs []DesktopEvent) bool {
		for _, ev := range evs {
			if dc, ok := ev.(DownloadChanged); ok && dc.Download.ID == id && dc.Download.State == state {
				return true
			}
		}
		return false
	}
}

func hasEvent[T DesktopEvent](evs []DesktopEvent) bool {
	for _, ev := range evs {
		if _, ok := ev.(T); ok {
			return true
		}
	}
	return false
}

// TestDesktopCatalogAndPull lists the catalog with fit verdicts, pulls a
// model with progress events, and then finds it installed.
func TestDesktopCatalogAndPull(t *testing.T) {
	s := newModelServer(t)
	d, e := modelsDesktop(t, s)
	log := watchEvents(t, d)
	ctx := context.Background()
	cat, err := d.Catalog(ctx)
	if err != nil || len(cat) != 2 {
		t.Fatalf("catalog %+v, %v", cat, err)
	}
	if c := cat[0]; c.ID != e.Name || c.Name != "Stories 260K" || c.Fit != FitYes || c.Installed || c.RAMBytes < uint64(e.Size) || c.SizeBytes != uint64(e.Size) {
		t.Errorf("stories entry %+v", c)
	}
	if c := cat[1]; c.Fit != FitNo || c.RAMBytes < 40<<30 {
		t.Errorf("a 40 GiB model on a 16 GiB machine: %+v", c)
	}
	if err := d.Pull(ctx, "no-such-model"); !errors.Is(err, catalog.ErrUnknownModel) {
		t.Errorf("pull of an unknown model: %v", err)
	}

	if err := d.Pull(ctx, e.Name); err != nil {
		t.Fatal(err)
	}
	log.waitFor(t, "the download to finish", downloadEvent(e.Name, DownloadDone))
	log.waitFor(t, "ModelsChanged", hasEvent[ModelsChanged])
	var progress []Download
	log.mu.Lock()
	for _, ev := range log.events {
		if dc, ok := ev.(DownloadChanged); ok {
			progress = append(progress, dc.Download)
		}
	}
	log.mu.Unlock()
	if len(progress) < 3 || progress[len(progress)-1].State != DownloadDone {
		t.Fatalf("progress events %+v", progress)
	}
	for i := 1; i < len(progress); i++ {
		if progress[i].Done < progress[i-1].Done || progress[i].Total != uint64(e.Size) {
			t.Fatalf("progress went backwards or lost its total: %+v", progress)
		}
	}
	im, err := d.Installed(ctx)
	if err != nil || len(im.Models) != 1 || im.Models[0].ID != e.Name || im.Models[0].Name != "Stories 260K" ||
		im.UsedBytes != uint64(e.Size) || im.FreeBytes == 0 || im.Dir != filepath.Join(d.DataDir(), "models") {
		t.Fatalf("installed %+v, %v", im, err)
	}
	if cat, _ := d.Catalog(ctx); !cat[0].Installed {
		t.Error("the catalog does not mark the pulled model installed")
	}
	if dl, _ := d.Downloads(ctx); len(dl) != 0 {
		t.Errorf("a finished download is still listed: %+v", dl)
	}
	if err := d.Pull(ctx, e.Name); !errors.Is(err, ErrAlreadyPresent) {
		t.Errorf("pulling an installed model: %v", err)
	}
	if ms, err := d.ChatModels(ctx); err != nil || len(ms) != 1 || ms[0].ID != e.Name || !ms[0].Local {
		t.Errorf("chat models %+v, %v", ms, err)
	}
}

// TestDesktopPauseResumeCancel pauses a slow download mid-way, resumes it
// from its bytes (an HTTP range), and cancels another one.
func TestDesktopPauseResumeCancel(t *testing.T) {
	s := newModelServer(t)
	s.delay = 15 * time.Millisecond // ~37 reads of 32 KiB: about half a second
	d, e := modelsDesktop(t, s)
	log := watchEvents(t, d)
	ctx := context.Background()
	partial := filepath.Join(d.DataDir(), "models", e.Name+".gguf.partial")

	if err := d.Pull(ctx, e.Name); err != nil {
		t.Fatal(err)
	}
	eventually(t, "some bytes", func() bool {
		dl, _ := d.Downloads(ctx)
		return len(dl) == 1 && dl[0].Done > 64<<10
	})
	if err := d.PauseDownload(e.Name); err != nil {
		t.Fatal(err)
	}
	if err := d.PauseDownload(e.Name); !errors.Is(err, ErrDownloadState) {
		t.Errorf("pausing a paused download: %v", err)
	}
	dl, _ := d.Downloads(ctx)
	if len(dl) != 1 || dl[0].State != DownloadPaused || dl[0].Done == 0 || dl[0].Done >= uint64(e.Size) {
		t.Fatalf("after pause: %+v", dl)
	}
	eventually(t, "the partial file", func() bool { st, err := os.Stat(partial); return err == nil && st.Size() > 0 })

	if err := d.ResumeDownload(ctx, e.Name); err != nil {
		t.Fatal(err)
	}
	log.waitFor(t, "the resumed download to finish", downloadEvent(e.Name, DownloadDone))
	ranges := s.requestRanges()
	if len(ranges) != 2 || ranges[0] != "" || !strings.HasPrefix(ranges[1], "bytes=") || ranges[1] == "bytes=0-" {
		t.Fatalf("requests' ranges %q, want a plain GET then a resume", ranges)
	}
	if _, err := d.store.Get(e.Name); err != nil {
		t.Fatalf("not installed after resume: %v", err)
	}

	// Cancel: remove the model, pull again, cancel mid-way.
	if err := d.Remove(ctx, e.Name); err != nil {
		t.Fatal(err)
	}
	if err := d.Pull(ctx, e.Name); err != nil {
		t.Fatal(err)
	}
	eventually(t, "some bytes", func() bool {
		dl, _ := d.Downloads(ctx)
		return len(dl) == 1 && dl[0].Done > 0
	})
	if err := d.CancelDownload(e.Name); err != nil {
		t.Fatal(err)
	}
	log.waitFor(t, "the cancellation", downloadEvent(e.Name, DownloadCancelled))
	if dl, _ := d.Downloads(ctx); len(dl) != 0 {
		t.Errorf("a cancelled download is still listed: %+v", dl)
	}
	eventually(t, "the partial file to go", func() bool { _, err := os.Stat(partial); return os.IsNotExist(err) })
	if _, err := d.store.Get(e.Name); err == nil {
		t.Error("the cancelled model is installed")
	}
	if err := d.CancelDownload(e.Name); !errors.Is(err, ErrNoDownload) {
		t.Errorf("cancelling twice: %v", err)
	}
}

// TestDesktopResumesAcrossRestarts: a paused download is listed again by
// the next run and completes from its bytes.
func TestDesktopResumesAcrossRestarts(t *testing.T) {
	s := newModelServer(t)
	s.delay = 15 * time.Millisecond
	e := storiesEntry(t, s)
	cfg := testDesktopConfig(t)
	cfg.Catalog.BaseURL = s.URL
	cfg.Catalog.Catalog = &catalog.Catalog{Version: 1, Models: []catalog.Entry{e}}
	d := openDesktop(t, cfg)
	ctx := context.Background()
	if err := d.Pull(ctx, e.Name); err != nil {
		t.Fatal(err)
	}
	eventually(t, "some bytes", func() bool {
		dl, _ := d.Downloads(ctx)
		return len(dl) == 1 && dl[0].Done > 0
	})
	d.Close() // the app quits mid-download
	d2 := openDesktop(t, cfg)
	dl, err := d2.Downloads(ctx)
	if err != nil || len(dl) != 1 || dl[0].State != DownloadPaused || dl[0].Done == 0 {
		t.Fatalf("downloads after restart %+v, %v", dl, err)
	}
	log := watchEvents(t, d2)
	if err := d2.ResumeDownload(ctx, e.Name); err != nil {
		t.Fatal(err)
	}
	log.waitFor(t, "the download to finish", downloadEvent(e.Name, DownloadDone))
}

// TestDesktopImportRemove imports a GGUF file, refuses what is not one,
// and removes it.
func TestDesktopImportRemove(t *testing.T) {
	d := openDesktop(t, testDesktopConfig(t))
	log := watchEvents(t, d)
	ctx := context.Background()
	m, err := d.Import(ctx, sharedModel(t, "TinyStories-656K-Q8_0.gguf"))
	if err != nil {
		t.Fatal(err)
	}
	if m.ID != "TinyStories-656K-Q8_0" || m.SizeBytes == 0 || m.Fit != FitYes {
		t.Fatalf("imported %+v", m)
	}
	log.waitFor(t, "ModelsChanged", hasEvent[ModelsChanged])
	if _, err := d.Import(ctx, sharedModel(t, "TinyStories-656K-Q8_0.gguf")); !errors.Is(err, catalog.ErrExists) {
		t.Errorf("importing twice: %v", err)
	}
	notGGUF := filepath.Join(t.TempDir(), "notes.txt")
	os.WriteFile(notGGUF, []byte("hello"), 0o600)
	if _, err := d.Import(ctx, notGGUF); !errors.Is(err, catalog.ErrBadModel) {
		t.Errorf("importing a text file: %v", err)
	}
	fake := filepath.Join(t.TempDir(), "fake.gguf")
	os.WriteFile(fake, []byte("GGUF but not really"), 0o600)
	if _, err := d.Import(ctx, fake); !errors.Is(err, catalog.ErrBadModel) {
		t.Errorf("importing a broken GGUF: %v", err)
	}
	if err := d.Remove(ctx, m.ID); err != nil {
		t.Fatal(err)
	}
	if im, _ := d.Installed(ctx); len(im.Models) != 0 {
		t.Errorf("still installed: %+v", im.Models)
	}
	if err := d.Remove(ctx, m.ID); !errors.Is(err, catalog.ErrNotInstalled) {
		t.Errorf("removing twice: %v", err)
	}
}
