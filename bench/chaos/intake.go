package main

import (
	"context"
	"errors"
	"sync"
	"sync/atomic"
	"time"

	"github.com/refundq/refundq/producer"
)

// enqueueGiveUp bounds the retries of one Enqueue. The Redis restart takes
// a few seconds; a minute of failures means something else is wrong.
const enqueueGiveUp = time.Minute

// intake is the chaos driver's backend: it enqueues the plan with the
// producer package at a steady rate, through the Redis restart.
type intake struct {
	rec  *recorder
	prod *producer.Producer

	accepted  atomic.Int64
	repeats   atomic.Int64
	retries   atomic.Int64 // Enqueue calls repeated after an error
	retried   atomic.Int64 // refunds that needed at least one retry
	abandoned atomic.Int64
}

// run enqueues every op, paced to rate per second, with parallel callers.
func (in *intake) run(ctx context.Context, ops []op, rate float64, parallel int) {
	jobs := make(chan op)
	var wg sync.WaitGroup
	for range parallel {
		wg.Go(func() {
			for o := range jobs {
				in.do(ctx, o)
			}
		})
	}
	start := time.Now()
feed:
	for i, o := range ops {
		due := start.Add(time.Duration(float64(i) / rate * float64(time.Second)))
		select {
		case <-ctx.Done():
			break feed
		case <-time.After(time.Until(due)):
		}
		jobs <- o
	}
	close(jobs)
	wg.Wait()
}

func (in *intake) do(ctx context.Context, o op) {
	r := o.r
	if r.held && !o.dup {
		return // imported held (held.go)
	}
	before := r.accepted.Load()
	opts := []producer.EnqueueOption(nil)
	if r.bulk {
		opts = append(opts, producer.Bulk())
	}
	rc, err := in.enqueue(ctx, r.refund, opts)
	switch {
	case err != nil:
		if ctx.Err() == nil {
			in.abandoned.Add(1)
			in.rec.violate("enqueue of %s (%s) failed for good: %v", r.id, r.refund.IdempotencyKey, err)
		}
		return
	case rc.RequestID != r.id:
		in.rec.violate("enqueue of key %s returned request_id %s, want %s", r.refund.IdempotencyKey, rc.RequestID, r.id)
	case o.dup && before && !rc.Duplicate:
		in.rec.violate("repeated enqueue of accepted refund %s was not recognised as a duplicate", r.id)
	case r.held && !r.accepted.Load():
		in.rec.violate("a repeat of held refund %s was enqueued before its batch was imported", r.id)
		return
	}
	if o.dup {
		in.repeats.Add(1)
	}
	if !r.accepted.Swap(true) {
		in.accepted.Add(1)
	}
}

// enqueue retries an Enqueue that failed for a reason other than the
// refund itself, with the same idempotency key, as a real backend would.
// A retry of an Enqueue that in fact got through is answered Duplicate.
func (in *intake) enqueue(ctx context.Context, r producer.Refund, opts []producer.EnqueueOption) (producer.Receipt, error) {
	giveUp := time.Now().Add(enqueueGiveUp)
	pause := 50 * time.Millisecond
	for n := 0; ; n++ {
		rc, err := in.prod.Enqueue(ctx, r, opts...)
		var ve *producer.ValidationError
		if err == nil || errors.As(err, &ve) || errors.Is(err, producer.ErrConflict) || time.Now().After(giveUp) {
			return rc, err
		}
		if n == 0 {
			in.retried.Add(1)
		}
		in.retries.Add(1)
		select {
		case <-ctx.Done():
			return rc, ctx.Err()
		case <-time.After(pause):
		}
		pause = min(2*pause, time.Second)
	}
}
