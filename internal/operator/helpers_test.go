package operator_test

import (
	"context"
	"fmt"
	"net/http/httptest"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/redis/go-redis/v9"
	"github.com/shopspring/decimal"

	"github.com/refundq/refundq/internal/fpsim"
	"github.com/refundq/refundq/internal/freedompay"
	"github.com/refundq/refundq/internal/operator"
	"github.com/refundq/refundq/internal/refund"
	"github.com/refundq/refundq/internal/store"
	"github.com/refundq/refundq/internal/testenv"
	"github.com/refundq/refundq/producer"
	"github.com/refundq/refundq/worker"
)

const (
	testAuthID = "ops-merchant"
	testSecret = "ops-signing-secret"
)

// clock is real time plus an offset that only grows, shared by the worker,
// the operator and the simulator, so a test can jump past a deadline or a
// settlement delay without sleeping. Records the producer writes with real
// time stay in the past of every clock reading.
type clock struct {
	mu  sync.Mutex
	off time.Duration
}

func (c *clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return time.Now().Add(c.off)
}

func (c *clock) Advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.off += d
}

// fixture is a real redis-server, the simulator on its own clock, a
// producer, a Card API client and an Operator. Workers are started per test.
type fixture struct {
	t        *testing.T
	rdb      *redis.Client
	clock    *clock
	sim      *fpsim.Sim
	client   *freedompay.Client
	provider *worker.Provider
	store    *store.Redis
	producer *producer.Producer
	op       *operator.Operator
}

// newFixture starts everything; a refund the simulator accepts stays in
// process for statusDelay of the fixture's clock.
func newFixture(t *testing.T, statusDelay time.Duration) *fixture {
	t.Helper()
	rdb := testenv.StartRedis(t).Client()
	clk := &clock{}
	sim := fpsim.New(fpsim.Config{
		Credentials:  map[string]string{testAuthID: testSecret},
		StatusDelay:  statusDelay,
		Transactions: fpsim.GenerateTransactions(20, decimal.NewFromInt(100)),
		Now:          clk.Now,
		Seed:         3,
	})
	srv := httptest.NewServer(sim.Handler())
	t.Cleanup(srv.Close)
	client, err := freedompay.New(freedompay.Credential{AuthID: testAuthID, Secret: testSecret},
		freedompay.WithBaseURL(srv.URL))
	testenv.Must(t, err)
	provider, err := worker.CardAPI(testAuthID, testSecret, srv.URL)
	testenv.Must(t, err)
	op := operator.New(rdb, operator.WithProviders(func(string) (freedompay.API, bool) { return client, true }), operator.WithClock(clk.Now),
		operator.WithProviderTimeout(5*time.Second))
	return &fixture{t: t, rdb: rdb, clock: clk, sim: sim, client: client, provider: provider, store: store.New(rdb),
		producer: producer.NewFromClient(rdb), op: op}
}

// startWorker runs a worker on the fixture's clock until the test ends.
func (f *fixture) startWorker(deadline time.Duration) {
	f.t.Helper()
	w, err := worker.New(worker.Config{
		Redis: f.rdb, Providers: worker.SingleProvider(f.provider), Registerer: prometheus.NewRegistry(),
		Concurrency: 4, ProviderTimeout: 2 * time.Second, ShutdownTimeout: 3 * time.Second,
		PollSchedule: []time.Duration{50 * time.Millisecond}, Deadline: deadline,
		DelayedTaskCheckInterval: 50 * time.Millisecond, SweepInterval: -1, Now: f.clock.Now,
	})
	testenv.Must(f.t, err)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- w.Run(ctx) }()
	f.t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			f.t.Errorf("worker: %v", err)
		}
	})
}

// enqueue accepts a refund of 10.00 on order-00000n.
func (f *fixture) enqueue(n int) string {
	f.t.Helper()
	rc, err := f.producer.Enqueue(context.Background(), producer.Refund{
		IdempotencyKey: fmt.Sprintf("ops-test-%d", n), OrderID: fmt.Sprintf("order-%06d", n), Amount: "10.00",
	})
	testenv.Must(f.t, err)
	return rc.RequestID
}

func (f *fixture) get(id string) *refund.Record {
	f.t.Helper()
	rec, err := f.store.Get(context.Background(), id)
	testenv.Must(f.t, err)
	return rec
}

// waitState polls the record until it is in want.
func (f *fixture) waitState(id string, want refund.State) *refund.Record {
	f.t.Helper()
	deadline := time.Now().Add(15 * time.Second)
	for {
		rec := f.get(id)
		if rec.State == want {
			return rec
		}
		if time.Now().After(deadline) {
			f.t.Fatalf("refund %s: state %s (reason %q), want %s", id, rec.State, rec.Reason, want)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// move forces a record along the state graph, as a worker would have.
func (f *fixture) move(id string, path ...refund.State) {
	f.t.Helper()
	for i := 1; i < len(path); i++ {
		_, err := f.store.Transition(context.Background(), id, store.Change{
			From: []refund.State{path[i-1]}, To: path[i], Sent: path[i] == refund.Submitting, Event: "test"})
		testenv.Must(f.t, err)
	}
}

// sendDirect submits the refund to the provider with its own request_id,
// as a worker that crashed right after the call would have.
func (f *fixture) sendDirect(id string) {
	f.t.Helper()
	rec := f.get(id)
	amount, err := rec.AmountDecimal()
	testenv.Must(f.t, err)
	_, err = f.client.Refund(context.Background(), freedompay.RefundRequest{RequestID: id, OrderID: rec.OrderID, Amount: amount})
	testenv.Must(f.t, err)
}

func (f *fixture) ledger(id string) fpsim.LedgerRequest {
	r, _ := f.sim.Ledger().Request(id)
	return r
}

func (f *fixture) auditClean() {
	f.t.Helper()
	for _, v := range f.sim.Ledger().Audit() {
		f.t.Error("ledger audit:", v)
	}
}

func (f *fixture) events(id string) map[string]int {
	f.t.Helper()
	evs, err := f.store.Events(context.Background(), id)
	testenv.Must(f.t, err)
	out := map[string]int{}
	for _, e := range evs {
		out[e.Type]++
	}
	return out
}
