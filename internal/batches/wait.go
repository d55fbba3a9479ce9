package batches

import (
	"context"
	"fmt"
	"time"

	"github.com/refundq/refundq/internal/refund"
	"github.com/refundq/refundq/internal/store"
)

// Wait follows batch id, every interval, until each of its refunds has
// settled (terminal or needs_attention), and returns its metadata then.
// progress, if not nil, hears how many have settled of how many. A
// counted batch costs one read a look. An older one re-reads only the
// refunds not yet settled, and its member list only when the list grows
// (an import still running), so following a 100k batch costs Redis
// little either way.
func Wait(ctx context.Context, s *store.Redis, id string, interval time.Duration, progress func(settled, total int)) (*store.BatchMeta, error) {
	var open []string // an uncounted batch's refunds not yet settled
	members := -1
	for {
		meta, err := s.Batch(ctx, id)
		if err != nil {
			return nil, fmt.Errorf("batches: %w", err)
		}
		settled, total := 0, meta.Accepted
		if meta.Counts != nil {
			settled, total = Settled(meta.Counts)
		} else {
			if meta.Accepted != members {
				if open, err = s.ByBatch(ctx, id); err != nil {
					return nil, fmt.Errorf("batches: %w", err)
				}
				members = meta.Accepted
			}
			if open, err = unsettled(ctx, s, open); err != nil {
				return nil, err
			}
			settled = total - len(open)
		}
		if progress != nil {
			progress(settled, total)
		}
		if settled >= total {
			return meta, nil
		}
		select {
		case <-ctx.Done():
			return nil, ctx.Err()
		case <-time.After(interval):
		}
	}
}

func unsettled(ctx context.Context, s *store.Redis, ids []string) ([]string, error) {
	var open []string
	err := eachState(ctx, s, ids, func(id string, st refund.State) {
		// A record gone past retention will never settle.
		if st != "" && !st.Settled() {
			open = append(open, id)
		}
	})
	return open, err
}
