package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"text/tabwriter"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/refundq/refundq/internal/hold"
	"github.com/refundq/refundq/internal/importer"
	"github.com/refundq/refundq/internal/intake"
	"github.com/refundq/refundq/internal/redisconn"
	"github.com/refundq/refundq/producer"
)

// progressEvery is how often progress is logged without a terminal.
const progressEvery = 5 * time.Second

// shownRejects is how many rejected rows are echoed to stderr; the
// rejects file has them all.
const shownRejects = 20

// pingTimeout bounds the first contact with Redis, so an unreachable
// Redis is said at once, before the file is read.
const pingTimeout = 5 * time.Second

func runImport(ctx context.Context, e *env, args []string) error {
	if len(args) != 1 {
		return errors.New("usage: refundq import FILE|- [--batch-id ID] [--all-or-nothing] [--hold] [--rejects PATH]")
	}
	path := args[0]
	if id := e.cfg.ImportBatchID; id != "" && !producer.ValidBatchID(id) {
		return fmt.Errorf("--batch-id %q: use %s", id, producer.BatchIDRule)
	}
	rejects := e.cfg.ImportRejects
	if rejects == "" {
		rejects = importer.DefaultRejectsPath(path)
	}
	conn, err := redisConn(e.cfg)
	if err != nil {
		return err
	}
	// go-redis logs every failed dial; the one message below says it.
	redis.SetLogger(quietRedis{})
	rdb := conn.Client()
	defer rdb.Close()
	pctx, cancel := context.WithTimeout(ctx, pingTimeout)
	err = rdb.Ping(pctx).Err()
	cancel()
	if err != nil {
		return redisError(conn.String(), err, "nothing was read or enqueued")
	}
	p := producer.NewFromClient(rdb, producer.WithSource("import"), producer.WithRetention(e.cfg.Retention),
		producer.WithReplicaAcks(e.cfg.RedisReplicaAcks, e.cfg.RedisReplicaAckTimeout))
	echo := &rejectEcho{w: e.stderr}
	res, err := importer.Run(ctx, p, importer.Options{
		Path: path, BatchID: e.cfg.ImportBatchID, AllOrNothing: e.cfg.ImportAllOrNothing,
		Concurrency: e.cfg.ImportConcurrency, RejectsPath: rejects, OnReject: echo.add,
		Progress: newProgress(e.stderr, "rows", progressEvery),
		Hold:     func(s hold.Size) producer.Hold { return holdPolicy(e.cfg).Hold(s, e.cfg.ImportHold, operatorName(e)) },
	})
	echo.done(res.Rejects)
	if res.BatchID != "" {
		printImport(e, res, err == nil)
	}
	return importOutcome(res, err, conn.String())
}

type quietRedis struct{}

func (quietRedis) Printf(context.Context, string, ...any) {}

// rejectEcho prints the first rejected rows as they are found.
type rejectEcho struct {
	w io.Writer
	n int
}

func (r *rejectEcho) add(e producer.RowError) {
	r.n++
	if r.n <= shownRejects {
		fmt.Fprintf(r.w, "line %d: %s: %s\n", e.Line, intake.SafeCell(e.Field), intake.SafeCell(e.Reason))
	}
}

func (r *rejectEcho) done(file string) {
	if r.n > shownRejects {
		fmt.Fprintf(r.w, "... and %d more problems, all in %s\n", r.n-shownRejects, file)
	}
}

