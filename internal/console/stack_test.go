package console_test

import (
	"bytes"
	"context"
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
	"github.com/shopspring/decimal"

	"github.com/refundq/refundq/internal/access"
	"github.com/refundq/refundq/internal/api"
	"github.com/refundq/refundq/internal/console"
	"github.com/refundq/refundq/internal/fpsim"
	"github.com/refundq/refundq/internal/freedompay"
	"github.com/refundq/refundq/internal/operator"
	"github.com/refundq/refundq/internal/refund"
	"github.com/refundq/refundq/internal/testenv"
	"github.com/refundq/refundq/internal/teststack"
	"github.com/refundq/refundq/producer"
	"github.com/refundq/refundq/worker"
)

// One token of each role, as a token file names them.
var (
	viewerTok   = access.Token{Secret: "viewer-token-0123456789", Identity: access.Identity{Name: "vera", Role: access.Viewer}}
	operatorTok = access.Token{Secret: "operator-token-0123456789", Identity: access.Identity{Name: "olga", Role: access.Operator}}
	aliceTok    = access.Token{Secret: "alice-token-0123456789", Identity: access.Identity{Name: "alice", Role: access.Approver}}
	bobTok      = access.Token{Secret: "bob-token-0123456789", Identity: access.Identity{Name: "bob", Role: access.Approver}}
)

// stack is the test stack with refundq serve (API and console) and a
// worker running over it.
type stack struct {
	*teststack.Stack
	base string
}

func newStack(t *testing.T) *stack {
	t.Helper()
	s := teststack.New(t, teststack.WithSim(func(c *fpsim.Config) {
		c.StatusDelay = 0
		c.Transactions = fpsim.GenerateTransactions(20, decimal.NewFromInt(100))
	}))
	// A short deadline, so a refund the provider never answers for is
	// parked within seconds.
	cfg := s.WorkerConfig()
	cfg.Concurrency, cfg.Deadline = 4, 2*time.Second
	cfg.PollSchedule = []time.Duration{100 * time.Millisecond}
	cfg.SettleWindow = 0 // the default
	cfg.Protection = worker.Protection{BreakerFailures: 3, BreakerOpen: time.Second}
	s.RunWorker(cfg)
	base := s.ServeAPI(api.WithIdentities(viewerTok, operatorTok, aliceTok, bobTok),
		api.WithOperator(operator.WithProviders(func(string) (freedompay.API, bool) { return s.Client, true }),
			operator.WithProviderTimeout(2*time.Second)),
		api.WithConsole(console.Mount()))
	return &stack{Stack: s, base: base}
}

func (e *stack) enqueue(order, amount string) string {
	e.T.Helper()
	return e.Enqueue(producer.Refund{IdempotencyKey: "console-" + order, OrderID: order, Amount: amount})
}

func (e *stack) waitState(id string, want refund.State) {
	e.T.Helper()
	e.WaitState(id, want, 30*time.Second)
}

func (e *stack) counts(batch string) map[refund.State]int {
	e.T.Helper()
	m, err := e.Store.Batch(context.Background(), batch)
	testenv.Must(e.T, err)
	return m.Counts
}

func (e *stack) batchIDs(batch string) []string {
	e.T.Helper()
	ids, err := e.Store.ByBatch(context.Background(), batch)
	testenv.Must(e.T, err)
	return ids
}

// uploadHeld sends a batch of n refunds of 1.00 with hold=true as tok, and
// waits until its rows are written.
func (e *stack) uploadHeld(tok access.Token, id string, n int) string {
	e.T.Helper()
	var body strings.Builder
	body.WriteString("order_id,amount\n")
	for i := range n {
		fmt.Fprintf(&body, "order-%06d,1.00\n", 10+i)
	}
	req, err := http.NewRequest(http.MethodPost, e.base+"/v1/batches?hold=true&batch_id="+id, bytes.NewBufferString(body.String()))
	testenv.Must(e.T, err)
	req.Header.Set("Authorization", "Bearer "+tok.Secret)
	req.Header.Set("Content-Type", "text/csv")
	res, err := http.DefaultClient.Do(req)
	testenv.Must(e.T, err)
	res.Body.Close()
	if res.StatusCode != http.StatusAccepted {
		e.T.Fatalf("upload: %d", res.StatusCode)
	}
	testenv.WaitFor(e.T, 30*time.Second, "the held batch to be written", func() bool {
		m, err := e.Store.Batch(context.Background(), id)
		return err == nil && !m.CompletedAt.IsZero() && m.Counts[refund.Held] == n
	})
	return id
}

// noTokenInRedis reads every key and value in Redis and fails if any holds
// a token's secret: sessions keep names and roles, never tokens.
func (e *stack) noTokenInRedis() {
	e.T.Helper()
	ctx := context.Background()
	keys, err := e.RDB.Keys(ctx, "*").Result()
	testenv.Must(e.T, err)
	sessions := 0
	for _, k := range keys {
		if strings.HasPrefix(k, "refundq:console:session:") {
			sessions++
		}
		dump, err := e.RDB.Dump(ctx, k).Result()
		if err != nil && err != redis.Nil {
			e.T.Fatalf("dump %s: %v", k, err)
		}
		for _, tok := range []access.Token{viewerTok, operatorTok, aliceTok, bobTok} {
			if strings.Contains(k, tok.Secret) || strings.Contains(dump, tok.Secret) {
				e.T.Fatalf("Redis key %s holds a token", k)
			}
		}
	}
	if sessions == 0 {
		e.T.Fatal("no console session in Redis: the check above looked at nothing")
	}
}
