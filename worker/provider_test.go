package worker_test

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/refundq/refundq/internal/refund"
	"github.com/refundq/refundq/internal/testenv"
	"github.com/refundq/refundq/producer"
	"github.com/refundq/refundq/worker"
)

// A Provider that CardAPI did not make cannot sign a call: the refund it
// would serve parks unsent, as for a merchant with no credential, and the
// simulator never hears of it.
func TestAZeroProviderCountsAsNoCredential(t *testing.T) {
	for name, p := range map[string]*worker.Provider{"nil": nil, "zero": {}} {
		t.Run(name, func(t *testing.T) {
			s := newStack(t, nil)
			cfg := s.WorkerConfig()
			cfg.Providers = worker.SingleProvider(p)
			s.RunWorker(cfg)
			id := s.Enqueue(producer.Refund{IdempotencyKey: "zero-" + name, OrderID: "order-000090", Amount: "5.00"})
			rec := s.WaitSettled(id, 20*time.Second)
			wantState(t, rec, refund.NeedsAttention)
			if rec.ReasonCode != refund.AttentionNoCredential || !rec.NeverSent() || s.Ledger(id).Executions != 0 {
				t.Fatalf("reason %s, never sent %v, executions %d: want no_credential and nothing sent",
					rec.ReasonCode, rec.NeverSent(), s.Ledger(id).Executions)
			}
		})
	}
}

func TestCardAPIRefusesWhatItCannotUse(t *testing.T) {
	dir := t.TempDir()
	bad := filepath.Join(dir, "bad.yaml")
	testenv.Must(t, os.WriteFile(bad, []byte("rules: [{meaning: nonsense}]\n"), 0o600))
	for _, tc := range []struct {
		name, authID, secret string
		opts                 []worker.CardAPIOption
		want                 string
	}{
		{"no secret", "123456", "", nil, "credential"},
		{"no auth id", "", "s3cret-value", nil, "credential"},
		{"missing profile", "123456", "s3cret-value", []worker.CardAPIOption{worker.WithProfileFile(filepath.Join(dir, "none.yaml"))}, "none.yaml"},
		{"bad profile", "123456", "s3cret-value", []worker.CardAPIOption{worker.WithProfileFile(bad)}, "bad.yaml"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			p, err := worker.CardAPI(tc.authID, tc.secret, worker.TestEnvironment, tc.opts...)
			if err == nil || p != nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("CardAPI: %v, %v; want an error naming %q", p, err, tc.want)
			}
			if strings.Contains(err.Error(), "s3cret-value") {
				t.Fatalf("the error carries the secret: %v", err)
			}
		})
	}
}
