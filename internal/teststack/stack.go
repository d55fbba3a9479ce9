// Package teststack assembles what most refundq tests run against: a real
// redis-server (internal/testenv), the Card API simulator behind httptest, a
// producer, workers with settings fast enough that a test finishes in
// seconds while every code path is the production one, and, where a test
// wants it, the API server `refundq serve` runs (ServeAPI).
//
// It is a package of its own, not part of testenv, because testenv is
// imported by the in-package tests of store and worker, which this package
// imports in turn: testenv holding it would be an import cycle.
package teststack

import (
	"context"
	"net"
	"net/http"
	"net/http/httptest"
	"sync"
	"testing"
	"time"

	"github.com/hibiken/asynq"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/redis/go-redis/v9"
	"github.com/shopspring/decimal"
	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"
	"go.uber.org/zap/zaptest/observer"

	"github.com/refundq/refundq/internal/api"
	"github.com/refundq/refundq/internal/fpsim"
	"github.com/refundq/refundq/internal/freedompay"
	"github.com/refundq/refundq/internal/refund"
	"github.com/refundq/refundq/internal/store"
	"github.com/refundq/refundq/internal/testenv"
	"github.com/refundq/refundq/producer"
	"github.com/refundq/refundq/worker"
)

// The credential the simulator knows unless WithCredential says otherwise.
const (
	AuthID = "stack-merchant"
	Secret = "stack-signing-secret-do-not-log"
)

// Stack is one test's Redis, simulator and producer. Workers are started
// per test (RunWorker) because their settings vary.
type Stack struct {
	T testing.TB
	// Redis is the redis-server the stack started; nil when the test
	// brought its own client (WithRedisClient).
	Redis    *testenv.Redis
	RDB      redis.UniversalClient
	Sim      *fpsim.Sim
	SimURL   string
	Store    *store.Redis
	Producer *producer.Producer
	// AuthID and Secret are the merchant credential the simulator knows.
	AuthID, Secret string
	// Client signs as the credential, for what a test does behind the
	// worker's back (SendDirect) and for operator actions.
	Client *freedompay.Client
	// Provider is the worker's client for the simulator.
	Provider *worker.Provider
	// Logs holds what the workers configured by WorkerConfig logged.
	Logs *observer.ObservedLogs
	log  *zap.Logger
}

type setup struct {
	authID    string
	secret    string
	redisOpts []testenv.RedisOption
	rdb       redis.UniversalClient
	sim       fpsim.Config
	wrap      func(http.Handler) http.Handler
	level     zapcore.Level
	prodOpts  []producer.Option
}

// Option adjusts what New starts.
type Option func(*setup)

// WithRedis passes options to testenv.StartRedis, e.g. testenv.WithAOF().
func WithRedis(opts ...testenv.RedisOption) Option {
	return func(s *setup) { s.redisOpts = append(s.redisOpts, opts...) }
}

// WithRedisClient uses a Redis the test started itself (a Sentinel or
// Cluster topology) instead of starting one.
func WithRedisClient(rdb redis.UniversalClient) Option {
	return func(s *setup) { s.rdb = rdb }
}

// WithSim adjusts the simulator's configuration after the defaults: the
// stack's credential, 200 transactions of 1000.00, status ready after
// 200ms, seed 7.
func WithSim(f func(*fpsim.Config)) Option {
	return func(s *setup) { f(&s.sim) }
}

// WithCredential makes authID and secret the credential the simulator
// knows and the stack's clients sign with.
func WithCredential(authID, secret string) Option {
	return func(s *setup) {
		s.authID, s.secret = authID, secret
		s.sim.Credentials = map[string]string{authID: secret}
	}
}

// WithMiddleware puts wrap in front of the simulator, to watch or shape
// its traffic.
func WithMiddleware(wrap func(http.Handler) http.Handler) Option {
	return func(s *setup) { s.wrap = wrap }
}

// WithLogLevel sets the level WorkerConfig's logger records (default
// debug); a long run keeps less with warn.
func WithLogLevel(l zapcore.Level) Option { return func(s *setup) { s.level = l } }

