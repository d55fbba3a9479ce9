package producer_test

import (
	"context"
	"errors"
	"fmt"
	"iter"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/hibiken/asynq"
	"github.com/redis/go-redis/v9"

	"github.com/refundq/refundq/internal/refund"
	"github.com/refundq/refundq/internal/store"
	"github.com/refundq/refundq/internal/tasks"
	"github.com/refundq/refundq/internal/testenv"
	"github.com/refundq/refundq/producer"
)

type batchEnv struct {
	t     *testing.T
	rdb   *redis.Client
	p     *producer.Producer
	store *store.Redis
	insp  *asynq.Inspector
}

func newBatchEnv(t *testing.T) *batchEnv {
	t.Helper()
	rdb := testenv.StartRedis(t).Client()
	return &batchEnv{t: t, rdb: rdb, p: producer.NewFromClient(rdb, producer.WithSource("import")),
		store: store.New(rdb), insp: asynq.NewInspectorFromRedisClient(rdb)}
}

// queued is the number of tasks waiting in q.
func (e *batchEnv) queued(q string) int {
	e.t.Helper()
	info, err := e.insp.GetQueueInfo(q)
	if errors.Is(err, asynq.ErrQueueNotFound) {
		return 0
	}
	testenv.Must(e.t, err)
	return info.Pending
}

func (e *batchEnv) members(batchID string) []string {
	e.t.Helper()
	ids, err := e.store.ByBatch(context.Background(), batchID)
	testenv.Must(e.t, err)
	return ids
}

func (e *batchEnv) records() int {
	e.t.Helper()
	keys, err := e.rdb.Keys(context.Background(), "refundq:{*}").Result()
	testenv.Must(e.t, err)
	return len(keys)
}

func row(order, amount, key string) producer.Refund {
	return producer.Refund{OrderID: order, Amount: amount, IdempotencyKey: key}
}

func TestEnqueueBatchReportsEveryBadRowAndQueuesTheRest(t *testing.T) {
	e := newBatchEnv(t)
	ctx := context.Background()
	// An earlier single refund holds the key that line 9 reuses with
	// another amount.
	_, err := e.p.Enqueue(ctx, row("order-9", "5.00", "k-9"))
	testenv.Must(t, err)

	rows := []producer.BatchRow{
		{Line: 2, Refund: row("order-1", "10.00", "k-1"), Raw: "order-1,10.00,k-1"},
		{Line: 3, Refund: row("order-2", "0", "k-2")},                       // amount
		{Line: 4, Refund: producer.Refund{OrderID: "order-3", Amount: "7"}}, // no key: derived
		{Line: 5, Errs: []producer.RowError{{Field: "row", Reason: "has 3 fields, the header has 2"}}},
		{Line: 6, Refund: row("order-1", "10", "k-1")},                              // same as line 2
		{Line: 7, Refund: row("order-1", "11.00", "k-1"), Raw: "order-1,11.00,k-1"}, // k-1 with another amount
		{Line: 8, Refund: producer.Refund{OrderID: "bad order", Amount: "-1"}},
		{Line: 9, Refund: row("order-9", "6.00", "k-9"), Raw: "order-9,6.00,k-9"},
		{Line: 10, Refund: producer.Refund{TransactionID: "txn-1"}}, // full refund, derived id
	}
	rep, err := e.p.EnqueueBatch(ctx, "b-1", withNilErrors(slices.Values(rows)))
	testenv.Must(t, err)

	if rep.BatchID != "b-1" || rep.Accepted != 3 || rep.Duplicates != 1 || rep.Rejected != 5 {
		t.Errorf("report %+v, want 3 accepted, 1 duplicate, 5 rejected", rep)
	}
	// A reused idempotency key is blamed on the key, with the row's text.
	want := []string{"3 amount", "5 row", "7 idempotency_key", "8 order_id", "8 amount", "9 idempotency_key"}
	if got := lineFields(rep.Errors); !reflect.DeepEqual(got, want) {
		t.Errorf("errors %v\nwant %v", got, want)
	}
	for _, e := range rep.Errors {
		if e.Field == "idempotency_key" && (e.Raw == "" || !strings.Contains(e.Reason, `idempotency_key "k-`)) {
			t.Errorf("conflict %+v: want the key named and the row's text", e)
		}
	}
	if n := len(e.members("b-1")); n != 3 {
		t.Errorf("batch index holds %d refunds, want 3", n)
	}
	if n := e.queued(tasks.QueueBulk); n != 3 {
		t.Errorf("bulk queue holds %d tasks, want 3", n)
	}
	if n := e.records(); n != 4 { // 3 + the earlier single refund
		t.Errorf("%d refund records, want 4: something was written for a rejected row", n)
	}
	rec, err := e.store.Get(ctx, refund.DeriveRequestID(refund.DefaultMerchant, "k-1"))
	testenv.Must(t, err)
	if rec.BatchID != "b-1" || rec.Queue != tasks.QueueBulk || rec.Source != "import" || rec.Amount != "10.00" {
		t.Errorf("record %+v", rec)
	}
	meta, err := e.store.Batch(ctx, "b-1")
	testenv.Must(t, err)
	if meta.Rows != 9 || meta.Accepted != 3 || meta.Rejected != 5 || meta.Runs != 1 || meta.CompletedAt.IsZero() {
		t.Errorf("batch metadata %+v", meta)
	}
}

