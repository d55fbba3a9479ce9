package operator_test

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/hibiken/asynq"

	"github.com/refundq/refundq/internal/freedompay"
	"github.com/refundq/refundq/internal/lifecycle"
	"github.com/refundq/refundq/internal/operator"
	"github.com/refundq/refundq/internal/refund"
	"github.com/refundq/refundq/internal/tasks"
	"github.com/refundq/refundq/internal/testenv"
	"github.com/refundq/refundq/producer"
)

// A refund that reached its deadline while the provider still had it in
// process goes back to work with retry, settles by status under its own
// request_id and is executed exactly once. The retry restarts the deadline:
// without that, the worker would park it again before asking the provider.
func TestRetryNeedsAttentionSucceedsOnce(t *testing.T) {
	f := newFixture(t, 3*time.Hour)
	f.startWorker(time.Hour)
	id := f.enqueue(1)
	f.waitState(id, refund.Processing)

	f.clock.Advance(2 * time.Hour) // past the worker's deadline, short of settlement
	f.waitState(id, refund.NeedsAttention)
	f.clock.Advance(2 * time.Hour) // the provider settles it now

	r, err := f.op.Retry(context.Background(), id, "tester")
	testenv.Must(t, err)
	// The provider acknowledged it (process), so retry only resumes polling.
	if r.Record.State != refund.Processing || r.Record.RequestID != id {
		t.Fatalf("after retry: %s %s, want %s processing", r.Record.RequestID, r.Record.State, id)
	}
	rec := f.waitState(id, refund.Succeeded)
	if rec.RequestStatus != freedompay.RequestSuccess {
		t.Errorf("request_status %q", rec.RequestStatus)
	}
	if l := f.Ledger(id); l.Executions != 1 || l.Submissions != 1 {
		t.Errorf("ledger: %d executions, %d submissions; want 1 and 1", l.Executions, l.Submissions)
	}
	if n := f.EventTypes(id)["operator_retry"]; n != 1 {
		t.Errorf("%d operator_retry events, want 1", n)
	}
	f.AuditClean()
}

// A refund the provider never received is resubmitted by the poll chain
// after a retry, with the same request_id, once request status has said
// "not found" for the whole settle window, and not before.
func TestRetryUnknownNeverSentResubmitsSameID(t *testing.T) {
	f := newFixture(t, 0)
	id := f.enqueue(2)
	f.Move(id, refund.Queued, refund.Submitting, refund.Unknown)
	testenv.Must(t, deleteSubmitTask(f, id))

	_, err := f.op.Retry(context.Background(), id, "tester")
	testenv.Must(t, err)
	f.startWorker(time.Hour)
	testenv.WaitFor(t, 15*time.Second, "a not-found answer", func() bool { return !f.Get(id).NotFoundSince.IsZero() })
	if l := f.Ledger(id); l.Submissions != 0 {
		t.Fatalf("resent %d times inside the settle window", l.Submissions)
	}
	f.clock.Advance(lifecycle.DefaultSettleWindow)
	f.waitState(id, refund.Succeeded)
	if l := f.Ledger(id); l.Executions != 1 {
		t.Errorf("ledger: %d executions of %s, want 1", l.Executions, id)
	}
	if n := len(f.Sim.Ledger().Requests); n != 1 {
		t.Errorf("provider saw %d request_ids, want only %s", n, id)
	}
	f.AuditClean()
}

func deleteSubmitTask(f *fixture, id string) error {
	insp := asynq.NewInspectorFromRedisClient(f.RDB)
	return insp.DeleteTask(tasks.QueueInteractive, tasks.SubmitID(id))
}

func TestRetryRefusesOtherStates(t *testing.T) {
	f := newFixture(t, 0)
	queued := f.enqueue(3)
	failed := f.enqueue(4)
	f.Move(failed, refund.Queued, refund.Submitting, refund.Failed)
	for id, st := range map[string]refund.State{queued: refund.Queued, failed: refund.Failed} {
		_, err := f.op.Retry(context.Background(), id, "tester")
		var se *operator.StateError
		if !errors.As(err, &se) || se.State != st || se.Action != "retry" {
			t.Errorf("retry of a %s refund: %v, want a StateError", st, err)
		}
		if got := f.Get(id).State; got != st {
			t.Errorf("refund moved from %s to %s", st, got)
		}
	}
}