// printImport prints what the import did. Of an import that stopped
// early it gives the counts of the rows settled in order, as "at least":
// rows written just before the stop were not counted yet, and an operator
// who refunded the rest by hand from that number would pay them twice.
func printImport(e *env, res importer.Result, finished bool) {
	tw := tabwriter.NewWriter(e.stdout, 0, 4, 2, ' ', 0)
	fmt.Fprintf(tw, "batch\t%s\n", res.BatchID)
	fmt.Fprintf(tw, "rows\t%d\n", res.Rows)
	if res.Started && !finished {
		fmt.Fprintf(tw, "accepted\tat least %d (more may have been written; `refundq batch %s` counts them)\n", res.Accepted, res.BatchID)
		fmt.Fprintf(tw, "duplicates\tat least %d\n", res.Duplicates)
	} else if res.Started {
		fmt.Fprintf(tw, "accepted\t%d\n", res.Accepted)
		fmt.Fprintf(tw, "duplicates\t%d\n", res.Duplicates)
	} else {
		// A dry run's counts are what would have happened: printing them
		// as "accepted" would claim refunds that do not exist.
		fmt.Fprintf(tw, "accepted\t0\n")
		fmt.Fprintf(tw, "duplicates\t0\n")
	}
	fmt.Fprintf(tw, "rejected\t%d\n", res.Rejected)
	if h := res.Hold; h.All && res.Started {
		fmt.Fprintf(tw, "held\tall new rows wait for an approver other than %s (%s): refundq batch %s --approve\n", h.By, h.Reason, res.BatchID)
	} else if h.Above.IsPositive() && res.Started {
		fmt.Fprintf(tw, "held\trefunds over %s and full refunds wait for an approver: refundq list --state held\n", h.Above.StringFixed(2))
	}
	if res.Rejects != "" {
		fmt.Fprintf(tw, "rejects file\t%s\n", res.Rejects)
	}
	_ = tw.Flush()
}

// importOutcome turns what happened into the exit status and a message
// that is true: "run the same command again" only where that can help.
// Any rejected row fails the command, so a script notices, even though
// the valid rows were enqueued.
func importOutcome(res importer.Result, err error, redisAddr string) error {
	var rejErr *importer.RejectsError
	switch {
	case err == nil:
	case intake.IsInputError(err), errors.Is(err, producer.ErrEarlierBatch), errors.Is(err, producer.ErrBatchDecided):
		return fmt.Errorf("%w\nnothing was enqueued", err)
	case errors.As(err, &rejErr) && !res.Started:
		return fmt.Errorf("%w; choose another path with --rejects\nnothing was enqueued", err)
	case !res.Started && errors.Is(err, context.Canceled):
		return errors.New("interrupted before anything was enqueued")
	case !res.Started:
		return redisError(redisAddr, err, "nothing was enqueued")
	case errors.Is(err, producer.ErrNotReplicated):
		return fmt.Errorf("the Redis replicas did not confirm batch %s in time (%w): a failover now could lose it. "+
			"Run the same command again once they are healthy: rows already accepted are not enqueued twice", res.BatchID, err)
	case errors.Is(err, intake.ErrChanged):
		return fmt.Errorf("the file changed while it was being imported; its rows were enqueued as they were read "+
			"into batch %s. Run the same command again once nothing writes to the file: "+
			"rows already accepted are not enqueued twice", res.BatchID)
	default:
		return redisError(redisAddr, err, fmt.Sprintf("the import of batch %s stopped early. "+
			"Rows written so far keep their request_ids: run the same command again to complete it", res.BatchID))
	}
	switch {
	case !res.Enqueued:
		return fmt.Errorf("%d of %d rows rejected (see %s); nothing was enqueued (--all-or-nothing)",
			res.Rejected, res.Rows, res.Rejects)
	case res.Rejected > 0 && res.Accepted+res.Duplicates == 0:
		return fmt.Errorf("all %d rows rejected (see %s); nothing was enqueued", res.Rejected, res.Rejects)
	case res.Rejected > 0:
		return fmt.Errorf("%d rows rejected (see %s); the other rows were enqueued.\n"+
			"Fix the rejected rows and run the file again: each row's request_id comes from the row itself, "+
			"so only the fixed rows are new. Add --batch-id %s to list them in this batch", res.Rejected, res.Rejects, res.BatchID)
	}
	return nil
}

// redisError states a Redis problem once, in plain words, with what it
// means for the import.
func redisError(addr string, err error, consequence string) error {
	if p := redisconn.Problem(err); p != "" {
		return fmt.Errorf("Redis at %s %s; %s", addr, p, consequence)
	}
	if errors.Is(err, context.Canceled) {
		return fmt.Errorf("interrupted; %s", consequence)
	}
	return fmt.Errorf("%w\n%s", err, consequence)
}
