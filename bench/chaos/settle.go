package main

import (
	"context"
	"fmt"
	"sort"
	"strings"
	"sync"
	"time"

	"golang.org/x/sync/errgroup"

	"github.com/refundq/refundq/internal/refund"
	"github.com/refundq/refundq/internal/store"
)

// loadRecords reads the records of ids, missing ones left out.
func loadRecords(ctx context.Context, st *store.Redis, ids []string) (map[string]*refund.Record, error) {
	out := make(map[string]*refund.Record, len(ids))
	var mu sync.Mutex
	g, ctx := errgroup.WithContext(ctx)
	g.SetLimit(16)
	for _, id := range ids {
		g.Go(func() error {
			rec, err := st.Get(ctx, id)
			if err == store.ErrNotFound {
				return nil
			}
			if err != nil {
				return err
			}
			mu.Lock()
			out[id] = rec
			mu.Unlock()
			return nil
		})
	}
	return out, g.Wait()
}

// waitSettled polls the records until every one of ids is terminal or
// needs_attention, or timeout passes. A settled refund stays settled
// without an operator, so each pass only looks at the ones still open.
func waitSettled(ctx context.Context, rec *recorder, st *store.Redis, ids []string, timeout time.Duration) ([]string, error) {
	open := ids
	deadline := time.Now().Add(timeout)
	lastLog := time.Time{}
	for {
		recs, err := loadRecords(ctx, st, open)
		if err != nil {
			return open, err
		}
		open = stillOpen(open, recs)
		if len(open) == 0 {
			return nil, nil
		}
		if time.Since(lastLog) >= 10*time.Second {
			rec.logf("waiting for %d refunds to settle: %s", len(open), stateSummary(open, recs))
			lastLog = time.Now()
		}
		if time.Now().After(deadline) {
			return open, nil
		}
		select {
		case <-ctx.Done():
			return open, ctx.Err()
		case <-time.After(time.Second):
		}
	}
}

func stillOpen(ids []string, recs map[string]*refund.Record) []string {
	var open []string
	for _, id := range ids {
		if r, ok := recs[id]; !ok || !r.State.Settled() {
			open = append(open, id)
		}
	}
	return open
}

// stateSummary is "processing 12, unknown 3" for the open refunds.
func stateSummary(ids []string, recs map[string]*refund.Record) string {
	n := map[string]int{}
	for _, id := range ids {
		s := "missing"
		if r, ok := recs[id]; ok {
			s = string(r.State)
		}
		n[s]++
	}
	parts := make([]string, 0, len(n))
	for s, c := range n {
		parts = append(parts, fmt.Sprintf("%s %d", s, c))
	}
	sort.Strings(parts)
	return strings.Join(parts, ", ")
}
