package producer

import (
	"context"
	"fmt"
	"iter"
	"regexp"
	"sort"
	"sync"
	"time"

	"github.com/refundq/refundq/internal/store"
)

// BatchRow is one row of a batch.
type BatchRow struct {
	// Line is what a RowError reports for the row, such as its line in a
	// file. Zero means the row's 1-based position in the batch.
	Line   int
	Refund Refund
	// Errs are problems the caller already found with the row, such as a
	// line of a file that could not be parsed. A row with any is rejected
	// with them and its Refund is ignored.
	Errs []RowError
}

// RowError is one problem with one row of a batch.
type RowError struct {
	Line   int
	Field  string
	Reason string
}

func (e RowError) Error() string { return fmt.Sprintf("line %d: %s: %s", e.Line, e.Field, e.Reason) }

// BatchReport says what EnqueueBatch did with a batch's rows. Accepted
// rows were new and are queued; Duplicates were already accepted with the
// same parameters, by an earlier run or an earlier row; Rejected rows were
// invalid or reuse a request_id with other parameters, and nothing was
// written for them. Errors lists every problem, ordered by line.
type BatchReport struct {
	BatchID    string
	Accepted   int
	Duplicates int
	Rejected   int
	Errors     []RowError
}

// Rows numbers refunds from 1 as batch rows.
func Rows(refunds []Refund) iter.Seq2[BatchRow, error] {
	return func(yield func(BatchRow, error) bool) {
		for i, r := range refunds {
			if !yield(BatchRow{Line: i + 1, Refund: r}, nil) {
				return
			}
		}
	}
}

// BatchOption adjusts one EnqueueBatch call.
type BatchOption func(*batchOpts)

type batchOpts struct {
	name        string
	concurrency int
	groupSize   int
	progress    func(done int)
	dryRun      bool
}

// DefaultBatchConcurrency is how many groups of rows EnqueueBatch writes
// at once unless told otherwise. Redis answers each round trip in
// microseconds, so throughput comes from keeping many in flight.
const DefaultBatchConcurrency = 32

// batchGroupSize rows share one round trip for their records. Larger
// groups save little more and delay progress reports.
const batchGroupSize = 64

// BatchName records where the batch came from, such as a file name, in
// the batch's metadata.
func BatchName(name string) BatchOption { return func(o *batchOpts) { o.name = name } }

// Concurrency sets how many groups of rows are written at once (default
// DefaultBatchConcurrency).
func Concurrency(n int) BatchOption { return func(o *batchOpts) { o.concurrency = n } }

// OnProgress calls f with the number of rows finished so far, after each
// group of rows and each rejected row. Calls never overlap; f should
// return quickly.
func OnProgress(f func(done int)) BatchOption { return func(o *batchOpts) { o.progress = f } }

// DryRun checks a batch without writing anything: the report says what a
// real run would accept, find duplicate and reject, including request_ids
// already used with other parameters. Run it first to enqueue all rows or
// none; a conflicting refund accepted between the two runs still rejects
// its row in the second.
func DryRun() BatchOption { return func(o *batchOpts) { o.dryRun = true } }

var batchIDPattern = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9._:-]{0,127}$`)

// EnqueueBatch accepts rows as batch id, on the low-priority bulk queue,
// so a large batch never delays interactive refunds. Each row gets the
// same validation and dedupe as Enqueue, and a bad row is reported and
// skipped without stopping the rest.
//
// Request ids are stable, so running the same batch again is safe and
// completes one that was interrupted: a row's request_id is its own, or
// derived from its merchant and idempotency_key as in Enqueue, or else
// derived from the batch id and the row's merchant, order_id,
// transaction_id and amount. Rows without either key that repeat those
// fields are separate refunds, told apart by how many came before them
// in the batch.
//
// rows yields each row with a nil error, or a non-nil error (such as a
// failed read of the file the rows come from) that stops the batch. That
// error, Redis being unreachable, or ctx ending are the errors EnqueueBatch
// returns; the report then covers the rows finished before it, the batch
// is recorded as incomplete, and running it again completes it.
func (p *Producer) EnqueueBatch(ctx context.Context, id string, rows iter.Seq2[BatchRow, error], opts ...BatchOption) (BatchReport, error) {
	o := batchOpts{concurrency: DefaultBatchConcurrency, groupSize: batchGroupSize}
	for _, f := range opts {
		f(&o)
	}
	if !batchIDPattern.MatchString(id) {
		return BatchReport{BatchID: id}, fmt.Errorf("producer: batch id %q: use 1-128 characters of A-Z a-z 0-9 . _ : -, starting with a letter or digit", id)
	}
	if o.concurrency < 1 {
		o.concurrency = 1
	}
	if !o.dryRun {
		if err := p.store.StartBatch(ctx, id, o.name); err != nil {
			return BatchReport{BatchID: id}, fmt.Errorf("producer: %w", err)
		}
	}
	b := newBatchRun(p, id, o)
	err := b.run(ctx, rows)
	rep := b.report()
	if !o.dryRun {
		if ferr := p.finishBatch(ctx, rep, err == nil); err == nil {
			err = ferr
		}
	}
	return rep, err
}

// finishBatch records the run even when ctx has ended, so an interrupted
// import shows as such.
func (p *Producer) finishBatch(ctx context.Context, rep BatchReport, complete bool) error {
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
	defer cancel()
	run := store.BatchRun{Rows: rep.Accepted + rep.Duplicates + rep.Rejected,
		Duplicates: rep.Duplicates, Rejected: rep.Rejected, Complete: complete}
	if err := p.store.FinishBatch(ctx, rep.BatchID, run); err != nil {
		return fmt.Errorf("producer: %w", err)
	}
	return nil
}

// tally collects the outcome of rows from the writers.
type tally struct {
	mu       sync.Mutex
	rep      BatchReport
	progress func(int)
}

func (t *tally) add(accepted, duplicates, rejected int, errs []RowError) {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.rep.Accepted += accepted
	t.rep.Duplicates += duplicates
	t.rep.Rejected += rejected
	t.rep.Errors = append(t.rep.Errors, errs...)
	if t.progress != nil {
		t.progress(t.rep.Accepted + t.rep.Duplicates + t.rep.Rejected)
	}
}

func (t *tally) report() BatchReport {
	t.mu.Lock()
	defer t.mu.Unlock()
	rep := t.rep
	rep.Errors = append([]RowError(nil), t.rep.Errors...)
	// Writers finish groups out of order; a stable sort keeps each row's
	// problems in the order validation found them.
	sort.SliceStable(rep.Errors, func(i, j int) bool { return rep.Errors[i].Line < rep.Errors[j].Line })
	return rep
}
