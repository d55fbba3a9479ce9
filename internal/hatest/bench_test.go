package hatest

import (
	"context"
	"fmt"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/refundq/refundq/internal/fpsim"
	"github.com/refundq/refundq/internal/testenv"
	"github.com/refundq/refundq/producer"
	"github.com/refundq/refundq/worker"
)

// BenchmarkWorkers measures refunds per second, accepted to settled, with
// 1, 2 and 4 workers on one Redis against a simulator that answers every
// call after 100 ms. Each worker has its own Redis client and the
// production concurrency of 20, as separate processes would; they share
// this process's CPU, so on a small machine the figure is a floor. Run it
// with a fixed count so every worker count gets the same backlog:
//
//	go test -run '^$' -bench Workers -benchtime 400x ./internal/hatest/
func BenchmarkWorkers(b *testing.B) {
	for _, n := range []int{1, 2, 4} {
		b.Run(fmt.Sprintf("workers=%d", n), func(b *testing.B) { benchWorkers(b, n) })
	}
}

func benchWorkers(b *testing.B, workers int) {
	h := newHarness(b, nil, b.N, fpsim.Faults{Latency: 100 * time.Millisecond})
	h.tune = func(c *worker.Config) {
		c.Concurrency = 20
		c.PollSchedule = []time.Duration{200 * time.Millisecond, 500 * time.Millisecond, time.Second}
	}
	ctx := context.Background()
	rs := refunds(b.N)
	acks := acksOf(rs)
	enqueueAll(ctx, b, h.Producer, rs)
	b.ResetTimer()
	start := time.Now()
	for range workers {
		h.runWorker(h.Redis.Client())
	}
	waitSettled(b, h.Store, acks, 10*time.Minute)
	elapsed := time.Since(start)
	b.StopTimer()
	b.ReportMetric(float64(b.N)/elapsed.Seconds(), "refunds/s")
	b.ReportMetric(float64(len(h.Sim.Ledger().Requests))/elapsed.Seconds(), "provider-refunds/s")
}

// BenchmarkWorkerProcesses is BenchmarkWorkers with 1, 2 and 4 `refundq
// worker` processes: the production binary and wiring, concurrency 20,
// what an operator adding replicas gets. Unlike the in-process workers,
// their polls wait for asynq's once-a-second forwarder. That costs each
// refund latency, not throughput (a refund holds no slot between polls),
// but it puts a second-long tail on every run: give it a backlog of
// several seconds or the tail is what it measures.
//
//	go test -run '^$' -bench WorkerProcesses -benchtime 2000x ./internal/hatest/
func BenchmarkWorkerProcesses(b *testing.B) {
	bin, err := testenv.BuildRefundq(context.Background(), b.TempDir())
	testenv.Must(b, err)
	for _, n := range []int{1, 2, 4} {
		b.Run(fmt.Sprintf("processes=%d", n), func(b *testing.B) { benchWorkerProcesses(b, bin, n) })
	}
}

func benchWorkerProcesses(b *testing.B, bin string, workers int) {
	h := newHarness(b, nil, b.N, fpsim.Faults{Latency: 100 * time.Millisecond})
	ctx := context.Background()
	rs := refunds(b.N)
	enqueueAll(ctx, b, h.Producer, rs)
	b.ResetTimer()
	start := time.Now()
	for i := range workers {
		h.startWorkerProcess(bin, i+1)
	}
	waitSettled(b, h.Store, acksOf(rs), 10*time.Minute)
	elapsed := time.Since(start)
	b.StopTimer()
	b.ReportMetric(float64(b.N)/elapsed.Seconds(), "refunds/s")
	b.ReportMetric(float64(len(h.Sim.Ledger().Requests))/elapsed.Seconds(), "provider-refunds/s")
}

// BenchmarkWorkerCPU runs one worker against an instant simulator, so CPU
// rather than provider latency bounds it, and reports CPU time per refund:
// this process (worker, simulator and producer together, an upper bound
// for the worker) and redis-server. Sizing in docs/operations.md uses it.
//
//	go test -run '^$' -bench WorkerCPU -benchtime 2000x ./internal/hatest/
func BenchmarkWorkerCPU(b *testing.B) {
	h := newHarness(b, nil, b.N, fpsim.Faults{})
	rdb := h.Redis.Client()
	h.tune = func(c *worker.Config) {
		c.Concurrency = 20
		c.PollSchedule = []time.Duration{200 * time.Millisecond, 500 * time.Millisecond, time.Second}
	}
	ctx := context.Background()
	rs := refunds(b.N)
	enqueueAll(ctx, b, h.Producer, rs)
	b.ResetTimer()
	goCPU, redisCPU := processCPU(b), redisServerCPU(ctx, b, rdb)
	start := time.Now()
	h.runWorker(h.Redis.Client())
	waitSettled(b, h.Store, acksOf(rs), 10*time.Minute)
	elapsed := time.Since(start)
	b.StopTimer()
	goCPU, redisCPU = processCPU(b)-goCPU, redisServerCPU(ctx, b, rdb)-redisCPU
	b.ReportMetric(float64(b.N)/elapsed.Seconds(), "refunds/s")
	b.ReportMetric(float64(goCPU.Microseconds())/float64(b.N), "go-cpu-µs/refund")
	b.ReportMetric(float64(redisCPU.Microseconds())/float64(b.N), "redis-cpu-µs/refund")
}

func processCPU(b *testing.B) time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		b.Fatal(err)
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

func redisServerCPU(ctx context.Context, b *testing.B, rdb *redis.Client) time.Duration {
	info, err := rdb.Info(ctx, "cpu").Result()
	if err != nil {
		b.Fatal(err)
	}
	var total float64
	for _, line := range strings.Split(info, "\r\n") {
		for _, k := range []string{"used_cpu_sys:", "used_cpu_user:"} {
			if v, ok := strings.CutPrefix(line, k); ok {
				f, _ := strconv.ParseFloat(v, 64)
				total += f
			}
		}
	}
	return time.Duration(total * float64(time.Second))
}

// BenchmarkEnqueueDurability measures what appendfsync costs Enqueue: 16
// concurrent producers against Redis without AOF, with appendfsync
// everysec and with appendfsync always (the compose stack's setting).
//
//	go test -run '^$' -bench EnqueueDurability -benchtime 5000x ./internal/hatest/
func BenchmarkEnqueueDurability(b *testing.B) {
	for _, c := range []struct {
		name string
		opt  testenv.RedisOption
	}{
		{"aof=off", testenv.WithArgs()},
		{"appendfsync=everysec", testenv.WithArgs("--appendonly", "yes", "--appendfsync", "everysec")},
		{"appendfsync=always", testenv.WithAOF()},
	} {
		b.Run(c.name, func(b *testing.B) {
			r := testenv.StartRedis(b, c.opt)
			enqueueParallel(b, producer.NewFromClient(r.Client()))
		})
	}
}

// enqueueParallel enqueues b.N refunds from 16 goroutines and reports the
// rate.
func enqueueParallel(b *testing.B, p *producer.Producer) {
	next := make(chan producer.Refund, b.N)
	for _, rf := range refunds(b.N) {
		next <- rf
	}
	close(next)
	ctx := context.Background()
	b.SetParallelism(8)
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			if _, err := p.Enqueue(ctx, <-next); err != nil {
				b.Error(err)
				return
			}
		}
	})
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "enqueues/s")
}
