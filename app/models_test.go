package app_test

import (
	"context"
	"strings"
	"testing"

	"fyne.io/fyne/v2"
	"fyne.io/fyne/v2/test"

	"github.com/hearth-p2p/hearth/app"
	"github.com/hearth-p2p/hearth/app/internal/demo"
)

const mistral = "mistral-7b-instruct-v0.3-q4_k_m"

func (h *harness) row(id string) app.CatalogRow {
	h.t.Helper()
	r, ok := h.u.CatalogRow(id)
	if !ok {
		h.t.Fatalf("no catalog row %s", id)
	}
	return r
}

func (h *harness) downloadState(id string) (app.Download, bool) {
	ds, err := h.b.Downloads(context.Background())
	if err != nil {
		h.t.Fatal(err)
	}
	for _, d := range ds {
		if d.ID == id {
			return d, true
		}
	}
	return app.Download{}, false
}

func TestDownloadProgressPauseResumeComplete(t *testing.T) {
	h := start(t, demo.Options{}, app.TabModels)
	r := h.row(mistral)
	if !r.Download.Visible() || r.Progress.Visible() || r.State.Visible() {
		t.Fatal("an available model should show only Download")
	}
	if installed := h.row("qwen2.5-7b-instruct-q4_k_m"); !installed.State.Visible() || installed.Download.Visible() {
		t.Error("an installed model should show Installed")
	}
	rows := h.u.InstalledRows()

	test.Tap(r.Download)
	h.waitFor("progress bar", func() bool { return r.Progress.Visible() })
	const total = 4_370_000_000
	h.b.Progress(mistral, total/2)
	h.waitFor("half way", func() bool { return r.Progress.Value == total/2 })
	if got := r.Detail.Text; got != "2.19 GB of 4.37 GB · 48.6 MB/s" {
		t.Errorf("detail %q", got)
	}

	test.Tap(r.Pause)
	h.waitFor("paused", func() bool { return strings.HasPrefix(r.Detail.Text, "Paused at 2.19 GB") })
	if d, _ := h.downloadState(mistral); d.State != app.DownloadPaused {
		t.Errorf("backend state %v, want paused", d.State)
	}
	h.b.Progress(mistral, total) // ignored while paused
	h.settle()
	if r.Progress.Value != total/2 {
		t.Error("a paused download moved")
	}
	test.Tap(r.Pause)
	h.waitFor("resumed", func() bool { d, _ := h.downloadState(mistral); return d.State == app.DownloadRunning })

	test.AssertNotificationSent(t, &fyne.Notification{Title: "Download finished", Content: "Mistral 7B Instruct v0.3 is ready to chat."}, func() {
		h.b.Progress(mistral, total)
		h.waitFor("installed", func() bool { return r.State.Visible() })
	})
	h.waitFor("installed list", func() bool { return h.u.InstalledRows() == rows+1 })
	if r.Progress.Visible() || r.Pause.Visible() {
		t.Error("progress controls still shown after the download completed")
	}
	if got := h.u.DiskLabel(); !strings.HasPrefix(got, "11.7 GB used by 4 models") {
		t.Errorf("disk label %q", got)
	}
	h.waitFor("chat model picker", func() bool { return len(h.u.ChatModel().Options) == 5 })
}

func TestDownloadCancelAndFail(t *testing.T) {
	h := start(t, demo.Options{}, app.TabModels)
	r := h.row(mistral)
	test.Tap(r.Download)
	h.waitFor("progress bar", func() bool { return r.Progress.Visible() })
	h.b.Fail(mistral, "checksum mismatch")
	h.waitFor("failure shown", func() bool { return r.Detail.Text == "Failed: checksum mismatch" })
	test.Tap(r.Cancel)
	h.waitFor("download button back", func() bool { return r.Download.Visible() && !r.Download.Disabled() })
	if _, ok := h.downloadState(mistral); ok {
		t.Error("backend still lists the cancelled download")
	}
}

func TestImportGGUF(t *testing.T) {
	h := start(t, demo.Options{}, app.TabModels)
	rows := h.u.InstalledRows()
	test.AssertNotificationSent(t, &fyne.Notification{Title: "Model imported", Content: "stories260K is ready to chat."}, func() {
		h.u.ImportPath("/models/stories260K.gguf")
		h.waitFor("import", func() bool { return h.u.InstalledRows() == rows+1 })
	})
	if got := h.b.Imports(); len(got) != 1 || got[0] != "/models/stories260K.gguf" {
		t.Errorf("backend imports %v", got)
	}
	h.u.ImportPath("/models/notes.txt") // the backend refuses it; an error dialog shows
	h.settle()
	if len(h.b.Imports()) != 1 || h.u.InstalledRows() != rows+1 {
		t.Error("a non-GGUF file was imported")
	}
}
