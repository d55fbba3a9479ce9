package lifecycle

import (
	"context"
	"fmt"
	"time"

	"github.com/hibiken/asynq"

	"github.com/refundq/refundq/internal/metrics"
	"github.com/refundq/refundq/internal/refund"
	"github.com/refundq/refundq/internal/store"
	"github.com/refundq/refundq/internal/tasks"
)

// Settler does the bookkeeping of a refund that a worker or an operator
// has just settled: the metrics, counted once by the winner of the
// compare-and-set that settled it, and the merchant callback of a
// terminal refund.
type Settler struct {
	store  *store.Redis
	client *asynq.Client
	insp   *asynq.Inspector
	m      *metrics.Metrics // nil: no metrics
	now    func() time.Time
}

// NewSettler returns a Settler. m may be nil.
func NewSettler(s *store.Redis, c *asynq.Client, insp *asynq.Inspector, m *metrics.Metrics) *Settler {
	return &Settler{store: s, client: c, insp: insp, m: m, now: s.Now}
}

// Settled counts rec, which this caller has just moved to a terminal state
// or needs_attention, and schedules its callback. An error leaves the
// refund settled; the callback is scheduled again on the refund task's
// next run or by the next caller.
func (s *Settler) Settled(ctx context.Context, rec *refund.Record) error {
	s.observe(rec)
	return s.ScheduleCallback(ctx, rec)
}

func (s *Settler) observe(rec *refund.Record) {
	if s.m == nil {
		return
	}
	if rec.State == refund.NeedsAttention {
		s.m.NeedsAttention.Inc()
		return
	}
	s.m.Terminal.WithLabelValues(string(rec.State)).Inc()
	s.m.RefundDuration.WithLabelValues(string(rec.State)).Observe(s.now().Sub(rec.CreatedAt).Seconds())
	s.m.Polls.Observe(float64(rec.Polls))
	// A full refund's amount is decided by the provider and not returned,
	// so only explicit amounts are summed.
	if rec.State == refund.Succeeded {
		if d, err := rec.AmountDecimal(); err == nil && d != nil {
			s.m.RefundedAmount.Add(d.InexactFloat64())
		}
	}
}

// ScheduleCallback queues the callback of a terminal refund that has a
// callback_url. It is safe to repeat: the task id is the refund's, a task
// archived by a third-party tool is run again, and a delivery that ended
// is never restarted.
func (s *Settler) ScheduleCallback(ctx context.Context, rec *refund.Record) error {
	if rec.CallbackURL == "" || !rec.State.Terminal() || rec.Callback.State.Done() {
		return nil
	}
	if rec.Callback.State == "" {
		ok, err := s.store.UpdateCallback(ctx, rec.RequestID, store.CallbackUpdate{State: refund.CallbackPending})
		if err != nil || !ok {
			return s.notScheduled(rec, err)
		}
	}
	t, opts := tasks.Callback(rec.RequestID)
	_, err := tasks.Ensure(ctx, s.client, s.insp, tasks.QueueCallback, tasks.CallbackID(rec.RequestID), t, opts)
	return s.notScheduled(rec, err)
}

func (s *Settler) notScheduled(rec *refund.Record, err error) error {
	if err == nil {
		return nil
	}
	return fmt.Errorf("refund %s is %s, but its merchant callback was not scheduled: %w", rec.RequestID, rec.State, err)
}
