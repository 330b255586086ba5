package app

import (
	"context"
	"fmt"

	"fyne.io/fyne/v2"
	"fyne.io/fyne/v2/container"
	"fyne.io/fyne/v2/dialog"
	"fyne.io/fyne/v2/layout"
	"fyne.io/fyne/v2/storage"
	"fyne.io/fyne/v2/theme"
	"fyne.io/fyne/v2/widget"
)

// modelsView is the Models tab: the catalog with download controls, then
// the installed models with their disk use and import.
type modelsView struct {
	u    *UI
	root fyne.CanvasObject

	catalogBox   *fyne.Container
	installedBox *fyne.Container
	disk         *widget.ProgressBar
	diskLabel    *widget.Label
	importButton *widget.Button
	rows         map[string]*catalogRow // by CatalogEntry.ID
	entries      []CatalogEntry
}

// catalogRow is one catalog entry and its download controls.
type catalogRow struct {
	entry    CatalogEntry
	fit      *badge
	download *widget.Button
	progress *widget.ProgressBar
	detail   *widget.Label // speed or error
	pause    *widget.Button
	cancel   *widget.Button
	state    *widget.Label // "Installed"
	paused   bool
}

func newModelsView(u *UI) *modelsView {
	v := &modelsView{u: u, rows: map[string]*catalogRow{}}
	v.catalogBox = container.NewVBox()
	v.installedBox = container.NewVBox()
	v.disk = &widget.ProgressBar{Max: 1, TextFormatter: func() string { return "" }}
	v.diskLabel = caption("")
	v.importButton = &widget.Button{Text: "Import GGUF…", Icon: theme.FolderOpenIcon(), OnTapped: v.chooseImport}
	installedHead := container.NewBorder(nil, nil, heading("Installed"), v.importButton)
	content := container.NewVBox(
		heading("Catalog"),
		caption("Sizes are downloads; RAM is what running the model locally needs on this machine."),
		v.catalogBox,
		widget.NewSeparator(),
		installedHead,
		container.NewBorder(nil, nil, nil, fixed(320, v.diskLabel), v.disk),
		v.installedBox,
	)
	v.root = container.NewVScroll(container.NewPadded(content))
	return v
}

// fixedWidth lays out one object at a fixed minimum width.
type fixedWidth struct{ w float32 }

func (f fixedWidth) MinSize(objs []fyne.CanvasObject) fyne.Size {
	h := float32(0)
	for _, o := range objs {
		h = max(h, o.MinSize().Height)
	}
	return fyne.NewSize(f.w, h)
}

func (f fixedWidth) Layout(objs []fyne.CanvasObject, size fyne.Size) {
	for _, o := range objs {
		o.Move(fyne.NewPos(0, 0))
		o.Resize(size)
	}
}

func fixed(w float32, objs ...fyne.CanvasObject) *fyne.Container {
	return container.New(fixedWidth{w}, objs...)
}

func (v *modelsView) load() {
	call(v.u, func(ctx context.Context) ([]CatalogEntry, error) { return v.u.b.Catalog(ctx) }, v.showCatalog)
	call(v.u, v.u.b.Installed, v.showInstalled)
}

func (v *modelsView) showCatalog(es []CatalogEntry) {
	v.entries = es
	v.catalogBox.RemoveAll()
	old := v.rows
	v.rows = map[string]*catalogRow{}
	for _, e := range es {
		r := v.newRow(e)
		if o := old[e.ID]; o != nil && !e.Installed && o.progress.Visible() {
			r.showProgress(Download{ID: e.ID, State: DownloadRunning, Done: uint64(o.progress.Value), Total: uint64(o.progress.Max)})
			r.setPaused(o.paused)
		}
		v.rows[e.ID] = r
		v.catalogBox.Add(r.content(e))
	}
	call(v.u, v.u.b.Downloads, func(ds []Download) {
		for _, d := range ds {
			v.applyDownload(d)
		}
	})
}

func (v *modelsView) newRow(e CatalogEntry) *catalogRow {
	r := &catalogRow{entry: e}
	switch e.Fit {
	case FitYes:
		r.fit = newBadge("Fits", colorLocal)
	case FitTight:
		r.fit = newBadge("Tight fit", colorPeers)
	default:
		r.fit = newBadge("Needs peers", colorNoFit)
	}
	id := e.ID
	r.download = &widget.Button{Text: "Download", Icon: theme.DownloadIcon(), Importance: widget.HighImportance, OnTapped: func() {
		r.download.Disable()
		v.u.do("download", func(ctx context.Context) error { return v.u.b.Pull(ctx, id) }, nil)
	}}
	r.progress = &widget.ProgressBar{}
	r.detail = caption("")
	r.pause = &widget.Button{Icon: theme.MediaPauseIcon(), OnTapped: func() { v.togglePause(r) }}
	r.cancel = &widget.Button{Icon: theme.CancelIcon(), OnTapped: func() {
		v.u.do("cancel download", func(context.Context) error { return v.u.b.CancelDownload(id) }, nil)
	}}
	r.state = &widget.Label{Text: "Installed", Importance: widget.SuccessImportance}
	r.showIdle()
	return r
}

