package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"os"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/refundq/refundq/internal/batches"
	"github.com/refundq/refundq/internal/refund"
	"github.com/refundq/refundq/internal/store"
)

// batchArgs are batch's own flags: the decisions on a held batch are
// actions, not settings, so they have no environment variable.
type batchArgs struct{ approve, reject bool }

func batchCommand() command {
	a := &batchArgs{}
	return command{
		summary: "show a batch's refunds by state, or decide a held one: batch ID [--wait] [--out results.csv] [--approve | --reject]",
		run:     a.run,
		flags: func(fs *flag.FlagSet) {
			fs.BoolVar(&a.approve, "approve", false, "approve the batch's held refunds, as --identity (not one of its importers)")
			fs.BoolVar(&a.reject, "reject", false, "reject the batch's held refunds: they are canceled, never sent")
		},
	}
}

func (a *batchArgs) run(ctx context.Context, e *env, args []string) error {
	if len(args) != 1 {
		return errors.New("usage: refundq batch ID [--wait] [--out results.csv] [--approve | --reject]")
	}
	if a.approve || a.reject {
		if a.approve && a.reject {
			return errors.New("give --approve or --reject, not both")
		}
		if err := decideBatch(ctx, e, args[0], a.approve); err != nil {
			return err
		}
	}
	return runBatch(ctx, e, args)
}

// decideBatch approves or rejects a held batch as the command's identity.
func decideBatch(ctx context.Context, e *env, id string, approve bool) error {
	op, done, err := openOperator(e)
	if err != nil {
		return err
	}
	defer done()
	decide := op.RejectBatch
	if approve {
		decide = op.ApproveBatch
	}
	d, err := decide(ctx, id, operatorName(e))
	if errors.Is(err, store.ErrNotFound) {
		return fmt.Errorf("batch %s not found", id)
	}
	if err != nil {
		return err
	}
	verb := map[bool]string{true: "approved: queued for sending", false: "rejected: canceled, never sent"}[approve]
	fmt.Fprintf(e.stdout, "batch %s %s by %s: %d held refunds %s\n", id, d.Decision, operatorName(e), d.Moved, verb)
	if d.Again {
		fmt.Fprintf(e.stdout, "(the decision already stood; this finished it, and repaired %d submit tasks)\n", d.Repaired)
	}
	if d.Own > 0 {
		fmt.Fprintf(e.stdout, "%d held refunds were created by %s and stay held: another approver must decide them\n", d.Own, operatorName(e))
	}
	return nil
}

func runBatch(ctx context.Context, e *env, args []string) error {
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
		if meta.Counts[refund.Held] > 0 && meta.ApprovedBy == "" && meta.RejectedBy == "" {
			fmt.Fprintf(e.stderr, "%d refunds of batch %s are held for approval; waiting until an approver decides (refundq batch %s --approve)\n",
				meta.Counts[refund.Held], id, id)
		}
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
	if m.Held {
		fmt.Fprintf(tw, "hold\t%s; imported by %s\n", m.HoldReason, strings.Join(m.Makers, ", "))
	}
	switch {
	case m.ApprovedBy != "":
		fmt.Fprintf(tw, "approved\tby %s at %s\n", m.ApprovedBy, m.ApprovedAt.UTC().Format(time.RFC3339))
	case m.RejectedBy != "":
		fmt.Fprintf(tw, "rejected\tby %s at %s\n", m.RejectedBy, m.RejectedAt.UTC().Format(time.RFC3339))
	case counts[refund.Held] > 0:
		fmt.Fprintf(tw, "decision\tawaiting an approver: refundq batch %s --approve (or --reject)\n", m.ID)
	}
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
