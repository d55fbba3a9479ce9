package worker_test

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/hibiken/asynq"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/refundq/refundq/internal/fpsim"
	"github.com/refundq/refundq/internal/refund"
	"github.com/refundq/refundq/internal/tasks"
	"github.com/refundq/refundq/internal/testenv"
	"github.com/refundq/refundq/producer"
	"github.com/refundq/refundq/worker"
)

// callLog records when Card API calls reach the simulator.
type callLog struct {
	mu sync.Mutex
	at []time.Time
}

func (c *callLog) count() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return len(c.at)
}

func (c *callLog) times() []time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return slices.Clone(c.at)
}

// countedClient is a provider whose calls reach the stack's simulator
// through c.
func (s *stack) countedClient(c *callLog) *worker.Provider {
	s.T.Helper()
	h := s.Sim.Handler()
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if strings.HasPrefix(r.URL.Path, "/v5/") {
			c.mu.Lock()
			c.at = append(c.at, time.Now())
			c.mu.Unlock()
		}
		h.ServeHTTP(w, r)
	}))
	s.T.Cleanup(srv.Close)
	return s.CardAPI(srv.URL)
}

func (s *stack) enqueueN(prefix string, n int) []string {
	ids := make([]string, n)
	for i := range ids {
		ids[i] = s.Enqueue(producer.Refund{IdempotencyKey: fmt.Sprintf("%s-%d", prefix, i),
			OrderID: fmt.Sprintf("order-%06d", i+1), Amount: "1.00"})
	}
	return ids
}

// maxInWindow is the most calls in any window-long span.
func maxInWindow(at []time.Time, window time.Duration) int {
	slices.SortFunc(at, func(a, b time.Time) int { return a.Compare(b) })
	most := 0
	for i := range at {
		j := i
		for j < len(at) && at[j].Sub(at[i]) < window {
			j++
		}
		most = max(most, j-i)
	}
	return most
}

func TestRateLimitIsSharedByWorkers(t *testing.T) {
	const limit, refunds = 10, 40
	s := newStack(t, func(c *fpsim.Config) { c.StatusDelay = 0 }) // one call settles a refund
	calls := &callLog{}
	client := s.countedClient(calls)
	var regs []*prometheus.Registry
	for range 2 {
		cfg := s.WorkerConfig()
		cfg.Providers = worker.SingleProvider(client)
		cfg.Protection.RateLimit = func(string) int { return limit }
		regs = append(regs, cfg.Registerer.(*prometheus.Registry))
		s.RunWorker(cfg)
	}
	for _, id := range s.enqueueN("rate", refunds) {
		wantState(s.T, s.WaitSettled(id, 30*time.Second), refund.Succeeded)
	}

	// GCRA with burst = rate lets through at most burst + rate*window calls
	// in any window. The slack covers the time between a worker taking its
	// token and its call reaching the simulator; two workers each limiting
	// themselves alone would pass twice the bound.
	const window, slack = time.Second, 500 * time.Millisecond
	bound := limit + int(float64(limit)*(window+slack).Seconds())
	if got := maxInWindow(calls.times(), window); got > bound {
		t.Errorf("%d calls reached the provider within %s; the shared limit allows %d", got, window, bound)
	}
	if got := calls.count(); got != refunds {
		t.Errorf("provider saw %d calls, want %d (one per refund)", got, refunds)
	}
	waits := 0.0
	for i, reg := range regs {
		if metricValue(t, reg, "refundq_refunds_terminal_total", "succeeded") <= 0 {
			t.Errorf("worker %d settled no refund: the test did not exercise two workers", i)
		}
		waits += max(metricValue(t, reg, "refundq_rate_limit_waits_total", "default"), 0)
	}
	if waits == 0 {
		t.Error("no call was held back: the limit was never reached")
	}
	s.AuditClean()
}

// protectedWorker runs one worker against a Down simulator, with a breaker
// that opens after failures and stays open for open.
func protectedWorker(t *testing.T, failures int, open time.Duration) (*stack, *prometheus.Registry, *callLog, worker.Config) {
	t.Helper()
	s := newStack(t, func(c *fpsim.Config) { c.Faults.Down = true })
	calls := &callLog{}
	cfg := s.WorkerConfig()
	cfg.Providers = worker.SingleProvider(s.countedClient(calls))
	cfg.Concurrency = 2
	cfg.FailureBudget = 2
	cfg.Protection = worker.Protection{BreakerFailures: failures, BreakerOpen: open}
	s.RunWorker(cfg)
	return s, cfg.Registerer.(*prometheus.Registry), calls, cfg
}

