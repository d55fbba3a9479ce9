package main

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/refundq/refundq/internal/importer"
	"github.com/refundq/refundq/internal/tasks"
	"github.com/refundq/refundq/producer"
)

// e2eResult is one end-to-end phase: refunds enqueued with the worker
// stopped, then drained by a `refundq worker`.
type e2eResult struct {
	rate         float64
	queuedBytes  float64 // Redis memory per queued refund, worker stopped
	usage        usage   // enqueue and processing together
	rss, peakRSS int64
	n            int
	// CPU time per refund while the worker drained the queue.
	workerCPU, benchCPU, redisCPU time.Duration
}

// e2e runs one end-to-end phase and checks every refund succeeded after
// exactly `polls` status polls, each executed once by the provider.
func (b *bench) e2e(ctx context.Context, phase string, po providerOpts, wo workerOpts, n, polls int) (e2eResult, error) {
	res := e2eResult{n: n}
	if err := b.reset(ctx); err != nil {
		return res, err
	}
	po.orders = n
	prov := startProvider(po)
	defer prov.close()
	s0, err := b.obs.snapshot(ctx)
	if err != nil {
		return res, err
	}
	ids, err := enqueueAll(ctx, b.producer, phase, n, b.cfg.enqueuers)
	if err != nil {
		return res, err
	}
	s1, err := b.obs.snapshot(ctx)
	if err != nil {
		return res, err
	}
	res.queuedBytes = float64(s0.to(s1).memory) / float64(n)
	w, err := b.startRunner(ctx, prov.url(), wo)
	if err != nil {
		return res, err
	}
	workerCPU, benchCPU := w.cpu(), selfCPU()
	err = waitSettled(ctx, b.obs, w, b.cfg.phaseTimeout)
	if err == nil {
		var s2 snapshot
		if s2, err = b.obs.snapshot(ctx); err == nil {
			res.usage = s0.to(s2)
			per := func(d time.Duration) time.Duration { return d / time.Duration(n) }
			res.workerCPU, res.benchCPU = per(w.cpu()-workerCPU), per(selfCPU()-benchCPU)
			res.redisCPU = per(time.Duration(s1.to(s2).cpuSeconds * float64(time.Second)))
			res.rss, res.peakRSS, err = w.memory()
		}
	}
	w.stop()
	if err != nil {
		return res, fmt.Errorf("%s: %w", phase, err)
	}
	out, err := readRecords(ctx, b.obs, ids, polls)
	if err != nil {
		return res, fmt.Errorf("%s: %w", phase, err)
	}
	if err := checkLedger(prov, n); err != nil {
		return res, fmt.Errorf("%s: %w", phase, err)
	}
	res.rate = steadyRate(out.finishTimes())
	return res, nil
}

func checkLedger(prov *provider, n int) error {
	executed, twice := prov.executions()
	if twice > 0 {
		return fmt.Errorf("provider executed %d refunds more than once", twice)
	}
	if executed != n {
		return fmt.Errorf("provider executed %d refunds, want %d", executed, n)
	}
	return nil
}

// latencyResult is the open-loop phase at a fixed arrival rate.
type latencyResult struct {
	rate          float64
	p50, p99, max float64 // ms, provider time left out
	provider      float64 // ms, mean provider time per refund
	peakRSS       int64
}

// halfLoad sends refunds at `rate` per second, each on its own schedule
// whatever the system is doing (open loop), to a running worker, and
// measures enqueue-to-terminal time minus the simulator's time per refund.
func (b *bench) halfLoad(ctx context.Context, rate float64, dur time.Duration, wo workerOpts) (latencyResult, error) {
	res := latencyResult{rate: rate}
	if err := b.reset(ctx); err != nil {
		return res, err
	}
	n := int(rate * dur.Seconds())
	prov := startProvider(providerOpts{orders: n})
	defer prov.close()
	w, err := b.startRunner(ctx, prov.url(), wo)
	if err != nil {
		return res, err
	}
	ids, err := arrivals(ctx, b.producer, "half", n, rate)
	if err == nil {
		err = waitSettled(ctx, b.obs, w, b.cfg.phaseTimeout)
	}
	if err == nil {
		_, res.peakRSS, err = w.memory()
	}
	w.stop()
	if err != nil {
		return res, fmt.Errorf("half load: %w", err)
	}
	out, err := readRecords(ctx, b.obs, ids, 0)
	if err != nil {
		return res, fmt.Errorf("half load: %w", err)
	}
	added := make([]float64, len(out.recs))
	var provSum time.Duration
	for i, r := range out.recs {
		p := prov.providerTime(r.RequestID)
		provSum += p
		added[i] = float64(r.UpdatedAt.Sub(r.CreatedAt)-p) / float64(time.Millisecond)
	}
	sort.Float64s(added)
	res.p50, res.p99, res.max = percentile(added, 0.50), percentile(added, 0.99), added[len(added)-1]
	res.provider = float64(provSum) / float64(len(out.recs)) / float64(time.Millisecond)
	return res, checkLedger(prov, n)
}

// arrivals enqueues refund i at start + i/rate, each from its own goroutine
// so a slow enqueue never delays the next arrival.
func arrivals(ctx context.Context, p *producer.Producer, phase string, n int, rate float64) ([]string, error) {
	ids := make([]string, n)
	var wg sync.WaitGroup
	var mu sync.Mutex
	var firstErr error
	start := time.Now()
	for i := range n {
		if d := time.Until(start.Add(time.Duration(float64(i) / rate * float64(time.Second)))); d > 0 {
			time.Sleep(d) // the arrival schedule itself
		}
		wg.Go(func() {
			rc, err := p.Enqueue(ctx, benchRefund(phase, i))
			mu.Lock()
			defer mu.Unlock()
			if err != nil && firstErr == nil {
				firstErr = fmt.Errorf("enqueue %d: %w", i, err)
			}
			ids[i] = rc.RequestID
		})
	}
	wg.Wait()
	return ids, firstErr
}

