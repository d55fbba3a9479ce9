package ops

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
// The record moves first, by compare-and-set, so a worker that picks the
// task up at the same moment either finds it canceled or has already moved
// it to submitting, and then the cancel is refused. The queued task is
// deleted afterwards; one that is already running finds the refund canceled
// and stops.
func (o *Operator) Cancel(ctx context.Context, id, by string) (*refund.Record, error) {
	rec, _, err := o.store.Transition(ctx, id, store.Change{
		From: []refund.State{refund.Queued}, To: refund.Canceled, Event: "operator_cancel",
		Detail: actor(by) + ": canceled before it was sent", Reason: "canceled by " + actor(by),
	})
	if err != nil {
		return nil, asStateError("cancel", err)
	}
	log := o.log.With(zap.String("request_id", id), zap.String("order_id", rec.OrderID), zap.String("merchant", rec.Merchant))
	log.Info("operator cancel", zap.String("by", by))
	err = o.insp.DeleteTask(rec.Queue, tasks.SubmitID(id))
	if err != nil && !errors.Is(err, asynq.ErrTaskNotFound) && !errors.Is(err, asynq.ErrQueueNotFound) {
		// Most likely running right now; it will find the refund canceled.
		log.Info("submit task not deleted", zap.Error(err))
	}
	return rec, o.settle(ctx, rec)
}