func TestEnqueueBatchAgainEnqueuesNothingNew(t *testing.T) {
	e := newBatchEnv(t)
	ctx := context.Background()
	rows := make([]producer.Refund, 300)
	for i := range rows {
		rows[i] = producer.Refund{OrderID: fmt.Sprintf("order-%d", i), Amount: "1.00"}
	}
	first, err := e.p.EnqueueBatch(ctx, "again", producer.Rows(rows), producer.Concurrency(4))
	testenv.Must(t, err)
	if first.Accepted != 300 {
		t.Fatalf("first run %+v, want 300 accepted", first)
	}
	before := e.members("again")
	// Settle some, so the re-run meets refunds past queued too.
	for _, id := range before[:50] {
		_, err := e.store.Transition(ctx, id, store.Change{From: []refund.State{refund.Queued}, To: refund.Canceled, Event: "test"})
		testenv.Must(t, err)
	}
	second, err := e.p.EnqueueBatch(ctx, "again", producer.Rows(rows), producer.Concurrency(4))
	testenv.Must(t, err)
	if second.Accepted != 0 || second.Duplicates != 300 || len(second.Errors) != 0 {
		t.Errorf("second run %+v, want 300 duplicates", second)
	}
	if after := e.members("again"); len(after) != 300 || e.records() != 300 {
		t.Errorf("after re-run: %d in batch, %d records, want 300", len(after), e.records())
	}
	if n := e.queued(tasks.QueueBulk); n != 300 {
		t.Errorf("bulk queue holds %d tasks, want 300", n)
	}
	queued, err := e.store.ListState(ctx, refund.Queued, 1000)
	testenv.Must(t, err)
	if len(queued) != 250 {
		t.Errorf("queued index lists %d, want 250: a repeat re-listed a canceled refund", len(queued))
	}
	meta, err := e.store.Batch(ctx, "again")
	testenv.Must(t, err)
	if meta.Runs != 2 || meta.Accepted != 300 || meta.Duplicates != 300 {
		t.Errorf("batch metadata %+v", meta)
	}
}