func TestOpenBreakerHoldsRefundsBackWithoutSpendingBudget(t *testing.T) {
	const failures = 3
	s, reg, calls, cfg := protectedWorker(t, failures, time.Hour)
	ids := s.enqueueN("breaker", 8)
	insp := asynq.NewInspectorFromRedisClient(s.RDB)

	testenv.WaitFor(t, 20*time.Second, "the breaker to open", func() bool {
		return metricValue(t, reg, "refundq_breaker_state", "default") == 2
	})
	// A refund the open breaker held back was never marked submitting, so
	// it was never sent, and its task waits instead of failing.
	var heldBack string
	testenv.WaitFor(t, 20*time.Second, "a refund held back by the breaker", func() bool {
		for _, id := range ids {
			rec, err := s.Store.Get(context.Background(), id)
			ti, ierr := insp.GetTaskInfo(tasks.QueueInteractive, tasks.SubmitID(id))
			if err == nil && ierr == nil && rec.State == refund.Queued && strings.Contains(ti.LastErr, "circuit breaker open") {
				heldBack = id
				return true
			}
		}
		return false
	})
	if got, most := calls.count(), failures+cfg.Concurrency; got > most {
		t.Errorf("%d calls reached the provider; the breaker should stop them after %d failures (+%d in flight)",
			got, failures, cfg.Concurrency)
	}
	for _, id := range ids {
		rec, err := s.Store.Get(context.Background(), id)
		testenv.Must(t, err)
		if rec.State != refund.Queued && rec.State != refund.Submitting && rec.State != refund.Unknown {
			t.Errorf("refund %s is %s during the outage (reason %q); want it queued or awaiting reconcile", id, rec.State, rec.Reason)
		}
		for _, ref := range [][2]string{{tasks.QueueInteractive, tasks.SubmitID(id)}, {tasks.QueuePoll, tasks.PollID(id)}} {
			if ti, err := insp.GetTaskInfo(ref[0], ref[1]); err == nil && ti.Retried != 0 {
				t.Errorf("task %s was counted as failed %d times (last error %q); waiting must not spend the budget",
					ref[1], ti.Retried, ti.LastErr)
			}
		}
	}
	if rec, _ := s.Store.Get(context.Background(), heldBack); rec.Attempts != 0 {
		t.Errorf("held-back refund %s records %d attempts, want 0", heldBack, rec.Attempts)
	}
	if got := seriesSum(t, reg, "refundq_provider_requests_total", "outcome", "breaker_open"); got < 1 {
		t.Errorf("refundq_provider_requests_total{outcome=breaker_open} = %v, want the held-back calls counted", got)
	}
}

// seriesSum adds up the series of a counter whose label has value.
func seriesSum(t *testing.T, reg *prometheus.Registry, name, label, value string) float64 {
	t.Helper()
	mfs, err := reg.Gather()
	testenv.Must(t, err)
	sum := 0.0
	for _, mf := range mfs {
		for _, m := range mf.GetMetric() {
			for _, l := range m.GetLabel() {
				if mf.GetName() == name && l.GetName() == label && l.GetValue() == value {
					sum += m.GetCounter().GetValue()
				}
			}
		}
	}
	return sum
}

func TestBreakerClosesWhenTheProviderRecovers(t *testing.T) {
	s, reg, _, _ := protectedWorker(t, 2, 200*time.Millisecond)
	ids := s.enqueueN("recover", 6)
	testenv.WaitFor(t, 20*time.Second, "the breaker to open", func() bool {
		return metricValue(t, reg, "refundq_breaker_state", "default") == 2
	})
	s.Sim.SetFaults(fpsim.Faults{})
	for _, id := range ids {
		wantState(t, s.WaitSettled(id, 30*time.Second), refund.Succeeded)
	}
	if got := metricValue(t, reg, "refundq_breaker_state", "default"); got != 0 {
		t.Errorf("breaker state %v after recovery, want 0 (closed)", got)
	}
	s.AuditClean()
}
