//go:build ha

package hatest

import (
	"context"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/refundq/refundq/internal/fpsim"
	"github.com/refundq/refundq/internal/refund"
	"github.com/refundq/refundq/internal/store"
	"github.com/refundq/refundq/internal/testenv"
	"github.com/refundq/refundq/producer"
)

// TestMeasureMemoryPerRefund measures what one refund costs in Redis, for
// docs/operations.md: queued (record, events, task, indexes) and settled
// (record, events and the completed task asynq keeps for a day).
func TestMeasureMemoryPerRefund(t *testing.T) {
	t.Run("queued", func(t *testing.T) {
		const n = 10_000
		r := testenv.StartRedis(t)
		rdb := r.Client()
		p := producer.NewFromClient(rdb)
		ctx := context.Background()
		enqueueAll(ctx, t, p, refunds(100)) // queues, scripts and indexes exist before the baseline
		before := usedMemory(ctx, t, rdb)
		rs := refunds(n)
		enqueueAll(ctx, t, p, rs)
		after := usedMemory(ctx, t, rdb)
		id := rs[0].RequestID
		t.Logf("FIGURES memory queued: %d refunds, used_memory %d -> %d bytes = %d bytes/refund; "+
			"MEMORY USAGE record %d, events %d, task %d",
			n, before, after, (after-before)/n, memUsage(ctx, rdb, "refundq:{"+id+"}"),
			memUsage(ctx, rdb, "refundq:{"+id+"}:events"), memUsage(ctx, rdb, "asynq:{refundq.interactive}:t:"+id))
		if after <= before {
			t.Fatal("memory did not grow: the measurement is broken")
		}
	})
	t.Run("settled", func(t *testing.T) {
		const n = 2_000
		r := testenv.StartRedis(t)
		rdb := r.Client()
		p := producer.NewFromClient(rdb)
		h := newHarness(t, n+100, fpsim.Faults{})
		ctx := context.Background()
		warm := refunds(100)
		enqueueAll(ctx, t, p, warm)
		h.runWorker(r.Client())
		h.runWorker(r.Client())
		st := store.New(rdb)
		waitSettled(t, st, acksOf(warm), time.Minute)
		before := usedMemory(ctx, t, rdb)
		rs := refundsFrom(100, n)
		enqueueAll(ctx, t, p, rs)
		o := waitSettled(t, st, acksOf(rs), 5*time.Minute)
		if o.states[refund.Succeeded] != n {
			t.Fatalf("states %v", o.states)
		}
		after := usedMemory(ctx, t, rdb)
		id := rs[0].RequestID
		t.Logf("FIGURES memory settled: %d refunds, used_memory %d -> %d bytes = %d bytes/refund; "+
			"MEMORY USAGE record %d, events %d, completed submit task %d",
			n, before, after, (after-before)/n, memUsage(ctx, rdb, "refundq:{"+id+"}"),
			memUsage(ctx, rdb, "refundq:{"+id+"}:events"), memUsage(ctx, rdb, "asynq:{refundq.interactive}:t:"+id))
	})
}

func usedMemory(ctx context.Context, t *testing.T, rdb *redis.Client) int {
	t.Helper()
	info, err := rdb.Info(ctx, "memory").Result()
	testenv.Must(t, err)
	for _, line := range strings.Split(info, "\r\n") {
		if v, ok := strings.CutPrefix(line, "used_memory:"); ok {
			n, err := strconv.Atoi(v)
			testenv.Must(t, err)
			return n
		}
	}
	t.Fatal("no used_memory in INFO")
	return 0
}

func memUsage(ctx context.Context, rdb *redis.Client, key string) int64 {
	n, _ := rdb.MemoryUsage(ctx, key).Result()
	return n
}
