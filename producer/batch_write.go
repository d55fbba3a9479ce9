package producer

import (
	"context"
	"fmt"
	"iter"
	"sync"
	"time"

	"github.com/refundq/refundq/internal/refund"
	"github.com/refundq/refundq/internal/store"
	"github.com/refundq/refundq/internal/tasks"
)

// batchRun is one EnqueueBatch call. The checker runs on the caller's
// goroutine and cuts the rows into chunks; chunks with records to write
// go to concurrent writers, and every chunk is then settled (counted,
// reported) strictly in row order. At most maxOutstanding chunks exist
// at once, so memory does not grow with the batch, even when a slow
// write holds back thousands of rejected rows behind it.
type batchRun struct {
	p     *Producer
	id    string
	o     batchOpts
	check *rowChecker

	slots chan struct{} // one per outstanding chunk

	mu      sync.Mutex
	rep     BatchReport
	done    map[int]*chunk // finished, waiting for earlier chunks
	next    int            // seq of the next chunk to settle
	stopped bool           // a chunk failed: nothing later is settled
	cancel  context.CancelCauseFunc
}

// chunk is up to groupSize consecutive rows.
type chunk struct {
	seq     int
	entries []entry
	writes  int
	err     error
}

// entry is one row's outcome; a write is resolved by its writer.
type entry struct {
	line    int
	raw     string
	from    string // see batchRowID
	outcome rowOutcome
	rec     *refund.Record
	errs    []RowError
}

func newBatchRun(p *Producer, id string, o batchOpts) *batchRun {
	return &batchRun{p: p, id: id, o: o, check: newRowChecker(id, p.source, o.mayRepeat, o.hold),
		slots: make(chan struct{}, 2*o.concurrency+2), done: map[int]*chunk{}, rep: BatchReport{BatchID: id}}
}

func (b *batchRun) report() BatchReport {
	b.mu.Lock()
	defer b.mu.Unlock()
	rep := b.rep
	rep.Errors = append([]RowError(nil), b.rep.Errors...)
	return rep
}

// run feeds rows to the writers. The first error (a writer's, the rows',
// OnReject's, or ctx's) stops it and is returned.
func (b *batchRun) run(ctx context.Context, rows iter.Seq2[BatchRow, error]) error {
	ctx, cancel := context.WithCancelCause(ctx)
	defer cancel(nil)
	b.cancel = cancel
	work := make(chan *chunk, b.o.concurrency)
	var wg sync.WaitGroup
	for range b.o.concurrency {
		wg.Go(func() {
			for c := range work {
				if c.err = b.write(ctx, c); c.err != nil {
					cancel(c.err)
				}
				b.settle(c)
			}
		})
	}
	if err := b.feed(ctx, rows, work); err != nil {
		cancel(err)
	}
	close(work)
	wg.Wait()
	return context.Cause(ctx)
}

// feed checks rows in order and dispatches them in chunks. It returns
// the error rows yielded, if any.
func (b *batchRun) feed(ctx context.Context, rows iter.Seq2[BatchRow, error], work chan<- *chunk) error {
	seq, n := 0, 0
	c := &chunk{}
	for row, err := range rows {
		if err != nil {
			return err
		}
		if ctx.Err() != nil {
			return nil
		}
		n++
		c.entries = append(c.entries, b.entry(row, n))
		if c.entries[len(c.entries)-1].outcome == rowWrite {
			c.writes++
		}
		if len(c.entries) == b.o.groupSize {
			if !b.dispatch(ctx, c, work) {
				return nil
			}
			seq++
			c = &chunk{seq: seq}
		}
	}
	if len(c.entries) > 0 {
		b.dispatch(ctx, c, work)
	}
	return nil
}

func (b *batchRun) entry(row BatchRow, n int) entry {
	line := row.Line
	if line == 0 {
		line = n
	}
	e := entry{line: line, raw: row.Raw}
	if len(row.Errs) > 0 {
		e.outcome, e.errs = rowReject, row.Errs
		return e
	}
	e.rec, e.outcome, e.from, e.errs = b.check.check(line, row.Refund)
	return e
}

// dispatch waits for a free slot, then hands c to a writer, or settles
// it at once when it has nothing to write.
func (b *batchRun) dispatch(ctx context.Context, c *chunk, work chan<- *chunk) bool {
	select {
	case b.slots <- struct{}{}:
	case <-ctx.Done():
		return false
	}
	if c.writes == 0 {
		b.settle(c)
		return true
	}
	select {
	case work <- c:
		return true
	case <-ctx.Done():
		c.err = ctx.Err()
		b.settle(c)
		return false
	}
}

// settle records that c is finished and settles every finished chunk
// that is next in row order.
func (b *batchRun) settle(c *chunk) {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.done[c.seq] = c
	for {
		c, ok := b.done[b.next]
		if !ok {
			return
		}
		delete(b.done, b.next)
		b.next++
		<-b.slots
		if c.err != nil || b.stopped {
			// Later rows may be written, but the report covers an
			// unbroken run of rows; a re-run finds the rest.
			b.stopped = true
			continue
		}
		if err := b.count(c); err != nil {
			b.stopped = true
			b.cancel(err)
		}
	}
}

