// Package batches reads what a batch of refunds has become: its counts by
// state, a wait until every refund has settled, and the per-row results
// file. `refundq batch`, the HTTP API and the console share it, so they
// cannot disagree about a batch.
package batches

import (
	"context"
	"fmt"

	"github.com/refundq/refundq/internal/refund"
	"github.com/refundq/refundq/internal/store"
)

// chunk bounds one pipelined read of a batch's refunds, so a 100k-refund
// batch is read in round trips of a bounded size.
const chunk = 2000

// States counts the refunds of batch meta by state, every state present.
// A batch this version began keeps its counts (store.BatchMeta.Counts) and
// costs one read; an older one, or one on Redis Cluster, is counted
// refund by refund, and a refund whose record has expired then counts
// under "".
func States(ctx context.Context, s *store.Redis, meta *store.BatchMeta) (map[refund.State]int, error) {
	if meta.Counts != nil {
		return meta.Counts, nil
	}
	ids, err := s.ByBatch(ctx, meta.ID)
	if err != nil {
		return nil, err
	}
	out := make(map[refund.State]int, len(refund.States())+1)
	for _, st := range refund.States() {
		out[st] = 0
	}
	err = eachState(ctx, s, ids, func(_ string, st refund.State) { out[st]++ })
	return out, err
}

// eachState calls f with the state of each of ids, chunk by chunk.
func eachState(ctx context.Context, s *store.Redis, ids []string, f func(id string, st refund.State)) error {
	for i := 0; i < len(ids); i += chunk {
		part := ids[i:min(i+chunk, len(ids))]
		states, err := s.States(ctx, part)
		if err != nil {
			return fmt.Errorf("batches: %w", err)
		}
		for j, st := range states {
			f(part[j], st)
		}
	}
	return nil
}

// Settled is how many of counts are settled (terminal or needs_attention)
// and how many there are in all; a refund whose record expired counts as
// settled, since it was terminal.
func Settled(counts map[refund.State]int) (settled, total int) {
	for st, n := range counts {
		total += n
		if st == "" || st.Settled() {
			settled += n
		}
	}
	return settled, total
}
