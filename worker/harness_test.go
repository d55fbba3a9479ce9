package worker_test

import (
	"context"
	"net/http/httptest"
	"sync"
	"testing"
	"time"

	"github.com/hibiken/asynq"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/redis/go-redis/v9"
	"github.com/shopspring/decimal"
	"go.uber.org/zap"
	"go.uber.org/zap/zaptest/observer"

	"github.com/refundq/refundq/internal/fpsim"
	"github.com/refundq/refundq/internal/freedompay"
	"github.com/refundq/refundq/internal/refund"
	"github.com/refundq/refundq/internal/store"
	"github.com/refundq/refundq/internal/testenv"
	"github.com/refundq/refundq/producer"
	"github.com/refundq/refundq/worker"
)

const (
	testAuthID = "test-merchant"
	testSecret = "test-signing-secret-do-not-log"
)

// stack is a real redis-server, the simulator and a producer. Workers are
// started per test because their settings vary.
type stack struct {
	t        *testing.T
	redis    *testenv.Redis
	rdb      *redis.Client
	sim      *fpsim.Sim
	simURL   string
	store    *store.Redis
	producer *producer.Producer
	client   *freedompay.Client
	logs     *observer.ObservedLogs
}

func newStack(t *testing.T, simCfg func(*fpsim.Config)) *stack {
	t.Helper()
	r := testenv.StartRedis(t, testenv.WithAOF())
	cfg := fpsim.Config{
		Credentials:  map[string]string{testAuthID: testSecret},
		StatusDelay:  200 * time.Millisecond,
		Transactions: fpsim.GenerateTransactions(200, decimal.NewFromInt(1000)),
		Seed:         7,
	}
	if simCfg != nil {
		simCfg(&cfg)
	}
	sim := fpsim.New(cfg)
	srv := httptest.NewServer(sim.Handler())
	t.Cleanup(srv.Close)
	client, err := freedompay.New(freedompay.Credential{AuthID: testAuthID, Secret: testSecret}, freedompay.WithBaseURL(srv.URL))
	testenv.Must(t, err)
	rdb := r.Client()
	return &stack{t: t, redis: r, rdb: rdb, sim: sim, simURL: srv.URL, store: store.New(rdb),
		producer: producer.NewFromClient(rdb), client: client}
}

// fastConfig polls quickly so tests finish in seconds; the code path is
// the production one. Its settle window is short: the simulator's status
// endpoint does not lag unless a test asks it to, and tests about the
// window set their own.
func (s *stack) fastConfig() worker.Config {
	core, logs := observer.New(zap.DebugLevel)
	s.logs = logs
	return worker.Config{
		Redis: s.rdb, Providers: worker.SingleProvider(s.client), Logger: zap.New(core),
		Registerer: prometheus.NewRegistry(), Concurrency: 8,
		ProviderTimeout: 2 * time.Second, ShutdownTimeout: 3 * time.Second,
		PollSchedule: []time.Duration{100 * time.Millisecond, 200 * time.Millisecond},
		SettleWindow: 500 * time.Millisecond,
		// An open breaker holds a merchant's refunds back for its whole
		// cool-down; the default 30s would only make fault tests slow.
		Protection:               worker.Protection{BreakerOpen: time.Second},
		DelayedTaskCheckInterval: 50 * time.Millisecond, TaskCheckInterval: 20 * time.Millisecond, SweepInterval: -1,
	}
}

// runWorker starts a worker and stops it when the test ends.
func (s *stack) runWorker(cfg worker.Config) {
	s.t.Helper()
	_, stop := s.startWorker(cfg)
	s.t.Cleanup(stop)
}

// startWorker starts a worker and returns it with its stop, which waits
// for a graceful shutdown and may be called more than once.
func (s *stack) startWorker(cfg worker.Config) (*worker.Worker, func()) {
	s.t.Helper()
	w, err := worker.New(cfg)
	testenv.Must(s.t, err)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- w.Run(ctx) }()
	var once sync.Once
	return w, func() {
		once.Do(func() {
			cancel()
			if err := <-done; err != nil {
				s.t.Errorf("worker: %v", err)
			}
		})
	}
}

