package operator

import (
	"context"
	"errors"

	"github.com/refundq/refundq/internal/refund"
	"github.com/refundq/refundq/internal/store"
)

// ListStates returns the states List can show: the unsettled ones and
// failed. Succeeded and canceled refunds are not indexed: look them up by id
// or order instead.
func ListStates() []refund.State { return append(refund.Unsettled(), refund.Failed) }

// List returns up to limit refunds in state st, least recently changed
// first. The state index is a listing aid written next to the record, so a
// refund that has moved on since is left out.
func (o *Operator) List(ctx context.Context, st refund.State, limit int64) ([]*refund.Record, error) {
	ids, err := o.store.ListState(ctx, st, limit)
	if err != nil {
		return nil, err
	}
	out := make([]*refund.Record, 0, len(ids))
	for _, id := range ids {
		rec, err := o.store.Get(ctx, id)
		if errors.Is(err, store.ErrNotFound) {
			continue // expired with its retention
		}
		if err != nil {
			return nil, err
		}
		if rec.State == st {
			out = append(out, rec)
		}
	}
	return out, nil
}
