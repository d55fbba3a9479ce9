package worker

import (
	"context"

	"github.com/shopspring/decimal"
	"go.uber.org/zap"

	"github.com/refundq/refundq/internal/refund"
	"github.com/refundq/refundq/internal/store"
)

// finish moves a refund to a terminal state. The compare-and-set in the
// store lets exactly one run win, so metrics count each refund once.
func (w *Worker) finish(ctx context.Context, j *job, from refund.State, c store.Change) action {
	c.From = []refund.State{from}
	j.release(&c)
	rec, _, err := w.store.Transition(ctx, j.rec.RequestID, c)
	if err != nil {
		return w.storeFailed(err)
	}
	j.rec = rec
	j.released(c)
	j.log.Info("refund settled", zap.String("state", string(rec.State)), zap.String("request_status", rec.RequestStatus),
		zap.Int("attempts", rec.Attempts), zap.Int("polls", rec.Polls), zap.String("provider_code", rec.ProviderCode))
	w.observeSettled(rec)
	if err := w.scheduleCallback(ctx, rec); err != nil {
		return fail(err) // settled all the same; the task's next run retries this (see run)
	}
	return done()
}

// needsAttention parks a refund for an operator. It is the only way out for
// a refund the worker cannot settle by itself, and it always says why.
func (w *Worker) needsAttention(ctx context.Context, j *job, reason string) action {
	c := store.Change{
		From: []refund.State{refund.Queued, refund.Submitting, refund.Unknown, refund.Processing},
		To:   refund.NeedsAttention, Event: "needs_attention", Detail: reason, Reason: reason,
	}
	j.release(&c)
	rec, _, err := w.store.Transition(ctx, j.rec.RequestID, c)
	if err != nil {
		return w.storeFailed(err)
	}
	j.rec = rec
	j.released(c)
	j.log.Error("refund needs attention", zap.String("reason", reason))
	w.observeSettled(rec)
	return done()
}

func (w *Worker) observeSettled(rec *refund.Record) {
	if w.m == nil {
		return
	}
	if rec.State == refund.NeedsAttention {
		w.m.NeedsAttention.Inc()
		return
	}
	w.m.Terminal.WithLabelValues(string(rec.State)).Inc()
	w.m.RefundDuration.WithLabelValues(string(rec.State)).Observe(w.cfg.Now().Sub(rec.CreatedAt).Seconds())
	w.m.Polls.Observe(float64(rec.Polls))
	// A full refund's amount is decided by the provider and not returned,
	// so only explicit amounts are summed.
	if rec.State == refund.Succeeded && rec.Amount != "" {
		if d, err := decimal.NewFromString(rec.Amount); err == nil {
			w.m.RefundedAmount.Add(d.InexactFloat64())
		}
	}
}
