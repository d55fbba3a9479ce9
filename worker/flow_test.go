package worker_test

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/hibiken/asynq"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/shopspring/decimal"

	"github.com/refundq/refundq/internal/fpsim"
	"github.com/refundq/refundq/internal/freedompay"
	"github.com/refundq/refundq/internal/refund"
	"github.com/refundq/refundq/internal/tasks"
	"github.com/refundq/refundq/internal/testenv"
	"github.com/refundq/refundq/producer"
)

func TestFullAndPartialRefunds(t *testing.T) {
	s := newStack(t, nil)
	cfg := s.WorkerConfig()
	reg := prometheus.NewRegistry()
	cfg.Registerer = reg
	s.RunWorker(cfg)

	full := s.Enqueue(producer.Refund{IdempotencyKey: "full-1", OrderID: "order-000001", Description: "returned"})
	part1 := s.Enqueue(producer.Refund{IdempotencyKey: "part-1", TransactionID: "txn-000002", Amount: "250.00"})
	part2 := s.Enqueue(producer.Refund{IdempotencyKey: "part-2", TransactionID: "txn-000002", Amount: "300.5"})

	for _, id := range []string{full, part1, part2} {
		rec := s.WaitSettled(id, 20*time.Second)
		wantState(t, rec, refund.Succeeded)
		if rec.RequestStatus != freedompay.RequestSuccess || rec.Attempts != 1 || rec.Polls < 1 {
			t.Errorf("%s: request_status %q attempts %d polls %d", id, rec.RequestStatus, rec.Attempts, rec.Polls)
		}
		if l := s.Ledger(id); l.Executions != 1 || l.Submissions != 1 {
			t.Errorf("%s: ledger executions %d submissions %d, want 1/1", id, l.Executions, l.Submissions)
		}
		ev := s.EventTypes(id)
		if ev["accepted"] != 1 || ev["submit"] != 1 || ev["status"] < 2 {
			t.Errorf("%s: event log %v", id, ev)
		}
	}
	if got := s.ledgerTxn("txn-000001").Refunded; !got.Equal(decimal.NewFromInt(1000)) {
		t.Errorf("full refund: refunded %s, want 1000", got)
	}
	if got := s.ledgerTxn("txn-000002").Refunded; !got.Equal(decimal.RequireFromString("550.50")) {
		t.Errorf("partials: refunded %s, want 550.50", got)
	}
	s.AuditClean()
	if n := metricValue(t, reg, "refundq_refunds_terminal_total", "succeeded"); n != 3 {
		t.Errorf("refundq_refunds_terminal_total{succeeded} = %v, want 3", n)
	}
	// The first entry of the log names the refund by its ids.
	entries := s.Logs.FilterMessage("refund settled").All()
	if len(entries) != 3 {
		t.Fatalf("%d 'refund settled' logs, want 3", len(entries))
	}
	fields := entries[0].ContextMap()
	for _, k := range []string{"request_id", "order_id", "merchant"} {
		if _, ok := fields[k]; !ok {
			t.Errorf("log entry lacks %s: %v", k, fields)
		}
	}
}

func TestDuplicateEnqueue(t *testing.T) {
	s := newStack(t, nil)
	ctx := context.Background()
	r := producer.Refund{IdempotencyKey: "dup-1", OrderID: "order-000003", Amount: "10.00"}
	first, err := s.Producer.Enqueue(ctx, r)
	if err != nil || first.Duplicate {
		t.Fatalf("first enqueue: %+v %v", first, err)
	}
	again, err := s.Producer.Enqueue(ctx, r)
	if err != nil || !again.Duplicate || again.RequestID != first.RequestID {
		t.Fatalf("same parameters: %+v %v, want the existing refund", again, err)
	}
	r.Amount = "10" // same value, other spelling: still the same refund
	if rc, err := s.Producer.Enqueue(ctx, r); err != nil || !rc.Duplicate {
		t.Fatalf("same amount spelled 10: %+v %v", rc, err)
	}
	r.Amount = "11.00"
	if _, err := s.Producer.Enqueue(ctx, r); !errors.Is(err, producer.ErrConflict) {
		t.Fatalf("other amount: %v, want ErrConflict", err)
	}
	rec, err := s.Store.Get(ctx, first.RequestID)
	if err != nil || rec.Amount != "10.00" {
		t.Fatalf("the conflict must not change the record: %+v %v", rec, err)
	}
	// Exactly one task exists for the refund.
	n, err := s.RDB.LLen(ctx, "asynq:{refundq.interactive}:pending").Result()
	if err != nil || n != 1 {
		t.Fatalf("pending tasks: %d (%v), want 1", n, err)
	}
	s.RunWorker(s.WorkerConfig())
	wantState(t, s.WaitSettled(first.RequestID, 20*time.Second), refund.Succeeded)
	if l := s.Ledger(first.RequestID); l.Executions != 1 || l.Submissions != 1 {
		t.Fatalf("ledger %+v, want one submission and one execution", l)
	}
}

