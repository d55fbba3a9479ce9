package operator_test

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/hibiken/asynq"
	"github.com/shopspring/decimal"

	"github.com/refundq/refundq/internal/operator"
	"github.com/refundq/refundq/internal/refund"
	"github.com/refundq/refundq/internal/store"
	"github.com/refundq/refundq/internal/tasks"
	"github.com/refundq/refundq/internal/testenv"
	"github.com/refundq/refundq/producer"
	"github.com/refundq/refundq/worker"
)

// heldBatch imports n refunds of 10.00 as batch id, held, made by maker.
func (f *fixture) heldBatch(id, maker string, from, n int) []string {
	f.T.Helper()
	rows := make([]producer.Refund, n)
	for i := range rows {
		rows[i] = producer.Refund{OrderID: fmt.Sprintf("order-%06d", from+i), Amount: "10.00"}
	}
	rep, err := f.Producer.EnqueueBatch(context.Background(), id, producer.Rows(rows),
		producer.BatchHold(producer.Hold{All: true, By: maker, Reason: "held on import by " + maker}))
	testenv.Must(f.T, err)
	if rep.Accepted != n {
		f.T.Fatalf("accepted %d of %d", rep.Accepted, n)
	}
	ids, err := f.Store.ByBatch(context.Background(), id)
	testenv.Must(f.T, err)
	return ids
}

// startSweepingWorker is startWorker with the sweep on, every 20ms.
func (f *fixture) startSweepingWorker() {
	f.T.Helper()
	cfg := f.WorkerConfig()
	cfg.Concurrency, cfg.ProviderTimeout, cfg.ShutdownTimeout = 4, 2*time.Second, 3*time.Second
	cfg.PollSchedule, cfg.Deadline, cfg.Now = []time.Duration{50 * time.Millisecond}, time.Hour, f.clock.Now
	cfg.DelayedTaskCheckInterval, cfg.SweepInterval = 50*time.Millisecond, 20*time.Millisecond
	cfg.SettleWindow, cfg.Protection = 0, worker.Protection{}
	f.RunWorker(cfg)
}

func (f *fixture) hasEvent(id, typ, detail string) bool {
	f.T.Helper()
	evs, err := f.Store.Events(context.Background(), id)
	testenv.Must(f.T, err)
	for _, e := range evs {
		if e.Type == typ && strings.Contains(e.Detail, detail) {
			return true
		}
	}
	return false
}

// A held batch has no task and reaches no provider while workers run and
// sweep, long past the point where a sweep restores a stranded refund.
// Its maker cannot approve it under any spelling of the name; another
// approver can, and every refund then succeeds once, with the approval
// on its event log and on the batch.
func TestHeldBatchWaitsForAnotherApprover(t *testing.T) {
	f := newFixture(t, 0)
	ids := f.heldBatch("held-1", "alice", 12, 5)
	insp := asynq.NewInspectorFromRedisClient(f.RDB)
	for _, id := range ids {
		if got := f.Get(id); got.State != refund.Held || got.HeldBy != "alice" {
			t.Fatalf("%s: %s held by %q, want held by alice", id, got.State, got.HeldBy)
		}
		if _, err := insp.GetTaskInfo(tasks.QueueBulk, tasks.SubmitID(id)); !errors.Is(err, asynq.ErrTaskNotFound) && !errors.Is(err, asynq.ErrQueueNotFound) {
			t.Fatalf("%s: a held refund has a submit task (%v)", id, err)
		}
		if !f.hasEvent(id, "accepted", "held for approval, created by alice") {
			t.Errorf("%s: no held acceptance on the event log", id)
		}
	}
	meta, err := f.Store.Batch(context.Background(), "held-1")
	testenv.Must(t, err)
	if !meta.Held || meta.Counts[refund.Held] != 5 || len(meta.Makers) != 1 || meta.Makers[0] != "alice" {
		t.Fatalf("batch meta: held %v, counts %v, makers %v", meta.Held, meta.Counts, meta.Makers)
	}

	f.startSweepingWorker()
	f.clock.Advance(time.Hour) // every refund is long stale for the sweep
	control := f.enqueue(1)
	f.waitState(control, refund.Succeeded)
	stale, err := f.Store.ListStale(context.Background(), refund.Queued, f.clock.Now(), 10)
	testenv.Must(t, err)
	if len(stale) != 0 {
		t.Fatalf("queued refunds left: %v", stale)
	}
	for _, id := range ids {
		if l := f.Ledger(id); l.Submissions != 0 || f.Get(id).State != refund.Held {
			t.Fatalf("%s reached the provider (%d) or moved (%s) before approval", id, l.Submissions, f.Get(id).State)
		}
	}

	for _, who := range []string{"alice", "ALICE"} {
		var me *store.MakerError
		if _, err := f.op.ApproveBatch(context.Background(), "held-1", who); !errors.As(err, &me) {
			t.Fatalf("approval by %s: %v, want a MakerError", who, err)
		}
	}
	if _, err := f.op.ApproveBatch(context.Background(), "held-1", ""); !errors.Is(err, operator.ErrNoIdentity) {
		t.Fatalf("approval without a name: %v", err)
	}
	d, err := f.op.ApproveBatch(context.Background(), "held-1", "bob")
	testenv.Must(t, err)
	if d.Moved != 5 || d.Again {
		t.Fatalf("approval: %+v, want 5 moved", d)
	}
	for _, id := range ids {
		f.waitState(id, refund.Succeeded)
		if l := f.Ledger(id); l.Executions != 1 {
			t.Errorf("%s: %d executions", id, l.Executions)
		}
		if !f.hasEvent(id, "approved", "approved by bob (batch held-1)") {
			t.Errorf("%s: no approval on the event log", id)
		}
	}
	meta, err = f.Store.Batch(context.Background(), "held-1")
	testenv.Must(t, err)
	if meta.ApprovedBy != "bob" || meta.ApprovedAt.IsZero() || meta.Counts[refund.Succeeded] != 5 || meta.Counts[refund.Held] != 0 {
		t.Fatalf("batch after approval: by %q at %v, counts %v", meta.ApprovedBy, meta.ApprovedAt, meta.Counts)
	}
	var de *store.DecidedError
	if _, err := f.op.RejectBatch(context.Background(), "held-1", "carol"); !errors.As(err, &de) || de.By != "bob" {
		t.Fatalf("rejection after approval: %v, want a DecidedError naming bob", err)
	}
	f.AuditClean()
}

