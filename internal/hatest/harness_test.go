package hatest

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/redis/go-redis/v9"
	"github.com/shopspring/decimal"
	"go.uber.org/zap"

	"github.com/refundq/refundq/internal/fpsim"
	"github.com/refundq/refundq/internal/refund"
	"github.com/refundq/refundq/internal/store"
	"github.com/refundq/refundq/internal/testenv"
	"github.com/refundq/refundq/internal/teststack"
	"github.com/refundq/refundq/producer"
	"github.com/refundq/refundq/worker"
)

// TestMain silences go-redis's own logger: a failover makes it print every
// redial, and the tests report what matters themselves.
func TestMain(m *testing.M) {
	redis.SetLogger(quiet{})
	os.Exit(m.Run())
}

type quiet struct{}

func (quiet) Printf(context.Context, string, ...any) {}

// harness is the test stack on the Redis a test chose, with worker
// settings for runs of minutes.
type harness struct {
	*teststack.Stack
	// tune adjusts each worker's config, e.g. for a benchmark.
	tune func(*worker.Config)
}

// newHarness starts the simulator with txns transactions and faults, on
// rdb (nil: a redis-server of its own).
func newHarness(t testing.TB, rdb redis.UniversalClient, txns int, faults fpsim.Faults, opts ...teststack.Option) *harness {
	t.Helper()
	opts = append([]teststack.Option{teststack.WithLogLevel(zap.WarnLevel), teststack.WithSim(func(c *fpsim.Config) {
		c.Transactions, c.Faults, c.Seed = fpsim.GenerateTransactions(txns, decimal.NewFromInt(1000)), faults, 11
	})}, opts...)
	if rdb != nil {
		opts = append(opts, teststack.WithRedisClient(rdb))
	}
	return &harness{Stack: teststack.New(t, opts...)}
}

// withStatusDelay sets how long accepted refunds stay processing.
func withStatusDelay(d time.Duration) teststack.Option {
	return teststack.WithSim(func(c *fpsim.Config) { c.StatusDelay = d })
}

// workerConfig polls quickly and sweeps every second so a test finishes in
// seconds; the code paths are the production ones, with the default settle
// window and no metrics.
func (h *harness) workerConfig(rdb redis.UniversalClient) worker.Config {
	cfg := h.WorkerConfig()
	cfg.Redis, cfg.Registerer, cfg.SettleWindow, cfg.Protection = rdb, nil, 0, worker.Protection{}
	cfg.PollSchedule = []time.Duration{100 * time.Millisecond, 200 * time.Millisecond, 500 * time.Millisecond}
	cfg.DelayedTaskCheckInterval, cfg.SweepInterval = 100*time.Millisecond, time.Second
	return cfg
}

// runWorker runs a worker on its own client, as a separate process would,
// until the test ends.
func (h *harness) runWorker(rdb redis.UniversalClient) {
	h.T.Helper()
	cfg := h.workerConfig(rdb)
	if h.tune != nil {
		h.tune(&cfg)
	}
	h.T.Cleanup(func() { _ = rdb.Close() }) // after the worker has stopped
	h.RunWorker(cfg)
}

// auditLedger fails the test on a double execution or an over-refund.
func (h *harness) auditLedger() fpsim.Ledger {
	h.T.Helper()
	h.AuditClean()
	l := h.Sim.Ledger()
	for _, r := range l.Requests {
		if r.Executions > 1 {
			h.T.Errorf("request_id %s executed %d times", r.RequestID, r.Executions)
		}
	}
	return l
}

// warnings summarizes what the workers logged at warn and above.
func (h *harness) warnings() string {
	n := map[string]int{}
	for _, e := range h.Logs.All() {
		m, _, _ := strings.Cut(e.Message, " id=") // group asynq's per-task messages
		n[m]++
	}
	var parts []string
	for m, c := range n {
		parts = append(parts, fmt.Sprintf("%dx %q", c, m))
	}
	sort.Strings(parts)
	return strings.Join(parts, ", ")
}

// refunds are n partial refunds of the simulator's transactions, each with
// its own request_id.
func refunds(n int) []producer.Refund {
	out := make([]producer.Refund, n)
	for i := range out {
		out[i] = producer.Refund{
			RequestID: uuid.NewString(), TransactionID: fmt.Sprintf("txn-%06d", i+1), OrderID: fmt.Sprintf("order-%06d", i+1),
			Amount: "100.00", Description: "ha test",
		}
	}
	return out
}

// refundsFrom are n refunds of the transactions after the first skip.
func refundsFrom(skip, n int) []producer.Refund { return refunds(skip + n)[skip:] }

func acksOf(rs []producer.Refund) []ack {
	out := make([]ack, len(rs))
	for i, r := range rs {
		out[i] = ack{id: r.RequestID}
	}
	return out
}

// ack is one Enqueue that returned success.
type ack struct {
	id string
	at time.Time
}

// load enqueues refunds from several goroutines, as separate API
// instances would, at a steady pace. A failed Enqueue is retried with the
// same request_id until it succeeds, which is what the producer contract
// asks of a caller.
type load struct {
	mu      sync.Mutex
	acked   []ack
	errs    int
	lastErr error
	wg      sync.WaitGroup
}

