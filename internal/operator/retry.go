package operator

import (
	"context"

	"go.uber.org/zap"

	"github.com/refundq/refundq/internal/refund"
	"github.com/refundq/refundq/internal/store"
	"github.com/refundq/refundq/internal/tasks"
)

// Retried is what Retry did.
type Retried struct {
	Before refund.State
	Record *refund.Record
	// Task is what Retry found of the refund's task before it made sure
	// one will run (an archived task is revived, a missing one enqueued).
	Task tasks.Found
}

// Retry sends a refund in needs_attention or unknown back to work under its
// own request_id, and repairs a queued refund whose task will never run.
//   - A refund the provider acknowledged (a request_status was seen, or a
//     duplicate rejection came back) resumes polling. It is never resent.
//   - A refund that provably never reached the provider goes back to
//     queued and is submitted.
//   - Any other goes to unknown: a worker asks request status first, and
//     resends with the same request_id only once "not found" has lasted
//     the settle window since the last send.
//
// The refund's deadline restarts. by names who asked, for the event log.
func (o *Operator) Retry(ctx context.Context, id, by string) (*Retried, error) {
	var out *Retried
	err := o.locked(ctx, id, func(rec *refund.Record, token string) error {
		out = &Retried{Before: rec.State, Record: rec}
		switch rec.State {
		case refund.Queued:
			return o.repairQueued(ctx, rec, out)
		case refund.NeedsAttention, refund.Unknown:
		default:
			return refuse("retry", rec.State)
		}
		c := retryChange(rec, by)
		c.Unlock, c.Base = token, rec
		next, err := o.store.Transition(ctx, id, c)
		if err != nil {
			return asStateError("retry", err)
		}
		out.Record = next
		o.logger(next, by).Info("operator retry", zap.String("state", string(next.State)))
		out.Task, err = o.ensure(ctx, next)
		return err
	})
	return out, err
}

func retryChange(rec *refund.Record, by string) store.Change {
	c := store.Change{From: []refund.State{rec.State}, Resume: true, Event: "operator_retry", Clear: []store.Fact{store.FactReason}}
	switch {
	case rec.Acknowledged || rec.RequestStatus != "":
		c.To = refund.Processing
		c.Detail = actor(by) + ": the provider acknowledged this request_id, so polling resumes; it is never sent again"
	case rec.State == refund.NeedsAttention && rec.NeverSent():
		c.To = refund.Queued
		c.Detail = actor(by) + ": it never reached the provider; submitting it"
	default:
		c.To = refund.Unknown
		c.Detail = actor(by) + ": asking request status first; resent with the same request_id only once not found has lasted the settle window"
	}
	return c
}

// repairQueued makes sure a queued refund's submit task will run; retry on
// a queued refund whose task is alive changes nothing.
func (o *Operator) repairQueued(ctx context.Context, rec *refund.Record, out *Retried) error {
	alive, err := o.hasRunnableTask(rec)
	if err != nil {
		return err
	}
	if alive {
		return refuse("retry", rec.State)
	}
	out.Task, err = o.ensure(ctx, rec)
	if err != nil {
		return err
	}
	return o.store.AddEvent(ctx, rec.RequestID, refund.Event{Type: "operator_retry",
		Detail: "its submit task would never run (" + out.Task.String() + "); a worker will submit it now"})
}
