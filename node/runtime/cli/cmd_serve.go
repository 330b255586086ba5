package cli

import (
	"context"
	"fmt"
	"log/slog"

	"github.com/hearth-p2p/hearth/node/runtime"
	"github.com/hearth-p2p/hearth/node/runtime/api"
)

func init() {
	register(&command{
		name:    "serve",
		summary: "serve a local model over an OpenAI-compatible HTTP API",
		usage:   "--model NAME|FILE [--addr 127.0.0.1:8080] [--api-key KEY] [--ctx N] [--threads N] [--data-dir D] " + remoteUsage,
		run:     runServe,
	})
}

func runServe(ctx context.Context, env *Env, args []string) error {
	fs := newFlagSet(env, "serve")
	modelArg := fs.String("model", "", "model name or GGUF file")
	cfg := api.Default()
	fs.StringVar(&cfg.Addr, "addr", cfg.Addr, "listen address (loopback unless --api-key is set)")
	fs.StringVar(&cfg.APIKey, "api-key", "", "require this bearer token")
	fs.StringVar(&cfg.ModelName, "name", "", "model id clients use (default: the file name)")
	nctx := fs.Int("ctx", 0, "context size per conversation (0: model's, at most 4096)")
	threads := fs.Int("threads", 0, "CPU threads (0 = all)")
	dataDir := fs.String("data-dir", runtime.DefaultDataDir(), "data directory")
	remote := addRemoteFlags(fs, dataDir)
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	path, err := resolveModel(*modelArg, *dataDir)
	if err != nil {
		return err
	}
	if cfg.ModelName == "" {
		cfg.ModelName = modelName(path)
	}
	if err := cfg.Validate(); err != nil {
		return usageError("%v", err)
	}
	lm, err := runtime.OpenModel(path, *threads)
	if err != nil {
		return err
	}
	defer lm.Close()
	copts, closeRemote, err := remote.chatOptions(ctx, env, lm, *nctx)
	if err != nil {
		return err
	}
	defer closeRemote()
	if remote.enabled() {
		fmt.Fprintln(env.Stderr, remote.describe())
	}
	eng, err := runtime.NewChatEngine(lm, copts)
	if err != nil {
		return err
	}
	defer eng.Close()
	log := slog.New(slog.NewTextHandler(env.Stderr, nil))
	srv, err := api.New(cfg, eng, log)
	if err != nil {
		return err
	}
	return srv.Serve(ctx, func(addr string) {
		fmt.Fprintf(env.Stdout, "listening http://%s\n", addr)
		log.Info("serving", "model", cfg.ModelName, "template", eng.Template().Name(), "ctx", eng.ContextSize())
	})
}
