package main

import (
	"context"
	"errors"
	"fmt"
	"os"
	"text/tabwriter"
	"time"

	"github.com/refundq/refundq/internal/batches"
	"github.com/refundq/refundq/internal/refund"
	"github.com/refundq/refundq/internal/store"
)

func runBatch(ctx context.Context, e *env, args []string) error {
	if len(args) != 1 {
		return errors.New("usage: refundq batch ID [--wait] [--out results.csv]")
	}
	rdb, err := redisClient(e.cfg)
	if err != nil {
		return err
	}
	defer rdb.Close()
	s := store.New(rdb)
	id := args[0]
	meta, err := s.Batch(ctx, id)
	if errors.Is(err, store.ErrNotFound) {
		return fmt.Errorf("batch %s not found", id)
	}
	if err != nil {
		return err
	}
	if e.cfg.BatchWait {
		pr, shown := newProgress(e.stderr, "refunds", progressEvery), -1
		meta, err = batches.Wait(ctx, s, id, e.cfg.BatchInterval, func(settled, total int) {
			if total != shown { // an import still running adds refunds
				pr.Start("settled", total)
				shown = total
			}
			pr.Set(settled)
		})
		pr.Finish()
		if err != nil {
			return err
		}
	}
	counts, err := batches.States(ctx, s, meta)
	if err != nil {
		return err
	}
	printBatch(e, meta, counts)
	if e.cfg.BatchOut != "" {
		return writeResults(ctx, s, id, e.cfg.BatchOut)
	}
	return nil
}

func printBatch(e *env, m *store.BatchMeta, counts map[refund.State]int) {
	tw := tabwriter.NewWriter(e.stdout, 0, 4, 2, ' ', 0)
	fmt.Fprintf(tw, "batch\t%s\n", m.ID)
	if m.Name != "" {
		fmt.Fprintf(tw, "file\t%s\n", m.Name)
	}
	fmt.Fprintf(tw, "created\t%s\n", m.CreatedAt.UTC().Format(time.RFC3339))
	status := "complete"
	if m.CompletedAt.IsZero() {
		status = "incomplete: the import is running or was interrupted; run it again to complete it"
	}
	fmt.Fprintf(tw, "import\t%s (%d runs; last read %d rows, %d rejected)\n", status, m.Runs, m.Rows, m.Rejected)
	fmt.Fprintf(tw, "refunds\t%d\n", m.Accepted)
	for _, st := range refund.States() {
		if n := counts[st]; n > 0 {
			fmt.Fprintf(tw, "  %s\t%d\n", st, n)
		}
	}
	if n := counts[""]; n > 0 {
		fmt.Fprintf(tw, "  expired\t%d\n", n)
	}
	_ = tw.Flush()
}

// writeResults writes the batch's results file (batches.WriteResults).
func writeResults(ctx context.Context, s *store.Redis, id, path string) error {
	f, err := os.Create(path)
	if err != nil {
		return err
	}
	if err := errors.Join(batches.WriteResults(ctx, s, id, f), f.Close()); err != nil {
		return fmt.Errorf("results file: %w", err)
	}
	return nil
}
