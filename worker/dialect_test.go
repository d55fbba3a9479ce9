package worker_test

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/shopspring/decimal"

	"github.com/refundq/refundq/internal/fpsim"
	"github.com/refundq/refundq/internal/freedompay"
	"github.com/refundq/refundq/internal/refund"
	"github.com/refundq/refundq/internal/testenv"
	"github.com/refundq/refundq/producer"
	"github.com/refundq/refundq/worker"
)

// scenario is one refund and the provider's behaviour toward it.
type scenario struct {
	name   string
	r      producer.Refund
	faults []string // scripted on the refund endpoint
	sent   bool     // sent directly first, as by a worker whose write was lost
}

func dialectScenarios() []scenario {
	amount := func(n int, a string) producer.Refund {
		return producer.Refund{IdempotencyKey: fmt.Sprint("dialect-", n), OrderID: fmt.Sprintf("order-%06d", 70+n), Amount: a}
	}
	return []scenario{
		{name: "plain", r: amount(1, "10.00")},
		{name: "over-refund", r: amount(2, "5000.00")},
		{name: "unknown transaction", r: producer.Refund{IdempotencyKey: "dialect-3", TransactionID: "txn-nope", Amount: "1.00"}},
		{name: "duplicate", r: amount(4, "4.00"), sent: true},
		{name: "reply dropped", r: amount(5, "5.00"), faults: []string{"drop"}},
		{name: "status lags", r: amount(6, "6.00"), faults: []string{"status_lag=1s"}},
		{name: "forgotten", r: amount(7, "7.00"), faults: []string{"forget"}},
		{name: "rate limited", r: amount(8, "8.00"), faults: []string{"429"}},
		{name: "5xx after commit", r: amount(9, "9.00"), faults: []string{"5xx_commit"}},
		{name: "never arrived", r: amount(10, "10.00"), faults: []string{"timeout"}},
		{name: "late commit", r: amount(11, "11.00"), faults: []string{"late_commit=1s"}},
		{name: "late commit, racing duplicate check", r: amount(12, "12.00"), faults: []string{"late_commit_race=1s"}},
	}
}

type outcome struct {
	state  refund.State
	reason refund.Attention
}

// runScenarios runs every scenario against the simulator in dialect, with
// the worker reading replies through profile, and returns each outcome.
func runScenarios(t *testing.T, dialect fpsim.Dialect, profileFile string) map[string]outcome {
	t.Helper()
	s := newStack(t, func(c *fpsim.Config) { c.Dialect = dialect })
	var opts []worker.CardAPIOption
	if profileFile != "" {
		opts = append(opts, worker.WithProfileFile(profileFile))
	}
	cfg := s.timeouts(300*time.Millisecond, 2*time.Second)
	cfg.Providers = worker.SingleProvider(s.CardAPI(s.SimURL, opts...))
	s.RunWorker(cfg)
	ids := map[string]string{}
	for _, sc := range dialectScenarios() {
		id := refund.DeriveRequestID(refund.DefaultMerchant, sc.r.IdempotencyKey)
		if len(sc.faults) > 0 {
			s.Sim.Script("refund", id, sc.faults...)
		}
		if sc.sent {
			a := decimal.RequireFromString(sc.r.Amount)
			_, _ = s.Client.Refund(context.Background(), freedompay.RefundRequest{RequestID: id, OrderID: sc.r.OrderID, Amount: &a})
		}
		ids[sc.name] = s.Enqueue(sc.r)
	}
	out := map[string]outcome{}
	for name, id := range ids {
		rec := s.WaitSettled(id, 30*time.Second)
		out[name] = outcome{rec.State, rec.ReasonCode}
		l := s.Ledger(id)
		switch {
		case rec.State == refund.Failed && l.Executions > 0:
			t.Errorf("%s: failed, though the provider executed it", name)
		case rec.State == refund.Succeeded && l.Executions != 1:
			t.Errorf("%s: succeeded, with %d executions", name, l.Executions)
		}
	}
	s.AuditClean()
	return out
}

// A profile written for a dialect makes every refund end exactly as it does
// in the native dialect with the shipped profile; with the shipped profile
// the other dialect's replies are never a resend and never a false
// failure, and every refund still ends visibly.
func TestDialects(t *testing.T) {
	native := runScenarios(t, fpsim.DialectNative, "")
	drafted := runScenarios(t, fpsim.DialectAlt, testenv.AltProfile())
	for name, want := range native {
		if got := drafted[name]; got != want {
			t.Errorf("%s: alt dialect with its profile ended %v, native %v", name, got, want)
		}
	}
	unknown := runScenarios(t, fpsim.DialectAlt, "")
	for name, got := range unknown {
		if got.state == refund.Failed && native[name].state != refund.Failed {
			t.Errorf("%s: failed under a vocabulary the profile does not know", name)
		}
	}
	t.Logf("native %v\nalt with its profile %v\nalt with the default profile %v", native, drafted, unknown)
}