// count adds a settled chunk to the report, in row order. Called with
// b.mu held.
func (b *batchRun) count(c *chunk) error {
	for _, e := range c.entries {
		switch e.outcome {
		case rowWrite:
			b.rep.Accepted++
		case rowRepeat:
			b.rep.Duplicates++
		case rowReject:
			b.rep.Rejected++
			if err := b.rejected(e); err != nil {
				return err
			}
		}
	}
	if b.o.progress != nil {
		b.o.progress(b.rep.Accepted + b.rep.Duplicates + b.rep.Rejected)
	}
	return nil
}

func (b *batchRun) rejected(e entry) error {
	for _, re := range e.errs {
		if re.Line == 0 {
			re.Line = e.line
		}
		if re.Raw == "" {
			re.Raw = e.raw
		}
		if b.o.reject == nil {
			b.rep.Errors = append(b.rep.Errors, re)
			continue
		}
		if err := b.o.reject(re); err != nil {
			return err
		}
	}
	return nil
}

// write writes a chunk, giving up after groupTimeout: see bounded.
func (b *batchRun) write(ctx context.Context, c *chunk) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	return bounded(ctx, b.o.timeout, fmt.Sprintf("a group of %d rows", c.writes), func(ctx context.Context) error {
		return b.writeChunk(ctx, c)
	})
}

// writeChunk stores a chunk's records in one round trip and queues the
// ones still queued, new or not: a repeat left queued by an interrupted
// run may have lost its task, and the task id rules out a second copy. It
// resolves each write to accepted, duplicate or rejected.
func (b *batchRun) writeChunk(ctx context.Context, c *chunk) error {
	idx := make([]int, 0, c.writes)
	recs := make([]*refund.Record, 0, c.writes)
	for i, e := range c.entries {
		if e.outcome == rowWrite {
			idx, recs = append(idx, i), append(recs, e.rec)
		}
	}
	found, err := b.lookup(ctx, recs)
	if err != nil {
		return err
	}
	var queue []string
	created := 0
	for j, i := range idx {
		e, f := &c.entries[i], found[j]
		switch {
		case f.Created:
			created++
		case b.o.dryRun && !f.Found:
		case f.ParamHash != e.rec.ParamHash:
			e.outcome = rowReject
			e.errs = []RowError{{Line: e.line, Field: conflictField(e.from),
				Reason: idText(e.rec.Request, e.from) + " is already used by a refund with different parameters"}}
			continue
		default:
			e.outcome = rowRepeat
		}
		if !b.o.dryRun && f.State == refund.Queued {
			queue = append(queue, e.rec.RequestID, e.rec.Merchant, f.Queue)
		}
	}
	// Counted before queueing: the records exist now, and a failure below
	// leaves them for a re-run to queue.
	if created > 0 && b.p.metrics != nil {
		b.p.metrics.Enqueued.WithLabelValues(b.p.source).Add(float64(created))
	}
	return b.enqueue(ctx, queue)
}

// conflictField is the field to blame for a request_id already taken:
// the column that fixed it, or request_id for a content-derived one.
func conflictField(from string) string {
	if from == fromContent {
		return fromRequestID
	}
	return from
}

// enqueue queues submit tasks for (request_id, merchant, queue) triples,
// all at once:
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

// groupTimeout bounds the writes of one group of rows. They take
// milliseconds; a group Redis has not answered in this time means Redis
// stopped answering (a paused or swapping host, a blocking command).
const groupTimeout = 15 * time.Second

// bounded runs f, but returns once ctx ends or d has passed, leaving f to
// finish on its own. go-redis does not always give up when Redis stops
// answering while the connection stays open: the auto-pipeliner waits for
// a sent command until its internal 30s backstop whatever the context
// says, and reading a pending push notification on a new connection has
// no deadline at all. Without this, Ctrl-C would not stop a batch stuck
// on a hung Redis, and nothing would say that Redis hung.
func bounded(ctx context.Context, d time.Duration, what string, f func(context.Context) error) error {
	ctx, cancel := context.WithTimeout(ctx, d)
	defer cancel()
	done := make(chan error, 1) // buffered: an abandoned f never blocks
	go func() { done <- f(ctx) }()
	select {
	case err := <-done:
		return err
	case <-ctx.Done():
		return fmt.Errorf("producer: Redis did not answer %s within %s: %w", what, d, ctx.Err())
	}
}

func (b *batchRun) lookup(ctx context.Context, recs []*refund.Record) ([]store.Existing, error) {
	if b.o.dryRun {
		ids := make([]string, len(recs))
		for i, r := range recs {
			ids[i] = r.RequestID
		}
		found, err := b.p.store.Peek(ctx, ids)
		if err != nil {
			return nil, fmt.Errorf("producer: %w", err)
		}
		return found, nil
	}
	found, err := b.p.store.CreateMany(ctx, recs)
	if err != nil {
		return nil, fmt.Errorf("producer: %w", err)
	}
	return found, nil
}
