// Command refundq runs and operates refundq: workers, the provider
// simulator, the demo, and the operator commands. It only wires packages
// together; the behaviour lives in producer, worker and internal/.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"sort"
	"syscall"

	"github.com/refundq/refundq/internal/config"
)

type command struct {
	summary string
	run     func(ctx context.Context, env *env, args []string) error
	// flags, if set, binds the command's own flags next to the settings.
	flags func(*flag.FlagSet)
	// usage, if set, is the command's synopsis, and run is called only
	// with exactly args arguments left after the flags.
	usage string
	args  int
}

// checkArgs refuses a command called with the wrong number of arguments,
// with its synopsis.
func (c command) checkArgs(rest []string) error {
	switch {
	case c.usage == "" || len(rest) == c.args:
		return nil
	case c.args == 0:
		return fmt.Errorf("usage: %s; unexpected %q", c.usage, rest)
	}
	return errors.New("usage: " + c.usage)
}

// env is what every command receives: its config and its output streams.
type env struct {
	cfg    *config.Config
	stdout io.Writer
	stderr io.Writer
	getenv func(string) string
}

func commandTable() map[string]command {
	return map[string]command{
		"worker":         {summary: "process refunds from Redis", run: runWorker},
		"serve":          {summary: "serve the HTTP intake and status API (docs/openapi.yaml)", run: runServe},
		"sim":            {summary: "run the Freedom Pay Card API simulator", run: runSim},
		"demo":           {summary: "run a complete sample in one process on an embedded Redis", run: runDemo},
		"enqueue":        enqueueCommand(),
		"status":         {summary: "show a refund and its event log: status REQUEST_ID", run: runStatus, usage: "refundq status REQUEST_ID", args: 1},
		"healthcheck":    {summary: "exit 0 if URL answers 200: healthcheck URL", run: runHealthcheck, usage: "refundq healthcheck URL", args: 1},
		"config":         {summary: "print the configuration table (markdown)", run: runConfigTable},
		"list":           {summary: "list refunds by state: list [--state needs_attention] [--limit 50]", run: runList, usage: "refundq list [--state STATE] [--limit N]"},
		"retry":          {summary: "send a needs_attention/unknown refund back to reconcile, same request_id: retry REQUEST_ID", run: runRetry},
		"reconcile":      {summary: "ask the provider now about a refund's request_id and apply the answer: reconcile REQUEST_ID", run: runReconcile},
		"cancel":         {summary: "cancel a refund that is still queued (never sent): cancel REQUEST_ID", run: runCancel},
		"stats":          {summary: "queue sizes and latency, refunds per state, oldest pending", run: runStats, usage: "refundq stats"},
		"import":         {summary: "enqueue a CSV or JSONL file as a bulk batch: import FILE [--batch-id ID] [--all-or-nothing] [--hold]", run: runImport},
		"batch":          batchCommand(),
		"approve":        {summary: "approve one held refund, as --identity (not its creator): approve REQUEST_ID", run: runApprove},
		"reject":         {summary: "reject one held refund, which cancels it: reject REQUEST_ID", run: runReject},
		"provider-check": {summary: "learn a Card API host's reply vocabulary before going live: provider-check --transaction-id ID", run: runProviderCheck},
	}
}

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGINT, syscall.SIGTERM)
	go forceOnSecondSignal(ctx)
	code := run(ctx, os.Args[1:], os.Stdout, os.Stderr, os.Getenv)
	stop()
	os.Exit(code)
}

// forceOnSecondSignal exits at once on a signal after the first: the
// first asks every command to stop cleanly, but a read that the kernel
// never finishes (a FIFO nobody writes, a device) cannot see it, and an
// operator's second Ctrl-C must still end the process. Nothing refundq
// writes is left half-done by it: every change is one Redis command or
// script.
func forceOnSecondSignal(ctx context.Context) {
	<-ctx.Done()
	again := make(chan os.Signal, 1)
	signal.Notify(again, syscall.SIGINT, syscall.SIGTERM)
	<-again
	fmt.Fprintln(os.Stderr, "refundq: stopped at once by a second signal")
	os.Exit(130)
}

func run(ctx context.Context, args []string, stdout, stderr io.Writer, getenv func(string) string) int {
	if len(args) == 0 || args[0] == "help" || args[0] == "-h" || args[0] == "--help" {
		usage(stderr)
		return 2
	}
	cmd, ok := commandTable()[args[0]]
	if !ok {
		fmt.Fprintf(stderr, "refundq: unknown command %q\n\n", args[0])
		usage(stderr)
		return 2
	}
	var extra []func(*flag.FlagSet)
	if cmd.flags != nil {
		extra = append(extra, cmd.flags)
	}
	cfg, rest, err := config.Load(args[0], args[1:], getenv, stderr, extra...)
	if errors.Is(err, config.ErrHelp) {
		return 2
	}
	if err != nil {
		fmt.Fprintf(stderr, "refundq %s: %v\n", args[0], err)
		return 2
	}
	if err := cmd.checkArgs(rest); err != nil {
		fmt.Fprintf(stderr, "refundq %s: %v\n", args[0], err)
		return 1
	}
	if err := cmd.run(ctx, &env{cfg: cfg, stdout: stdout, stderr: stderr, getenv: getenv}, rest); err != nil {
		fmt.Fprintf(stderr, "refundq %s: %v\n", args[0], err)
		return 1
	}
	return 0
}

func usage(w io.Writer) {
	fmt.Fprintln(w, "usage: refundq COMMAND [flags]\n\ncommands:")
	commands := commandTable()
	names := make([]string, 0, len(commands))
	for n := range commands {
		names = append(names, n)
	}
	sort.Strings(names)
	for _, n := range names {
		fmt.Fprintf(w, "  %-12s %s\n", n, commands[n].summary)
	}
	fmt.Fprintln(w, "\nrun 'refundq COMMAND -h' for its flags; every flag also has an environment variable.")
}

func runConfigTable(_ context.Context, e *env, _ []string) error {
	_, err := fmt.Fprint(e.stdout, config.Markdown())
	return err
}
