// Command chaos proves refundq's promise, exactly once at the provider and
// nothing lost, under faults. It runs real processes (redis-server with
// appendfsync always, `refundq sim` with a hostile fault mix, three
// `refundq worker`), enqueues refunds with the producer package, and while
// they run SIGKILLs workers, SIGTERMs one, crashes Redis and takes the
// provider away. Then it waits for every accepted refund to settle and
// audits refundq's records against the simulator's ledger.
//
// It prints a summary table and exits 1 on any violation:
//
//	go run ./bench/chaos                 # the full run: 10k refunds (make chaos)
//	go run ./bench/chaos -profile reduced
//
// The reduced run is also TestChaosReduced, part of `make test`.
package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"syscall"
	"time"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGINT, syscall.SIGTERM)
	code := cli(ctx, os.Args[1:], os.Stdout, os.Stderr)
	stop()
	os.Exit(code)
}

func cli(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("chaos", flag.ContinueOnError)
	fs.SetOutput(stderr)
	name := fs.String("profile", "full", "full (10k refunds) or reduced (1k, as in make test)")
	refunds := fs.Int("refunds", 0, "override the profile's number of refunds")
	seed := fs.Uint64("seed", uint64(time.Now().UnixNano()), "seed of the refund plan and the kill schedule")
	bin := fs.String("refundq", "", "use this refundq binary instead of building one")
	keep := fs.Bool("keep", false, "keep the logs and Redis data even when the run passes")
	dialect := fs.String("dialect", "native", "the simulator's wire vocabulary: native or alt")
	profileFile := fs.String("provider-profile", "", "provider profile file the workers read replies by (default: the shipped one)")
	if err := fs.Parse(args); err != nil {
		return 2
	}
	p, ok := map[string]func() profile{"full": fullProfile, "reduced": smallProfile}[*name]
	if !ok {
		fmt.Fprintf(stderr, "chaos: unknown profile %q (full or reduced)\n", *name)
		return 2
	}
	prof := p()
	if *refunds > 0 {
		prof.refunds = *refunds
	}
	if *dialect != "native" || *profileFile != "" {
		prof = inDialect(prof, *dialect, *profileFile, 0)
	}
	sum, err := run(ctx, prof, options{seed: *seed, bin: *bin, keep: *keep, out: stdout})
	if err != nil {
		fmt.Fprintf(stderr, "chaos: %v\n", err)
		return 1
	}
	fmt.Fprintln(stdout)
	sum.print(stdout)
	if len(sum.violations) > 0 {
		fmt.Fprintf(stderr, "chaos: %d violations\n", len(sum.violations))
		return 1
	}
	fmt.Fprintln(stdout, "chaos: every invariant held")
	return 0
}
