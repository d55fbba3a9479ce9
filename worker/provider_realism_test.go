package worker_test

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/hibiken/asynq"
	"github.com/shopspring/decimal"

	"github.com/refundq/refundq/internal/fpsim"
	"github.com/refundq/refundq/internal/freedompay"
	"github.com/refundq/refundq/internal/operator"
	"github.com/refundq/refundq/internal/refund"
	"github.com/refundq/refundq/internal/store"
	"github.com/refundq/refundq/internal/tasks"
	"github.com/refundq/refundq/internal/testenv"
	"github.com/refundq/refundq/internal/teststack"
	"github.com/refundq/refundq/producer"
	"github.com/refundq/refundq/worker"
)

// These tests hold the worker to the rules of issue 9 against a provider
// that lags, commits late, forgets and races its duplicate check.

// Rule 1: the call executes after the client gave up, and the provider's
// duplicate check does not hold until it does. A resend on the first "not
// found" is processed as a new refund: paid twice. Not found proves
// nothing until it has lasted the settle window.
func TestLaggingStatusNeverTriggersAnEarlyResend(t *testing.T) {
	s := newStack(t, nil)
	s.RunWorker(s.timeouts(300*time.Millisecond, 5*time.Second))
	r := producer.Refund{IdempotencyKey: "late-race", TransactionID: "txn-000050", Amount: "100.00"}
	id := s.EnqueueScripted(r, "late_commit_race=2s")

	rec := s.WaitSettled(id, 30*time.Second)
	wantState(t, rec, refund.Succeeded)
	if l := s.Ledger(id); l.Executions != 1 || l.Submissions != 1 || rec.Attempts != 1 {
		t.Fatalf("ledger %+v, attempts %d: want one execution of one send", l, rec.Attempts)
	}
	if ev := s.EventTypes(id); ev["ambiguous"] != 1 || ev["reconcile"] < 2 {
		t.Fatalf("events %v: want the ambiguous call and not-found answers waited out", ev)
	}
	s.AuditClean()
}

// Rule 2 (finding 1's second half): the first attempt's outcome is never
// learned; while it is waited out, another refund takes the transaction's
// remainder; the resend is rejected as an over-refund. That rejection does
// not prove the first attempt paid nothing, so the refund is not failed.
func TestRejectionAfterAnAmbiguousAttemptIsNotAFailure(t *testing.T) {
	s := newStack(t, nil)
	s.RunWorker(s.timeouts(300*time.Millisecond, 2*time.Second))
	r := producer.Refund{IdempotencyKey: "doubted", TransactionID: "txn-000051", Amount: "600.00"}
	id := s.EnqueueScripted(r, "timeout")
	testenv.WaitFor(t, 10*time.Second, "the ambiguous call", func() bool {
		rec, err := s.Store.Get(context.Background(), id)
		return err == nil && rec.Ambiguous
	})
	other := decimal.RequireFromString("500.00")
	_, err := s.Client.Refund(context.Background(), freedompay.RefundRequest{RequestID: "0f0e0d0c-0b0a-4908-8706-050403020100",
		TransactionID: "txn-000051", Amount: &other})
	testenv.Must(t, err)

	rec := s.WaitSettled(id, 30*time.Second)
	wantState(t, rec, refund.NeedsAttention)
	if rec.ReasonCode != refund.AttentionDoubtedRejection || !strings.Contains(rec.Reason, "over_refund") {
		t.Fatalf("reason %s %q, want the doubted over-refund with both facts", rec.ReasonCode, rec.Reason)
	}
	if ev := s.EventTypes(id); ev["ambiguous"] != 1 || ev["rejected"] != 1 {
		t.Fatalf("events %v: want both facts on the log", ev)
	}
}

