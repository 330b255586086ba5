package runtime

import (
	"context"
	"errors"
	"fmt"
	"os"
	"slices"
	"strings"
	"sync"

	"github.com/hearth-p2p/hearth/inference/catalog"
)

// DownloadState is where a download stands.
type DownloadState string

// Download states.
const (
	DownloadQueued    DownloadState = "queued" // waiting for the running one
	DownloadRunning   DownloadState = "running"
	DownloadPaused    DownloadState = "paused" // bytes so far kept; Resume continues
	DownloadDone      DownloadState = "done"
	DownloadFailed    DownloadState = "failed" // bytes so far kept; Resume retries
	DownloadCancelled DownloadState = "cancelled"
)

// Download is the progress of one model download.
type Download struct {
	ID          string // catalog name
	Name        string
	State       DownloadState
	Done, Total uint64
	BytesPerSec float64
	Err         string // why it failed
}

// Download errors.
var (
	ErrNoDownload     = errors.New("no such download")
	ErrDownloadState  = errors.New("the download is not in a state for that")
	ErrAlreadyPresent = errors.New("already installed")
)

// downloadManager runs model downloads one at a time; the others queue.
// Pausing cancels a transfer and keeps its .partial file; resuming pulls
// again, which continues from it.
type downloadManager struct {
	slot chan struct{} // held by the running download

	mu    sync.Mutex // guards items and order
	items map[string]*download
	order []string
}

// download is one entry of the manager.
type download struct {
	Download
	entry  catalog.Entry
	cancel context.CancelFunc // of the transfer; nil when none runs
	done   chan struct{}      // closed when the transfer goroutine ends
	stopAs DownloadState      // why the transfer was cancelled
}

func (m *downloadManager) init() {
	m.slot = make(chan struct{}, 1)
	m.items = map[string]*download{}
}

// Downloads lists the downloads that are queued, running, paused or failed,
// in the order they were asked for.
func (d *Desktop) Downloads(ctx context.Context) ([]Download, error) {
	m := &d.downloads
	m.mu.Lock()
	defer m.mu.Unlock()
	out := make([]Download, 0, len(m.order))
	for _, id := range m.order {
		out = append(out, m.items[id].Download)
	}
	return out, ctx.Err()
}

// Pull starts downloading a catalog model and returns at once; progress
// arrives as DownloadChanged events. A .partial file left by an earlier
// run is continued.
func (d *Desktop) Pull(ctx context.Context, id string) error {
	e, err := d.store.Catalog().Lookup(id)
	if err != nil {
		return err
	}
	if _, err := d.store.Get(e.Name); err == nil {
		return fmt.Errorf("pull %s: %w", e.Title, ErrAlreadyPresent)
	}
	m := &d.downloads
	m.mu.Lock()
	if old := m.items[e.Name]; old != nil && old.State != DownloadFailed && old.State != DownloadPaused {
		m.mu.Unlock()
		return fmt.Errorf("pull %s: %w", e.Title, catalog.ErrBusy)
	}
	m.mu.Unlock()
	return d.startDownload(ctx, e)
}

// startDownload (re)starts the transfer of e once any earlier transfer of
// it has ended (it holds the partial file's lock until then).
func (d *Desktop) startDownload(ctx context.Context, e catalog.Entry) error {
	m := &d.downloads
	m.mu.Lock()
	old := m.items[e.Name]
	m.mu.Unlock()
	if old != nil && old.done != nil {
		select {
		case <-old.done:
		case <-ctx.Done():
			return ctx.Err()
		}
	}
	tctx, cancel := context.WithCancel(d.life)
	dl := &download{Download: Download{ID: e.Name, Name: e.Title, State: DownloadQueued, Total: uint64(e.Size)},
		entry: e, cancel: cancel, done: make(chan struct{})}
	if old != nil {
		dl.Done = old.Done
	}
	m.mu.Lock()
	if cur := m.items[e.Name]; cur != old { // raced with another Pull or Resume
		m.mu.Unlock()
		cancel()
		return fmt.Errorf("pull %s: %w", e.Title, catalog.ErrBusy)
	}
	m.items[e.Name] = dl
	if !slices.Contains(m.order, e.Name) {
		m.order = append(m.order, e.Name)
	}
	m.mu.Unlock()
	d.publish(DownloadChanged{Download: dl.Download})
	if !d.goBackground(func() { d.transfer(tctx, dl) }) {
		cancel()
		close(dl.done)
		return errors.New("pull: the desktop is shutting down")
	}
	return nil
}

// transfer waits for the slot, pulls, and records how it ended.
func (d *Desktop) transfer(ctx context.Context, dl *download) {
	m := &d.downloads
	defer close(dl.done)
	defer dl.cancel()
	select {
	case m.slot <- struct{}{}:
	case <-ctx.Done():
		d.endDownload(dl, ctx.Err())
		return
	}
	defer func() { <-m.slot }()
	d.update(dl, func(x *download) {
		if x.State == DownloadQueued {
			x.State = DownloadRunning
		}
	})
	_, err := d.store.Pull(ctx, dl.entry, func(p catalog.Progress) {
		d.update(dl, func(x *download) {
			if x.State == DownloadRunning {
				x.Done, x.Total, x.BytesPerSec = uint64(p.Done), uint64(p.Total), p.BytesPerSec
			}
		})
	})
	d.endDownload(dl, err)
}

// update changes dl under the lock and publishes it.
func (d *Desktop) update(dl *download, f func(*download)) {
	m := &d.downloads
	m.mu.Lock()
	f(dl)
	snap := dl.Download
	current := m.items[dl.ID] == dl
	m.mu.Unlock()
	if current {
		d.publish(DownloadChanged{Download: snap})
	}
}

