package runtime

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"github.com/hearth-p2p/hearth/inference/catalog"
)

// Fit says whether a model fits this machine's memory.
type Fit int

// Fit verdicts.
const (
	FitYes   Fit = iota // fits with room to spare
	FitTight            // fits, with little memory left
	FitNo               // needs peers or more memory
)

// tightShare: a model needing more than this share of the memory
// available is a tight fit.
const tightShare = 0.8

// CatalogModel is a downloadable model with this machine's verdict.
type CatalogModel struct {
	ID          string // catalog name; installed as <ID>.gguf
	Name        string
	Quant       string
	Params      string
	SizeBytes   uint64
	RAMBytes    uint64 // estimated memory to run it locally (default context)
	Fit         Fit
	License     string
	Description string
	Installed   bool
}

// InstalledModel is a model in the local store.
type InstalledModel struct {
	ID        string // store name
	Name      string
	Path      string
	SizeBytes uint64
	RAMBytes  uint64 // estimated memory to run it (0: unknown)
	Fit       Fit
}

// InstalledModels is the store's content and disk use.
type InstalledModels struct {
	Models    []InstalledModel
	Dir       string
	UsedBytes uint64 // by models and unfinished downloads
	FreeBytes uint64 // left on the disk (0: unknown)
}

// fit judges a memory need against what this machine has.
func (d *Desktop) fit(need uint64) Fit {
	avail := uint64(0)
	mem := d.cfg.Memory
	if mem == nil {
		mem = catalog.SystemMemory{}
	}
	if a, err := mem.AvailableMemory(); err == nil {
		avail = a
	} else {
		avail = d.machine.RAMBytes * 7 / 10
	}
	switch {
	case avail == 0:
		return FitTight
	case float64(need) <= tightShare*float64(avail):
		return FitYes
	case need <= avail:
		return FitTight
	}
	return FitNo
}

// estimate is the memory a model shape needs at the chat context.
func (d *Desktop) estimate(s catalog.Shape) uint64 {
	e, err := catalog.EstimateRAM(s, d.cfg.ChatContext, nothingAvailable{})
	if err != nil {
		return s.WeightBytes + s.WeightBytes/20
	}
	return e.Total
}

// nothingAvailable keeps EstimateRAM from reading the memory: fit does.
type nothingAvailable struct{}

func (nothingAvailable) AvailableMemory() (uint64, error) { return 0, catalog.ErrMemoryUnknown }

// Catalog lists the downloadable models with their memory verdicts.
func (d *Desktop) Catalog(ctx context.Context) ([]CatalogModel, error) {
	installed := map[string]bool{}
	if list, err := d.store.List(); err == nil {
		for _, in := range list {
			installed[in.Name] = in.Err == nil
		}
	}
	cat := d.store.Catalog()
	out := make([]CatalogModel, 0, len(cat.Models))
	for _, e := range cat.Models {
		need := d.estimate(e.Shape())
		desc := fmt.Sprintf("%s architecture, %s chat format", e.Arch, e.Template)
		if e.ContextLength > 0 {
			desc += fmt.Sprintf(", %dK context", e.ContextLength/1024)
		}
		out = append(out, CatalogModel{ID: e.Name, Name: e.Title, Quant: e.Quant, Params: e.Params, SizeBytes: uint64(e.Size),
			RAMBytes: need, Fit: d.fit(need), License: e.License, Description: desc, Installed: installed[e.Name]})
	}
	return out, ctx.Err()
}

// installedModels lists the usable models of the store.
func (d *Desktop) installedModels() ([]InstalledModel, error) {
	list, err := d.store.List()
	if err != nil {
		return nil, err
	}
	var out []InstalledModel
	for _, in := range list {
		if in.Err != nil {
			d.log.Warn("unusable file in the model store", "path", in.Path, "err", in.Err)
			continue
		}
		name := in.Name
		if in.Catalog != nil && in.Catalog.Title != "" {
			name = in.Catalog.Title
		} else if in.Info.Name != "" {
			name = in.Info.Name
		}
		m := InstalledModel{ID: in.Name, Name: name, Path: in.Path, SizeBytes: uint64(in.Size)}
		if in.Info.Layers > 0 {
			m.RAMBytes = d.estimate(in.Info.Shape())
			m.Fit = d.fit(m.RAMBytes)
		}
		out = append(out, m)
	}
	return out, nil
}

// Installed lists the installed models and the store's disk use.
func (d *Desktop) Installed(ctx context.Context) (InstalledModels, error) {
	ms, err := d.installedModels()
	if err != nil {
		return InstalledModels{}, err
	}
	used, err := d.store.DiskUsage()
	if err != nil {
		return InstalledModels{}, err
	}
	im := InstalledModels{Models: ms, Dir: d.store.Dir(), UsedBytes: uint64(used)}
	if fs := d.cfg.Catalog.FreeSpace; fs != nil {
		dir := d.store.Dir()
		if _, err := os.Stat(dir); err != nil {
			dir = d.dataDir
		}
		if free, err := fs(dir); err == nil {
			im.FreeBytes = free
		}
	}
	return im, ctx.Err()
}

// ChatModel is a model a conversation can use.
type ChatModel struct {
	ID, Name string
	Local    bool // it fits this machine: every layer can run here
}

// ChatModels lists the installed models.
func (d *Desktop) ChatModels(ctx context.Context) ([]ChatModel, error) {
	ms, err := d.installedModels()
	if err != nil {
		return nil, err
	}
	out := make([]ChatModel, len(ms))
	for i, m := range ms {
		out[i] = ChatModel{ID: m.ID, Name: m.Name, Local: m.Fit != FitNo}
	}
	return out, ctx.Err()
}

// Import links or copies a GGUF file into the store.
func (d *Desktop) Import(ctx context.Context, path string) (InstalledModel, error) {
	if !strings.EqualFold(filepath.Ext(path), ".gguf") {
		return InstalledModel{}, fmt.Errorf("import %s: %w: not a .gguf file", path, catalog.ErrBadModel)
	}
	if err := ctx.Err(); err != nil {
		return InstalledModel{}, err
	}
	in, err := d.store.Import(path, "")
	if err != nil {
		return InstalledModel{}, err
	}
	if in.Err != nil {
		return InstalledModel{}, in.Err
	}
	d.publish(ModelsChanged{})
	ms, err := d.installedModels()
	if err != nil {
		return InstalledModel{}, err
	}
	for _, m := range ms {
		if m.ID == in.Name {
			return m, nil
		}
	}
	return InstalledModel{}, fmt.Errorf("import %s: the model is not in the store after all", path)
}

// ErrModelInUse: the model is being lent or is writing a reply.
var ErrModelInUse = errors.New("model is in use")

// Remove deletes an installed model (and any unfinished download of it).
// A model that lending serves or a reply runs on is refused.
func (d *Desktop) Remove(ctx context.Context, id string) error {
	in, err := d.store.Get(id)
	if err != nil {
		return err
	}
	if d.net.lendsPath(in.Path) {
		return fmt.Errorf("remove %s: %w: lending serves it (turn lending off or lend another model)", id, ErrModelInUse)
	}
	if !d.models.drop(in.Path) {
		return fmt.Errorf("remove %s: %w: a reply is being written with it", id, ErrModelInUse)
	}
	if err := ctx.Err(); err != nil {
		return err
	}
	if err := d.store.Remove(id); err != nil {
		return err
	}
	d.publish(ModelsChanged{})
	return nil
}
