package producer

import (
	"context"
	"errors"
	"fmt"
	"iter"
	"regexp"
	"time"

	"github.com/refundq/refundq/internal/store"
)

// BatchRow is one row of a batch.
type BatchRow struct {
	// Line is what a RowError reports for the row, such as its line in a
	// file. Zero means the row's 1-based position in the batch.
	Line   int
	Refund Refund
	// Raw is the row as the caller read it (a line of a file), copied
	// into the row's RowErrors so a rejects report can show it.
	Raw string
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
	// Raw is the row's BatchRow.Raw.
	Raw string
}

func (e RowError) Error() string { return fmt.Sprintf("line %d: %s: %s", e.Line, e.Field, e.Reason) }

// BatchReport says what EnqueueBatch did with a batch's rows. Accepted
// rows were new and are queued; Duplicates were already accepted with the
// same parameters, by an earlier run or an earlier row; Rejected rows were
// invalid or reuse a request_id with other parameters, and nothing was
// written for them. Errors lists every problem in line order, unless
// OnReject took them.
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
	reject      func(RowError) error
	mayRepeat   func(requestID string) bool
	dryRun      bool
	earlier     []string
	// timeout bounds the writes of one group of rows (groupTimeout).
	timeout time.Duration
	hold    Hold
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

// OnProgress calls f with the number of rows finished so far, in row
// order, after each group of rows. Calls never overlap; f should return
// quickly.
func OnProgress(f func(done int)) BatchOption { return func(o *batchOpts) { o.progress = f } }

// OnReject hands every problem to f, in line order, as soon as every row
// before it is settled, instead of keeping them in BatchReport.Errors: a
// batch of millions of bad rows then costs no memory. An error from f
// stops the batch and is returned. Calls never overlap.
func OnReject(f func(RowError) error) BatchOption { return func(o *batchOpts) { o.reject = f } }

// RepeatsOnly tells EnqueueBatch which request_ids can occur more than
// once in the batch (may reports true for them, and may report true for
// others): only those are remembered to find repeats, so a batch of
// millions of distinct rows costs no memory for it. A caller that has
// read the rows once, such as a file import, knows this set.
func RepeatsOnly(may func(requestID string) bool) BatchOption {
	return func(o *batchOpts) { o.mayRepeat = may }
}

// DryRun checks a batch without writing anything: the report says what a
// real run would accept, find duplicate and reject, including request_ids
// already used with other parameters. Run it first to enqueue all rows or
// none; a conflicting refund accepted between the two runs still rejects
// its row in the second.
func DryRun() BatchOption { return func(o *batchOpts) { o.dryRun = true } }

// EarlierBatchIDs names the batch ids an earlier refundq would have given
// the same rows, such as the digest of a file's bytes that its import
// used. EnqueueBatch refuses the rows, writing nothing, if any of them, or
// the batch id itself, names a batch that an earlier refundq began: that
// version derived the request_ids of rows without request_id or
// idempotency_key from the batch id, so running them here would refund
// each one a second time. Such an error wraps ErrEarlierBatch.
func EarlierBatchIDs(ids ...string) BatchOption {
	return func(o *batchOpts) { o.earlier = append(o.earlier, ids...) }
}

// ErrEarlierBatch is returned by EnqueueBatch for rows that an earlier
// refundq imported already (see EarlierBatchIDs).
var ErrEarlierBatch = errors.New("producer: an earlier refundq imported this batch, and its rows without keys have other request_ids")

// BatchIDRule is what a batch id may be, in words for error messages.
const BatchIDRule = "1-128 characters of A-Z a-z 0-9 . _ : -, starting with a letter or digit"