// Rule 3 (finding 2): the provider acknowledged the refund, then its
// status endpoint forgot it. It is parked after the settle window, never
// resent, and an operator's retry only resumes polling.
func TestAnAcknowledgedRefundIsNeverResent(t *testing.T) {
	s := newStack(t, nil)
	cfg := s.WorkerConfig()
	cfg.SettleWindow = time.Second
	s.RunWorker(cfg)
	r := producer.Refund{IdempotencyKey: "forgotten", OrderID: "order-000052", Amount: "5.00"}
	id := s.EnqueueScripted(r, "forget")

	rec := s.WaitSettled(id, 20*time.Second)
	wantState(t, rec, refund.NeedsAttention)
	if rec.ReasonCode != refund.AttentionForgotten || !rec.Acknowledged {
		t.Fatalf("reason %s, acknowledged %v: want forgotten after an acknowledgment", rec.ReasonCode, rec.Acknowledged)
	}
	op := operator.New(s.RDB, operator.WithProviders(func(string) (freedompay.API, bool) { return s.Client, true }),
		operator.WithSettleWindow(cfg.SettleWindow))
	rc, err := op.Reconcile(context.Background(), id, "tester")
	testenv.Must(t, err)
	if !rc.NotFound || rc.Applied || strings.Contains(rc.Verdict, "never received") || strings.Contains(rc.Verdict, "no money") {
		t.Fatalf("reconcile: %+v, want not found, nothing applied, no claim that nothing moved", rc)
	}
	rt, err := op.Retry(context.Background(), id, "tester")
	testenv.Must(t, err)
	if rt.Record.State != refund.Processing {
		t.Fatalf("retry moved it to %s, want processing (polling, never a resend)", rt.Record.State)
	}
	testenv.WaitFor(t, 20*time.Second, "the retried refund to park again", func() bool {
		rec, err := s.Store.Get(context.Background(), id)
		return err == nil && rec.State == refund.NeedsAttention && !rec.ResumedAt.IsZero()
	})
	if l := s.Ledger(id); l.Submissions != 1 || l.Executions != 1 {
		t.Fatalf("ledger %+v: an acknowledged refund was sent again", l)
	}
}

// Rule 4 (finding 3): the deadline counts from the first send. A refund
// accepted a day ago and sent now for the first time is polled, not parked.
func TestTheDeadlineCountsFromTheFirstSend(t *testing.T) {
	s := newStack(t, nil)
	id := s.Enqueue(producer.Refund{IdempotencyKey: "backlog", OrderID: "order-000053", Amount: "5.00"})
	cfg := s.WorkerConfig()
	cfg.Deadline = 24 * time.Hour
	cfg.Now = func() time.Time { return time.Now().Add(25 * time.Hour) } // the backlog cleared a day later
	s.RunWorker(cfg)
	rec := s.WaitSettled(id, 20*time.Second)
	wantState(t, rec, refund.Succeeded)
	if rec.Polls < 1 || rec.FirstSentAt.Sub(rec.CreatedAt) < 24*time.Hour {
		t.Fatalf("polls %d, first sent %s after acceptance", rec.Polls, rec.FirstSentAt.Sub(rec.CreatedAt))
	}
}

// Rule 4 (finding 4): a second run of a refund past its deadline must not
// park it while the lock holder is in the middle of a provider call.
func TestTheDeadlineIsAppliedOnlyUnderTheLock(t *testing.T) {
	s := newStack(t, nil)
	ctx := context.Background()
	id := s.Enqueue(producer.Refund{IdempotencyKey: "held", OrderID: "order-000054", Amount: "5.00"})
	sentLongAgo(t, s, id)
	token, ok, err := s.Store.Lock(ctx, id, time.Minute) // the holder, mid-call
	if err != nil || !ok {
		t.Fatalf("lock: %v %v", ok, err)
	}
	task, opts := tasks.Poll(id, 0)
	testenv.Must(t, tasks.Enqueue(ctx, asynq.NewClientFromRedisClient(s.RDB), task, opts))
	cfg := s.WorkerConfig()
	cfg.Deadline = time.Hour
	s.RunWorker(cfg)
	insp := asynq.NewInspectorFromRedisClient(s.RDB)
	testenv.WaitFor(t, 10*time.Second, "a second run to meet the lock", func() bool {
		info, err := insp.GetTaskInfo(tasks.QueuePoll, tasks.PollID(id))
		return err == nil && strings.Contains(info.LastErr, "another worker holds")
	})
	if rec, _ := s.Store.Get(ctx, id); rec.State != refund.Processing {
		t.Fatalf("state %s while another run held the lock, want processing", rec.State)
	}
	testenv.Must(t, s.Store.Unlock(ctx, id, token))
	rec := s.WaitSettled(id, 20*time.Second)
	if rec.State != refund.NeedsAttention || rec.ReasonCode != refund.AttentionDeadline {
		t.Fatalf("after the holder let go: %s %s, want the deadline applied", rec.State, rec.ReasonCode)
	}
}

