package cli

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/schollz/progressbar/v3"
	"golang.org/x/term"

	"github.com/hearth-p2p/hearth/inference/catalog"
	"github.com/hearth-p2p/hearth/inference/chat"
	"github.com/hearth-p2p/hearth/inference/gguf"
	"github.com/hearth-p2p/hearth/node/runtime"
)

func init() {
	register(&command{
		name:    "models",
		summary: "list, download, import, remove and inspect models",
		usage: "list|pull|import|rm|info [ARG] [--data-dir D] [--base-url URL] [--catalog FILE] [--ctx N]\n\n" +
			"  list               the catalog and the installed models, with whether each fits in memory\n" +
			"  pull NAME          download a catalog model (resumes, verifies its sha256)\n" +
			"  import FILE        add a local GGUF file to the store [--name NAME]\n" +
			"  rm NAME            remove an installed model\n" +
			"  info NAME|FILE     show a model's GGUF metadata summary [--kv: every metadata key]",
		run: runModels,
	})
}

// modelsSubs are the subcommands of "hearth models".
var modelsSubs = map[string]func(ctx context.Context, env *Env, o *modelsOpts) error{
	"list":   modelsList,
	"pull":   modelsPull,
	"import": modelsImport,
	"rm":     modelsRemove,
	"info":   modelsInfo,
}

// modelsOpts are the flags every subcommand accepts, and its arguments.
type modelsOpts struct {
	dataDir, baseURL, catalogFile, name string
	layers                              string
	ctx                                 int
	allKV                               bool
	args                                []string
	store                               *catalog.Store
}

// isTerminal reports whether w is a terminal (a progress bar, not log lines).
var isTerminal = func(w io.Writer) bool {
	f, ok := w.(*os.File)
	return ok && term.IsTerminal(int(f.Fd()))
}

func runModels(ctx context.Context, env *Env, args []string) error {
	if len(args) == 0 || strings.HasPrefix(args[0], "-") {
		return usageError("missing subcommand (list, pull, import, rm, info)")
	}
	sub, ok := modelsSubs[args[0]]
	if !ok {
		return usageError("unknown subcommand %q (list, pull, import, rm, info)", args[0])
	}
	o, err := parseModelsFlags(env, args[0], args[1:])
	if err != nil {
		return err
	}
	return sub(ctx, env, o)
}

func parseModelsFlags(env *Env, sub string, args []string) (*modelsOpts, error) {
	o := &modelsOpts{}
	fs := newFlagSet(env, "models "+sub)
	fs.StringVar(&o.dataDir, "data-dir", "", "data directory (default: $HEARTH_DATA_DIR or the OS data directory)")
	fs.StringVar(&o.baseURL, "base-url", catalog.DefaultBaseURL, "download host (a Hugging Face mirror)")
	fs.StringVar(&o.catalogFile, "catalog", "", "catalog JSON file to use instead of the built-in one")
	fs.IntVar(&o.ctx, "ctx", 0, "context size for the memory estimate (default: min(model context, 4096))")
	fs.StringVar(&o.name, "name", "", "import: store the model under this name")
	fs.StringVar(&o.layers, "layers", "", "pull: fetch only the tensors of layers A:B (a shard to serve with hearth node)")
	fs.BoolVar(&o.allKV, "kv", false, "info: print every metadata key")
	// Flags may come before or after the positional arguments.
	for {
		if err := parseFlags(fs, args); err != nil {
			return nil, err
		}
		args = fs.Args()
		if len(args) == 0 {
			break
		}
		o.args = append(o.args, args[0])
		args = args[1:]
	}
	if o.ctx < 0 {
		return nil, usageError("--ctx must not be negative")
	}
	store, err := openModelStore(o)
	if err != nil {
		return nil, err
	}
	o.store = store
	return o, nil
}

func openModelStore(o *modelsOpts) (*catalog.Store, error) {
	if o.dataDir == "" {
		o.dataDir = os.Getenv("HEARTH_DATA_DIR")
	}
	if o.dataDir == "" {
		d, err := catalog.DefaultDataDir()
		if err != nil {
			return nil, err
		}
		o.dataDir = d
	}
	cfg := catalog.Default(o.dataDir)
	cfg.BaseURL = o.baseURL
	if o.catalogFile != "" {
		raw, err := os.ReadFile(o.catalogFile)
		if err != nil {
			return nil, fmt.Errorf("read catalog: %w", err)
		}
		if cfg.Catalog, err = catalog.Parse(raw); err != nil {
			return nil, fmt.Errorf("catalog %s: %w", o.catalogFile, err)
		}
	}
	if err := cfg.Validate(); err != nil {
		return nil, usageError("%v", err)
	}
	return catalog.Open(cfg)
}

