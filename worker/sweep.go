package worker

import (
	"context"
	"errors"
	"time"

	"go.uber.org/zap"

	"github.com/refundq/refundq/internal/refund"
	"github.com/refundq/refundq/internal/store"
	"github.com/refundq/refundq/internal/tasks"
)

// sweepBatch bounds how many stale refunds one sweep looks at per state.
const sweepBatch = 1000

// sweepLoop re-enqueues the task of any unsettled refund that has not moved
// for a while. Every refundq task id is deterministic, so for a refund whose
// task is alive this is a harmless conflict; for one whose task was lost (an
// enqueue that failed after the record was written, a task archived by
// asynq, a Redis that lost its last second) it restores the work.
func (w *Worker) sweepLoop(ctx context.Context) {
	t := time.NewTicker(w.cfg.SweepInterval)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			if err := w.sweep(ctx); err != nil && ctx.Err() == nil {
				w.log.Warn("sweep failed", zap.Error(err))
			}
		}
	}
}

// staleAfter is how long a refund may sit unchanged before a sweep checks
// its task: longer than any poll interval or lock.
func (w *Worker) staleAfter() time.Duration {
	return 2*w.cfg.pollDelay(1<<20) + w.cfg.lockTTL()
}

func (w *Worker) sweep(ctx context.Context) error {
	cutoff := w.cfg.Now().Add(-w.staleAfter())
	for _, st := range []refund.State{refund.Queued, refund.Submitting, refund.Unknown, refund.Processing} {
		ids, err := w.store.ListStaleState(ctx, st, cutoff, sweepBatch)
		if err != nil {
			return err
		}
		for _, id := range ids {
			if err := w.restore(ctx, st, id, cutoff); err != nil {
				return err
			}
		}
	}
	return nil
}

// restore re-enqueues the task of a refund listed as stale in state st,
// and drops index entries that no longer match the record.
func (w *Worker) restore(ctx context.Context, st refund.State, id string, cutoff time.Time) error {
	rec, err := w.store.Get(ctx, id)
	switch {
	case errors.Is(err, store.ErrNotFound):
		return w.store.Unindex(ctx, st, id) // expired with its retention
	case err != nil:
		return err
	case rec.State != st:
		// A process died between a transition and its re-index.
		if err := w.store.Unindex(ctx, st, id); err != nil || rec.State.Settled() {
			return err
		}
	case rec.UpdatedAt.After(cutoff):
		return nil // moving: nothing to restore
	}
	t, opts := tasks.Poll(id, 0)
	if rec.State == refund.Queued {
		t, opts = tasks.Submit(id, rec.Queue)
	}
	return tasks.Enqueue(ctx, w.client, t, opts)
}
