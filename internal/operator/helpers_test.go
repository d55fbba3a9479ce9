package operator_test

import (
	"fmt"
	"testing"
	"time"

	"github.com/shopspring/decimal"

	"github.com/refundq/refundq/internal/fpsim"
	"github.com/refundq/refundq/internal/freedompay"
	"github.com/refundq/refundq/internal/operator"
	"github.com/refundq/refundq/internal/refund"
	"github.com/refundq/refundq/internal/teststack"
	"github.com/refundq/refundq/producer"
	"github.com/refundq/refundq/worker"
)

// fixture is the test stack with its simulator on the fixture's clock,
// and an Operator. Workers are started per test.
type fixture struct {
	*teststack.Stack
	clock *teststack.Clock
	op    *operator.Operator
}

// newFixture starts everything; a refund the simulator accepts stays in
// process for statusDelay of the fixture's clock.
func newFixture(t *testing.T, statusDelay time.Duration) *fixture {
	t.Helper()
	clk := &teststack.Clock{}
	s := teststack.New(t, teststack.WithSim(func(c *fpsim.Config) {
		c.StatusDelay, c.Now, c.Seed = statusDelay, clk.Now, 3
		c.Transactions = fpsim.GenerateTransactions(20, decimal.NewFromInt(100))
	}))
	op := operator.New(s.RDB, operator.WithProviders(func(string) (freedompay.API, bool) { return s.Client, true }),
		operator.WithClock(clk.Now), operator.WithProviderTimeout(5*time.Second))
	return &fixture{Stack: s, clock: clk, op: op}
}

// startWorker runs a worker on the fixture's clock until the test ends.
// It keeps the default settle window, the one the operator applies too.
func (f *fixture) startWorker(deadline time.Duration) {
	f.T.Helper()
	cfg := f.WorkerConfig()
	cfg.Concurrency, cfg.PollSchedule, cfg.Deadline, cfg.Now = 4, []time.Duration{50 * time.Millisecond}, deadline, f.clock.Now
	cfg.SettleWindow, cfg.Protection = 0, worker.Protection{}
	f.RunWorker(cfg)
}

// enqueue accepts a refund of 10.00 on order-00000n.
func (f *fixture) enqueue(n int) string {
	f.T.Helper()
	return f.Enqueue(producer.Refund{
		IdempotencyKey: fmt.Sprintf("ops-test-%d", n), OrderID: fmt.Sprintf("order-%06d", n), Amount: "10.00",
	})
}

// waitState waits for the record to be in want.
func (f *fixture) waitState(id string, want refund.State) *refund.Record {
	f.T.Helper()
	return f.WaitState(id, want, 15*time.Second)
}