// WithProducer passes options to the stack's producer.
func WithProducer(opts ...producer.Option) Option {
	return func(s *setup) { s.prodOpts = append(s.prodOpts, opts...) }
}

// New starts the stack; everything stops when the test ends.
func New(t testing.TB, opts ...Option) *Stack {
	t.Helper()
	su := setup{
		authID: AuthID, secret: Secret,
		sim: fpsim.Config{
			Credentials:  map[string]string{AuthID: Secret},
			StatusDelay:  200 * time.Millisecond,
			Transactions: fpsim.GenerateTransactions(200, decimal.NewFromInt(1000)),
			Seed:         7,
		},
		level: zapcore.DebugLevel,
	}
	for _, o := range opts {
		o(&su)
	}
	s := &Stack{T: t, RDB: su.rdb, AuthID: su.authID, Secret: su.secret}
	if s.RDB == nil {
		s.Redis = testenv.StartRedis(t, su.redisOpts...)
		s.RDB = s.Redis.Client()
	}
	s.Sim, s.SimURL = StartSim(t, su.sim, su.wrap)
	var err error
	s.Client, err = freedompay.New(freedompay.Credential{AuthID: s.AuthID, Secret: freedompay.Secret(s.Secret)},
		freedompay.WithBaseURL(s.SimURL))
	testenv.Must(t, err)
	s.Provider = s.CardAPI(s.SimURL)
	s.Store = store.New(s.RDB)
	s.Producer = producer.NewFromClient(s.RDB, su.prodOpts...)
	core, logs := observer.New(su.level)
	s.Logs, s.log = logs, zap.New(core)
	return s
}

// StartSim serves a simulator configured by cfg over HTTP, behind wrap
// when it is not nil, until the test ends, and returns it with its URL.
func StartSim(t testing.TB, cfg fpsim.Config, wrap func(http.Handler) http.Handler) (*fpsim.Sim, string) {
	sim := fpsim.New(cfg)
	var h http.Handler = sim.Handler()
	if wrap != nil {
		h = wrap(h)
	}
	srv := httptest.NewServer(h)
	t.Cleanup(srv.Close)
	return sim, srv.URL
}

// CardAPI is a worker provider that signs as the stack's credential and
// calls url: the simulator behind a test's own handler, or a wrong URL.
func (s *Stack) CardAPI(url string, opts ...worker.CardAPIOption) *worker.Provider {
	s.T.Helper()
	p, err := worker.CardAPI(s.AuthID, s.Secret, url, opts...)
	testenv.Must(s.T, err)
	return p
}

// WorkerConfig polls quickly so tests finish in seconds; the code path is
// the production one. Its settle window is short: the simulator's status
// endpoint does not lag unless a test asks it to, and tests about the
// window set their own.
func (s *Stack) WorkerConfig() worker.Config {
	return worker.Config{
		Redis: s.RDB, Providers: worker.SingleProvider(s.Provider), Logger: s.log,
		Registerer: prometheus.NewRegistry(), Concurrency: 8,
		ProviderTimeout: 2 * time.Second, ShutdownTimeout: 3 * time.Second,
		PollSchedule: []time.Duration{100 * time.Millisecond, 200 * time.Millisecond},
		SettleWindow: 500 * time.Millisecond,
		// An open breaker holds a merchant's refunds back for its whole
		// cool-down; the default 30s would only make fault tests slow.
		Protection:               worker.Protection{BreakerOpen: time.Second},
		DelayedTaskCheckInterval: 50 * time.Millisecond, TaskCheckInterval: 20 * time.Millisecond, FollowUpCheckInterval: 20 * time.Millisecond, SweepInterval: -1,
	}
}

// RunWorker starts a worker and stops it, gracefully, when the test ends.
func (s *Stack) RunWorker(cfg worker.Config) *worker.Worker {
	s.T.Helper()
	w, stop := s.StartWorker(cfg)
	s.T.Cleanup(stop)
	return w
}

// StartWorker starts a worker and returns it with its stop, which waits
// for a graceful shutdown, fails the test if Run failed, and may be called
// more than once.
func (s *Stack) StartWorker(cfg worker.Config) (*worker.Worker, func()) {
	s.T.Helper()
	w, err := worker.New(cfg)
	testenv.Must(s.T, err)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- w.Run(ctx) }()
	var once sync.Once
	return w, func() {
		once.Do(func() {
			cancel()
			if err := <-done; err != nil {
				s.T.Errorf("worker: %v", err)
			}
		})
	}
}