// A rejection that proves nothing was executed fails the refund after one
// attempt; it is never sent again.
func TestPermanentRejectionIsNotRetried(t *testing.T) {
	s := newStack(t, nil)
	s.RunWorker(s.WorkerConfig())
	for _, tc := range []struct {
		name string
		r    producer.Refund
		code string
	}{
		{"over-refund", producer.Refund{IdempotencyKey: "over-1", OrderID: "order-000004", Amount: "1000.01"}, "AMOUNT_EXCEEDED"},
		{"unknown transaction", producer.Refund{IdempotencyKey: "nope-1", TransactionID: "txn-999999"}, "TRANSACTION_NOT_FOUND"},
	} {
		// One stack serves every case, so the cases run in turn, not as
		// subtests: the stack's helpers fail the test that owns it.
		id := s.Enqueue(tc.r)
		rec := s.WaitSettled(id, 20*time.Second)
		wantState(t, rec, refund.Failed)
		if rec.ProviderCode != tc.code || rec.Attempts != 1 {
			t.Errorf("%s: code %q attempts %d, want %s after 1 attempt", tc.name, rec.ProviderCode, rec.Attempts, tc.code)
		}
		if l := s.Ledger(id); l.Executions != 0 || l.Submissions != 1 {
			t.Errorf("%s: ledger %+v, want one submission and no execution", tc.name, l)
		}
	}
}

func TestCommitThenDropIsReconciledToOneExecution(t *testing.T) {
	s := newStack(t, nil)
	s.RunWorker(s.WorkerConfig())
	r := producer.Refund{IdempotencyKey: "drop-1", OrderID: "order-000005", Amount: "99.99"}
	id := s.EnqueueScripted(r, "drop")
	rec := s.WaitSettled(id, 20*time.Second)
	wantState(t, rec, refund.Succeeded)
	l := s.Ledger(id)
	if l.Executions != 1 || l.Submissions != 1 {
		t.Fatalf("ledger %+v: want one execution and no resubmit after reconcile", l)
	}
	if ev := s.EventTypes(id); ev["ambiguous"] != 1 {
		t.Fatalf("event log %v lacks the ambiguous outcome", ev)
	}
	s.AuditClean()
}

func TestTimeouts(t *testing.T) {
	s := newStack(t, nil)
	cfg := s.timeouts(300*time.Millisecond, 2*time.Second)
	s.RunWorker(cfg)

	// Executed, then the reply never came: reconcile finds it.
	committed := producer.Refund{IdempotencyKey: "to-commit", OrderID: "order-000006", Amount: "5.00"}
	cid := s.ScriptRefund(committed, "timeout_commit")
	// Never reached the provider's books: reconcile sees no such request and
	// resubmits the same request_id, once not found has lasted the settle
	// window since the send.
	lost := producer.Refund{IdempotencyKey: "to-lost", OrderID: "order-000007", Amount: "6.00"}
	lid := s.ScriptRefund(lost, "timeout")
	s.Enqueue(committed)
	s.Enqueue(lost)

	rec := s.WaitSettled(cid, 20*time.Second)
	wantState(t, rec, refund.Succeeded)
	if l := s.Ledger(cid); l.Executions != 1 || l.Submissions != 1 {
		t.Errorf("committed timeout: ledger %+v, want 1 execution, 1 submission", l)
	}
	rec = s.WaitSettled(lid, 20*time.Second)
	wantState(t, rec, refund.Succeeded)
	if l := s.Ledger(lid); l.Executions != 1 || l.Submissions != 1 || rec.Attempts != 2 {
		t.Errorf("lost timeout: ledger %+v attempts %d, want 1 execution, 1 recorded submission, 2 attempts", l, rec.Attempts)
	}
	if sends := s.EventTimes(lid, "submit"); len(sends) != 2 || sends[1].Sub(sends[0]) < cfg.SettleWindow {
		t.Errorf("lost timeout: sends at %v, want a resend no sooner than the %s settle window", sends, cfg.SettleWindow)
	}
	s.AuditClean()
}