func TestCancelQueuedDeletesTask(t *testing.T) {
	f := newFixture(t, 0)
	id := f.enqueue(5)
	insp := asynq.NewInspectorFromRedisClient(f.RDB)
	if _, err := insp.GetTaskInfo(tasks.QueueInteractive, tasks.SubmitID(id)); err != nil {
		t.Fatalf("submit task before cancel: %v", err)
	}
	rec, err := f.op.Cancel(context.Background(), id, "tester")
	testenv.Must(t, err)
	if rec.State != refund.Canceled {
		t.Fatalf("state %s, want canceled", rec.State)
	}
	if _, err := insp.GetTaskInfo(tasks.QueueInteractive, tasks.SubmitID(id)); !errors.Is(err, asynq.ErrTaskNotFound) {
		t.Errorf("submit task after cancel: %v, want ErrTaskNotFound", err)
	}
	// Nothing reaches the provider even with a worker running.
	f.startWorker(time.Hour)
	other := f.enqueue(6)
	f.waitState(other, refund.Succeeded)
	if l := f.Ledger(id); l.Submissions != 0 {
		t.Errorf("canceled refund reached the provider %d times", l.Submissions)
	}
	if f.Get(id).State != refund.Canceled {
		t.Error("canceled refund moved")
	}
}

func TestCancelRefusesProcessing(t *testing.T) {
	f := newFixture(t, 3*time.Hour)
	f.startWorker(time.Hour)
	id := f.enqueue(7)
	f.waitState(id, refund.Processing)

	_, err := f.op.Cancel(context.Background(), id, "tester")
	var se *operator.StateError
	if !errors.As(err, &se) || se.State != refund.Processing {
		t.Fatalf("cancel of a processing refund: %v, want a StateError in processing", err)
	}
	if got := f.Get(id).State; got != refund.Processing {
		t.Errorf("state %s after a refused cancel, want processing", got)
	}
	if n := f.EventTypes(id)["operator_cancel"]; n != 0 {
		t.Errorf("%d operator_cancel events after a refusal", n)
	}
}

// A refund a crashed worker sent is found and settled by reconcile.
func TestReconcileAppliesSuccess(t *testing.T) {
	f := newFixture(t, 0)
	id := f.enqueue(8)
	f.Move(id, refund.Queued, refund.Submitting, refund.Unknown)
	f.SendDirect(id)

	r, err := f.op.Reconcile(context.Background(), id, "tester")
	testenv.Must(t, err)
	if r.NotFound || r.Answer == nil || r.Answer.RequestStatus != freedompay.RequestSuccess {
		t.Fatalf("reconcile: %+v", r)
	}
	if !r.Applied || r.Before != refund.Unknown || r.Record.State != refund.Succeeded {
		t.Fatalf("reconcile applied=%v %s → %s, want unknown → succeeded", r.Applied, r.Before, r.Record.State)
	}
	if got := f.Get(id); got.State != refund.Succeeded || got.RequestStatus != freedompay.RequestSuccess {
		t.Errorf("stored: %s %q", got.State, got.RequestStatus)
	}
	if l := f.Ledger(id); l.Executions != 1 {
		t.Errorf("%d executions", l.Executions)
	}
}

// A refund in process at the provider becomes processing and its poll
// chain is due now.
func TestReconcileInProcessResumesPolling(t *testing.T) {
	f := newFixture(t, 3*time.Hour)
	id := f.enqueue(9)
	f.Move(id, refund.Queued, refund.Submitting, refund.NeedsAttention)
	f.SendDirect(id)

	r, err := f.op.Reconcile(context.Background(), id, "tester")
	testenv.Must(t, err)
	if !r.Applied || r.Record.State != refund.Processing || r.Answer.RequestStatus != freedompay.RequestProcess {
		t.Fatalf("reconcile: applied=%v state %s answer %+v", r.Applied, r.Record.State, r.Answer)
	}
	if r.Record.ResumedAt.IsZero() {
		t.Error("reconcile back to processing did not restart the deadline")
	}
	info, err := asynq.NewInspectorFromRedisClient(f.RDB).GetTaskInfo(tasks.QueuePoll, tasks.PollID(id))
	if err != nil || info.State != asynq.TaskStatePending {
		t.Fatalf("poll task: %+v %v, want pending", info, err)
	}
}