// sentLongAgo records that refund id was sent two days ago and the
// provider acknowledged it, as a worker would have, and leaves it no task.
func sentLongAgo(t *testing.T, s *stack, id string) {
	t.Helper()
	sentAt(t, s, id, time.Now().Add(-48*time.Hour))
}

// sentAt records that refund id was sent at `at` and the provider
// acknowledged it, as a worker would have, and deletes its submit task.
func sentAt(t *testing.T, s *stack, id string, at time.Time) {
	t.Helper()
	past := store.New(s.RDB, store.WithClock(func() time.Time { return at }))
	ctx := context.Background()
	_, err := past.Transition(ctx, id, store.Change{From: []refund.State{refund.Queued}, To: refund.Submitting, Sent: true, Attempts: 1, Event: "submit"})
	testenv.Must(t, err)
	_, err = past.Transition(ctx, id, store.Change{From: []refund.State{refund.Submitting}, To: refund.Processing,
		Acknowledged: true, RequestStatus: "process", Event: "status"})
	testenv.Must(t, err)
	testenv.Must(t, asynq.NewInspectorFromRedisClient(s.RDB).DeleteTask(tasks.QueueInteractive, tasks.SubmitID(id)))
}

// Rule 5 (finding 5): an operator archives or deletes the tasks of
// refunds in every stage. The sweep runs them again, and parks the one
// past its deadline that no task would ever run.
func TestTheSweepRestoresArchivedTasks(t *testing.T) {
	s := newStack(t, nil)
	ctx := context.Background()
	insp := asynq.NewInspectorFromRedisClient(s.RDB)
	queued := s.Enqueue(producer.Refund{IdempotencyKey: "arch-q", OrderID: "order-000055", Amount: "5.00"})
	testenv.Must(t, insp.ArchiveTask(tasks.QueueInteractive, tasks.SubmitID(queued)))
	inFlight := s.Enqueue(producer.Refund{IdempotencyKey: "arch-p", OrderID: "order-000057", Amount: "5.00"})
	sentAt(t, s, inFlight, time.Now())
	amount := decimal.RequireFromString("5.00")
	_, err := s.Client.Refund(ctx, freedompay.RefundRequest{RequestID: inFlight, OrderID: "order-000057", Amount: &amount})
	testenv.Must(t, err)
	task, opts := tasks.Poll(inFlight, time.Hour)
	testenv.Must(t, tasks.Enqueue(ctx, asynq.NewClientFromRedisClient(s.RDB), task, opts))
	testenv.Must(t, insp.ArchiveTask(tasks.QueuePoll, tasks.PollID(inFlight)))
	late := s.Enqueue(producer.Refund{IdempotencyKey: "arch-late", OrderID: "order-000056", Amount: "5.00"})
	sentLongAgo(t, s, late)

	clk := &teststack.Clock{}
	clk.Advance(2 * time.Hour) // every one of them has stopped moving
	cfg := s.WorkerConfig()
	cfg.Now, cfg.Deadline, cfg.SweepInterval = clk.Now, 24*time.Hour, 100*time.Millisecond
	s.RunWorker(cfg)

	for id, want := range map[string]refund.State{queued: refund.Succeeded, inFlight: refund.Succeeded, late: refund.NeedsAttention} {
		rec := s.WaitSettled(id, 30*time.Second)
		wantState(t, rec, want)
		if l := s.Ledger(id); want == refund.Succeeded && l.Executions != 1 {
			t.Errorf("%s: %d executions", id, l.Executions)
		}
	}
	if rec, _ := s.Store.Get(ctx, late); rec.ReasonCode != refund.AttentionDeadline || !strings.Contains(rec.Reason, "no task was left") {
		t.Errorf("late refund: %s %q, want the deadline applied by the sweep", rec.ReasonCode, rec.Reason)
	}
	s.AuditClean()
}

