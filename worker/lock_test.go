package worker_test

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/hibiken/asynq"

	"github.com/refundq/refundq/internal/fpsim"
	"github.com/refundq/refundq/internal/refund"
	"github.com/refundq/refundq/internal/tasks"
	"github.com/refundq/refundq/internal/testenv"
	"github.com/refundq/refundq/producer"
)

// A refund whose lock is held by someone else (a handler asynq gave up on
// that is still running) is not submitted until the lock is free.
func TestLockKeepsASecondRunnerOut(t *testing.T) {
	s := newStack(t, nil)
	ctx := context.Background()
	r := producer.Refund{IdempotencyKey: "locked-1", OrderID: "order-000010", Amount: "3.00"}
	id := refund.DeriveRequestID(refund.DefaultMerchant, r.IdempotencyKey)
	token, ok, err := s.Store.Lock(ctx, id, time.Minute)
	if err != nil || !ok {
		t.Fatalf("lock: %v %v", ok, err)
	}
	s.Enqueue(r)
	s.RunWorker(s.WorkerConfig())
	insp := asynq.NewInspectorFromRedisClient(s.RDB)
	testenv.WaitFor(t, 10*time.Second, "the worker to meet the held lock", func() bool {
		info, err := insp.GetTaskInfo(tasks.QueueInteractive, id)
		return err == nil && strings.Contains(info.LastErr, "another worker holds")
	})
	if l := s.Ledger(id); l.Submissions != 0 {
		t.Fatalf("submitted while the lock was held: %+v", l)
	}
	if rec, _ := s.Store.Get(ctx, id); rec.State != refund.Queued {
		t.Fatalf("state %s while locked, want queued", rec.State)
	}
	if info, _ := insp.GetTaskInfo(tasks.QueueInteractive, id); info.Retried != 0 {
		t.Fatalf("waiting for the lock used %d of the retry budget", info.Retried)
	}
	testenv.Must(t, s.Store.Unlock(ctx, id, token))
	wantState(t, s.WaitSettled(id, 20*time.Second), refund.Succeeded)
	if l := s.Ledger(id); l.Executions != 1 {
		t.Fatalf("ledger %+v", l)
	}
}

// Two workers on one Redis, with replies dropped after commit and 5xx
// faults that commit, never execute a refund twice.
func TestTwoWorkersUnderFaultsExecuteEachRefundOnce(t *testing.T) {
	s := newStack(t, func(c *fpsim.Config) {
		c.Faults = fpsim.Faults{RateDrop: 0.15, Rate5xx: 0.1, CommitOnFault: true, Rate429: 0.05}
	})
	s.RunWorker(s.WorkerConfig())
	s.RunWorker(s.WorkerConfig())
	var ids []string
	for i := 1; i <= 60; i++ {
		ids = append(ids, s.Enqueue(producer.Refund{IdempotencyKey: fmt.Sprintf("pair-%d", i),
			OrderID: fmt.Sprintf("order-%06d", 100+i), Amount: "12.34"}))
	}
	for _, id := range ids {
		rec := s.WaitSettled(id, 60*time.Second)
		wantState(t, rec, refund.Succeeded)
		if l := s.Ledger(id); l.Executions != 1 {
			t.Errorf("%s executed %d times", id, l.Executions)
		}
	}
	s.AuditClean()
}