func TestReconcileNotFoundLeavesRecord(t *testing.T) {
	f := newFixture(t, 0)
	id := f.enqueue(10)
	f.Move(id, refund.Queued, refund.Submitting, refund.NeedsAttention)

	r, err := f.op.Reconcile(context.Background(), id, "tester")
	testenv.Must(t, err)
	if !r.NotFound || r.Applied {
		t.Fatalf("reconcile: NotFound=%v Applied=%v, want true false", r.NotFound, r.Applied)
	}
	if got := f.Get(id).State; got != refund.NeedsAttention {
		t.Errorf("state %s, want needs_attention unchanged", got)
	}
	if len(f.Sim.Ledger().Requests) != 0 {
		t.Error("reconcile sent a refund")
	}
}

func TestReconcileBusyWhileLocked(t *testing.T) {
	f := newFixture(t, 0)
	id := f.enqueue(11)
	_, ok, err := f.Store.Lock(context.Background(), id, time.Minute)
	if err != nil || !ok {
		t.Fatalf("lock: %v %v", ok, err)
	}
	if _, err := f.op.Reconcile(context.Background(), id, "tester"); !errors.Is(err, operator.ErrBusy) {
		t.Fatalf("reconcile under a worker's lock: %v, want ErrBusy", err)
	}
}

func TestListAndStats(t *testing.T) {
	f := newFixture(t, 0)
	na, unk, q := f.enqueue(12), f.enqueue(13), f.enqueue(14)
	f.Move(na, refund.Queued, refund.Submitting, refund.NeedsAttention)
	f.Move(unk, refund.Queued, refund.Submitting, refund.Unknown)

	recs, err := f.op.List(context.Background(), refund.NeedsAttention, 10)
	testenv.Must(t, err)
	if len(recs) != 1 || recs[0].RequestID != na {
		t.Errorf("list needs_attention: %v, want [%s]", ids(recs), na)
	}
	recs, err = f.op.List(context.Background(), refund.Queued, 10)
	testenv.Must(t, err)
	if len(recs) != 1 || recs[0].RequestID != q {
		t.Errorf("list queued: %v, want [%s]", ids(recs), q)
	}

	s, err := f.op.Stats(context.Background())
	testenv.Must(t, err)
	for st, want := range map[refund.State]int64{refund.NeedsAttention: 1, refund.Unknown: 1, refund.Queued: 1} {
		if s.States[st] != want {
			t.Errorf("stats %s = %d, want %d", st, s.States[st], want)
		}
	}
	pending := map[string]int{}
	for _, qi := range s.Queues {
		pending[qi.Queue] = qi.Pending
	}
	if len(s.Queues) != len(tasks.QueueNames()) || pending[tasks.QueueInteractive] != 3 {
		t.Errorf("queues: %+v, want all refundq queues with 3 pending interactive", pending)
	}
	if s.OldestPending <= 0 {
		t.Errorf("oldest pending %s, want > 0", s.OldestPending)
	}
}

func ids(recs []*refund.Record) []string {
	out := make([]string, len(recs))
	for i, r := range recs {
		out[i] = r.RequestID
	}
	return out
}

// A refund settled by an operator tells its merchant, as one a worker
// settles does.
func TestReconcileSchedulesCallback(t *testing.T) {
	f := newFixture(t, 0)
	rc, err := f.Producer.Enqueue(context.Background(), producer.Refund{IdempotencyKey: "cb", OrderID: "order-000015",
		Amount: "3.00", CallbackURL: "http://127.0.0.1:9/refunds"})
	testenv.Must(t, err)
	id := rc.RequestID
	f.Move(id, refund.Queued, refund.Submitting, refund.Unknown)
	f.SendDirect(id)

	r, err := f.op.Reconcile(context.Background(), id, "tester")
	testenv.Must(t, err)
	if r.Record.State != refund.Succeeded {
		t.Fatalf("state %s, want succeeded", r.Record.State)
	}
	if got := f.Get(id).Callback.State; got != refund.CallbackPending {
		t.Errorf("callback state %q, want pending", got)
	}
	if _, err := asynq.NewInspectorFromRedisClient(f.RDB).GetTaskInfo(tasks.QueueCallback, tasks.CallbackID(id)); err != nil {
		t.Errorf("callback task: %v", err)
	}
}