func TestPollsUntilError(t *testing.T) {
	s := newStack(t, func(c *fpsim.Config) {
		c.Transactions = append(c.Transactions, fpsim.Transaction{TransactionID: "txn-decline", OrderID: "order-decline",
			Amount: decimal.NewFromInt(50), Decline: true})
	})
	s.RunWorker(s.WorkerConfig())
	id := s.Enqueue(producer.Refund{IdempotencyKey: "decl-1", OrderID: "order-decline"})
	rec := s.WaitSettled(id, 20*time.Second)
	wantState(t, rec, refund.Failed)
	if rec.RequestStatus != freedompay.RequestError || rec.Polls < 1 {
		t.Fatalf("request_status %q polls %d, want error after polling", rec.RequestStatus, rec.Polls)
	}
}

func TestDeadlineMovesToNeedsAttention(t *testing.T) {
	s := newStack(t, func(c *fpsim.Config) { c.StatusDelay = time.Hour })
	cfg := s.WorkerConfig()
	cfg.Deadline = time.Second
	reg := prometheus.NewRegistry()
	cfg.Registerer = reg
	s.RunWorker(cfg)
	id := s.Enqueue(producer.Refund{IdempotencyKey: "slow-1", OrderID: "order-000008", Amount: "1.00"})
	rec := s.WaitSettled(id, 20*time.Second)
	wantState(t, rec, refund.NeedsAttention)
	if !strings.Contains(rec.Reason, "not settled") || rec.RequestStatus != freedompay.RequestProcess {
		t.Fatalf("reason %q request_status %q, want the deadline while processing", rec.Reason, rec.RequestStatus)
	}
	if n := metricValue(t, reg, "refundq_needs_attention_total", ""); n != 1 {
		t.Fatalf("refundq_needs_attention_total = %v, want 1", n)
	}
	testenv.WaitFor(t, 5*time.Second, "the needs_attention gauge", func() bool {
		return metricValue(t, reg, "refundq_refunds", "needs_attention") == 1
	})
}

func TestProviderDuplicateLeadsToPolling(t *testing.T) {
	s := newStack(t, nil)
	r := producer.Refund{IdempotencyKey: "seen-1", OrderID: "order-000009", Amount: "7.00"}
	id := refund.DeriveRequestID(refund.DefaultMerchant, r.IdempotencyKey)
	// An earlier submission reached the provider, but the record says queued
	// (as after a Redis that lost its last write).
	amount := decimal.RequireFromString("7.00")
	if _, err := s.Client.Refund(context.Background(), freedompay.RefundRequest{RequestID: id, OrderID: "order-000009", Amount: &amount}); err != nil {
		t.Fatal(err)
	}
	s.Enqueue(r)
	s.RunWorker(s.WorkerConfig())
	rec := s.WaitSettled(id, 20*time.Second)
	wantState(t, rec, refund.Succeeded)
	if ev := s.EventTypes(id); ev["duplicate"] != 1 {
		t.Fatalf("events %v: want the duplicate rejection recorded", ev)
	}
	if l := s.Ledger(id); l.Executions != 1 || l.Submissions != 2 {
		t.Fatalf("ledger %+v, want 1 execution of 2 submissions", l)
	}
}

// A record written by a newer refundq is left alone, never finished: this
// worker cannot know what its fields mean.
func TestARecordFromANewerRefundqIsLeftAlone(t *testing.T) {
	s := newStack(t, nil)
	id := s.Enqueue(producer.Refund{IdempotencyKey: "newer", OrderID: "order-000066", Amount: "5.00"})
	testenv.Must(t, s.RDB.HSet(context.Background(), "refundq:{"+id+"}", "v", "99").Err())
	s.RunWorker(s.WorkerConfig())
	insp := asynq.NewInspectorFromRedisClient(s.RDB)
	testenv.WaitFor(t, 10*time.Second, "the worker to leave the task for a newer one", func() bool {
		info, err := insp.GetTaskInfo(tasks.QueueInteractive, tasks.SubmitID(id))
		return err == nil && strings.Contains(info.LastErr, "newer")
	})
	if n := len(s.Sim.Ledger().Requests); n != 0 {
		t.Fatalf("the provider saw %d requests", n)
	}
	if rec, err := s.Store.Get(context.Background(), id); err != nil || rec.Version != 99 {
		t.Fatalf("record %+v %v", rec, err)
	}
}
