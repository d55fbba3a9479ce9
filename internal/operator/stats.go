package operator

import (
	"context"
	"fmt"
	"slices"
	"time"

	"github.com/hibiken/asynq"

	"github.com/refundq/refundq/internal/refund"
	"github.com/refundq/refundq/internal/tasks"
)

// Stats is a snapshot of the queues and the refunds in flight.
type Stats struct {
	// Queues are asynq's numbers for every refundq queue. Processed and
	// Failed count today's task runs (asynq's daily counters, UTC).
	Queues []asynq.QueueInfo
	// States counts refunds per unsettled state, plus failed (kept for the
	// retention period).
	States map[refund.State]int64
	// OldestPending is the time since the least recently changed refund
	// that is neither settled nor in needs_attention last changed; zero
	// when there is none.
	OldestPending time.Duration
	// FailedLastHour counts refunds that failed in the last hour.
	FailedLastHour int64
}

// Stats reads the queues and the refund state indexes.
func (o *Operator) Stats(ctx context.Context) (*Stats, error) {
	s := &Stats{}
	known, err := o.insp.Queues()
	if err != nil {
		return nil, fmt.Errorf("ops: queues: %w", err)
	}
	for _, q := range tasks.QueueNames() {
		info := &asynq.QueueInfo{Queue: q}
		if slices.Contains(known, q) {
			if info, err = o.insp.GetQueueInfo(q); err != nil {
				return nil, fmt.Errorf("ops: queue %s: %w", q, err)
			}
		}
		s.Queues = append(s.Queues, *info)
	}
	counts, since, err := o.store.StateCounts(ctx)
	if err != nil {
		return nil, err
	}
	s.States = counts
	var oldest time.Time
	for _, st := range refund.Pending() {
		if t, ok := since[st]; ok && (oldest.IsZero() || t.Before(oldest)) {
			oldest = t
		}
	}
	if !oldest.IsZero() {
		s.OldestPending = o.now().Sub(oldest)
	}
	s.FailedLastHour, err = o.store.CountStateSince(ctx, refund.Failed, o.now().Add(-time.Hour))
	return s, err
}