func wantArgs(o *modelsOpts, n int, what string) error {
	if len(o.args) != n {
		return usageError("want %s", what)
	}
	return nil
}

func modelsList(_ context.Context, env *Env, o *modelsOpts) error {
	if err := wantArgs(o, 0, "no arguments"); err != nil {
		return err
	}
	installed, err := o.store.List()
	if err != nil {
		return err
	}
	byName := map[string]catalog.Installed{}
	for _, in := range installed {
		byName[in.Name] = in
	}
	mem := catalog.SystemMemory{}
	tw := tabwriter.NewWriter(env.Stdout, 2, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "CATALOG\tSIZE\tQUANT\tPARAMS\tLICENSE\tRAM NEEDED\tFITS\tSTATUS")
	for _, e := range o.store.Catalog().Models {
		est, err := catalog.EstimateRAM(e.Shape(), o.ctx, mem)
		ram, fits := "?", "?"
		if err == nil {
			ram, fits = fmt.Sprintf("%s @%d", catalog.HumanBytes(int64(est.Total)), est.Context), fitsWord(est)
		}
		status := "-"
		if _, ok := byName[e.Name]; ok {
			status = "installed"
			delete(byName, e.Name)
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n", e.Name, catalog.HumanBytes(e.Size), e.Quant, e.Params, e.License, ram, fits, status)
	}
	if len(byName) > 0 {
		fmt.Fprintln(tw, "\nOTHER INSTALLED\tSIZE\tQUANT\tPARAMS\tARCH\tRAM NEEDED\tFITS\t")
		names := make([]string, 0, len(byName))
		for n := range byName {
			names = append(names, n)
		}
		sort.Strings(names)
		for _, n := range names {
			writeInstalledRow(tw, byName[n], o.ctx, mem)
		}
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	used, err := o.store.DiskUsage()
	if err != nil {
		return err
	}
	fmt.Fprintf(env.Stdout, "\nmodels directory: %s (%s used)\n", o.store.Dir(), catalog.HumanBytes(used))
	return nil
}

func writeInstalledRow(w io.Writer, in catalog.Installed, ctx int, mem catalog.MemoryReader) {
	if in.Err != nil {
		fmt.Fprintf(w, "%s\t%s\t-\t-\t-\t-\t-\tunreadable: %v\n", in.Name, catalog.HumanBytes(in.Size), in.Err)
		return
	}
	ram, fits := "?", "?"
	if est, err := catalog.EstimateRAM(in.Info.Shape(), ctx, mem); err == nil {
		ram, fits = fmt.Sprintf("%s @%d", catalog.HumanBytes(int64(est.Total)), est.Context), fitsWord(est)
	}
	fmt.Fprintf(w, "%s\t%s\t%s\t%s\t%s\t%s\t%s\t\n", in.Name, catalog.HumanBytes(in.Size), in.Info.Quant,
		catalog.HumanParams(in.Info.Params), in.Info.Arch, ram, fits)
}

func fitsWord(e catalog.Estimate) string {
	switch {
	case !e.Known:
		return "?"
	case e.Fits:
		return "yes"
	}
	return "no"
}

func modelsPull(ctx context.Context, env *Env, o *modelsOpts) error {
	if err := wantArgs(o, 1, "one catalog model name (see 'hearth models list')"); err != nil {
		return err
	}
	e, err := o.store.Catalog().Lookup(o.args[0])
	if err != nil {
		return err
	}
	fmt.Fprintf(env.Stdout, "%s: %s %s, %s download from %s\n", e.Name, e.Title, e.Quant, catalog.HumanBytes(e.Size), e.Repo)
	if est, err := catalog.EstimateRAM(e.Shape(), o.ctx, catalog.SystemMemory{}); err == nil {
		fmt.Fprintf(env.Stdout, "memory: %s\n", est)
		if est.Known && !est.Fits {
			fmt.Fprintln(env.Stdout, "warning: this model will not fit in free memory at that context; try a smaller one or --ctx")
		}
	}
	if o.layers != "" {
		return pullLayers(ctx, env, o, e)
	}
	show := newPullProgress(env.Stdout, e)
	path, err := o.store.Pull(ctx, e, show.report)
	show.finish(err == nil)
	if err != nil {
		return err
	}
	check := "sha256 verified"
	if e.Verify == catalog.VerifySizeOnly {
		check = "size verified; no published sha256"
	}
	fmt.Fprintf(env.Stdout, "installed %s at %s (%s)\n", e.Name, path, check)
	return nil
}

// pullLayers fetches only what a stage of layers o.layers needs, into
// <models>/<name>.layers-A-B.gguf.
func pullLayers(ctx context.Context, env *Env, o *modelsOpts, e catalog.Entry) error {
	lr, err := runtime.ParseLayerRange(o.layers)
	if err != nil {
		return usageError("--layers: %v", err)
	}
	dst := filepath.Join(o.store.Dir(), fmt.Sprintf("%s.layers-%d-%d.gguf", e.Name, lr.From, lr.To))
	info, err := o.store.FetchEntryLayers(ctx, e, lr.From, lr.To, dst)
	if err != nil {
		return err
	}
	fmt.Fprintf(env.Stdout, "installed layers %d:%d of %s at %s (%s of %s); serve them with: hearth node --model %s --layers %d:%d\n",
		lr.From, lr.To, e.Name, dst, catalog.HumanBytes(int64(info.WeightBytes)), catalog.HumanBytes(e.Size), dst, lr.From, lr.To)
	return nil
}

// pullProgress shows download progress: a bar on a terminal, otherwise a
// plain line at most every few seconds.
type pullProgress struct {
	w        io.Writer
	bar      *progressbar.ProgressBar
	name     string
	lastLine time.Time
	resumed  bool
}

func newPullProgress(w io.Writer, e catalog.Entry) *pullProgress {
	p := &pullProgress{w: w, name: e.Name}
	if isTerminal(w) {
		p.bar = progressbar.NewOptions64(e.Size,
			progressbar.OptionSetWriter(w),
			progressbar.OptionSetDescription(e.Name),
			progressbar.OptionShowBytes(true),
			progressbar.OptionShowTotalBytes(true),
			progressbar.OptionSetPredictTime(true),
			progressbar.OptionSetWidth(30),
			progressbar.OptionThrottle(100*time.Millisecond),
			progressbar.OptionShowElapsedTimeOnFinish(),
			progressbar.OptionOnCompletion(func() { fmt.Fprintln(w) }),
		)
	}
	return p
}

func (p *pullProgress) report(pr catalog.Progress) {
	if pr.Resumed > 0 && !p.resumed {
		p.resumed = true
		if p.bar == nil {
			fmt.Fprintf(p.w, "resuming %s at %s\n", p.name, catalog.HumanBytes(pr.Resumed))
		}
	}
	if p.bar != nil {
		_ = p.bar.Set64(pr.Done)
		return
	}
	if pr.Phase == "download" && time.Since(p.lastLine) < 2*time.Second {
		return
	}
	p.lastLine = time.Now()
	switch pr.Phase {
	case "verify":
		fmt.Fprintf(p.w, "verifying %s\n", p.name)
	case "download":
		eta := "?"
		if pr.ETA > 0 {
			eta = pr.ETA.Round(time.Second).String()
		}
		fmt.Fprintf(p.w, "downloading %s: %5.1f%% (%s of %s, %s/s, ETA %s)\n", p.name,
			100*float64(pr.Done)/float64(max(pr.Total, 1)), catalog.HumanBytes(pr.Done), catalog.HumanBytes(pr.Total),
			catalog.HumanBytes(int64(pr.BytesPerSec)), eta)
	}
}

func (p *pullProgress) finish(ok bool) {
	if p.bar == nil {
		return
	}
	if ok {
		_ = p.bar.Finish()
	} else {
		_ = p.bar.Exit()
		fmt.Fprintln(p.w)
	}
}

func modelsImport(_ context.Context, env *Env, o *modelsOpts) error {
	if err := wantArgs(o, 1, "one GGUF file"); err != nil {
		return err
	}
	in, err := o.store.Import(o.args[0], o.name)
	if err != nil {
		return err
	}
	how := "copied"
	if a, err1 := os.Stat(o.args[0]); err1 == nil {
		if b, err2 := os.Stat(in.Path); err2 == nil && os.SameFile(a, b) {
			how = "hard-linked, no extra disk space"
		}
	}
	fmt.Fprintf(env.Stdout, "imported %s as %s (%s, %s %s, %s params; %s)\n", o.args[0], in.Name,
		catalog.HumanBytes(in.Size), in.Info.Arch, in.Info.Quant, catalog.HumanParams(in.Info.Params), how)
	return nil
}

func modelsRemove(_ context.Context, env *Env, o *modelsOpts) error {
	if err := wantArgs(o, 1, "one installed model name"); err != nil {
		return err
	}
	in, err := o.store.Get(o.args[0])
	if err != nil && !errors.Is(err, catalog.ErrNotInstalled) {
		return err
	}
	if err := o.store.Remove(o.args[0]); err != nil {
		return err
	}
	fmt.Fprintf(env.Stdout, "removed %s (%s freed)\n", o.args[0], catalog.HumanBytes(in.Size))
	return nil
}

func modelsInfo(_ context.Context, env *Env, o *modelsOpts) error {
	if err := wantArgs(o, 1, "one installed model name or GGUF file"); err != nil {
		return err
	}
	path, err := o.store.Resolve(o.args[0])
	if err != nil {
		return err
	}
	f, err := gguf.Open(path)
	if err != nil {
		return fmt.Errorf("%w: %w", catalog.ErrBadModel, err)
	}
	defer f.Close()
	info, err := catalog.InfoFromHeader(f.Header)
	if err != nil {
		return err
	}
	printInfo(env.Stdout, path, f, info, o.ctx)
	if o.allKV {
		fmt.Fprintln(env.Stdout, "\nmetadata:")
		for _, kv := range f.KV {
			fmt.Fprintf(env.Stdout, "  %s = %s\n", kv.Key, kvSummary(kv.Value))
		}
	}
	return nil
}

func printInfo(w io.Writer, path string, f *gguf.File, in catalog.Info, ctx int) {
	tw := tabwriter.NewWriter(w, 2, 4, 2, ' ', 0)
	row := func(k, v string) {
		if v != "" && v != "0" {
			fmt.Fprintf(tw, "%s\t%s\n", k, v)
		}
	}
	row("file", path)
	row("size", catalog.HumanBytes(f.Size()))
	row("name", in.Name)
	row("architecture", in.Arch)
	row("quantization", in.Quant)
	row("parameters", catalog.HumanParams(in.Params))
	row("tensors", fmt.Sprint(in.Tensors))
	row("layers", fmt.Sprint(in.Layers))
	row("context length", fmt.Sprint(in.ContextLength))
	row("embedding", fmt.Sprint(in.Embedding))
	row("heads", fmt.Sprintf("%d (kv %d, head size %d)", in.Heads, in.KVHeads, in.HeadDim))
	row("vocabulary", fmt.Sprint(in.VocabSize))
	row("license", in.License)
	if in.Shard != nil {
		row("shard", fmt.Sprintf("layers [%d,%d) of %d", in.Shard.From, in.Shard.To, in.Shard.Total))
	}
	if tpl, err := chat.FromGGUF(f.Header); err == nil {
		row("chat template", tpl.Name())
	} else {
		row("chat template", "unusable: "+err.Error())
	}
	if est, err := catalog.EstimateRAM(in.Shape(), ctx, catalog.SystemMemory{}); err == nil {
		row("memory", est.String())
	}
	_ = tw.Flush()
}

// kvSummary prints a metadata value, shortening long arrays and strings.
func kvSummary(v gguf.Value) string {
	if v.Type == gguf.TypeArray {
		return fmt.Sprintf("[%d × %s]", v.Len(), v.ElemType)
	}
	if s, ok := v.Str(); ok {
		if len(s) > 80 {
			return fmt.Sprintf("%q… (%d bytes)", s[:80], len(s))
		}
		return fmt.Sprintf("%q", s)
	}
	return fmt.Sprint(v.Any())
}
