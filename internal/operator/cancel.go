package operator

import (
	"context"
	"errors"

	"github.com/hibiken/asynq"
	"go.uber.org/zap"

	"github.com/refundq/refundq/internal/refund"
	"github.com/refundq/refundq/internal/store"
	"github.com/refundq/refundq/internal/tasks"
)

// Cancel cancels a refund that is still queued, and so was never sent. Any
// other state is refused with a *StateError: once a refund may have reached
// the provider, only the provider can say what happened to it.
//
// It holds the refund's lock, so a worker cannot be between taking the
// refund and marking it submitting; the record moves by compare-and-set
// all the same. The queued task is deleted afterwards; one that is already
// running finds the refund canceled and stops.
func (o *Operator) Cancel(ctx context.Context, id, by string) (*refund.Record, error) {
	var out *refund.Record
	err := o.locked(ctx, id, func(rec *refund.Record, token string) error {
		next, err := o.store.Transition(ctx, id, store.Change{
			From: []refund.State{refund.Queued}, To: refund.Canceled, Event: "operator_cancel", Unlock: token,
			Detail: actor(by) + ": canceled before it was sent", Reason: "canceled by " + actor(by),
		})
		if err != nil {
			return asStateError("cancel", err)
		}
		out = next
		log := o.logger(next, by)
		log.Info("operator cancel")
		err = o.insp.DeleteTask(next.Queue, tasks.SubmitID(id))
		if err != nil && !errors.Is(err, asynq.ErrTaskNotFound) && !errors.Is(err, asynq.ErrQueueNotFound) {
			// Most likely running right now; it will find the refund canceled.
			log.Info("submit task not deleted", zap.Error(err))
		}
		return o.settler.Settled(ctx, next)
	})
	return out, err
}
