package demo

import (
	"context"
	"errors"
	"fmt"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"github.com/hearth-p2p/hearth/app"
)

// Catalog implements app.ModelsBackend.
func (b *Backend) Catalog(context.Context) ([]app.CatalogEntry, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return slices.Clone(b.catalog), nil
}

// Installed implements app.ModelsBackend.
func (b *Backend) Installed(context.Context) (app.InstalledModels, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.installedLocked(), nil
}

func (b *Backend) installedLocked() app.InstalledModels {
	im := app.InstalledModels{
		Models:    slices.Clone(b.installed),
		Dir:       filepath.Join(b.settings.DataDir, "models"),
		FreeBytes: 312 * gb,
	}
	for _, m := range b.installed {
		im.UsedBytes += m.SizeBytes
	}
	return im
}

// Downloads implements app.ModelsBackend.
func (b *Backend) Downloads(context.Context) ([]app.Download, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	var out []app.Download
	for _, e := range b.catalog { // catalog order
		if d := b.downloads[e.ID]; d != nil {
			out = append(out, *d)
		}
	}
	return out, nil
}

func (b *Backend) entry(id string) (*app.CatalogEntry, error) {
	for i := range b.catalog {
		if b.catalog[i].ID == id {
			return &b.catalog[i], nil
		}
	}
	return nil, fmt.Errorf("model %q is not in the catalog", id)
}

// Pull implements app.ModelsBackend.
func (b *Backend) Pull(_ context.Context, id string) error {
	b.mu.Lock()
	defer b.mu.Unlock()
	e, err := b.entry(id)
	if err != nil {
		return err
	}
	if e.Installed {
		return fmt.Errorf("%s is already installed", e.Name)
	}
	if d := b.downloads[id]; d != nil && (d.State == app.DownloadRunning || d.State == app.DownloadPaused) {
		return fmt.Errorf("%s is already downloading", e.Name)
	}
	d := &app.Download{ID: id, Name: e.Name, State: app.DownloadRunning, Total: e.SizeBytes}
	b.downloads[id] = d
	b.publish(app.DownloadEvent{Download: *d})
	if b.opt.Live {
		b.liveWG.Add(1)
		go func() {
			defer b.liveWG.Done()
			b.runDownload(b.liveCtx, id)
		}()
	}
	return nil
}

// runDownload advances a live download over about two minutes.
func (b *Backend) runDownload(ctx context.Context, id string) {
	t := time.NewTicker(200 * time.Millisecond)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		b.mu.Lock()
		d := b.downloads[id]
		if d == nil || d.State == app.DownloadCancelled || d.State == app.DownloadDone {
			b.mu.Unlock()
			return
		}
		running := d.State == app.DownloadRunning
		total := d.Total
		done := d.Done + total/600
		b.mu.Unlock()
		if running {
			b.Progress(id, min(done, total))
		}
	}
}

// Progress reports that download id has done bytes; at the total it
// completes and the model is installed.
func (b *Backend) Progress(id string, done uint64) {
	b.mu.Lock()
	defer b.mu.Unlock()
	d := b.downloads[id]
	if d == nil || d.State != app.DownloadRunning {
		return
	}
	d.Done = min(done, d.Total)
	d.BytesPerSec = 48.6e6
	if d.Done == d.Total {
		d.State = app.DownloadDone
		d.BytesPerSec = 0
		e, _ := b.entry(id) // present: downloads start from the catalog
		e.Installed = true
		b.installed = append(b.installed, app.InstalledModel{
			ID: id, Name: e.Name, SizeBytes: e.SizeBytes,
			Path: filepath.Join(b.settings.DataDir, "models", id+".gguf"),
		})
		delete(b.downloads, id)
		b.publish(app.DownloadEvent{Download: *d})
		b.publish(app.ModelsChanged{})
		return
	}
	b.publish(app.DownloadEvent{Download: *d})
}

// Fail makes download id fail with msg.
func (b *Backend) Fail(id, msg string) {
	b.mu.Lock()
	defer b.mu.Unlock()
	if d := b.downloads[id]; d != nil {
		d.State, d.Err, d.BytesPerSec = app.DownloadFailed, msg, 0
		b.publish(app.DownloadEvent{Download: *d})
	}
}

func (b *Backend) setState(id string, from []app.DownloadState, to app.DownloadState) error {
	b.mu.Lock()
	defer b.mu.Unlock()
	d := b.downloads[id]
	if d == nil {
		return fmt.Errorf("no download of %q", id)
	}
	if !slices.Contains(from, d.State) {
		return fmt.Errorf("download of %q cannot go from state %d to %d", id, d.State, to)
	}
	d.State, d.BytesPerSec = to, 0
	if to == app.DownloadCancelled {
		delete(b.downloads, id)
	}
	b.publish(app.DownloadEvent{Download: *d})
	return nil
}

// PauseDownload implements app.ModelsBackend.
func (b *Backend) PauseDownload(id string) error {
	return b.setState(id, []app.DownloadState{app.DownloadRunning}, app.DownloadPaused)
}

// ResumeDownload implements app.ModelsBackend.
func (b *Backend) ResumeDownload(_ context.Context, id string) error {
	return b.setState(id, []app.DownloadState{app.DownloadPaused, app.DownloadFailed}, app.DownloadRunning)
}

// CancelDownload implements app.ModelsBackend.
func (b *Backend) CancelDownload(id string) error {
	return b.setState(id, []app.DownloadState{app.DownloadRunning, app.DownloadPaused, app.DownloadFailed}, app.DownloadCancelled)
}

// Import implements app.ModelsBackend.
func (b *Backend) Import(_ context.Context, path string) (app.InstalledModel, error) {
	if !strings.EqualFold(filepath.Ext(path), ".gguf") {
		return app.InstalledModel{}, errors.New("not a .gguf file")
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	name := strings.TrimSuffix(filepath.Base(path), filepath.Ext(path))
	m := app.InstalledModel{ID: "local/" + name, Name: name, Path: path, SizeBytes: 1_126_400}
	b.installed = append(b.installed, m)
	b.imports = append(b.imports, path)
	b.publish(app.ModelsChanged{})
	return m, nil
}

// Imports lists the paths imported so far, for tests.
func (b *Backend) Imports() []string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return slices.Clone(b.imports)
}

// Remove implements app.ModelsBackend.
func (b *Backend) Remove(_ context.Context, id string) error {
	b.mu.Lock()
	defer b.mu.Unlock()
	i := slices.IndexFunc(b.installed, func(m app.InstalledModel) bool { return m.ID == id })
	if i < 0 {
		return fmt.Errorf("model %q is not installed", id)
	}
	b.installed = slices.Delete(b.installed, i, i+1)
	if e, err := b.entry(id); err == nil {
		e.Installed = false
	}
	b.publish(app.ModelsChanged{})
	return nil
}
