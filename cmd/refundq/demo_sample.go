package main

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/refundq/refundq/internal/refund"
	"github.com/refundq/refundq/internal/store"
	"github.com/refundq/refundq/producer"
)

type sample struct {
	what  string
	r     producer.Refund
	fault string // scripted on the simulator for the refund call
}

func demoSample() []sample {
	return []sample{
		{what: "full refund of an order", r: producer.Refund{IdempotencyKey: "shop-1001-full", OrderID: "order-000001", Description: "Order 1001 returned"}},
		{what: "partial refund by transaction", r: producer.Refund{IdempotencyKey: "shop-1002-part1", TransactionID: "txn-000002", Amount: "250.00", Description: "One item returned"}},
		{what: "second partial refund", r: producer.Refund{IdempotencyKey: "shop-1002-part2", TransactionID: "txn-000002", Amount: "300.50"}},
		{what: "over-refund (must fail)", r: producer.Refund{IdempotencyKey: "shop-1003-over", OrderID: "order-000003", Amount: "5000.00"}},
		{what: "reply dropped after commit", r: producer.Refund{IdempotencyKey: "shop-1004-drop", OrderID: "order-000004", Amount: "99.99"}, fault: "drop"},
		// The provider's worst day: the reply is lost, the refund executes a
		// second after the client gave up while the duplicate check does not
		// hold its request_id yet, and request status lags two seconds more.
		// A resend on the first "not found" would pay twice.
		{what: "late commit, lagging status", r: producer.Refund{IdempotencyKey: "shop-1006-late", TransactionID: "txn-000006", Amount: "40.00"},
			fault: "late_commit_race=1s+status_lag=2s"},
	}
}

// enqueueSample enqueues the sample, then shows the two duplicate cases and
// one invalid input, and returns the accepted request_ids in order.
func enqueueSample(ctx context.Context, e *env, st *demoStack) ([]string, error) {
	p := producer.NewFromClient(st.rdb, producer.WithSource("demo"))
	var ids []string
	for _, s := range demoSample() {
		if s.fault != "" {
			// The id is derived, so the fault can be armed before enqueue.
			st.sim.Script("refund", refund.DeriveRequestID(refund.DefaultMerchant, s.r.IdempotencyKey), s.fault)
		}
		rc, err := p.Enqueue(ctx, s.r)
		if err != nil {
			return nil, fmt.Errorf("enqueue %q: %w", s.what, err)
		}
		ids = append(ids, rc.RequestID)
		fmt.Fprintf(e.stdout, "enqueued  %s  %-30s\n", rc.RequestID, s.what)
	}
	first := demoSample()[1].r
	rc, err := p.Enqueue(ctx, first)
	if err != nil || !rc.Duplicate {
		return nil, fmt.Errorf("duplicate enqueue should return the existing refund: %+v %v", rc, err)
	}
	fmt.Fprintf(e.stdout, "duplicate %s  same key, same parameters: existing refund returned, nothing queued\n", rc.RequestID)
	changed := first
	changed.Amount = "260.00"
	if _, err := p.Enqueue(ctx, changed); !errors.Is(err, producer.ErrConflict) {
		return nil, fmt.Errorf("changed parameters should conflict, got %v", err)
	}
	fmt.Fprintf(e.stdout, "conflict  %s  same key, other amount: rejected with ErrConflict\n", rc.RequestID)
	_, err = p.Enqueue(ctx, producer.Refund{IdempotencyKey: "shop-1005", OrderID: "order-000005", Amount: "12.345"})
	fmt.Fprintf(e.stdout, "invalid   %s\n\n", err)
	var invalid *producer.ValidationError
	if !errors.As(err, &invalid) {
		return nil, fmt.Errorf("invalid amount should be a validation error, got %v", err)
	}
	return ids, nil
}

// followProgress prints every state change until all refunds settle or
// ctx ends, and reports whether they all settled.
func followProgress(ctx context.Context, e *env, s *store.Redis, ids []string) bool {
	last := map[string]refund.State{}
	start := time.Now()
	t := time.NewTicker(100 * time.Millisecond)
	defer t.Stop()
	for {
		settled := 0
		for _, id := range ids {
			rec, err := s.Get(ctx, id)
			if err != nil {
				continue
			}
			if rec.State != last[id] {
				last[id] = rec.State
				fmt.Fprintf(e.stdout, "%6.1fs  %s  %s\n", time.Since(start).Seconds(), id[:8], describe(rec))
			}
			if rec.State.Settled() {
				settled++
			}
		}
		if settled == len(ids) {
			return true
		}
		select {
		case <-ctx.Done():
			return false
		case <-t.C:
		}
	}
}

func describe(rec *refund.Record) string {
	parts := []string{string(rec.State)}
	if rec.RequestStatus != "" {
		parts = append(parts, "request_status="+rec.RequestStatus)
	}
	if rec.ProviderCode != "" {
		parts = append(parts, "code="+rec.ProviderCode)
	}
	return strings.Join(parts, " ")
}