// Rejection cancels every held refund; none is ever sent.
func TestRejectedBatchIsCanceled(t *testing.T) {
	f := newFixture(t, 0)
	ids := f.heldBatch("held-2", "alice", 17, 3)
	d, err := f.op.RejectBatch(context.Background(), "held-2", "bob")
	testenv.Must(t, err)
	if d.Moved != 3 {
		t.Fatalf("rejection: %+v", d)
	}
	f.startWorker(time.Hour)
	f.waitState(f.enqueue(2), refund.Succeeded)
	for _, id := range ids {
		rec := f.Get(id)
		if rec.State != refund.Canceled || !strings.Contains(rec.Reason, "rejected by bob") {
			t.Errorf("%s: %s (%q), want canceled, rejected by bob", id, rec.State, rec.Reason)
		}
		if !f.hasEvent(id, "rejected", "rejected by bob") || f.Ledger(id).Submissions != 0 {
			t.Errorf("%s: event or submissions wrong", id)
		}
	}
	var de *store.DecidedError
	if _, err := f.op.ApproveBatch(context.Background(), "held-2", "carol"); !errors.As(err, &de) {
		t.Fatalf("approval after rejection: %v, want a DecidedError", err)
	}
}

// An approval cut short after moving refunds to queued, before their
// tasks were written, is finished by approving again: nothing is left
// without a task, even with the sweep off.
func TestApprovalResumes(t *testing.T) {
	f := newFixture(t, 0)
	ids := f.heldBatch("held-3", "alice", 3, 4)
	// What a crash mid-approval leaves: the decision, two refunds queued
	// without tasks, two still held.
	_, err := f.Store.DecideBatch(context.Background(), "held-3", store.Approved, "bob")
	testenv.Must(t, err)
	for _, id := range ids[:2] {
		_, err := f.Store.Transition(context.Background(), id, store.Change{From: []refund.State{refund.Held}, To: refund.Queued, Event: "approved"})
		testenv.Must(t, err)
	}
	d, err := f.op.ApproveBatch(context.Background(), "held-3", "carol")
	testenv.Must(t, err)
	if !d.Again || d.Moved != 2 || d.Repaired != 2 {
		t.Fatalf("resumed approval: %+v, want again, 2 moved, 2 repaired", d)
	}
	f.startWorker(time.Hour)
	for _, id := range ids {
		f.waitState(id, refund.Succeeded)
	}
	f.AuditClean()
}