// Rows repeated within one batch: a keyless row that repeats another is
// the same refund and is rejected, naming the first; a keyed row that
// repeats with the same parameters is a duplicate; with other parameters
// it is rejected, blaming the key. Only the first of each is written.
func TestRepeatedRowsInOneBatch(t *testing.T) {
	e := newBatchEnv(t)
	x := producer.Refund{OrderID: "order-x", Amount: "3"}
	rows := []producer.BatchRow{
		{Line: 2, Refund: x},
		{Line: 3, Refund: row("order-k", "1.00", "k")},
		{Line: 4, Refund: producer.Refund{OrderID: "order-x", Amount: "3.00"}, Raw: "order-x,3.00"}, // x again: 3 is 3.00
		{Line: 5, Refund: row("order-k", "1", "k")},                                                 // same key, same refund
		{Line: 6, Refund: row("order-k", "2.00", "k")},                                              // same key, another amount
		{Line: 7, Refund: producer.Refund{OrderID: "order-x", Amount: "3", Description: "other"}},
	}
	for _, name := range []string{"exact", "filtered"} {
		t.Run(name, func(t *testing.T) {
			var opts []producer.BatchOption
			if name == "filtered" { // as a file import does, having read the rows once
				maybe := map[string]bool{producer.BatchRowID(x): true, producer.BatchRowID(rows[1].Refund): true}
				opts = append(opts, producer.RepeatsOnly(func(id string) bool { return maybe[id] }))
			}
			testenv.Must(t, e.rdb.FlushAll(context.Background()).Err())
			rep, err := e.p.EnqueueBatch(context.Background(), "repeats-"+name, withNilErrors(slices.Values(rows)), opts...)
			testenv.Must(t, err)
			if rep.Accepted != 3 || rep.Duplicates != 1 || rep.Rejected != 2 {
				t.Fatalf("report %+v, want 3 accepted, 1 duplicate, 2 rejected", rep)
			}
			if got := lineFields(rep.Errors); !reflect.DeepEqual(got, []string{"4 row", "6 idempotency_key"}) {
				t.Fatalf("errors %v", rep.Errors)
			}
			if r := rep.Errors[0]; !strings.Contains(r.Reason, "same content as line 2") ||
				!strings.Contains(r.Reason, "idempotency_key") || r.Raw != "order-x,3.00" {
				t.Errorf("repeat %+v", r)
			}
			if r := rep.Errors[1]; !strings.Contains(r.Reason, `idempotency_key "k"`) || !strings.Contains(r.Reason, "line 3") {
				t.Errorf("conflict %+v", r)
			}
			if n := e.records(); n != 3 {
				t.Errorf("%d records, want 3", n)
			}
		})
	}
}

// A row's request_id comes from the row alone: the same keyless rows in
// another batch, in another order, are duplicates, and fixing a rejected
// row adds exactly that row.
func TestRowIdentityDoesNotDependOnTheBatch(t *testing.T) {
	e := newBatchEnv(t)
	ctx := context.Background()
	x, y := producer.Refund{OrderID: "order-x", Amount: "3"}, producer.Refund{TransactionID: "txn-y"}
	bad := producer.Refund{OrderID: "order-z", Amount: "3,00"}
	fixed := producer.Refund{OrderID: "order-z", Amount: "3.00"}
	rep, err := e.p.EnqueueBatch(ctx, "fix", producer.Rows([]producer.Refund{bad, x, y}))
	testenv.Must(t, err)
	if rep.Accepted != 2 || rep.Rejected != 1 {
		t.Fatalf("first run %+v", rep)
	}
	rep, err = e.p.EnqueueBatch(ctx, "fix-2", producer.Rows([]producer.Refund{fixed, y, x}))
	testenv.Must(t, err)
	if rep.Accepted != 1 || rep.Duplicates != 2 || rep.Rejected != 0 {
		t.Errorf("re-run %+v, want only the fixed row new", rep)
	}
	if n := e.records(); n != 3 {
		t.Errorf("%d records, want 3", n)
	}
	if got, want := producer.BatchRowID(x), producer.BatchRowID(producer.Refund{OrderID: "order-x", Amount: "3.00", Merchant: "default"}); got != want {
		t.Errorf("3 and 3.00 under the default merchant give %s and %s", got, want)
	}
}

// OnReject gets every problem in line order while the writes overlap,
// and the report then keeps none of them.
func TestOnRejectStreamsInLineOrder(t *testing.T) {
	e := newBatchEnv(t)
	var rows []producer.Refund
	for i := range 3000 {
		amount := "1.00"
		if i%3 == 0 {
			amount = "0"
		}
		rows = append(rows, producer.Refund{OrderID: fmt.Sprintf("order-%d", i), Amount: amount})
	}
	var lines []int
	var progress []int
	rep, err := e.p.EnqueueBatch(context.Background(), "stream", producer.Rows(rows), producer.Concurrency(8),
		producer.OnReject(func(re producer.RowError) error { lines = append(lines, re.Line); return nil }),
		producer.OnProgress(func(done int) { progress = append(progress, done) }))
	testenv.Must(t, err)
	if rep.Rejected != 1000 || rep.Accepted != 2000 || rep.Errors != nil {
		t.Fatalf("report %+v", rep)
	}
	if len(lines) != 1000 || !slices.IsSorted(lines) || lines[0] != 1 || lines[999] != 2998 {
		t.Errorf("rejects came as %d lines, sorted %v", len(lines), slices.IsSorted(lines))
	}
	if !slices.IsSorted(progress) || progress[len(progress)-1] != 3000 {
		t.Errorf("progress %v", progress)
	}
}