// Rule 7 (finding 7): a stored amount that does not parse is never sent,
// least of all as a full refund: neither when the worker claims the refund
// and records the send in the round trip that reads the amount, nor from a
// task of an older refundq, which names no merchant and takes the longer
// path.
func TestAStoredAmountThatDoesNotParseIsNeverSent(t *testing.T) {
	for _, tc := range []struct {
		name, payload, detail string
	}{
		{"claimed", "", "first send"},
		{"task without a merchant", `{"v":1,"request_id":%q}`, "attempt 1"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s := newStack(t, nil)
			ctx := context.Background()
			id := s.Enqueue(producer.Refund{IdempotencyKey: "garbled", OrderID: "order-000058", Amount: "15.00"})
			testenv.Must(t, s.RDB.HSet(ctx, "refundq:{"+id+"}", "amount", "15,00").Err())
			if tc.payload != "" {
				insp := asynq.NewInspectorFromRedisClient(s.RDB)
				testenv.Must(t, insp.DeleteTask(tasks.QueueInteractive, tasks.SubmitID(id)))
				_, err := asynq.NewClientFromRedisClient(s.RDB).Enqueue(asynq.NewTask(tasks.TypeSubmit,
					[]byte(fmt.Sprintf(tc.payload, id))), asynq.Queue(tasks.QueueInteractive), asynq.TaskID(tasks.SubmitID(id)))
				testenv.Must(t, err)
			}
			s.RunWorker(s.WorkerConfig())
			rec := s.WaitSettled(id, 20*time.Second)
			wantState(t, rec, refund.NeedsAttention)
			if rec.ReasonCode != refund.AttentionBadAmount || !rec.NeverSent() {
				t.Fatalf("reason %s, never sent %v", rec.ReasonCode, rec.NeverSent())
			}
			if n := len(s.Sim.Ledger().Requests); n != 0 {
				t.Fatalf("the provider saw %d requests", n)
			}
			evs, err := s.Store.Events(ctx, id)
			testenv.Must(t, err)
			var details []string
			for _, e := range evs {
				if e.Type == "submit" {
					details = append(details, e.Detail)
				}
			}
			// The claimed path records the send before it reads the amount;
			// the other parks before it records anything.
			if want := tc.detail == "first send"; want != (len(details) == 1 && details[0] == tc.detail) {
				t.Fatalf("submit events %q", details)
			}
		})
	}
}

// Rule 9 (finding 9): a base URL that names no Card API route is a
// configuration error the operator sees with the reply, not a refund left
// in unknown.
func TestAWrongProviderURLParksWithTheReply(t *testing.T) {
	s := newStack(t, nil)
	cfg := s.WorkerConfig()
	cfg.Providers = worker.SingleProvider(s.CardAPI(s.SimURL + "/v4"))
	s.RunWorker(cfg)
	id := s.Enqueue(producer.Refund{IdempotencyKey: "wrong-url", OrderID: "order-000059", Amount: "5.00"})
	rec := s.WaitSettled(id, 20*time.Second)
	wantState(t, rec, refund.NeedsAttention)
	if rec.ReasonCode != refund.AttentionProviderConfig || !strings.Contains(rec.Reason, "404") || !rec.NeverSent() {
		t.Fatalf("reason %s %q never sent %v, want the 404 reply and no send counted", rec.ReasonCode, rec.Reason, rec.NeverSent())
	}
}

// Finding 4's second half: when a refund is moved under a run that is
// mid-call (by something that ignored the lock), the run's answer is not
// dropped silently: it goes on the event log.
func TestAnAnswerThatCannotBeAppliedIsLogged(t *testing.T) {
	s := newStack(t, func(c *fpsim.Config) { c.Faults = fpsim.Faults{Latency: 500 * time.Millisecond} })
	s.RunWorker(s.WorkerConfig())
	id := s.Enqueue(producer.Refund{IdempotencyKey: "moved-under", OrderID: "order-000060", Amount: "5.00"})
	ctx := context.Background()
	testenv.WaitFor(t, 10*time.Second, "the call to be in flight", func() bool {
		rec, err := s.Store.Get(ctx, id)
		return err == nil && rec.State == refund.Submitting
	})
	_, err := s.Store.Transition(ctx, id, store.Change{From: []refund.State{refund.Submitting}, To: refund.NeedsAttention,
		Event: "test", Detail: "moved by a tool that ignored the lock"})
	testenv.Must(t, err)
	testenv.WaitFor(t, 10*time.Second, "the late answer on the event log", func() bool { return s.EventTypes(id)["late_answer"] == 1 })
}

// The attack on issue 9 found these; each test is its reproduction.