var batchIDPattern = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9._:-]{0,127}$`)

// ValidBatchID reports whether id may name a batch (see BatchIDRule).
func ValidBatchID(id string) bool { return batchIDPattern.MatchString(id) }

// EnqueueBatch accepts rows as batch id, on the low-priority bulk queue,
// so a large batch never delays interactive refunds. Each row gets the
// same validation and dedupe as Enqueue, and a bad row is reported and
// skipped without stopping the rest.
//
// A row's request_id is fixed by the row alone (see BatchRowID): its own,
// derived from its merchant and idempotency_key as in Enqueue, or else
// derived from its content. Running the same rows again, in this batch or
// any other, therefore enqueues nothing new and completes a run that was
// interrupted. Within one batch, a row without either key that repeats an
// earlier row is rejected: it would be the same refund, and a second
// refund of the same content needs an idempotency_key of its own.
//
// rows yields each row with a nil error, or a non-nil error (such as a
// failed read of the file the rows come from) that stops the batch. That
// error, Redis being unreachable, an error from OnReject, or ctx ending
// are the errors EnqueueBatch returns; the report then covers the rows
// settled before it, the batch is recorded as incomplete, and running it
// again completes it. Under WithReplicaAcks a complete batch whose
// replicas did not confirm it returns an error wrapping ErrNotReplicated.
func (p *Producer) EnqueueBatch(ctx context.Context, id string, rows iter.Seq2[BatchRow, error], opts ...BatchOption) (BatchReport, error) {
	o := batchOpts{concurrency: DefaultBatchConcurrency, groupSize: batchGroupSize, timeout: groupTimeout}
	for _, f := range opts {
		f(&o)
	}
	if !ValidBatchID(id) {
		return BatchReport{BatchID: id}, fmt.Errorf("producer: batch id %q: use %s", id, BatchIDRule)
	}
	o.concurrency = max(o.concurrency, 1)
	if err := p.store.CheckReplication(); err != nil {
		return BatchReport{BatchID: id}, replicationError(err)
	}
	if err := p.refuseEarlier(ctx, id, o); err != nil {
		return BatchReport{BatchID: id}, err
	}
	if err := p.followBatchHold(ctx, id, &o); err != nil {
		return BatchReport{BatchID: id}, err
	}
	if !o.dryRun {
		err := bounded(ctx, o.timeout, "the start of the batch", func(ctx context.Context) error {
			if err := p.store.StartBatch(ctx, id, o.name); err != nil || !o.hold.active() {
				return err
			}
			return p.store.HoldBatch(ctx, id, o.hold.maker(p.source), o.hold.All, o.hold.batchReason())
		})
		if errors.Is(err, store.ErrEarlierBatch) {
			return BatchReport{BatchID: id}, fmt.Errorf("%w: %w", ErrEarlierBatch, err)
		}
		if err != nil {
			return BatchReport{BatchID: id}, fmt.Errorf("producer: %w", err)
		}
	}
	b := newBatchRun(p, id, o)
	err := b.run(ctx, rows)
	rep := b.report()
	if !o.dryRun {
		if ferr := p.finishBatch(ctx, rep, err == nil, o); err == nil {
			err = ferr
		}
	}
	return rep, err
}

// ErrBatchDecided is returned by EnqueueBatch for a batch an approver
// has already approved or rejected: rows added to it now would escape
// that decision. New rows go in a new batch.
var ErrBatchDecided = errors.New("producer: an approver has decided this batch")

// followBatchHold makes a run into a batch held for approval hold its own
// new rows too, whatever the run asked for: an interrupted held import
// re-run without --hold, or rows posted later under the same batch id,
// must not reach the provider before the batch is approved. A batch
// already decided takes no new rows.
func (p *Producer) followBatchHold(ctx context.Context, id string, o *batchOpts) error {
	var meta *store.BatchMeta
	err := bounded(ctx, o.timeout, "the batch's hold", func(ctx context.Context) error {
		var err error
		meta, err = p.store.Batch(ctx, id)
		return err
	})
	switch {
	case errors.Is(err, store.ErrNotFound):
		return nil
	case err != nil:
		return fmt.Errorf("producer: %w", err)
	case meta.ApprovedBy != "":
		return fmt.Errorf("%w: batch %s was approved by %s; import the rest as a new batch (with --hold, or hold=true, to hold it)", ErrBatchDecided, id, meta.ApprovedBy)
	case meta.RejectedBy != "":
		return fmt.Errorf("%w: batch %s was rejected by %s; import the rest as a new batch (with --hold, or hold=true, to hold it)", ErrBatchDecided, id, meta.RejectedBy)
	case meta.Held:
		o.hold.All = true
	}
	return nil
}

// refuseEarlier returns an error wrapping ErrEarlierBatch when an earlier
// refundq began batch id or one of the EarlierBatchIDs.
func (p *Producer) refuseEarlier(ctx context.Context, id string, o batchOpts) error {
	for _, b := range append([]string{id}, o.earlier...) {
		var earlier bool
		err := bounded(ctx, o.timeout, "the batch's history", func(ctx context.Context) error {
			var err error
			earlier, err = p.store.EarlierBatch(ctx, b)
			return err
		})
		if err != nil {
			return fmt.Errorf("producer: %w", err)
		}
		if earlier {
			return fmt.Errorf("%w: batch %s; its rows without request_id or idempotency_key would be refunded a second time. "+
				"See `refundq batch %s`, and give any row it lacks an idempotency_key", ErrEarlierBatch, b, b)
		}
	}
	return nil
}

// finishBatch records the run even when ctx has ended, so an interrupted
// import shows as such.
func (p *Producer) finishBatch(ctx context.Context, rep BatchReport, complete bool, o batchOpts) error {
	run := store.BatchRun{Rows: rep.Accepted + rep.Duplicates + rep.Rejected,
		Duplicates: rep.Duplicates, Rejected: rep.Rejected, Complete: complete}
	var finishedAt string
	err := bounded(context.WithoutCancel(ctx), 5*time.Second, "the end of the batch", func(ctx context.Context) (err error) {
		finishedAt, err = p.store.FinishBatch(ctx, rep.BatchID, run)
		return err
	})
	if err == nil && complete {
		// After the batch's last write: replicas that hold it hold every
		// row's record and task too.
		err = bounded(ctx, p.ackTimeout+o.timeout, "the replicas", func(ctx context.Context) error {
			return p.store.ReplicateBatch(ctx, rep.BatchID, finishedAt)
		})
	}
	if err != nil {
		return fmt.Errorf("producer: %w", replicationError(err))
	}
	return nil
}