// A single refund over the threshold is held on its own and approved on
// its own; one under it is queued at once. A submit task made by hand for
// a held refund sends nothing.
func TestSingleRefundHeldOverThreshold(t *testing.T) {
	f := newFixture(t, 0)
	h := producer.EnqueueHold(producer.Hold{Above: decimal.NewFromInt(50), By: "alice"})
	big, err := f.Producer.Enqueue(context.Background(), producer.Refund{IdempotencyKey: "big", OrderID: "order-000010", Amount: "60.00"}, h)
	testenv.Must(t, err)
	small, err := f.Producer.Enqueue(context.Background(), producer.Refund{IdempotencyKey: "small", OrderID: "order-000011", Amount: "50.00"}, h)
	testenv.Must(t, err)
	if big.State != producer.Held || small.State != producer.Queued {
		t.Fatalf("states %s and %s, want held and queued", big.State, small.State)
	}
	task, opts := tasks.Submit(big.RequestID, refund.DefaultMerchant, tasks.QueueInteractive)
	testenv.Must(t, tasks.Enqueue(context.Background(), asynq.NewClientFromRedisClient(f.RDB), task, opts))
	f.startWorker(time.Hour)
	f.waitState(small.RequestID, refund.Succeeded)
	testenv.WaitFor(t, 10*time.Second, "the stray task to finish", func() bool {
		ok, err := tasks.Runnable(asynq.NewInspectorFromRedisClient(f.RDB), tasks.QueueInteractive, big.RequestID)
		return err == nil && !ok
	})
	if rec := f.Get(big.RequestID); rec.State != refund.Held || f.Ledger(big.RequestID).Submissions != 0 {
		t.Fatalf("held refund: %s, %d submissions", rec.State, f.Ledger(big.RequestID).Submissions)
	}
	if _, err := f.op.ApproveRefund(context.Background(), big.RequestID, "Alice"); !errors.Is(err, operator.ErrSameIdentity) {
		t.Fatalf("approval by its creator: %v", err)
	}
	var se *operator.StateError
	if _, err := f.op.ApproveRefund(context.Background(), small.RequestID, "bob"); !errors.As(err, &se) {
		t.Fatalf("approval of a refund that is not held: %v", err)
	}
	_, err = f.op.ApproveRefund(context.Background(), big.RequestID, "bob")
	testenv.Must(t, err)
	f.waitState(big.RequestID, refund.Succeeded)
	if !f.hasEvent(big.RequestID, "approved", "approved by bob (this refund)") {
		t.Error("no approval on the event log")
	}
	f.AuditClean()
}

// Rows added to a held batch without asking for a hold (an interrupted
// held import run again without --hold, or a later upload under the same
// id) are held too; a decided batch takes no new rows; and one refund of a
// batch held as a whole cannot be decided alone, so a rejected batch never
// has a sent refund.
func TestAHeldBatchHoldsEveryRowAddedToIt(t *testing.T) {
	f := newFixture(t, 0)
	ctx := context.Background()
	first := f.heldBatch("held-9", "alice", 40, 2)
	more := []producer.Refund{{OrderID: "order-000050", Amount: "10.00"}}
	rep, err := f.Producer.EnqueueBatch(ctx, "held-9", producer.Rows(more))
	testenv.Must(t, err)
	if rep.Accepted != 1 {
		t.Fatalf("the added row: %+v", rep)
	}
	ids, err := f.Store.ByBatch(ctx, "held-9")
	testenv.Must(t, err)
	for _, id := range ids {
		if rec := f.Get(id); rec.State != refund.Held {
			t.Fatalf("%s of the held batch is %s", id, rec.State)
		}
	}
	var se *operator.StateError
	if _, err := f.op.ApproveRefund(ctx, first[0], "bob"); !errors.As(err, &se) || !strings.Contains(se.Hint, "decide the batch") {
		t.Fatalf("approving one refund of a batch held as a whole: %v", err)
	}
	_, err = f.op.RejectBatch(ctx, "held-9", "bob")
	testenv.Must(t, err)
	late := []producer.Refund{{OrderID: "order-000051", Amount: "10.00"}}
	if _, err := f.Producer.EnqueueBatch(ctx, "held-9", producer.Rows(late)); !errors.Is(err, producer.ErrBatchDecided) {
		t.Fatalf("a row into a rejected batch: %v", err)
	}
	f.startWorker(time.Hour)
	f.waitState(f.enqueue(3), refund.Succeeded)
	for _, id := range ids {
		if rec := f.Get(id); rec.State != refund.Canceled || f.Ledger(id).Submissions != 0 {
			t.Errorf("%s: %s, %d submissions", id, rec.State, f.Ledger(id).Submissions)
		}
	}
}