// The settle window counts from when the client gave up, not from when the
// call began: a late commit counts from the client going away.
func TestTheWindowCountsFromWhenTheClientGaveUp(t *testing.T) {
	s := newStack(t, nil)
	s.RunWorker(s.timeouts(time.Second, 2*time.Second))
	r := producer.Refund{IdempotencyKey: "window-from-give-up", TransactionID: "txn-000060", Amount: "100.00"}
	id := s.EnqueueScripted(r, "late_commit_race=1500ms") // inside the window, counted from the give-up
	wantState(t, s.WaitSettled(id, 30*time.Second), refund.Succeeded)
	if l := s.Ledger(id); l.Executions != 1 || l.Submissions != 1 {
		t.Fatalf("ledger %+v: sent again inside the window", l)
	}
}

// Hosts whose clocks disagree agree on Redis's: a worker whose own clock
// is ten seconds ahead still waits out the window another worker started.
func TestWorkersWithSkewedClocksShareOneWindow(t *testing.T) {
	s := newStack(t, nil)
	r := producer.Refund{IdempotencyKey: "skew", TransactionID: "txn-000061", Amount: "100.00"}
	id := s.ScriptRefund(r, "late_commit_race=3s")
	configAt := func(skew time.Duration) worker.Config {
		cfg := s.timeouts(300*time.Millisecond, 8*time.Second)
		cfg.Now = store.ServerClockOf(s.RDB, func() time.Time { return time.Now().Add(skew) })
		return cfg
	}
	_, stop := s.StartWorker(configAt(0))
	s.Enqueue(r)
	testenv.WaitFor(t, 10*time.Second, "the ambiguous first send", func() bool {
		rec, err := s.Store.Get(context.Background(), id)
		return err == nil && rec.Ambiguous
	})
	stop()
	s.RunWorker(configAt(10 * time.Second))
	wantState(t, s.WaitSettled(id, 30*time.Second), refund.Succeeded)
	if l := s.Ledger(id); l.Executions != 1 {
		t.Fatalf("executed %d times under a 10s clock difference", l.Executions)
	}
}

// One "not found" after a long status outage proves nothing about the time
// before it: the not-found answers themselves must span the window.
func TestOneNotFoundAfterAStatusOutageIsNotEnough(t *testing.T) {
	s := newStack(t, nil)
	cfg := s.timeouts(300*time.Millisecond, 2*time.Second)
	cfg.Protection.BreakerFailures = -1
	s.RunWorker(cfg)
	r := producer.Refund{IdempotencyKey: "outage", TransactionID: "txn-000063", Amount: "100.00"}
	id := s.ScriptRefund(r, "timeout")
	outage := make([]string, 20) // four seconds of 5xx, twice the window

	for i := range outage {
		outage[i] = "5xx"
	}
	s.Sim.Script("status", id, outage...)
	s.Enqueue(r)
	rec := s.WaitSettled(id, 60*time.Second)
	wantState(t, rec, refund.Succeeded)
	sends := s.EventTimes(id, "submit")
	if outage := s.EventTimes(id, "reconcile"); len(outage) == 0 || outage[len(outage)-1].Sub(sends[0]) < cfg.SettleWindow {
		t.Fatal("the status outage did not outlast the settle window; the test proves nothing")
	}
	var firstNotFound time.Time
	evs, _ := s.Store.Events(context.Background(), id)
	for _, e := range evs {
		if e.Type == "reconcile" && strings.Contains(e.Detail, "not found") && firstNotFound.IsZero() {
			firstNotFound = e.At
		}
	}
	if len(sends) != 2 || firstNotFound.IsZero() || sends[1].Sub(firstNotFound) < cfg.SettleWindow {
		t.Fatalf("sends %v, first not found %v: resent before the not-found answers spanned the %s window", sends, firstNotFound, cfg.SettleWindow)
	}
}

