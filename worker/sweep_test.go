package worker_test

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/refundq/refundq/internal/refund"
	"github.com/refundq/refundq/internal/tasks"
	"github.com/refundq/refundq/internal/testenv"
	"github.com/refundq/refundq/producer"
	"github.com/refundq/refundq/worker"
)

// A refund whose task was lost (record written, enqueue never happened) is
// restored by the sweep, and index entries that no longer match their
// record are dropped.
func TestSweepRestoresLostTasks(t *testing.T) {
	s := newStack(t, nil)
	ctx := context.Background()
	r := refund.Request{IdempotencyKey: "lost-task", OrderID: "order-000011", Amount: "4.00"}.Normalize()
	_, created, err := s.Store.Create(ctx, &refund.Record{Request: r, ParamHash: r.ParamHash(), State: refund.Queued,
		Source: "test", Queue: "refundq.interactive"})
	if err != nil || !created {
		t.Fatalf("create: %v %v", created, err)
	}
	// A stale entry: listed as processing, but the record is long gone.
	testenv.Must(t, s.RDB.ZAdd(ctx, "refundq:state:processing", redisZ(time.Now().Add(-time.Hour), "gone-id")).Err())

	cfg := s.WorkerConfig()
	cfg.SweepInterval = 100 * time.Millisecond
	// Run the worker's clock an hour ahead so everything looks stale.
	cfg.Now = func() time.Time { return time.Now().Add(time.Hour) }
	s.RunWorker(cfg)
	wantState(t, s.WaitSettled(r.RequestID, 20*time.Second), refund.Succeeded)
	if l := s.Ledger(r.RequestID); l.Executions != 1 {
		t.Fatalf("ledger %+v", l)
	}
	testenv.WaitFor(t, 10*time.Second, "the stale index entry to be dropped", func() bool {
		ids, err := s.Store.ListState(ctx, refund.Processing, 100)
		return err == nil && !contains(ids, "gone-id")
	})
}

func contains(ids []string, id string) bool {
	for _, x := range ids {
		if x == id {
			return true
		}
	}
	return false
}

func redisZ(at time.Time, member string) redis.Z {
	return redis.Z{Score: float64(at.UnixMilli()), Member: member}
}

// A refund the sweep cannot restore (a corrupt record) must not stop it
// from restoring the others, and a newer refundq's record keeps its index
// entry.
func TestTheSweepGoesOnPastARecordItCannotRead(t *testing.T) {
	s := newStack(t, nil)
	ctx := context.Background()
	var ids []string
	for i, key := range []string{"corrupt", "newer", "lost"} {
		r := refund.Request{IdempotencyKey: "sweep-" + key, OrderID: fmt.Sprintf("order-%06d", 12+i), Amount: "4.00"}.Normalize()
		_, _, err := s.Store.Create(ctx, &refund.Record{Request: r, ParamHash: r.ParamHash(), State: refund.Queued,
			Source: "test", Queue: "refundq.interactive"})
		testenv.Must(t, err)
		ids = append(ids, r.RequestID)
	}
	corrupt, newer, lost := ids[0], ids[1], ids[2]
	testenv.Must(t, s.RDB.HSet(ctx, "refundq:{"+corrupt+"}", "metadata", "{bad").Err())
	testenv.Must(t, s.RDB.HSet(ctx, "refundq:{"+newer+"}", "v", refund.RecordVersion+1).Err())
	// The two unreadable ones are listed first, so a sweep that stops at
	// an error never reaches the lost one.
	testenv.Must(t, s.RDB.ZAdd(ctx, "refundq:state:queued", redisZ(time.Now().Add(-3*time.Hour), corrupt), redisZ(time.Now().Add(-3*time.Hour), newer)).Err())

	cfg := s.WorkerConfig()
	cfg.SweepInterval = 100 * time.Millisecond
	cfg.Now = func() time.Time { return time.Now().Add(time.Hour) }
	s.RunWorker(cfg)
	wantState(t, s.WaitSettled(lost, 20*time.Second), refund.Succeeded)
	queued, err := s.Store.ListState(ctx, refund.Queued, 100)
	testenv.Must(t, err)
	if !contains(queued, corrupt) || !contains(queued, newer) {
		t.Fatalf("queued index %v lost an unreadable refund", queued)
	}
	if st := s.RDB.HGet(ctx, "refundq:{"+corrupt+"}", "state").Val(); st != string(refund.Queued) {
		t.Fatalf("corrupt record moved to %q", st)
	}
}

// A stale list longer than one sweep's batch, all of it slow refunds whose
// tasks are alive, must not hide a stranded refund behind it: the sweep
// goes on where the last one stopped.
func TestTheSweepReachesARefundBehindALongBacklog(t *testing.T) {
	s := newStack(t, nil)
	ctx := context.Background()
	for i := range 3 { // alive in the bulk queue, which this worker does not serve
		s.Enqueue(producer.Refund{IdempotencyKey: fmt.Sprint("backlog-", i), OrderID: fmt.Sprintf("order-%06d", 21+i), Amount: "1.00"}, producer.Bulk())
	}
	r := refund.Request{IdempotencyKey: "behind-the-backlog", OrderID: "order-000031", Amount: "4.00"}.Normalize()
	_, _, err := s.Store.Create(ctx, &refund.Record{Request: r, ParamHash: r.ParamHash(), State: refund.Queued,
		Source: "test", Queue: tasks.QueueInteractive}) // its task lost
	testenv.Must(t, err)

	cfg := s.WorkerConfig()
	cfg.Queues = map[string]int{tasks.QueueInteractive: 1, tasks.QueuePoll: 1}
	cfg.SweepInterval = 100 * time.Millisecond
	cfg.Now = func() time.Time { return time.Now().Add(time.Hour) }
	w, err := worker.New(cfg)
	testenv.Must(t, err)
	worker.SetSweepBatch(w, 2)
	runCtx, cancel := context.WithCancel(ctx)
	done := make(chan error, 1)
	go func() { done <- w.Run(runCtx) }()
	t.Cleanup(func() { cancel(); testenv.Must(t, <-done) })
	wantState(t, s.WaitSettled(r.RequestID, 20*time.Second), refund.Succeeded)
}