// ServeAPI serves internal/api's server (`refundq serve`) over the stack's
// Redis on a loopback port until the test ends, and returns its base URL.
// The API's own tests cannot use it: internal/api is imported here.
func (s *Stack) ServeAPI(opts ...api.Option) string {
	s.T.Helper()
	srv, err := api.New(s.RDB, opts...)
	testenv.Must(s.T, err)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	testenv.Must(s.T, err)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- srv.Serve(ctx, ln) }()
	s.T.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			s.T.Errorf("serve: %v", err)
		}
	})
	return "http://" + ln.Addr().String()
}

// Enqueue accepts r through the stack's producer and returns its
// request_id.
func (s *Stack) Enqueue(r producer.Refund, opts ...producer.EnqueueOption) string {
	s.T.Helper()
	rc, err := s.Producer.Enqueue(context.Background(), r, opts...)
	testenv.Must(s.T, err)
	return rc.RequestID
}

// ScriptRefund scripts faults (see fpsim.Sim.Script) on the refund calls
// of r, before it is enqueued, and returns its request_id.
func (s *Stack) ScriptRefund(r producer.Refund, faults ...string) string {
	id := r.RequestID
	if id == "" {
		merchant := r.Merchant
		if merchant == "" {
			merchant = refund.DefaultMerchant
		}
		id = refund.DeriveRequestID(merchant, r.IdempotencyKey)
	}
	s.Sim.Script("refund", id, faults...)
	return id
}

// EnqueueScripted is ScriptRefund, then Enqueue.
func (s *Stack) EnqueueScripted(r producer.Refund, faults ...string) string {
	s.T.Helper()
	s.ScriptRefund(r, faults...)
	return s.Enqueue(r)
}

// Get reads a record, failing the test if it cannot.
func (s *Stack) Get(id string) *refund.Record {
	s.T.Helper()
	rec, err := s.Store.Get(context.Background(), id)
	testenv.Must(s.T, err)
	return rec
}

// WaitSettled waits for a refund to be terminal or needs_attention. When
// it is not by timeout, the test fails with the refund's events, tasks,
// lock and logs.
func (s *Stack) WaitSettled(id string, timeout time.Duration) *refund.Record {
	s.T.Helper()
	return s.waitRecord(id, timeout, "refund "+id+" to settle", func(r *refund.Record) bool { return r.State.Settled() })
}

// WaitAllSettled waits for every refund of ids to be terminal or
// needs_attention and returns how many ended in each state.
func (s *Stack) WaitAllSettled(ids []string, timeout time.Duration) map[refund.State]int {
	s.T.Helper()
	var count map[refund.State]int
	var open int
	settled := testenv.Poll(timeout, 20*time.Millisecond, func() bool {
		states, err := s.Store.States(context.Background(), ids)
		if err != nil {
			return false
		}
		count, open = map[refund.State]int{}, 0
		for _, st := range states {
			count[st]++
			if !st.Settled() {
				open++
			}
		}
		return open == 0
	})
	if !settled {
		s.T.Fatalf("after %s, %d of %d refunds are not settled: %v", timeout, open, len(ids), count)
	}
	return count
}

// WaitState waits for a refund to be in want.
func (s *Stack) WaitState(id string, want refund.State, timeout time.Duration) *refund.Record {
	s.T.Helper()
	return s.waitRecord(id, timeout, "refund "+id+" to be "+string(want), func(r *refund.Record) bool { return r.State == want })
}

func (s *Stack) waitRecord(id string, timeout time.Duration, what string, done func(*refund.Record) bool) *refund.Record {
	s.T.Helper()
	start := time.Now()
	var rec *refund.Record
	testenv.WaitFor(s.T, timeout, what, func() bool {
		var err error
		rec, err = s.Store.Get(context.Background(), id)
		ok := err == nil && done(rec)
		if !ok && time.Since(start) > timeout-100*time.Millisecond {
			s.explain(id, rec)
		}
		return ok
	})
	return rec
}