func startLoad(ctx context.Context, p *producer.Producer, rs []producer.Refund, senders int, every time.Duration) *load {
	l := &load{}
	next := make(chan producer.Refund)
	go func() {
		defer close(next)
		for _, r := range rs {
			select {
			case next <- r:
			case <-ctx.Done():
				return
			}
		}
	}()
	for range senders {
		l.wg.Go(func() {
			tick := time.NewTicker(every)
			defer tick.Stop()
			for r := range next {
				l.send(ctx, p, r, tick.C)
			}
		})
	}
	return l
}

func (l *load) send(ctx context.Context, p *producer.Producer, r producer.Refund, pace <-chan time.Time) {
	for {
		select {
		case <-pace:
		case <-ctx.Done():
			return
		}
		_, err := p.Enqueue(ctx, r)
		l.mu.Lock()
		if err == nil {
			l.acked = append(l.acked, ack{id: r.RequestID, at: time.Now()})
		} else {
			l.errs++
			l.lastErr = err
		}
		l.mu.Unlock()
		if err == nil || ctx.Err() != nil {
			return
		}
	}
}

func (l *load) ackedCount() int {
	l.mu.Lock()
	defer l.mu.Unlock()
	return len(l.acked)
}

// wait waits for every refund to be acknowledged and returns the acks.
func (l *load) wait() []ack {
	l.wg.Wait()
	l.mu.Lock()
	defer l.mu.Unlock()
	return append([]ack(nil), l.acked...)
}

// outcome is where acknowledged refunds ended up.
type outcome struct {
	states  map[refund.State]int
	lost    []ack // acknowledged, but the record is gone
	pending []string
}

// survey reads the state of every acknowledged refund.
func survey(ctx context.Context, st *store.Redis, acks []ack) (outcome, error) {
	o := outcome{states: map[refund.State]int{}}
	for _, a := range acks {
		rec, err := st.Get(ctx, a.id)
		switch {
		case errors.Is(err, store.ErrNotFound):
			o.lost = append(o.lost, a)
		case err != nil:
			return o, err
		default:
			o.states[rec.State]++
			if !rec.State.Settled() {
				o.pending = append(o.pending, a.id)
			}
		}
	}
	return o, nil
}

// waitSettled waits until every acknowledged refund that still has a
// record is terminal or needs_attention, and returns the final survey.
func waitSettled(t testing.TB, st *store.Redis, acks []ack, timeout time.Duration) outcome {
	t.Helper()
	var o outcome
	var err error
	settled := testenv.Poll(timeout, 200*time.Millisecond, func() bool {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		o, err = survey(ctx, st, acks)
		return err == nil && len(o.pending) == 0
	})
	if !settled {
		t.Fatalf("after %s, %d acknowledged refunds are not settled (states %v, first %v; last error %v)",
			timeout, len(o.pending), o.states, o.pending[:min(5, len(o.pending))], err)
	}
	return o
}

// workerProcess is one `refundq worker` child with its own metrics port.
type workerProcess struct {
	p       *testenv.Process
	metrics string
}

// startWorkerProcess runs `refundq worker` with the production wiring,
// configured through the environment as operators do, plus env. Its
// metrics listen on a port chosen here so a test can ask each process
// what it did. The process is stopped with SIGTERM when the test ends and
// must exit cleanly.
func (h *harness) startWorkerProcess(bin string, n int, env ...string) *workerProcess {
	t := h.T
	t.Helper()
	addr := "127.0.0.1:" + strconv.Itoa(testenv.FreePort(t))
	env = append(append(h.WorkerEnv(""), "REFUNDQ_METRICS_ADDR="+addr,
		"REFUNDQ_POLL_SCHEDULE=200ms,500ms,1s", "REFUNDQ_SETTLE_WINDOW=2s", "REFUNDQ_PROVIDER_TIMEOUT=2s", "REFUNDQ_SHUTDOWN_TIMEOUT=5s",
		"REFUNDQ_LOG_LEVEL=warn"), env...)
	name := fmt.Sprintf("worker-%d", n)
	log := filepath.Join(t.TempDir(), name+".log")
	p, err := testenv.StartProcess(name, log, bin, []string{"worker"}, env, func(p *testenv.Process, err error) {
		t.Errorf("%s (pid %d) exited on its own: %v (log %s)", p.Name(), p.Pid(), err, log)
	})
	testenv.Must(t, err)
	t.Cleanup(func() {
		if err := p.Signal(syscall.SIGTERM, 15*time.Second); err != nil {
			t.Error(err)
		}
		if code := p.ExitCode(); code != 0 {
			t.Errorf("%s exited with %d after SIGTERM (log %s)", name, code, log)
		}
	})
	return &workerProcess{p: p, metrics: "http://" + addr + "/metrics"}
}

// enqueueAll enqueues rs from 8 goroutines and fails the test on any error.
func enqueueAll(ctx context.Context, t testing.TB, p *producer.Producer, rs []producer.Refund) {
	t.Helper()
	var wg sync.WaitGroup
	errs := make(chan error, len(rs))
	ch := make(chan producer.Refund)
	for range 8 {
		wg.Go(func() {
			for r := range ch {
				if _, err := p.Enqueue(ctx, r); err != nil {
					errs <- err
				}
			}
		})
	}
	for _, r := range rs {
		ch <- r
	}
	close(ch)
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
}
