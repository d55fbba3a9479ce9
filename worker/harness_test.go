package worker_test

import (
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/refundq/refundq/internal/fpsim"
	"github.com/refundq/refundq/internal/refund"
	"github.com/refundq/refundq/internal/testenv"
	"github.com/refundq/refundq/internal/teststack"
	"github.com/refundq/refundq/worker"
)

// stack is the shared test stack with a Redis that writes every change to
// its AOF, so durability tests can restart it.
type stack struct{ *teststack.Stack }

func newStack(t *testing.T, simCfg func(*fpsim.Config)) *stack {
	t.Helper()
	opts := []teststack.Option{teststack.WithRedis(testenv.WithAOF())}
	if simCfg != nil {
		opts = append(opts, teststack.WithSim(simCfg))
	}
	return &stack{teststack.New(t, opts...)}
}

// timeouts is the fast config with provider calls that give up after
// call (short calls make ambiguous outcomes) and a settle window of window.
func (s *stack) timeouts(call, window time.Duration) worker.Config {
	cfg := s.WorkerConfig()
	cfg.ProviderTimeout, cfg.SettleWindow = call, window
	return cfg
}

func (s *stack) ledgerTxn(id string) fpsim.LedgerTransaction {
	t, _ := s.Sim.Ledger().Transaction(id)
	return t
}

func wantState(t testing.TB, rec *refund.Record, want refund.State) {
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
