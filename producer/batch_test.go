package producer_test

import (
	"context"
	"errors"
	"fmt"
	"iter"
	"reflect"
	"slices"
	"testing"

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
		{Line: 2, Refund: row("order-1", "10.00", "k-1")},
		{Line: 3, Refund: row("order-2", "0", "k-2")},                       // amount
		{Line: 4, Refund: producer.Refund{OrderID: "order-3", Amount: "7"}}, // no key: derived
		{Line: 5, Errs: []producer.RowError{{Field: "row", Reason: "has 3 fields, the header has 2"}}},
		{Line: 6, Refund: row("order-1", "10", "k-1")},    // same as line 2
		{Line: 7, Refund: row("order-1", "11.00", "k-1")}, // k-1 with another amount
		{Line: 8, Refund: producer.Refund{OrderID: "bad order", Amount: "-1"}},
		{Line: 9, Refund: row("order-9", "6.00", "k-9")},
		{Line: 10, Refund: producer.Refund{TransactionID: "txn-1"}}, // full refund, derived id
	}
	rep, err := e.p.EnqueueBatch(ctx, "b-1", withNilErrors(slices.Values(rows)))
	testenv.Must(t, err)

	if rep.BatchID != "b-1" || rep.Accepted != 3 || rep.Duplicates != 1 || rep.Rejected != 5 {
		t.Errorf("report %+v, want 3 accepted, 1 duplicate, 5 rejected", rep)
	}
	want := []string{"3 amount", "5 row", "7 request_id", "8 order_id", "8 amount", "9 request_id"}
	if got := lineFields(rep.Errors); !reflect.DeepEqual(got, want) {
		t.Errorf("errors %v\nwant %v", got, want)
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
		rows[i] = producer.Refund{OrderID: fmt.Sprintf("order-%d", i%100), Amount: "1.00"} // each key three times
	}
	first, err := e.p.EnqueueBatch(ctx, "again", producer.Rows(rows), producer.Concurrency(4))
	testenv.Must(t, err)
	if first.Accepted != 300 {
		t.Fatalf("first run %+v, want 300 accepted: repeated rows are separate refunds", first)
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

// Fixing a rejected row and re-running the batch under the same id adds
// exactly that row: no other row's derived id moves.
func TestFixedRowIsTheOnlyNewRefundOnRerun(t *testing.T) {
	e := newBatchEnv(t)
	ctx := context.Background()
	x, y := producer.Refund{OrderID: "order-x", Amount: "3"}, producer.Refund{TransactionID: "txn-y"}
	bad := producer.Refund{OrderID: "order-z", Amount: "3,00"}
	fixed := producer.Refund{OrderID: "order-z", Amount: "3.00"}
	rep, err := e.p.EnqueueBatch(ctx, "fix", producer.Rows([]producer.Refund{bad, x, x, y}))
	testenv.Must(t, err)
	if rep.Accepted != 3 || rep.Rejected != 1 {
		t.Fatalf("first run %+v", rep)
	}
	rep, err = e.p.EnqueueBatch(ctx, "fix", producer.Rows([]producer.Refund{fixed, x, y, x}))
	testenv.Must(t, err)
	if rep.Accepted != 1 || rep.Duplicates != 3 || rep.Rejected != 0 {
		t.Errorf("re-run %+v, want only the fixed row new", rep)
	}
	if n := len(e.members("fix")); n != 4 {
		t.Errorf("batch holds %d refunds, want 4", n)
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
