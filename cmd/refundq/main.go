// Command refundq runs and operates refundq: workers, the provider
// simulator, the demo, and the operator commands. It only wires packages
// together; the behaviour lives in producer, worker and internal/.
package main

import (
	"context"
	"errors"
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
	"worker":      {"process refunds from Redis", runWorker},
	"sim":         {"run the Freedom Pay Card API simulator", runSim},
	"demo":        {"run a complete sample in one process on an embedded Redis", runDemo},
	"enqueue":     {"enqueue one refund: enqueue --order-id O --amount 10.00 [--idempotency-key K]", runEnqueue},
	"status":      {"show a refund and its event log: status REQUEST_ID", runStatus},
	"healthcheck": {"exit 0 if URL answers 200: healthcheck URL", runHealthcheck},
	"config":      {"print the configuration table (markdown)", runConfigTable},
	}
}

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGINT, syscall.SIGTERM)
	code := run(ctx, os.Args[1:], os.Stdout, os.Stderr, os.Getenv)
	stop()
	os.Exit(code)
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
	cfg, rest, err := config.Load(args[0], args[1:], getenv, stderr)
	if errors.Is(err, config.ErrHelp) {
		return 2
	}
	if err != nil {
		fmt.Fprintf(stderr, "refundq %s: %v\n", args[0], err)
		return 2
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