// explain logs what is known about a refund that did not get where a test
// waited for it to go.
func (s *Stack) explain(id string, rec *refund.Record) {
	ctx := context.Background()
	s.T.Logf("refund %s: %+v", id, rec)
	evs, _ := s.Store.Events(ctx, id)
	for _, e := range evs {
		s.T.Logf("  event %s %s %s %s", e.At.Format("15:04:05.000"), e.Type, e.To, e.Detail)
	}
	insp := asynq.NewInspectorFromRedisClient(s.RDB)
	for _, q := range [][2]string{{"refundq.interactive", id}, {"refundq.poll", id + ":poll"}} {
		if info, err := insp.GetTaskInfo(q[0], q[1]); err == nil {
			s.T.Logf("  task %s: %s retried %d lasterr %q next %s", q[1], info.State, info.Retried, info.LastErr, info.NextProcessAt.Format("15:04:05.000"))
		} else {
			s.T.Logf("  task %s: %v", q[1], err)
		}
	}
	lock, _ := s.RDB.PTTL(ctx, "refundq:{"+id+"}:lock").Result()
	s.T.Logf("  lock ttl %v", lock)
	for _, l := range s.Logs.All() {
		if l.ContextMap()["request_id"] == id {
			s.T.Logf("  log %s %s %v", l.Time.Format("15:04:05.000"), l.Message, l.ContextMap())
		}
	}
}

// Move forces a record along the state graph, as a worker would have.
func (s *Stack) Move(id string, path ...refund.State) {
	s.T.Helper()
	for i := 1; i < len(path); i++ {
		_, err := s.Store.Transition(context.Background(), id, store.Change{
			From: []refund.State{path[i-1]}, To: path[i], Sent: path[i] == refund.Submitting, Event: "test"})
		testenv.Must(s.T, err)
	}
}

// SendDirect submits the refund to the simulator with its own request_id,
// as a worker that crashed right after the call would have.
func (s *Stack) SendDirect(id string) {
	s.T.Helper()
	rec := s.Get(id)
	amount, err := rec.AmountDecimal()
	testenv.Must(s.T, err)
	_, err = s.Client.Refund(context.Background(), freedompay.RefundRequest{RequestID: id, OrderID: rec.OrderID, Amount: amount})
	testenv.Must(s.T, err)
}

// Ledger is what the simulator knows of a request_id.
func (s *Stack) Ledger(id string) fpsim.LedgerRequest {
	r, _ := s.Sim.Ledger().Request(id)
	return r
}

// AuditClean fails the test on any double execution or over-refund the
// simulator's ledger shows.
func (s *Stack) AuditClean() {
	s.T.Helper()
	for _, v := range s.Sim.Ledger().Audit() {
		s.T.Error("ledger audit:", v)
	}
}

// EventTypes counts a refund's events by type.
func (s *Stack) EventTypes(id string) map[string]int {
	s.T.Helper()
	evs, err := s.Store.Events(context.Background(), id)
	testenv.Must(s.T, err)
	out := map[string]int{}
	for _, e := range evs {
		out[e.Type]++
	}
	return out
}

// EventTimes returns when each event of type typ happened, in order.
func (s *Stack) EventTimes(id, typ string) []time.Time {
	s.T.Helper()
	evs, err := s.Store.Events(context.Background(), id)
	testenv.Must(s.T, err)
	var out []time.Time
	for _, e := range evs {
		if e.Type == typ {
			out = append(out, e.At)
		}
	}
	return out
}

// WorkerEnv is the environment a `refundq worker` process needs to work
// the stack's Redis (redisURL, or the stack's own when empty) against its
// simulator, with its credential.
func (s *Stack) WorkerEnv(redisURL string) []string {
	if redisURL == "" && s.Redis != nil {
		redisURL = s.Redis.URL()
	}
	return []string{"REFUNDQ_REDIS_URL=" + redisURL, "REFUNDQ_PROVIDER_URL=" + s.SimURL,
		"REFUNDQ_AUTH_ID=" + s.AuthID, "REFUNDQ_SECRET=" + s.Secret}
}