// endDownload records the outcome of a transfer.
func (d *Desktop) endDownload(dl *download, err error) {
	m := &d.downloads
	m.mu.Lock()
	current := m.items[dl.ID] == dl
	stopAs := dl.stopAs
	switch {
	case err == nil:
		dl.State, dl.Done, dl.BytesPerSec = DownloadDone, dl.Total, 0
	case stopAs == DownloadPaused || stopAs == DownloadCancelled:
		dl.State, dl.BytesPerSec = stopAs, 0
	case d.life.Err() != nil: // the app is closing: resumable next time
		dl.State, dl.BytesPerSec = DownloadPaused, 0
	default:
		dl.State, dl.Err, dl.BytesPerSec = DownloadFailed, err.Error(), 0
	}
	if current && (dl.State == DownloadDone || dl.State == DownloadCancelled) {
		m.forgetLocked(dl.ID)
	}
	snap := dl.Download
	m.mu.Unlock()
	if stopAs == DownloadCancelled && err != nil { // a finished download stays installed
		if rerr := d.store.Remove(dl.ID); rerr != nil && !errors.Is(rerr, catalog.ErrNotInstalled) {
			d.log.Warn("removing a cancelled download", "model", dl.ID, "err", rerr)
		}
	}
	if snap.State == DownloadDone { // even when cancelled too late
		d.log.Info("model downloaded", "model", dl.ID)
		d.publish(ModelsChanged{})
	}
	if !current {
		return
	}
	if stopAs != DownloadPaused && stopAs != DownloadCancelled { // those were published when asked for
		d.publish(DownloadChanged{Download: snap})
	}
	if snap.State == DownloadFailed {
		d.log.Warn("download failed", "model", dl.ID, "err", err)
	}
}

func (m *downloadManager) forgetLocked(id string) {
	delete(m.items, id)
	m.order = slices.DeleteFunc(m.order, func(x string) bool { return x == id })
}

// PauseDownload stops a queued or running download, keeping its bytes. It
// returns at once.
func (d *Desktop) PauseDownload(id string) error {
	m := &d.downloads
	m.mu.Lock()
	dl := m.items[id]
	if dl == nil {
		m.mu.Unlock()
		return fmt.Errorf("pause %s: %w", id, ErrNoDownload)
	}
	if dl.State != DownloadRunning && dl.State != DownloadQueued {
		m.mu.Unlock()
		return fmt.Errorf("pause %s (%s): %w", id, dl.State, ErrDownloadState)
	}
	dl.stopAs, dl.State, dl.BytesPerSec = DownloadPaused, DownloadPaused, 0
	snap := dl.Download
	m.mu.Unlock()
	dl.cancel()
	d.publish(DownloadChanged{Download: snap})
	return nil
}

// ResumeDownload continues a paused or failed download from its bytes.
func (d *Desktop) ResumeDownload(ctx context.Context, id string) error {
	m := &d.downloads
	m.mu.Lock()
	dl := m.items[id]
	m.mu.Unlock()
	if dl == nil {
		return fmt.Errorf("resume %s: %w", id, ErrNoDownload)
	}
	if dl.State != DownloadPaused && dl.State != DownloadFailed {
		return fmt.Errorf("resume %s (%s): %w", id, dl.State, ErrDownloadState)
	}
	return d.startDownload(ctx, dl.entry)
}

// CancelDownload stops a download and deletes its bytes. It returns at
// once; the partial file goes when the transfer has ended.
func (d *Desktop) CancelDownload(id string) error {
	m := &d.downloads
	m.mu.Lock()
	dl := m.items[id]
	if dl == nil {
		m.mu.Unlock()
		return fmt.Errorf("cancel %s: %w", id, ErrNoDownload)
	}
	running := dl.done != nil && !closed(dl.done)
	dl.stopAs, dl.State, dl.BytesPerSec = DownloadCancelled, DownloadCancelled, 0
	m.forgetLocked(id)
	snap := dl.Download
	m.mu.Unlock()
	d.publish(DownloadChanged{Download: snap})
	if running {
		dl.cancel() // the transfer deletes the partial file as it ends
		return nil
	}
	d.goBackground(func() {
		if err := d.store.Remove(id); err != nil && !errors.Is(err, catalog.ErrNotInstalled) {
			d.log.Warn("removing a cancelled download", "model", id, "err", err)
		}
	})
	return nil
}

func closed(ch chan struct{}) bool {
	select {
	case <-ch:
		return true
	default:
		return false
	}
}

// stopAll ends every transfer (on shutdown); they stay resumable.
func (m *downloadManager) stopAll() {
	m.mu.Lock()
	defer m.mu.Unlock()
	for _, dl := range m.items {
		if dl.cancel != nil {
			dl.cancel()
		}
	}
}

// scanPartials lists the unfinished downloads an earlier run left in the
// store as paused, so they can be resumed.
func (d *Desktop) scanPartials() {
	ents, err := os.ReadDir(d.store.Dir())
	if err != nil {
		return
	}
	m := &d.downloads
	for _, de := range ents {
		name, ok := strings.CutSuffix(de.Name(), ".gguf.partial")
		if !ok || de.IsDir() {
			continue
		}
		e, err := d.store.Catalog().Lookup(name)
		if err != nil {
			continue
		}
		info, err := de.Info()
		if err != nil {
			continue
		}
		done := make(chan struct{})
		close(done)
		dl := &download{Download: Download{ID: e.Name, Name: e.Title, State: DownloadPaused,
			Done: uint64(min(info.Size(), e.Size)), Total: uint64(e.Size)}, entry: e, done: done, cancel: func() {}}
		m.mu.Lock()
		if m.items[e.Name] == nil {
			m.items[e.Name] = dl
			m.order = append(m.order, e.Name)
		}
		m.mu.Unlock()
	}
}