func (s *stack) enqueue(r producer.Refund, opts ...producer.EnqueueOption) string {
	s.t.Helper()
	rc, err := s.producer.Enqueue(context.Background(), r, opts...)
	testenv.Must(s.t, err)
	return rc.RequestID
}

// waitSettled waits for a refund to be terminal or needs_attention.
func (s *stack) waitSettled(id string, timeout time.Duration) *refund.Record {
	s.t.Helper()
	start := time.Now()
	var rec *refund.Record
	testenv.WaitFor(s.t, timeout, "refund "+id+" to settle", func() bool {
		var err error
		rec, err = s.store.Get(context.Background(), id)
		settled := err == nil && rec.State.Settled()
		if !settled && time.Since(start) > timeout-100*time.Millisecond {
			s.t.Logf("refund %s unsettled: %+v", id, rec)
			evs, _ := s.store.Events(context.Background(), id)
			for _, e := range evs {
				s.t.Logf("  event %s %s %s %s", e.At.Format("15:04:05.000"), e.Type, e.To, e.Detail)
			}
			insp := asynq.NewInspectorFromRedisClient(s.rdb)
			for _, q := range [][2]string{{"refundq.interactive", id}, {"refundq.poll", id + ":poll"}} {
				info, err := insp.GetTaskInfo(q[0], q[1])
				if err == nil {
					s.t.Logf("  task %s: %s retried %d lasterr %q next %s", q[1], info.State, info.Retried, info.LastErr, info.NextProcessAt.Format("15:04:05.000"))
				} else {
					s.t.Logf("  task %s: %v", q[1], err)
				}
			}
			lock, _ := s.rdb.PTTL(context.Background(), "refundq:{"+id+"}:lock").Result()
			s.t.Logf("  lock ttl %v", lock)
			if s.logs != nil {
				for _, l := range s.logs.All() {
					if l.ContextMap()["request_id"] == id {
						s.t.Logf("  log %s %s %v", l.Time.Format("15:04:05.000"), l.Message, l.ContextMap())
					}
				}
			}
		}
		return settled
	})
	return rec
}

func (s *stack) ledgerRequest(id string) fpsim.LedgerRequest {
	r, _ := s.sim.Ledger().Request(id)
	return r
}

func (s *stack) ledgerTxn(id string) fpsim.LedgerTransaction {
	t, _ := s.sim.Ledger().Transaction(id)
	return t
}

// auditClean fails the test on any double execution or over-refund.
func (s *stack) auditClean() {
	s.t.Helper()
	for _, v := range s.sim.Ledger().Audit() {
		s.t.Error("ledger audit:", v)
	}
}

// eventTimes returns when each event of type typ happened, in order.
func (s *stack) eventTimes(id, typ string) []time.Time {
	evs, err := s.store.Events(context.Background(), id)
	testenv.Must(s.t, err)
	var out []time.Time
	for _, e := range evs {
		if e.Type == typ {
			out = append(out, e.At)
		}
	}
	return out
}

func (s *stack) eventTypes(id string) map[string]int {
	evs, err := s.store.Events(context.Background(), id)
	testenv.Must(s.t, err)
	out := map[string]int{}
	for _, e := range evs {
		out[e.Type]++
	}
	return out
}

func wantState(t *testing.T, rec *refund.Record, want refund.State) {
	t.Helper()
	if rec.State != want {
		t.Fatalf("refund %s: state %s, want %s (reason %q, code %q)", rec.RequestID, rec.State, want, rec.Reason, rec.ProviderCode)
	}
}

// metricValue reads a counter or gauge from reg; label selects the series
// whose single label has that value ("" for an unlabelled metric).
func metricValue(t *testing.T, reg *prometheus.Registry, name, label string) float64 {
	t.Helper()
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, mf := range mfs {
		if mf.GetName() != name {
			continue
		}
		for _, m := range mf.GetMetric() {
			if label != "" && (len(m.GetLabel()) == 0 || m.GetLabel()[0].GetValue() != label) {
				continue
			}
			if m.GetCounter() != nil {
				return m.GetCounter().GetValue()
			}
			return m.GetGauge().GetValue()
		}
	}
	return -1
}