// A send the store lost (a restart from an old snapshot, a failover onto a
// lagging replica) is recorded when its answer comes back to a queued
// refund, so the refund is reconciled, not sent again at once.
func TestASendTheStoreLostIsReconciledNotResent(t *testing.T) {
	s := newStack(t, nil)
	s.RunWorker(s.timeouts(time.Second, 5*time.Second))
	r := producer.Refund{IdempotencyKey: "lost-send", TransactionID: "txn-000064", Amount: "100.00"}
	id := s.EnqueueScripted(r, "late_commit_race=3s")
	ctx := context.Background()
	testenv.WaitFor(t, 10*time.Second, "the call to be in flight", func() bool {
		rec, err := s.Store.Get(ctx, id)
		return err == nil && rec.State == refund.Submitting
	})
	// Redis forgets the send: the record is queued again and the lock gone.
	testenv.Must(t, s.RDB.HSet(ctx, "refundq:{"+id+"}", "state", "queued").Err())
	testenv.Must(t, s.RDB.HDel(ctx, "refundq:{"+id+"}", "first_sent_at", "last_sent_at").Err())
	testenv.Must(t, s.RDB.Del(ctx, "refundq:{"+id+"}:lock").Err())
	rec := s.WaitSettled(id, 30*time.Second)
	wantState(t, rec, refund.Succeeded)
	if l := s.Ledger(id); l.Executions != 1 {
		t.Fatalf("executed %d times after Redis lost the send", l.Executions)
	}
	if s.EventTypes(id)["lost_send"] != 1 {
		t.Fatalf("events %v: the lost send is not on the log", s.EventTypes(id))
	}
}

// A callback whose task an operator's tool deleted is restored by the
// sweep: a settled refund's own tasks are done, so nothing else would.
func TestTheSweepRestoresADeletedCallbackTask(t *testing.T) {
	// The receiver fails until the task is deleted, so the delivery keeps
	// waiting for a retry, longer each time, however slow the machine.
	var hits atomic.Int32
	var deleted atomic.Bool
	recv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		hits.Add(1)
		if !deleted.Load() {
			w.WriteHeader(http.StatusServiceUnavailable)
		}
	}))
	t.Cleanup(recv.Close)
	s := newStack(t, nil)
	clk := &teststack.Clock{}
	cfg := s.WorkerConfig()
	cfg.Callbacks = worker.Callbacks{Secret: func(string) ([]byte, bool) { return []byte("cb-secret-0123456789"), true }}
	cfg.Now, cfg.SweepInterval = clk.Now, 100*time.Millisecond
	s.RunWorker(cfg)
	id := s.Enqueue(producer.Refund{IdempotencyKey: "cb-deleted", TransactionID: "txn-000062", Amount: "5.00", CallbackURL: recv.URL + "/cb"})
	wantState(t, s.WaitSettled(id, 20*time.Second), refund.Succeeded)
	testenv.WaitFor(t, 10*time.Second, "the first delivery to fail", func() bool { return hits.Load() >= 1 })
	insp := asynq.NewInspectorFromRedisClient(s.RDB)
	testenv.WaitFor(t, 20*time.Second, "a tool to delete the delivery while it waits for its retry", func() bool {
		info, err := insp.GetTaskInfo(tasks.QueueCallback, tasks.CallbackID(id))
		// An active task cannot be deleted; the next wait can.
		return err == nil && info.State == asynq.TaskStateRetry && insp.DeleteTask(tasks.QueueCallback, tasks.CallbackID(id)) == nil
	})
	deleted.Store(true)
	clk.Advance(time.Hour) // the pending delivery is stale now
	testenv.WaitFor(t, 20*time.Second, "the callback to be delivered", func() bool {
		rec, err := s.Store.Get(context.Background(), id)
		return err == nil && rec.Callback.State == refund.CallbackDelivered
	})
}

// With replica acknowledgements, a send whose record no replica confirmed
// is not made: a failover could lose the record, and a later run would
// send the refund again. Here Redis has no replica at all.
func TestNoCallIsMadeUntilTheSendIsReplicated(t *testing.T) {
	s := newStack(t, nil)
	cfg := s.WorkerConfig()
	cfg.ReplicaAcks, cfg.ReplicaAckTimeout, cfg.FailureBudget = 1, 50*time.Millisecond, 2
	s.RunWorker(cfg)
	id := s.Enqueue(producer.Refund{IdempotencyKey: "unreplicated", OrderID: "order-000065", Amount: "5.00"})
	rec := s.WaitSettled(id, 30*time.Second)
	if rec.State != refund.NeedsAttention || rec.ReasonCode != refund.AttentionBudget || !rec.NeverSent() {
		t.Fatalf("%s %s, never sent %v", rec.State, rec.ReasonCode, rec.NeverSent())
	}
	if n := len(s.Sim.Ledger().Requests); n != 0 {
		t.Fatalf("the provider was called %d times", n)
	}
}
