package main

import (
	"context"
	"errors"
	"fmt"
	"text/tabwriter"
	"time"

	"github.com/refundq/refundq/internal/importer"
	"github.com/refundq/refundq/producer"
)

// progressEvery is how often progress is logged without a terminal.
const progressEvery = 5 * time.Second

func runImport(ctx context.Context, e *env, args []string) error {
	if len(args) != 1 {
		return errors.New("usage: refundq import FILE [--batch-id ID] [--all-or-nothing] [--rejects PATH]")
	}
	path := args[0]
	rejects := e.cfg.ImportRejects
	if rejects == "" {
		rejects = path + ".rejects.csv"
	}
	rdb, err := redisClient(e.cfg)
	if err != nil {
		return err
	}
	defer rdb.Close()
	p := producer.NewFromClient(rdb, producer.WithSource("import"), producer.WithRetention(e.cfg.Retention))
	res, err := importer.Run(ctx, p, importer.Options{
		Path: path, BatchID: e.cfg.ImportBatchID, AllOrNothing: e.cfg.ImportAllOrNothing,
		Concurrency: e.cfg.ImportConcurrency, RejectsPath: rejects,
		Progress: newProgress(e.stderr, "rows", progressEvery),
	})
	for _, r := range res.Rejects {
		fmt.Fprintf(e.stderr, "line %d: %s: %s\n", r.Line, r.Field, r.Reason)
	}
	if res.BatchID != "" {
		printImport(e, res, rejects)
	}
	return importOutcome(res, rejects, err)
}

func printImport(e *env, res importer.Result, rejects string) {
	tw := tabwriter.NewWriter(e.stdout, 0, 4, 2, ' ', 0)
	fmt.Fprintf(tw, "batch\t%s\n", res.BatchID)
	fmt.Fprintf(tw, "accepted\t%d\n", res.Accepted)
	fmt.Fprintf(tw, "duplicates\t%d\n", res.Duplicates)
	fmt.Fprintf(tw, "rejected\t%d\n", res.Rejected)
	if len(res.Rejects) > 0 {
		fmt.Fprintf(tw, "rejects file\t%s\n", rejects)
	}
	_ = tw.Flush()
}

// importOutcome turns what happened into the exit status: any rejected
// row fails the command, so a script notices, even though the valid rows
// were enqueued.
func importOutcome(res importer.Result, rejects string, err error) error {
	switch {
	case err != nil && res.BatchID != "":
		return fmt.Errorf("%w\nthe import stopped early; run the same command again to complete batch %s", err, res.BatchID)
	case err != nil:
		return err
	case !res.Enqueued:
		return fmt.Errorf("%d rows rejected (see %s); nothing was enqueued (--all-or-nothing)", res.Rejected, rejects)
	case res.Rejected > 0 && res.Accepted+res.Duplicates == 0:
		return fmt.Errorf("all %d rows rejected (see %s)", res.Rejected, rejects)
	case res.Rejected > 0:
		return fmt.Errorf("%d rows rejected (see %s); the other rows were enqueued.\n"+
			"To add the corrected rows, fix them in this file and run it again with --batch-id %s: "+
			"rows already accepted keep their request_ids and are not enqueued twice", res.Rejected, rejects, res.BatchID)
	}
	return nil
}
