package producer_test

import (
	"context"
	"fmt"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/shopspring/decimal"

	"github.com/refundq/refundq/internal/fpsim"
	"github.com/refundq/refundq/internal/refund"
	"github.com/refundq/refundq/internal/store"
	"github.com/refundq/refundq/internal/testenv"
	"github.com/refundq/refundq/producer"
	"github.com/refundq/refundq/worker"
)

// A refund from a checkout backend, enqueued behind a large bulk batch,
// settles while most of the batch still waits: bulk work has its own,
// low-weight queue. With one shared FIFO queue it would be last.
func TestInteractiveRefundOvertakesABulkBatch(t *testing.T) {
	const batchRows = 3000
	ctx := context.Background()
	r := testenv.StartRedis(t)
	rdb := r.Client()
	sim := fpsim.New(fpsim.Config{
		Credentials:  map[string]string{"prio-merchant": "prio-signing-secret"},
		StatusDelay:  50 * time.Millisecond,
		Transactions: fpsim.GenerateTransactions(batchRows+1, decimal.NewFromInt(100)),
		Seed:         3,
	})
	srv := httptest.NewServer(sim.Handler())
	t.Cleanup(srv.Close)
	client, err := worker.CardAPI("prio-merchant", "prio-signing-secret", srv.URL)
	testenv.Must(t, err)

	p := producer.NewFromClient(rdb)
	rows := make([]producer.Refund, batchRows)
	for i := range rows {
		rows[i] = producer.Refund{OrderID: fmt.Sprintf("order-%06d", i+1), Amount: "1.00"}
	}
	rep, err := p.EnqueueBatch(ctx, "big-batch", producer.Rows(rows))
	testenv.Must(t, err)
	if rep.Accepted != batchRows {
		t.Fatalf("batch %+v", rep)
	}
	rc, err := p.Enqueue(ctx, producer.Refund{IdempotencyKey: "checkout-1", OrderID: fmt.Sprintf("order-%06d", batchRows+1), Amount: "5.00"})
	testenv.Must(t, err)

	// The worker starts with the whole batch ahead of the refund.
	w, err := worker.New(worker.Config{
		Redis: rdb, Providers: worker.SingleProvider(client), Registerer: prometheus.NewRegistry(),
		Concurrency: 2, ProviderTimeout: 5 * time.Second, ShutdownTimeout: 5 * time.Second,
		PollSchedule: []time.Duration{100 * time.Millisecond}, DelayedTaskCheckInterval: 100 * time.Millisecond,
		SweepInterval: -1,
	})
	testenv.Must(t, err)
	wctx, cancel := context.WithCancel(ctx)
	done := make(chan error, 1)
	go func() { done <- w.Run(wctx) }()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("worker: %v", err)
		}
	})

	s := store.New(rdb)
	deadline := time.Now().Add(60 * time.Second)
	for {
		rec, err := s.Get(ctx, rc.RequestID)
		testenv.Must(t, err)
		if rec.State.Settled() {
			if rec.State != refund.Succeeded {
				t.Fatalf("interactive refund settled as %s (%s)", rec.State, rec.Reason)
			}
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("interactive refund still %s after 60s", rec.State)
		}
		time.Sleep(20 * time.Millisecond)
	}
	open := unsettledInBatch(t, s, "big-batch")
	if open <= batchRows/2 {
		t.Errorf("only %d of %d batch refunds were unsettled when the interactive one succeeded; "+
			"it waited behind the batch", open, batchRows)
	}
	t.Logf("interactive refund succeeded with %d of %d batch refunds unsettled", open, batchRows)
}

func unsettledInBatch(t *testing.T, s *store.Redis, id string) int {
	t.Helper()
	ids, err := s.ByBatch(context.Background(), id)
	testenv.Must(t, err)
	states, err := s.States(context.Background(), ids)
	testenv.Must(t, err)
	open := 0
	for _, st := range states {
		if !st.Settled() {
			open++
		}
	}
	return open
}