func percentile(sorted []float64, q float64) float64 {
	if len(sorted) == 0 {
		return 0
	}
	i := int(q*float64(len(sorted))+0.5) - 1
	return sorted[min(max(i, 0), len(sorted)-1)]
}

// importRows imports a generated CSV of n refunds through importer.Run,
// which is what `refundq import FILE` runs, and returns rows per second.
// Writing the file is not timed; reading and parsing it is.
func (b *bench) importRows(ctx context.Context, n int) (float64, error) {
	if err := b.reset(ctx); err != nil {
		return 0, err
	}
	path := filepath.Join(b.tmp, "import.csv")
	if err := writeImportCSV(path, n); err != nil {
		return 0, err
	}
	p := producer.NewFromClient(b.rdb, producer.WithSource("import"))
	start := time.Now()
	res, err := importer.Run(ctx, p, importer.Options{Path: path})
	elapsed := time.Since(start)
	if err != nil {
		return 0, fmt.Errorf("import: %w", err)
	}
	if res.Accepted != n {
		return 0, fmt.Errorf("import accepted %d of %d rows (%d duplicates, %d rejected)", res.Accepted, n, res.Duplicates, res.Rejected)
	}
	queued, err := b.obs.rdb.LLen(ctx, "asynq:{"+tasks.QueueBulk+"}:pending").Result()
	if err != nil || queued != int64(n) {
		return 0, fmt.Errorf("import left %d tasks in the bulk queue (%v), want %d", queued, err, n)
	}
	return float64(n) / elapsed.Seconds(), nil
}

// writeImportCSV writes n refunds without keys, as an operations
// spreadsheet would have them.
func writeImportCSV(path string, n int) error {
	var sb strings.Builder
	sb.WriteString("order_id,amount,description\n")
	for i := range n {
		fmt.Fprintf(&sb, "order-%06d,1.00,goodwill refund %d\n", i+1, i+1)
	}
	return os.WriteFile(path, []byte(sb.String()), 0o600)
}

// idleResult is what a worker with nothing to do costs, and how long a
// refund that arrives at it waits to be picked up.
type idleResult struct {
	workerCPU, redisCPU float64 // % of one core
	redisCmds           float64 // per second, Lua-internal commands included
	startP50, startP99  float64 // ms from acceptance to the first send
}

// idle measures a worker waiting on empty queues: asynq polls them every
// task check interval, and that is the price of a short wait for the next
// refund.
func (b *bench) idle(ctx context.Context, wo workerOpts, dur time.Duration) (idleResult, error) {
	var res idleResult
	if err := b.reset(ctx); err != nil {
		return res, err
	}
	prov := startProvider(providerOpts{})
	defer prov.close()
	w, err := b.startRunner(ctx, prov.url(), wo)
	if err != nil {
		return res, err
	}
	defer w.stop()
	time.Sleep(time.Second) // let start-up settle; this phase measures steady idling
	s0, err := b.obs.snapshot(ctx)
	if err != nil {
		return res, err
	}
	cpu0, start := w.cpu(), time.Now()
	time.Sleep(dur) // the measurement window itself
	s1, err := b.obs.snapshot(ctx)
	if err != nil {
		return res, err
	}
	secs := time.Since(start).Seconds()
	u := s0.to(s1)
	res.workerCPU = 100 * (w.cpu() - cpu0).Seconds() / secs
	res.redisCPU = 100 * u.cpuSeconds / secs
	res.redisCmds = float64(u.total) / secs
	res.startP50, res.startP99, err = b.idleStarts(ctx, w)
	if err != nil {
		return res, err
	}
	return res, w.exited()
}

// idleStarts enqueues refunds one at a time, each after the worker has
// gone back to waiting on empty queues, and measures how long each waited
// from its acceptance to its first send: what a checkout's refund waits on
// a quiet fleet.
func (b *bench) idleStarts(ctx context.Context, w runner) (p50, p99 float64, err error) {
	const n = 100
	starts := make([]float64, 0, n)
	for i := range n {
		rc, err := b.producer.Enqueue(ctx, benchRefund("idle", i))
		if err != nil {
			return 0, 0, err
		}
		var sent time.Duration
		deadline := time.Now().Add(10 * time.Second)
		for sent == 0 {
			rec, err := b.store.Get(ctx, rc.RequestID)
			if err != nil {
				return 0, 0, err
			}
			if !rec.FirstSentAt.IsZero() {
				sent = rec.FirstSentAt.Sub(rec.CreatedAt)
				break
			}
			if time.Now().After(deadline) {
				return 0, 0, fmt.Errorf("idle refund %d not sent within 10s", i)
			}
			time.Sleep(2 * time.Millisecond) // polling the result, not part of what is measured
		}
		starts = append(starts, float64(sent)/float64(time.Millisecond))
		// Let the worker find its queues empty again, at a phase of its
		// check interval unrelated to the last one.
		time.Sleep(150*time.Millisecond + time.Duration(i%7)*13*time.Millisecond)
	}
	sort.Float64s(starts)
	return percentile(starts, 0.50), percentile(starts, 0.99), w.exited()
}