// A refund whose poll is far in the future is polled now on retry, by the
// same task rather than a second one.
func TestRetryRunsWaitingPollNow(t *testing.T) {
	f := newFixture(t, 0)
	id := f.enqueue(16)
	f.Move(id, refund.Queued, refund.Submitting, refund.Unknown)
	client := asynq.NewClientFromRedisClient(f.RDB)
	task, opts := tasks.Poll(id, time.Hour)
	testenv.Must(t, tasks.Enqueue(context.Background(), client, task, opts))

	_, err := f.op.Retry(context.Background(), id, "tester")
	testenv.Must(t, err)
	info, err := asynq.NewInspectorFromRedisClient(f.RDB).GetTaskInfo(tasks.QueuePoll, tasks.PollID(id))
	if err != nil || info.State != asynq.TaskStatePending {
		t.Fatalf("poll task after retry: %+v %v, want pending now", info, err)
	}
}

// Rule 5: a queued refund whose submit task an operator's tool archived or
// deleted would never be sent. Retry repairs it; on a queued refund whose
// task will run, it changes nothing and says so truthfully.
func TestRetryRepairsAQueuedRefundWhoseTaskWillNeverRun(t *testing.T) {
	f := newFixture(t, 0)
	insp := asynq.NewInspectorFromRedisClient(f.RDB)
	archived, deleted, alive := f.enqueue(17), f.enqueue(18), f.enqueue(19)
	testenv.Must(t, insp.ArchiveTask(tasks.QueueInteractive, tasks.SubmitID(archived)))
	testenv.Must(t, deleteSubmitTask(f, deleted))

	for id, want := range map[string]tasks.Found{archived: tasks.Revived, deleted: tasks.Enqueued} {
		r, err := f.op.Retry(context.Background(), id, "tester")
		testenv.Must(t, err)
		if r.Task != want || r.Record.State != refund.Queued {
			t.Errorf("retry of %s: found %s, state %s; want %s, queued", id, r.Task, r.Record.State, want)
		}
		if info, err := insp.GetTaskInfo(tasks.QueueInteractive, tasks.SubmitID(id)); err != nil || info.State != asynq.TaskStatePending {
			t.Errorf("submit task of %s after retry: %+v %v, want pending", id, info, err)
		}
	}
	_, err := f.op.Retry(context.Background(), alive, "tester")
	var se *operator.StateError
	if !errors.As(err, &se) || !strings.Contains(se.Hint, "submit task will run") {
		t.Fatalf("retry of a queued refund with a live task: %v", err)
	}
	f.startWorker(time.Hour)
	for _, id := range []string{archived, deleted, alive} {
		f.waitState(id, refund.Succeeded)
	}
	f.AuditClean()
}

// No operator action finishes, resends or reconciles a record a newer
// refundq wrote: this version cannot know what its fields mean.
func TestOperatorActionsLeaveANewerRecordAlone(t *testing.T) {
	f := newFixture(t, 0)
	id := f.enqueue(5)
	ctx := context.Background()
	testenv.Must(t, f.RDB.HSet(ctx, "refundq:{"+id+"}", "v", refund.RecordVersion+1).Err())
	for _, c := range []struct {
		name string
		act  func() error
	}{
		{"cancel", func() error { _, err := f.op.Cancel(ctx, id, "tester"); return err }},
		{"retry", func() error { _, err := f.op.Retry(ctx, id, "tester"); return err }},
		{"reconcile", func() error { _, err := f.op.Reconcile(ctx, id, "tester"); return err }},
	} {
		if err := c.act(); !errors.Is(err, operator.ErrNewerRecord) {
			t.Errorf("%s: %v, want ErrNewerRecord", c.name, err)
		}
	}
	if st := f.RDB.HGet(ctx, "refundq:{"+id+"}", "state").Val(); st != string(refund.Queued) {
		t.Fatalf("state %q after the refused actions, want queued", st)
	}
}
