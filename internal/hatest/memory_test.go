package hatest

import (
	"context"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
	"go.uber.org/zap"

	"github.com/refundq/refundq/internal/fpsim"
	"github.com/refundq/refundq/internal/refund"
	"github.com/refundq/refundq/internal/testenv"
	"github.com/refundq/refundq/internal/teststack"
)

// BenchmarkMemoryPerRefund measures what one refund costs in Redis, for
// docs/operations.md: queued (record, task, indexes) and settled (record,
// events and the completed task asynq keeps for a day). Each run measures
// a fixed number of refunds, whatever b.N:
//
//	go test -run '^$' -bench MemoryPerRefund -benchtime 1x ./internal/hatest/
//
// or `make bench-memory`.
func BenchmarkMemoryPerRefund(b *testing.B) {
	b.Run("queued", func(b *testing.B) {
		const n = 10_000
		s := teststack.New(b, teststack.WithLogLevel(zap.WarnLevel))
		rdb, ctx := s.Redis.Client(), context.Background()
		enqueueAll(ctx, b, s.Producer, refunds(100)) // queues, scripts and indexes exist before the baseline
		before := usedMemory(ctx, b, rdb)
		rs := refunds(n)
		enqueueAll(ctx, b, s.Producer, rs)
		after := usedMemory(ctx, b, rdb)
		if after <= before {
			b.Fatal("memory did not grow: the measurement is broken")
		}
		reportMemory(ctx, b, rdb, n, before, after, rs[0].RequestID)
	})
	b.Run("settled", func(b *testing.B) {
		const n = 2_000
		h := newHarness(b, nil, n+100, fpsim.Faults{})
		rdb, ctx := h.Redis.Client(), context.Background()
		warm := refunds(100)
		enqueueAll(ctx, b, h.Producer, warm)
		h.runWorker(h.Redis.Client())
		h.runWorker(h.Redis.Client())
		waitSettled(b, h.Store, acksOf(warm), time.Minute)
		before := usedMemory(ctx, b, rdb)
		rs := refundsFrom(100, n)
		enqueueAll(ctx, b, h.Producer, rs)
		if o := waitSettled(b, h.Store, acksOf(rs), 5*time.Minute); o.states[refund.Succeeded] != n {
			b.Fatalf("states %v", o.states)
		}
		reportMemory(ctx, b, rdb, n, before, usedMemory(ctx, b, rdb), rs[0].RequestID)
	})
}

// reportMemory reports used_memory's growth per refund and the MEMORY
// USAGE of one refund's record, events and submit task.
func reportMemory(ctx context.Context, b *testing.B, rdb *redis.Client, n, before, after int, id string) {
	b.ReportMetric(float64(after-before)/float64(n), "bytes/refund")
	b.ReportMetric(float64(memUsage(ctx, rdb, "refundq:{"+id+"}")), "record-bytes")
	b.ReportMetric(float64(memUsage(ctx, rdb, "refundq:{"+id+"}:events")), "events-bytes")
	b.ReportMetric(float64(memUsage(ctx, rdb, "asynq:{refundq.interactive}:t:"+id)), "task-bytes")
}

func usedMemory(ctx context.Context, t testing.TB, rdb *redis.Client) int {
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
