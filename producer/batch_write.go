package producer

import (
	"context"
	"fmt"
	"iter"
	"sync"

	"github.com/refundq/refundq/internal/refund"
	"github.com/refundq/refundq/internal/store"
	"github.com/refundq/refundq/internal/tasks"
)

// batchRun is one EnqueueBatch call: a checker on the caller's goroutine
// feeding groups of records to concurrent writers.
type batchRun struct {
	p     *Producer
	id    string
	o     batchOpts
	check *rowChecker
	tally tally
}

type pending struct {
	line int
	rec  *refund.Record
}

func newBatchRun(p *Producer, id string, o batchOpts) *batchRun {
	b := &batchRun{p: p, id: id, o: o, check: newRowChecker(id, p.source)}
	b.tally.rep.BatchID = id
	b.tally.progress = o.progress
	return b
}

func (b *batchRun) report() BatchReport { return b.tally.report() }

// run checks rows in order and hands groups to the writers. The first
// writer error cancels the rest and is returned.
func (b *batchRun) run(ctx context.Context, rows iter.Seq2[BatchRow, error]) error {
	ctx, cancel := context.WithCancelCause(ctx)
	defer cancel(nil)
	groups := make(chan []pending, b.o.concurrency)
	var wg sync.WaitGroup
	for range b.o.concurrency {
		wg.Go(func() {
			for g := range groups {
				if err := b.write(ctx, g); err != nil {
					cancel(err)
				}
			}
		})
	}
	if err := b.feed(ctx, rows, groups); err != nil {
		cancel(err)
	}
	close(groups)
	wg.Wait()
	if err := context.Cause(ctx); err != nil {
		return err
	}
	return nil
}

// feed returns the error rows yielded, if any.
func (b *batchRun) feed(ctx context.Context, rows iter.Seq2[BatchRow, error], groups chan<- []pending) error {
	group := make([]pending, 0, b.o.groupSize)
	n := 0
	for row, err := range rows {
		if err != nil {
			return err
		}
		if ctx.Err() != nil {
			return nil
		}
		n++
		line := row.Line
		if line == 0 {
			line = n
		}
		if len(row.Errs) > 0 {
			b.tally.add(0, 0, 1, withLine(row.Errs, line))
			continue
		}
		rec, outcome, errs := b.check.check(line, row.Refund)
		switch outcome {
		case rowReject:
			b.tally.add(0, 0, 1, errs)
			continue
		case rowRepeat:
			b.tally.add(0, 1, 0, nil)
			continue
		}
		group = append(group, pending{line: line, rec: rec})
		if len(group) == b.o.groupSize {
			if !send(ctx, groups, group) {
				return nil
			}
			group = make([]pending, 0, b.o.groupSize)
		}
	}
	if len(group) > 0 {
		send(ctx, groups, group)
	}
	return nil
}

func send(ctx context.Context, groups chan<- []pending, g []pending) bool {
	select {
	case groups <- g:
		return true
	case <-ctx.Done():
		return false
	}
}

func withLine(errs []RowError, line int) []RowError {
	out := make([]RowError, len(errs))
	for i, e := range errs {
		if e.Line == 0 {
			e.Line = line
		}
		out[i] = e
	}
	return out
}

// write stores a group of records in one round trip and queues the ones
// still queued, new or not: a repeat left queued by an interrupted run
// may have lost its task, and the task id rules out a second copy.
func (b *batchRun) write(ctx context.Context, g []pending) error {
	found, err := b.lookup(ctx, g)
	if err != nil {
		return err
	}
	var accepted, duplicates, rejected int
	var errs []RowError
	var queue []string
	for i, pr := range g {
		f := found[i]
		switch {
		case f.Created || (b.o.dryRun && !f.Found):
			accepted++
		case f.ParamHash != pr.rec.ParamHash:
			rejected++
			errs = append(errs, RowError{Line: pr.line, Field: "request_id",
				Reason: fmt.Sprintf("request_id %s is already used by a refund with different parameters", pr.rec.RequestID)})
			continue
		default:
			duplicates++
		}
		if !b.o.dryRun && f.State == refund.Queued {
			queue = append(queue, pr.rec.RequestID, pr.rec.Merchant, f.Queue)
		}
	}
	// Counted before queueing: the records exist now, and a failure below
	// leaves them for a re-run to queue.
	b.count(accepted, duplicates, rejected, errs)
	return b.enqueue(ctx, queue)
}

// enqueue queues submit tasks for (request_id, merchant, queue) triples, all at once:
// with the auto-pipeliner (batch_pipe.go) they then share round trips
// instead of waiting for one another.
func (b *batchRun) enqueue(ctx context.Context, triples []string) error {
	var wg sync.WaitGroup
	errs := make([]error, len(triples)/3)
	for i := 0; i < len(triples); i += 3 {
		wg.Go(func() {
			t, opts := tasks.Submit(triples[i], triples[i+1], triples[i+2])
			if err := tasks.Enqueue(ctx, b.p.bulkQueue(), t, opts); err != nil {
				errs[i/3] = fmt.Errorf("producer: %s: %w", triples[i], err)
			}
		})
	}
	wg.Wait()
	for _, err := range errs {
		if err != nil {
			return err // the rest failed the same way, most likely
		}
	}
	return nil
}

func (b *batchRun) count(accepted, duplicates, rejected int, errs []RowError) {
	if accepted > 0 && !b.o.dryRun && b.p.metrics != nil {
		b.p.metrics.Enqueued.WithLabelValues(b.p.source).Add(float64(accepted))
	}
	b.tally.add(accepted, duplicates, rejected, errs)
}

func (b *batchRun) lookup(ctx context.Context, g []pending) ([]store.Existing, error) {
	if b.o.dryRun {
		ids := make([]string, len(g))
		for i, pr := range g {
			ids[i] = pr.rec.RequestID
		}
		found, err := b.p.store.Peek(ctx, ids)
		if err != nil {
			return nil, fmt.Errorf("producer: %w", err)
		}
		return found, nil
	}
	recs := make([]*refund.Record, len(g))
	for i, pr := range g {
		recs[i] = pr.rec
	}
	found, err := b.p.store.CreateMany(ctx, recs)
	if err != nil {
		return nil, fmt.Errorf("producer: %w", err)
	}
	return found, nil
}
