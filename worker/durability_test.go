package worker_test

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/refundq/refundq/internal/fpsim"
	"github.com/refundq/refundq/internal/refund"
	"github.com/refundq/refundq/internal/testenv"
	"github.com/refundq/refundq/producer"
)

// Refunds accepted before a Redis crash survive it (AOF, appendfsync
// always), and refunds in flight during the crash settle once.
func TestRedisRestartLosesNothing(t *testing.T) {
	// A slow settlement keeps refunds processing while Redis restarts.
	s := newStack(t, func(c *fpsim.Config) { c.StatusDelay = time.Second })
	ctx := context.Background()
	var before []string
	for i := 1; i <= 10; i++ {
		before = append(before, s.Enqueue(producer.Refund{IdempotencyKey: fmt.Sprintf("aof-%d", i),
			OrderID: fmt.Sprintf("order-%06d", 20+i), Amount: "2.00"}))
	}
	s.Redis.Restart()
	if len(s.Redis.AOFFiles()) == 0 {
		t.Fatal("no append-only files: the test did not run with AOF")
	}
	for _, id := range before {
		if rec, err := s.Store.Get(ctx, id); err != nil || rec.State != refund.Queued {
			t.Fatalf("%s after restart: %+v %v", id, rec, err)
		}
	}
	s.RunWorker(s.WorkerConfig())
	var during []string
	for i := 1; i <= 10; i++ {
		during = append(during, s.Enqueue(producer.Refund{IdempotencyKey: fmt.Sprintf("mid-%d", i),
			OrderID: fmt.Sprintf("order-%06d", 40+i), Amount: "3.00"}))
	}
	// The refunds accepted before the restart are sent first: wait until
	// some of these new ones are sent too, so they are in flight when Redis
	// goes down.
	testenv.WaitFor(t, 20*time.Second, "some refunds to reach the provider", func() bool {
		sent := 0
		for _, id := range during {
			if s.Ledger(id).Submissions > 0 {
				sent++
			}
		}
		return sent >= 3
	})
	s.Redis.Restart()
	processing := 0
	for _, id := range during {
		if rec, err := s.Store.Get(ctx, id); err == nil && !rec.State.Settled() && rec.State != refund.Queued {
			processing++
		}
	}
	if processing == 0 {
		t.Fatal("no refund was in flight across the restart; the test proves nothing")
	}
	for _, id := range append(before, during...) {
		// A task whose completion was lost to the restart waits for asynq's lease
		// recovery: 30s of lease and up to 60s to the next recoverer pass.
		wantState(t, s.WaitSettled(id, 150*time.Second), refund.Succeeded)
		if l := s.Ledger(id); l.Executions != 1 {
			t.Errorf("%s executed %d times", id, l.Executions)
		}
	}
	s.AuditClean()
}