func (r *catalogRow) content(e CatalogEntry) fyne.CanvasObject {
	name := &widget.Label{Text: e.Name, TextStyle: fyne.TextStyle{Bold: true}}
	info := caption(fmt.Sprintf("%s params · %s · %s — %s", e.Params, e.Quant, e.License, e.Description))
	info.Truncation = fyne.TextTruncateEllipsis
	left := container.NewVBox(name, info)
	size := &widget.Label{Text: formatBytes(e.SizeBytes), Alignment: fyne.TextAlignTrailing}
	ram := &widget.Label{Text: formatBytes(e.RAMBytes) + " RAM", Alignment: fyne.TextAlignTrailing}
	progress := container.NewBorder(nil, r.detail, nil, container.NewHBox(r.pause, r.cancel), r.progress)
	actions := fixed(260, container.NewStack(container.NewCenter(r.download), container.NewCenter(r.state), progress))
	middle := func(o fyne.CanvasObject) fyne.CanvasObject {
		return container.NewVBox(layout.NewSpacer(), o, layout.NewSpacer())
	}
	right := container.NewHBox(fixed(90, middle(size)), fixed(110, middle(ram)), fixed(100, container.NewCenter(r.fit)), actions)
	return container.NewVBox(container.NewBorder(nil, nil, nil, right, left), widget.NewSeparator())
}

// showIdle shows Download, or Installed.
func (r *catalogRow) showIdle() {
	r.progress.Hide()
	r.detail.Hide()
	r.pause.Hide()
	r.cancel.Hide()
	r.download.Enable()
	if r.entry.Installed {
		r.download.Hide()
		r.state.Show()
	} else {
		r.download.Show()
		r.state.Hide()
	}
}

func (r *catalogRow) showProgress(d Download) {
	r.download.Hide()
	r.state.Hide()
	r.progress.Show()
	r.detail.Show()
	r.pause.Show()
	r.cancel.Show()
	r.progress.Max = max(float64(d.Total), 1)
	r.progress.SetValue(float64(d.Done))
}

func (r *catalogRow) setPaused(p bool) {
	r.paused = p
	if p {
		r.pause.SetIcon(theme.MediaPlayIcon())
	} else {
		r.pause.SetIcon(theme.MediaPauseIcon())
	}
}

// applyDownload renders a download's progress in its catalog row.
func (v *modelsView) applyDownload(d Download) {
	r := v.rows[d.ID]
	if r == nil {
		return
	}
	switch d.State {
	case DownloadRunning:
		r.showProgress(d)
		r.setPaused(false)
		r.detail.SetText(fmt.Sprintf("%s of %s · %s", formatBytes(d.Done), formatBytes(d.Total), formatRate(d.BytesPerSec)))
	case DownloadPaused:
		r.showProgress(d)
		r.setPaused(true)
		r.detail.SetText(fmt.Sprintf("Paused at %s of %s", formatBytes(d.Done), formatBytes(d.Total)))
	case DownloadFailed:
		r.showProgress(d)
		r.setPaused(true)
		r.detail.SetText("Failed: " + d.Err)
	case DownloadDone:
		r.entry.Installed = true
		r.showIdle()
	case DownloadCancelled:
		r.showIdle()
	}
}

func (v *modelsView) togglePause(r *catalogRow) {
	id := r.entry.ID
	if r.paused {
		v.u.do("resume download", func(ctx context.Context) error { return v.u.b.ResumeDownload(ctx, id) }, nil)
		return
	}
	v.u.do("pause download", func(context.Context) error { return v.u.b.PauseDownload(id) }, nil)
}

func (v *modelsView) showInstalled(im InstalledModels) {
	v.installedBox.RemoveAll()
	total := im.UsedBytes + im.FreeBytes
	v.disk.Max = max(float64(total), 1)
	v.disk.SetValue(float64(im.UsedBytes))
	v.diskLabel.SetText(fmt.Sprintf("%s used by %d models · %s free", formatBytes(im.UsedBytes), len(im.Models), formatBytes(im.FreeBytes)))
	if len(im.Models) == 0 {
		v.installedBox.Add(caption("No models yet: download one above or import a GGUF file."))
	}
	for _, m := range im.Models {
		id, name := m.ID, m.Name
		remove := &widget.Button{Text: "Remove", Icon: theme.DeleteIcon(), Importance: widget.LowImportance, OnTapped: func() {
			v.confirmRemove(id, name)
		}}
		path := caption(m.Path)
		path.Truncation = fyne.TextTruncateEllipsis
		left := container.NewVBox(&widget.Label{Text: m.Name, TextStyle: fyne.TextStyle{Bold: true}}, path)
		right := container.NewHBox(fixed(90, &widget.Label{Text: formatBytes(m.SizeBytes), Alignment: fyne.TextAlignTrailing}), remove)
		v.installedBox.Add(container.NewBorder(nil, nil, nil, right, left))
	}
	v.installedBox.Add(layout.NewSpacer())
}

func (v *modelsView) confirmRemove(id, name string) {
	remove := func() {
		v.u.do("remove model", func(ctx context.Context) error { return v.u.b.Remove(ctx, id) }, nil)
	}
	if v.u.win == nil {
		remove()
		return
	}
	dialog.ShowConfirm("Remove model", fmt.Sprintf("Delete %s from disk?", name), func(ok bool) {
		if ok {
			remove()
		}
	}, v.u.win)
}

// chooseImport opens a file dialog for a .gguf file.
func (v *modelsView) chooseImport() {
	if v.u.win == nil {
		return
	}
	d := dialog.NewFileOpen(func(rc fyne.URIReadCloser, err error) {
		if err != nil {
			v.u.showError("import", err)
			return
		}
		if rc == nil {
			return // cancelled
		}
		path := rc.URI().Path()
		if err := rc.Close(); err != nil {
			fyne.LogError("import: close", err)
		}
		v.importPath(path)
	}, v.u.win)
	d.SetFilter(storage.NewExtensionFileFilter([]string{".gguf"}))
	d.Resize(fyne.NewSize(800, 560))
	d.Show()
}

// importPath imports the GGUF file at path.
func (v *modelsView) importPath(path string) {
	call(v.u, func(ctx context.Context) (InstalledModel, error) { return v.u.b.Import(ctx, path) }, func(m InstalledModel) {
		v.u.notify("Model imported", m.Name+" is ready to chat.")
	})
}
