package worker

import (
	"context"
	"errors"
	"time"

	"go.uber.org/zap"

	"github.com/refundq/refundq/internal/lifecycle"
	"github.com/refundq/refundq/internal/refund"
	"github.com/refundq/refundq/internal/store"
	"github.com/refundq/refundq/internal/tasks"
	"github.com/refundq/refundq/internal/ticker"
)

// sweepBatch bounds how many stale refunds one sweep looks at per state.
const sweepBatch = 1000

// sweepCursor is where the next sweep goes on in each stale list. A list
// longer than one batch (a backlog of slow refunds whose tasks are alive,
// a merchant endpoint down for hours) would otherwise show every sweep the
// same oldest entries and hide a stranded refund behind them: with the
// cursor each entry is looked at within one sweep per batch of the list.
type sweepCursor struct {
	batch int64
	next  map[string]int64 // list name → offset among its stale entries
}

func newSweepCursor() *sweepCursor { return &sweepCursor{batch: sweepBatch, next: map[string]int64{}} }

// page reads the next batch of list with read, and moves the cursor past
// it, or back to the start once read reaches the end of the list.
func (c *sweepCursor) page(list string, read func(offset, limit int64) ([]store.IndexEntry, error)) ([]store.IndexEntry, error) {
	entries, err := read(c.next[list], c.batch)
	if err != nil {
		return nil, err
	}
	if int64(len(entries)) < c.batch {
		c.next[list] = 0
	} else {
		c.next[list] += int64(len(entries))
	}
	return entries, nil
}

// sweepLoop makes sure every unsettled refund that has not moved for a
// while has a task that will run. A task can be lost to an enqueue that
// failed after the record was written, to a Redis that lost its last second
// of writes, or to an operator's tool that archived or deleted it; asynq
// itself archives a task that reaches its retry cap.
func (w *Worker) sweepLoop(ctx context.Context) {
	ticker.Run(ctx, w.cfg.SweepInterval, func(ctx context.Context) {
		if err := w.sweep(ctx); err != nil && ctx.Err() == nil {
			w.log.Warn("sweep failed", zap.Error(err))
		}
	})
}

// staleAfter is how long a refund may sit unchanged before a sweep checks
// its task: longer than any poll interval or lock.
func (w *Worker) staleAfter() time.Duration {
	return 2*w.cfg.pollDelay(1<<20) + w.cfg.lockTTL()
}

func (w *Worker) sweep(ctx context.Context) error {
	cutoff := w.cfg.Now().Add(-w.staleAfter())
	for _, st := range refund.Pending() {
		entries, err := w.cursor.page(string(st), func(offset, limit int64) ([]store.IndexEntry, error) {
			return w.store.ListStaleFrom(ctx, st, cutoff, offset, limit)
		})
		if err != nil {
			return err
		}
		for _, e := range entries {
			// One refund that cannot be restored must not stop the sweep
			// from restoring the others.
			if err := w.restore(ctx, st, e, cutoff); err != nil && ctx.Err() == nil {
				w.log.Error("sweep: refund not restored", zap.String("request_id", e.ID), zap.String("state", string(st)), zap.Error(err))
			}
		}
		if err := ctx.Err(); err != nil {
			return err
		}
	}
	if err := w.sweepCallbacks(ctx, cutoff); err != nil {
		return err
	}
	return w.store.PruneFailed(ctx)
}

// sweepCallbacks gives every pending merchant callback a task that will
// run: a refund is settled before its callback, so the refund sweep above
// never sees one whose delivery task an operator's tool archived or
// deleted.
func (w *Worker) sweepCallbacks(ctx context.Context, cutoff time.Time) error {
	entries, err := w.cursor.page("callbacks", func(offset, limit int64) ([]store.IndexEntry, error) {
		return w.store.ListStaleCallbacks(ctx, cutoff, offset, limit)
	})
	if err != nil {
		return err
	}
	for _, e := range entries {
		if err := w.restoreCallback(ctx, e); err != nil {
			return err
		}
	}
	return nil
}

func (w *Worker) restoreCallback(ctx context.Context, e store.IndexEntry) error {
	rec, err := w.store.Get(ctx, e.ID)
	switch {
	case errors.Is(err, store.ErrNotFound), err == nil && rec.Callback.State.Done():
		return w.store.DropStaleCallback(ctx, e)
	case err != nil:
		return err
	}
	alive, err := tasks.Runnable(w.insp, tasks.QueueCallback, tasks.CallbackID(rec.RequestID))
	if err != nil || alive {
		return err
	}
	w.log.Warn("sweep: restored the task of a pending callback", zap.String("request_id", rec.RequestID),
		zap.String("order_id", rec.OrderID), zap.String("merchant", rec.Merchant))
	return w.settler.ScheduleCallback(ctx, rec)
}

// restore looks at one refund listed as stale in state st. One with a
// runnable task is merely slow. One without gets its task back, or, past
// its deadline, goes to needs_attention: a refund that no task will ever
// run must still end visibly.
func (w *Worker) restore(ctx context.Context, st refund.State, e store.IndexEntry, cutoff time.Time) error {
	rec, err := w.store.Get(ctx, e.ID)
	switch {
	case err == nil && rec.Version > refund.RecordVersion:
		return nil // a newer refundq's: its index entry is its own
	case errors.Is(err, store.ErrNotFound), err == nil && rec.State != st:
		// Deleted by hand, or a Cluster index update lost to a crash.
		return w.store.DropStale(ctx, st, e)
	case err != nil:
		return err
	case rec.UpdatedAt.After(cutoff):
		return nil // moving
	}
	alive, err := tasks.RefundRunnable(w.insp, rec.RequestID, rec.Queue)
	if err != nil || alive {
		return err
	}
	log := w.log.With(zap.String("request_id", rec.RequestID), zap.String("order_id", rec.OrderID), zap.String("merchant", rec.Merchant))
	if reason, late := lifecycle.PastDeadline(rec, w.cfg.Now(), w.cfg.Deadline); late {
		log.Warn("sweep: refund past its deadline has no runnable task")
		return w.parkLocked(ctx, rec.RequestID, reason+"; no task was left to run it")
	}
	found, err := tasks.EnsureRefund(ctx, w.client, w.insp, rec.RequestID, rec.Merchant, rec.Queue, rec.State == refund.Queued, false)
	if err == nil {
		log.Warn("sweep: restored the task of a stranded refund", zap.Stringer("found", found), zap.String("state", string(rec.State)))
	}
	return err
}

// parkLocked applies the deadline to a refund outside any task run, under
// its lock like every other deadline.
func (w *Worker) parkLocked(ctx context.Context, id, reason string) error {
	j, err := w.lockAndLoad(ctx, id)
	if err != nil || j.token == "" {
		return err // a run holds it: that run applies the deadline itself
	}
	defer w.unlock(ctx, j)
	if _, late := lifecycle.PastDeadline(j.rec, w.cfg.Now(), w.cfg.Deadline); !late {
		return nil
	}
	if a := w.park(ctx, j, refund.AttentionDeadline, reason); a.kind == actFail {
		return a.err
	}
	return nil
}
