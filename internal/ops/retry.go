package ops

import (
	"context"

	"go.uber.org/zap"

	"github.com/refundq/refundq/internal/refund"
	"github.com/refundq/refundq/internal/store"
)

// Retry puts a refund in needs_attention or unknown back to work under its
// own request_id: it moves to unknown and its poll chain runs now. The
// worker then asks the provider first and resubmits, with the same
// request_id, only if the provider never received it. The refund's
// deadline restarts. by names who asked, for the event log.
func (o *Operator) Retry(ctx context.Context, id, by string) (*refund.Record, error) {
	rec, err := o.store.Get(ctx, id)
	if err != nil {
		return nil, err
	}
	if rec.State != refund.NeedsAttention && rec.State != refund.Unknown {
		return nil, refuse("retry", rec.State)
	}
	rec, _, err = o.store.Transition(ctx, id, store.Change{
		From: []refund.State{rec.State}, To: refund.Unknown, Resume: true, Event: "operator_retry",
		Detail: actor(by) + ": reconcile by status, resubmit with the same request_id only if the provider never received it",
	})
	if err != nil {
		return nil, asStateError("retry", err)
	}
	o.log.Info("operator retry", zap.String("request_id", id), zap.String("order_id", rec.OrderID),
		zap.String("merchant", rec.Merchant), zap.String("by", by))
	return rec, o.ensurePoll(ctx, id)
}
