package console_test

import (
	"bytes"
	"context"
	"fmt"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/redis/go-redis/v9"
	"github.com/shopspring/decimal"

	"github.com/refundq/refundq/internal/access"
	"github.com/refundq/refundq/internal/api"
	"github.com/refundq/refundq/internal/console"
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
	authID = "console-merchant"
	secret = "console-signing-secret"
)

// One token of each role, as a token file names them.
var (
	viewerTok   = access.Token{Secret: "viewer-token-0123456789", Identity: access.Identity{Name: "vera", Role: access.Viewer}}
	operatorTok = access.Token{Secret: "operator-token-0123456789", Identity: access.Identity{Name: "olga", Role: access.Operator}}
	aliceTok    = access.Token{Secret: "alice-token-0123456789", Identity: access.Identity{Name: "alice", Role: access.Approver}}
	bobTok      = access.Token{Secret: "bob-token-0123456789", Identity: access.Identity{Name: "bob", Role: access.Approver}}
)

// stack is refundq serve (API and console) and a worker over a real
// redis-server and the simulator, in this process.
type stack struct {
	t     *testing.T
	rdb   *redis.Client
	sim   *fpsim.Sim
	store *store.Redis
	prod  *producer.Producer
	base  string
}

func newStack(t *testing.T) *stack {
	t.Helper()
	rdb := testenv.StartRedis(t).Client()
	sim := fpsim.New(fpsim.Config{Credentials: map[string]string{authID: secret},
		Transactions: fpsim.GenerateTransactions(20, decimal.NewFromInt(100)), Seed: 7})
	simSrv := httptest.NewServer(sim.Handler())
	t.Cleanup(simSrv.Close)
	client, err := freedompay.New(freedompay.Credential{AuthID: authID, Secret: secret}, freedompay.WithBaseURL(simSrv.URL))
	testenv.Must(t, err)
	e := &stack{t: t, rdb: rdb, sim: sim, store: store.New(rdb), prod: producer.NewFromClient(rdb)}
	card, err := worker.CardAPI(authID, secret, simSrv.URL)
	testenv.Must(t, err)
	e.startWorker(card)
	srv, err := api.New(rdb, api.WithIdentities(viewerTok, operatorTok, aliceTok, bobTok),
		api.WithOperator(operator.WithProviders(func(string) (freedompay.API, bool) { return client, true }),
			operator.WithProviderTimeout(2*time.Second)),
		api.WithConsole(console.Mount()))
	testenv.Must(t, err)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	testenv.Must(t, err)
	e.base = "http://" + ln.Addr().String()
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- srv.Serve(ctx, ln) }()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("serve: %v", err)
		}
	})
	return e
}

// startWorker runs a worker whose deadline is short, so a refund the
// provider never answers for is parked within seconds.
func (e *stack) startWorker(card *worker.Provider) {
	w, err := worker.New(worker.Config{
		Redis: e.rdb, Providers: worker.SingleProvider(card), Registerer: prometheus.NewRegistry(),
		Concurrency: 4, ProviderTimeout: 2 * time.Second, ShutdownTimeout: 3 * time.Second,
		PollSchedule: []time.Duration{100 * time.Millisecond}, Deadline: 2 * time.Second,
		DelayedTaskCheckInterval: 50 * time.Millisecond, SweepInterval: -1,
		Protection: worker.Protection{BreakerFailures: 3, BreakerOpen: time.Second},
	})
	testenv.Must(e.t, err)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- w.Run(ctx) }()
	e.t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			e.t.Errorf("worker: %v", err)
		}
	})
}

func (e *stack) enqueue(order, amount string) string {
	e.t.Helper()
	rc, err := e.prod.Enqueue(context.Background(), producer.Refund{IdempotencyKey: "console-" + order, OrderID: order, Amount: amount})
	testenv.Must(e.t, err)
	return rc.RequestID
}

func (e *stack) state(id string) refund.State {
	e.t.Helper()
	rec, err := e.store.Get(context.Background(), id)
	testenv.Must(e.t, err)
	return rec.State
}

func (e *stack) waitState(id string, want refund.State) {
	e.t.Helper()
	testenv.WaitFor(e.t, 30*time.Second, fmt.Sprintf("refund %s to be %s", id, want), func() bool { return e.state(id) == want })
}

func (e *stack) ledger(id string) fpsim.LedgerRequest {
	r, _ := e.sim.Ledger().Request(id)
	return r
}

func (e *stack) counts(batch string) map[refund.State]int {
	e.t.Helper()
	m, err := e.store.Batch(context.Background(), batch)
	testenv.Must(e.t, err)
	return m.Counts
}

func (e *stack) batchIDs(batch string) []string {
	e.t.Helper()
	ids, err := e.store.ByBatch(context.Background(), batch)
	testenv.Must(e.t, err)
	return ids
}

// uploadHeld sends a batch of n refunds of 1.00 with hold=true as tok, and
// waits until its rows are written.
func (e *stack) uploadHeld(tok access.Token, id string, n int) string {
	e.t.Helper()
	var body strings.Builder
	body.WriteString("order_id,amount\n")
	for i := range n {
		fmt.Fprintf(&body, "order-%06d,1.00\n", 10+i)
	}
	req, err := http.NewRequest(http.MethodPost, e.base+"/v1/batches?hold=true&batch_id="+id, bytes.NewBufferString(body.String()))
	testenv.Must(e.t, err)
	req.Header.Set("Authorization", "Bearer "+tok.Secret)
	req.Header.Set("Content-Type", "text/csv")
	res, err := http.DefaultClient.Do(req)
	testenv.Must(e.t, err)
	res.Body.Close()
	if res.StatusCode != http.StatusAccepted {
		e.t.Fatalf("upload: %d", res.StatusCode)
	}
	testenv.WaitFor(e.t, 30*time.Second, "the held batch to be written", func() bool {
		m, err := e.store.Batch(context.Background(), id)
		return err == nil && !m.CompletedAt.IsZero() && m.Counts[refund.Held] == n
	})
	return id
}

// noTokenInRedis reads every key and value in Redis and fails if any holds
// a token's secret: sessions keep names and roles, never tokens.
func (e *stack) noTokenInRedis() {
	e.t.Helper()
	ctx := context.Background()
	keys, err := e.rdb.Keys(ctx, "*").Result()
	testenv.Must(e.t, err)
	sessions := 0
	for _, k := range keys {
		if strings.HasPrefix(k, "refundq:console:session:") {
			sessions++
		}
		dump, err := e.rdb.Dump(ctx, k).Result()
		if err != nil && err != redis.Nil {
			e.t.Fatalf("dump %s: %v", k, err)
		}
		for _, tok := range []access.Token{viewerTok, operatorTok, aliceTok, bobTok} {
			if strings.Contains(k, tok.Secret) || strings.Contains(dump, tok.Secret) {
				e.t.Fatalf("Redis key %s holds a token", k)
			}
		}
	}
	if sessions == 0 {
		e.t.Fatal("no console session in Redis: the check above looked at nothing")
	}
}

func (e *stack) auditClean() {
	e.t.Helper()
	for _, v := range e.sim.Ledger().Audit() {
		e.t.Error("ledger audit:", v)
	}
}
