// Package cli is Hearth's headless command line: each subcommand parses its
// flags, calls the runtime and prints what it reports.
package cli

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"sort"
	"strings"
)

// Env is what a subcommand reads and writes.
type Env struct {
	Stdin  io.Reader
	Stdout io.Writer
	Stderr io.Writer
	// Interrupts delivers Ctrl-C to commands that handle it themselves
	// (chat); nil means the process's SIGINT.
	Interrupts <-chan os.Signal
}

// command is one subcommand.
type command struct {
	name    string
	summary string
	usage   string // argument synopsis after the name
	run     func(ctx context.Context, env *Env, args []string) error
	// ownsInterrupt: the command handles Ctrl-C itself instead of having
	// it cancel the whole command.
	ownsInterrupt bool
}

var commands = map[string]*command{}

func register(c *command) {
	if _, dup := commands[c.name]; dup {
		panic("cli: duplicate command " + c.name)
	}
	commands[c.name] = c
}

// errUsage marks an error caused by bad command-line arguments (exit code 2).
var errUsage = errors.New("usage")

// usageError returns an error that prints as msg and exits with code 2.
func usageError(format string, a ...any) error {
	return fmt.Errorf("%w: %s", errUsage, fmt.Sprintf(format, a...))
}

// Main runs the command line args and returns the process exit code.
func Main(args []string, stdin io.Reader, stdout, stderr io.Writer) int {
	return Run(context.Background(), &Env{Stdin: stdin, Stdout: stdout, Stderr: stderr}, args)
}

// Run runs the command line args with env; cancelling ctx stops the command.
func Run(ctx context.Context, env *Env, args []string) int {
	stdout, stderr := env.Stdout, env.Stderr
	if len(args) == 0 {
		if gui != nil {
			if err := gui(); err != nil {
				fmt.Fprintln(stderr, "hearth:", err)
				return 1
			}
			return 0
		}
		printHelp(stdout)
		return 0
	}
	switch args[0] {
	case "help", "-h", "-help", "--help":
		if len(args) > 1 {
			if c, ok := commands[args[1]]; ok {
				fmt.Fprintf(stdout, "usage: hearth %s %s\n\n%s\n", c.name, c.usage, c.summary)
				return 0
			}
		}
		printHelp(stdout)
		return 0
	case "version", "--version":
		fmt.Fprintln(stdout, "hearth", Version)
		return 0
	}
	c, ok := commands[args[0]]
	if !ok {
		fmt.Fprintf(stderr, "hearth: unknown command %q\n\n", args[0])
		printHelp(stderr)
		return 2
	}
	if !c.ownsInterrupt && env.Interrupts == nil {
		var stop context.CancelFunc
		ctx, stop = signal.NotifyContext(ctx, os.Interrupt)
		defer stop()
	}
	err := c.run(ctx, env, args[1:])
	switch {
	case err == nil:
		return 0
	case errors.Is(err, flag.ErrHelp):
		return 0
	case errors.Is(err, errUsage):
		fmt.Fprintf(stderr, "hearth %s: %s\nusage: hearth %s %s\n", c.name, strings.TrimPrefix(err.Error(), errUsage.Error()+": "), c.name, c.usage)
		return 2
	default:
		fmt.Fprintf(stderr, "hearth %s: %v\n", c.name, err)
		return 1
	}
}

// Version is the program version, set at link time with -ldflags "-X".
var Version = "0.1.0-dev"

// gui opens the desktop window; main sets it when the GUI is linked in.
var gui func() error

// SetGUI installs the function that opens the desktop window when hearth runs
// without arguments.
func SetGUI(f func() error) { gui = f }

func printHelp(w io.Writer) {
	fmt.Fprintf(w, "Hearth: private local AI, and a swarm that lends idle GPUs for Solana rewards.\n\n")
	fmt.Fprintf(w, "usage: hearth                 open the desktop app\n")
	fmt.Fprintf(w, "       hearth <command> [flags]\n\ncommands:\n")
	names := make([]string, 0, len(commands))
	for n := range commands {
		names = append(names, n)
	}
	sort.Strings(names)
	for _, n := range names {
		fmt.Fprintf(w, "  %-10s %s\n", n, commands[n].summary)
	}
	fmt.Fprintf(w, "\nRun 'hearth help <command>' for its flags.\n")
}

// newFlagSet returns a FlagSet for command c that reports errors as usage errors.
func newFlagSet(env *Env, c string) *flag.FlagSet {
	fs := flag.NewFlagSet("hearth "+c, flag.ContinueOnError)
	fs.SetOutput(env.Stderr)
	return fs
}

// parseFlags parses args, turning flag errors into usage errors.
func parseFlags(fs *flag.FlagSet, args []string) error {
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return err
		}
		return usageError("%v", err)
	}
	return nil
}
