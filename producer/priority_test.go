package producer_test

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/shopspring/decimal"

	"github.com/refundq/refundq/internal/fpsim"
	"github.com/refundq/refundq/internal/refund"
	"github.com/refundq/refundq/internal/store"
	"github.com/refundq/refundq/internal/testenv"
	"github.com/refundq/refundq/internal/teststack"
	"github.com/refundq/refundq/producer"
)

// A refund from a checkout backend, enqueued behind a large bulk batch,
// settles while most of the batch still waits: bulk work has its own,
// low-weight queue. With one shared FIFO queue it would be last.
func TestInteractiveRefundOvertakesABulkBatch(t *testing.T) {
	const batchRows = 3000
	ctx := context.Background()
	s := teststack.New(t, teststack.WithSim(func(c *fpsim.Config) {
		c.StatusDelay, c.Seed = 50*time.Millisecond, 3
		c.Transactions = fpsim.GenerateTransactions(batchRows+1, decimal.NewFromInt(100))
	}))
	rows := make([]producer.Refund, batchRows)
	for i := range rows {
		rows[i] = producer.Refund{OrderID: fmt.Sprintf("order-%06d", i+1), Amount: "1.00"}
	}
	rep, err := s.Producer.EnqueueBatch(ctx, "big-batch", producer.Rows(rows))
	testenv.Must(t, err)
	if rep.Accepted != batchRows {
		t.Fatalf("batch %+v", rep)
	}
	id := s.Enqueue(producer.Refund{IdempotencyKey: "checkout-1", OrderID: fmt.Sprintf("order-%06d", batchRows+1), Amount: "5.00"})

	// The worker starts with the whole batch ahead of the refund.
	cfg := s.WorkerConfig()
	cfg.Concurrency, cfg.ProviderTimeout, cfg.ShutdownTimeout = 2, 5*time.Second, 5*time.Second
	cfg.PollSchedule, cfg.DelayedTaskCheckInterval = []time.Duration{100 * time.Millisecond}, 100*time.Millisecond
	s.RunWorker(cfg)

	if rec := s.WaitSettled(id, 60*time.Second); rec.State != refund.Succeeded {
		t.Fatalf("interactive refund settled as %s (%s)", rec.State, rec.Reason)
	}
	open := unsettledInBatch(t, s.Store, "big-batch")
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
