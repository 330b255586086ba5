package cli

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"os/signal"
	"path/filepath"
	"strings"
	"time"

	"github.com/hearth-p2p/hearth/inference/chat"
	"github.com/hearth-p2p/hearth/inference/sample"
	"github.com/hearth-p2p/hearth/node/runtime"
)

func init() {
	register(&command{
		name:          "chat",
		summary:       "chat with a local model in the terminal",
		usage:         "--model NAME|FILE [--system TEXT] [--preset balanced|precise|creative] [--resume ID] [--list] [--data-dir D] " + remoteUsage,
		run:           runChat,
		ownsInterrupt: true,
	})
}

const chatHelp = `commands:
  /system TEXT   set the system prompt (starts a new conversation)
  /reset         start a new conversation
  /save [FILE]   export the conversation (.md or .json; default: print its id)
  /list          list saved conversations
  /help          this help
  /quit          leave (or Ctrl-D); Ctrl-C stops a reply being written`

// chatREPL is the state of an interactive chat.
type chatREPL struct {
	env    *Env
	engine *runtime.ChatEngine
	store  *chat.Store
	conv   *chat.Conversation
	params sample.Params
	max    int
	intr   <-chan os.Signal
}

func runChat(ctx context.Context, env *Env, args []string) error {
	fs := newFlagSet(env, "chat")
	modelArg := fs.String("model", "", "model name or GGUF file")
	system := fs.String("system", "", "system prompt")
	preset := fs.String("preset", "balanced", "sampling preset: balanced, precise or creative")
	temp := fs.Float64("temperature", -1, "override the preset's temperature (0 = greedy)")
	seed := fs.Uint64("seed", 0, "sampling seed (0 = random)")
	maxTokens := fs.Int("max-tokens", 512, "most tokens per reply")
	nctx := fs.Int("ctx", 0, "context size (0: model's, at most 4096)")
	threads := fs.Int("threads", 0, "CPU threads (0 = all)")
	resume := fs.String("resume", "", "continue the saved conversation with this id")
	list := fs.Bool("list", false, "list saved conversations and exit")
	dataDir := fs.String("data-dir", runtime.DefaultDataDir(), "data directory")
	remote := addRemoteFlags(fs, dataDir)
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	if err := os.MkdirAll(*dataDir, 0o700); err != nil {
		return err
	}
	store, err := chat.OpenStore(filepath.Join(*dataDir, "conversations.db"))
	if err != nil {
		return err
	}
	defer store.Close()
	r := &chatREPL{env: env, store: store, max: *maxTokens, intr: env.Interrupts}
	if *list {
		return r.list()
	}
	p, ok := sample.Presets[*preset]
	if !ok {
		return usageError("unknown preset %q", *preset)
	}
	if *temp >= 0 {
		p.Temperature = float32(*temp)
	}
	p.Seed = *seed
	if p.Seed == 0 {
		p.Seed = uint64(time.Now().UnixNano())
	}
	r.params = p
	path, err := resolveModel(*modelArg, *dataDir)
	if err != nil {
		return err
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
	if r.engine, err = runtime.NewChatEngine(lm, copts); err != nil {
		return err
	}
	defer r.engine.Close()
	if *resume != "" {
		if r.conv, err = store.Get(*resume); err != nil {
			return err
		}
	} else {
		r.conv = chat.NewConversation(modelName(path), *system)
		r.conv.Sampling = *preset
	}
	if r.intr == nil {
		sig := make(chan os.Signal, 1)
		signal.Notify(sig, os.Interrupt)
		defer signal.Stop(sig)
		r.intr = sig
	}
	fmt.Fprintf(env.Stderr, "chatting with %s (template %s, %s). /help for commands.\n", modelName(path), r.engine.Template().Name(), remote.describe())
	return r.loop(ctx)
}

func (r *chatREPL) loop(ctx context.Context) error {
	lines := make(chan string)
	go func() {
		sc := bufio.NewScanner(r.env.Stdin)
		sc.Buffer(make([]byte, 64<<10), 1<<20)
		for sc.Scan() {
			lines <- sc.Text()
		}
		close(lines)
	}()
	for {
		fmt.Fprint(r.env.Stderr, "you> ")
		var line string
		var ok bool
		select {
		case line, ok = <-lines:
		case <-r.intr:
			fmt.Fprintln(r.env.Stderr, "\n(use /quit or Ctrl-D to leave)")
			continue
		case <-ctx.Done():
			return nil
		}
		if !ok {
			fmt.Fprintln(r.env.Stderr)
			return nil
		}
		line = strings.TrimSpace(line)
		switch {
		case line == "":
			continue
		case strings.HasPrefix(line, "/"):
			quit, err := r.command(line)
			if err != nil {
				fmt.Fprintln(r.env.Stderr, "error:", err)
			}
			if quit {
				return nil
			}
		default:
			if err := r.turn(ctx, line); err != nil {
				fmt.Fprintln(r.env.Stderr, "error:", err)
			}
		}
	}
}

// turn sends one user message and streams the reply; Ctrl-C stops the reply
// (what was written is kept) without leaving the chat.
func (r *chatREPL) turn(ctx context.Context, text string) error {
	msg := chat.Message{Role: chat.RoleUser, Content: text, Time: time.Now()}
	r.conv.Messages = append(r.conv.Messages, msg)
	genCtx, cancel := context.WithCancel(ctx)
	defer cancel()
	go func() {
		select {
		case <-r.intr:
			cancel()
		case <-genCtx.Done():
		}
	}()
	key := r.conv.ID
	if key == "" {
		key = "new"
	}
	reply, err := r.engine.Complete(genCtx, runtime.ChatRequest{Session: key, Messages: r.conv.Prompt(), Sampling: r.params, MaxTokens: r.max},
		func(s string) { fmt.Fprint(r.env.Stdout, s) })
	fmt.Fprintln(r.env.Stdout)
	if reply == nil {
		r.conv.Messages = r.conv.Messages[:len(r.conv.Messages)-1]
		return err
	}
	if reply.Notice != "" {
		fmt.Fprintln(r.env.Stderr, "note:", reply.Notice)
	}
	if errors.Is(err, context.Canceled) && ctx.Err() == nil {
		fmt.Fprintln(r.env.Stderr, "(stopped)")
		err = nil
	}
	r.conv.Messages = append(r.conv.Messages, chat.Message{Role: chat.RoleAssistant, Content: reply.Text, Time: time.Now(), Tokens: reply.Completion})
	fmt.Fprintf(r.env.Stderr, "[%d tokens, %.1f tok/s]\n", reply.Completion, reply.Stats.DecodeTokS())
	if perr := r.persist(); perr != nil && err == nil {
		err = perr
	}
	return err
}

// persist saves the conversation, creating it on its first turn.
func (r *chatREPL) persist() error {
	if r.conv.ID == "" {
		if err := r.store.Create(r.conv); err != nil {
			return err
		}
		// The KV cache was filed under "new"; keep using it under the id.
		r.engine.Forget("new")
		return nil
	}
	msgs := r.conv.Messages[len(r.conv.Messages)-2:]
	return r.store.Append(r.conv.ID, msgs...)
}

func (r *chatREPL) command(line string) (quit bool, err error) {
	cmd, arg, _ := strings.Cut(line, " ")
	arg = strings.TrimSpace(arg)
	switch cmd {
	case "/quit", "/exit":
		return true, nil
	case "/help":
		fmt.Fprintln(r.env.Stderr, chatHelp)
	case "/reset":
		r.conv = chat.NewConversation(r.conv.Model, r.conv.System)
		fmt.Fprintln(r.env.Stderr, "(new conversation)")
	case "/system":
		r.conv = chat.NewConversation(r.conv.Model, arg)
		fmt.Fprintln(r.env.Stderr, "(system prompt set; new conversation)")
	case "/save":
		return false, r.save(arg)
	case "/list":
		return false, r.list()
	default:
		return false, fmt.Errorf("unknown command %s (/help lists them)", cmd)
	}
	return false, nil
}

func (r *chatREPL) save(file string) error {
	if r.conv.ID == "" {
		return errors.New("nothing to save yet")
	}
	if file == "" {
		fmt.Fprintf(r.env.Stderr, "saved as %s (resume with --resume %s)\n", r.conv.ID, r.conv.ID)
		return nil
	}
	var buf bytes.Buffer
	write := r.conv.WriteMarkdown
	if strings.HasSuffix(file, ".json") {
		write = r.conv.WriteJSON
	}
	if err := write(&buf); err != nil {
		return err
	}
	if err := os.WriteFile(file, buf.Bytes(), 0o600); err != nil {
		return err
	}
	fmt.Fprintf(r.env.Stderr, "exported to %s\n", file)
	return nil
}

func (r *chatREPL) list() error {
	convs, err := r.store.List()
	if err != nil {
		return err
	}
	if len(convs) == 0 {
		fmt.Fprintln(r.env.Stdout, "no saved conversations")
	}
	for _, c := range convs {
		fmt.Fprintf(r.env.Stdout, "%s  %s  %-24s %s\n", c.ID, c.Updated.Local().Format("2006-01-02 15:04"), c.Model, c.Title)
	}
	return nil
}
