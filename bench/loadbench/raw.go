package main

import (
	"context"
	"encoding/json"
	"fmt"
	"sort"
	"sync"
	"sync/atomic"
	"time"

	"github.com/google/uuid"
	"github.com/hibiken/asynq"
	"github.com/redis/go-redis/v9"
)

// rawQueue is the queue of the raw asynq phases.
const rawQueue = "default"

// rawTask is a task shaped like a refundq task (same payload size) with
// asynq's default options: the ceiling refundq is compared with.
func rawTask() *asynq.Task {
	b, _ := json.Marshal(map[string]any{"v": 1, "request_id": uuid.NewString()})
	return asynq.NewTask("bench:noop", b)
}

// rawEnqueue enqueues n tasks from `goroutines` callers and returns
// enqueues per second.
func rawEnqueue(ctx context.Context, rdb redis.UniversalClient, n, goroutines int) (float64, error) {
	client := asynq.NewClientFromRedisClient(rdb)
	var next atomic.Int64
	var failed atomic.Value
	var wg sync.WaitGroup
	start := time.Now()
	for range goroutines {
		wg.Go(func() {
			for next.Add(1) <= int64(n) {
				if _, err := client.EnqueueContext(ctx, rawTask(), asynq.Queue(rawQueue)); err != nil {
					failed.Store(err)
					return
				}
			}
		})
	}
	wg.Wait()
	elapsed := time.Since(start)
	if err, ok := failed.Load().(error); ok {
		return 0, fmt.Errorf("raw enqueue: %w", err)
	}
	return float64(n) / elapsed.Seconds(), nil
}

// rawProcess lets an asynq server with a no-op handler drain n queued tasks
// and returns the steady completion rate.
func rawProcess(ctx context.Context, rdb redis.UniversalClient, n, concurrency int) (float64, error) {
	done := make([]time.Time, n)
	var count atomic.Int64
	finished := make(chan struct{})
	srv := asynq.NewServerFromRedisClient(rdb, asynq.Config{
		Concurrency:       concurrency,
		Queues:            map[string]int{rawQueue: 1},
		TaskCheckInterval: 100 * time.Millisecond,
		LogLevel:          asynq.ErrorLevel,
	})
	h := asynq.HandlerFunc(func(context.Context, *asynq.Task) error {
		i := count.Add(1)
		if i <= int64(n) {
			done[i-1] = time.Now()
		}
		if i == int64(n) {
			close(finished)
		}
		return nil
	})
	if err := srv.Start(h); err != nil {
		return 0, fmt.Errorf("raw server: %w", err)
	}
	defer srv.Shutdown()
	select {
	case <-finished:
	case <-time.After(10 * time.Minute):
		return 0, fmt.Errorf("raw server handled %d of %d tasks in 10 minutes", count.Load(), n)
	case <-ctx.Done():
		return 0, ctx.Err()
	}
	return steadyRate(done), nil
}

// rawLatency sends tasks at `rate` per second for dur to an asynq server
// with a no-op handler, each on its own schedule (open loop), and returns
// the p50 and p99 enqueue-to-handler time in ms: what asynq alone adds.
// The server polls as often as the refundq workers do.
func rawLatency(ctx context.Context, rdb redis.UniversalClient, rate float64, dur time.Duration, concurrency int,
	taskCheck time.Duration) (p50, p99 float64, err error) {
	n := int(rate * dur.Seconds())
	lat := make([]float64, n)
	var count atomic.Int64
	finished := make(chan struct{})
	srv := asynq.NewServerFromRedisClient(rdb, asynq.Config{
		Concurrency:       concurrency,
		Queues:            map[string]int{rawQueue: 1},
		TaskCheckInterval: taskCheck,
		LogLevel:          asynq.ErrorLevel,
	})
	h := asynq.HandlerFunc(func(_ context.Context, t *asynq.Task) error {
		var p struct {
			Sent int64 `json:"sent"`
		}
		_ = json.Unmarshal(t.Payload(), &p)
		i := count.Add(1)
		if i <= int64(n) {
			lat[i-1] = float64(time.Now().UnixNano()-p.Sent) / float64(time.Millisecond)
		}
		if i == int64(n) {
			close(finished)
		}
		return nil
	})
	if err := srv.Start(h); err != nil {
		return 0, 0, fmt.Errorf("raw server: %w", err)
	}
	defer srv.Shutdown()
	client := asynq.NewClientFromRedisClient(rdb)
	var wg sync.WaitGroup
	var failed atomic.Value
	start := time.Now()
	for i := range n {
		if d := time.Until(start.Add(time.Duration(float64(i) / rate * float64(time.Second)))); d > 0 {
			time.Sleep(d) // the arrival schedule itself
		}
		wg.Go(func() {
			b, _ := json.Marshal(map[string]any{"sent": time.Now().UnixNano(), "request_id": uuid.NewString()})
			if _, err := client.EnqueueContext(ctx, asynq.NewTask("bench:noop", b), asynq.Queue(rawQueue)); err != nil {
				failed.Store(err)
			}
		})
	}
	wg.Wait()
	if err, ok := failed.Load().(error); ok {
		return 0, 0, fmt.Errorf("raw enqueue: %w", err)
	}
	select {
	case <-finished:
	case <-time.After(time.Minute):
		return 0, 0, fmt.Errorf("raw server handled %d of %d tasks", count.Load(), n)
	case <-ctx.Done():
		return 0, 0, ctx.Err()
	}
	sort.Float64s(lat)
	return percentile(lat, 0.5), percentile(lat, 0.99), nil
}

func (b *bench) rawEnqueuePhase(ctx context.Context, n, goroutines int) (float64, error) {
	if err := b.reset(ctx); err != nil {
		return 0, err
	}
	return rawEnqueue(ctx, b.rdb, n, goroutines)
}

// rawProcessPhase enqueues n raw tasks, notes their memory, then drains
// them with a no-op handler; Redis commands cover both, like the e2e phase.
func (b *bench) rawProcessPhase(ctx context.Context, r *report, n int) error {
	if err := b.reset(ctx); err != nil {
		return err
	}
	s0, err := b.obs.snapshot(ctx)
	if err != nil {
		return err
	}
	if _, err := rawEnqueue(ctx, b.rdb, n, b.cfg.enqueuers); err != nil {
		return err
	}
	s1, err := b.obs.snapshot(ctx)
	if err != nil {
		return err
	}
	cpu := selfCPU()
	rate, err := rawProcess(ctx, b.rdb, n, b.cfg.concurrency)
	if err != nil {
		return err
	}
	cpu = selfCPU() - cpu
	s2, err := b.obs.snapshot(ctx)
	if err != nil {
		return err
	}
	r.addRawProcess(rate, float64(s0.to(s1).memory)/float64(n), s0.to(s2), n)
	r.RawServerCPUUs = float64(cpu) / float64(time.Microsecond) / float64(n)
	r.RawRedisDrainCPUUs = s1.to(s2).cpuSeconds * 1e6 / float64(n)
	return nil
}