// An error from OnReject (a full disk under the rejects file) stops the
// batch.
func TestOnRejectErrorStopsTheBatch(t *testing.T) {
	e := newBatchEnv(t)
	boom := errors.New("disk full")
	rows := []producer.Refund{{OrderID: "order-1", Amount: "0"}, {OrderID: "order-2", Amount: "1"}}
	_, err := e.p.EnqueueBatch(context.Background(), "full-disk", producer.Rows(rows),
		producer.OnReject(func(producer.RowError) error { return boom }))
	if !errors.Is(err, boom) {
		t.Fatalf("err = %v, want %v", err, boom)
	}
	meta, err := e.store.Batch(context.Background(), "full-disk")
	testenv.Must(t, err)
	if !meta.CompletedAt.IsZero() {
		t.Errorf("batch stopped by its rejects sink is marked complete: %+v", meta)
	}
}

func TestInterruptedBatchCompletesOnRerun(t *testing.T) {
	e := newBatchEnv(t)
	rows := make([]producer.Refund, 2000)
	for i := range rows {
		rows[i] = producer.Refund{OrderID: fmt.Sprintf("order-%d", i), Amount: "2.50"}
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	rep, err := e.p.EnqueueBatch(ctx, "cut", producer.Rows(rows), producer.Concurrency(2),
		producer.OnProgress(func(done int) {
			if done >= 300 {
				cancel() // as Ctrl-C would
			}
		}))
	if !errors.Is(err, context.Canceled) {
		t.Fatalf("err = %v, want context.Canceled", err)
	}
	if rep.Accepted >= len(rows) {
		t.Fatalf("interrupted run accepted all %d rows; the test proves nothing", rep.Accepted)
	}
	meta, err := e.store.Batch(context.Background(), "cut")
	testenv.Must(t, err)
	if !meta.CompletedAt.IsZero() {
		t.Errorf("interrupted batch marked complete: %+v", meta)
	}

	rep2, err := e.p.EnqueueBatch(context.Background(), "cut", producer.Rows(rows))
	testenv.Must(t, err)
	if rep2.Accepted+rep2.Duplicates != len(rows) || rep2.Duplicates < rep.Accepted {
		t.Errorf("re-run %+v after %+v", rep2, rep)
	}
	if n := e.queued(tasks.QueueBulk); n != len(rows) || e.records() != len(rows) {
		t.Errorf("%d tasks and %d records, want %d of each", n, e.records(), len(rows))
	}
	meta, err = e.store.Batch(context.Background(), "cut")
	testenv.Must(t, err)
	if meta.CompletedAt.IsZero() || meta.Accepted != len(rows) || meta.Runs != 2 {
		t.Errorf("batch metadata after re-run %+v", meta)
	}
}

func TestDryRunWritesNothing(t *testing.T) {
	e := newBatchEnv(t)
	ctx := context.Background()
	_, err := e.p.Enqueue(ctx, row("order-1", "1.00", "k-1"))
	testenv.Must(t, err)
	keys, err := e.rdb.DBSize(ctx).Result()
	testenv.Must(t, err)
	rows := []producer.Refund{
		row("order-1", "1.00", "k-1"), // duplicate of the stored one
		row("order-1", "2.00", "k-1"), // conflicts with it
		row("order-2", "1.00", "k-2"),
		row("order-3", "abc", "k-3"),
	}
	rep, err := e.p.EnqueueBatch(ctx, "dry", producer.Rows(rows), producer.DryRun())
	testenv.Must(t, err)
	if rep.Accepted != 1 || rep.Duplicates != 1 || rep.Rejected != 2 {
		t.Errorf("dry run %+v", rep)
	}
	if after, _ := e.rdb.DBSize(ctx).Result(); after != keys {
		t.Errorf("dry run changed Redis: %d keys, then %d", keys, after)
	}
}

func TestEnqueueBatchRefusesABadBatchID(t *testing.T) {
	e := newBatchEnv(t)
	for _, id := range []string{"", "has space", "-lead", string(make([]byte, 129))} {
		if _, err := e.p.EnqueueBatch(context.Background(), id, producer.Rows(nil)); err == nil {
			t.Errorf("batch id %q accepted", id)
		}
	}
}

func TestEnqueueBatchStopsWhenRedisIsGone(t *testing.T) {
	r := testenv.StartRedis(t)
	rdb := redis.NewClient(&redis.Options{Addr: r.Addr(), MaxRetries: -1, DialerRetries: 1})
	defer rdb.Close()
	p := producer.NewFromClient(rdb)
	rows := []producer.Refund{row("order-1", "1.00", "k-1")}
	r.Kill()
	_, err := p.EnqueueBatch(context.Background(), "gone", producer.Rows(rows))
	if err == nil {
		t.Fatal("EnqueueBatch succeeded with Redis down")
	}
}

func lineFields(errs []producer.RowError) []string {
	out := make([]string, len(errs))
	for i, e := range errs {
		out[i] = fmt.Sprintf("%d %s", e.Line, e.Field)
	}
	return out
}

func withNilErrors(rows iter.Seq[producer.BatchRow]) iter.Seq2[producer.BatchRow, error] {
	return func(yield func(producer.BatchRow, error) bool) {
		for r := range rows {
			if !yield(r, nil) {
				return
			}
		}
	}
}

func TestEnqueueBatchStopsOnARowsError(t *testing.T) {
	e := newBatchEnv(t)
	boom := errors.New("disk on fire")
	rows := func(yield func(producer.BatchRow, error) bool) {
		if yield(producer.BatchRow{Refund: row("order-1", "1.00", "k-1")}, nil) {
			yield(producer.BatchRow{}, boom)
		}
	}
	_, err := e.p.EnqueueBatch(context.Background(), "boom", rows)
	if !errors.Is(err, boom) {
		t.Fatalf("err = %v, want %v", err, boom)
	}
	meta, err := e.store.Batch(context.Background(), "boom")
	testenv.Must(t, err)
	if !meta.CompletedAt.IsZero() {
		t.Errorf("batch stopped by a read error is marked complete: %+v", meta)
	}
}

// A Redis that stops answering (a paused host: the connection stays open)
// stops the batch with an error saying so, within the group timeout,
// instead of waiting on the client's internal backstops.
func TestEnqueueBatchStopsWhenRedisHangs(t *testing.T) {
	r := testenv.StartRedis(t)
	p := producer.NewFromClient(r.Client())
	rows := make([]producer.Refund, 50000)
	for i := range rows {
		rows[i] = producer.Refund{OrderID: fmt.Sprintf("hang-%d", i), Amount: "1"}
	}
	paused := false
	start := time.Now()
	rep, err := p.EnqueueBatch(context.Background(), "hang", producer.Rows(rows), producer.Concurrency(2),
		producer.GroupTimeout(time.Second), producer.OnProgress(func(done int) {
			if done > 2000 && !paused {
				paused = true
				r.Pause()
			}
		}))
	r.Resume()
	if !errors.Is(err, context.DeadlineExceeded) || !strings.Contains(err.Error(), "Redis did not answer") {
		t.Fatalf("err = %v, want Redis did not answer, deadline exceeded", err)
	}
	if rep.Accepted >= len(rows) || time.Since(start) > 30*time.Second {
		t.Errorf("report %+v after %s", rep, time.Since(start))
	}
}

// A write that fails (Redis killed mid-batch) stops the batch with its
// error instead of being skipped.
func TestEnqueueBatchStopsWhenRedisDiesMidway(t *testing.T) {
	r := testenv.StartRedis(t)
	rdb := redis.NewClient(&redis.Options{Addr: r.Addr(), MaxRetries: -1, DialerRetries: 1})
	defer rdb.Close()
	p := producer.NewFromClient(rdb)
	rows := make([]producer.Refund, 20000)
	for i := range rows {
		rows[i] = producer.Refund{OrderID: fmt.Sprintf("die-%d", i), Amount: "1"}
	}
	killed := false
	rep, err := p.EnqueueBatch(context.Background(), "die", producer.Rows(rows), producer.Concurrency(2),
		producer.OnProgress(func(done int) {
			if done > 2000 && !killed {
				killed = true
				r.Kill()
			}
		}))
	if err == nil || rep.Accepted+rep.Duplicates+rep.Rejected >= len(rows) {
		t.Fatalf("EnqueueBatch with Redis killed midway: %+v, %v", rep, err)
	}
}
