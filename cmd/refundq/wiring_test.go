package main

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"go.uber.org/zap"

	"github.com/refundq/refundq/internal/config"
	"github.com/refundq/refundq/internal/fpsim"
	"github.com/refundq/refundq/internal/freedompay"
	"github.com/refundq/refundq/internal/refund"
	"github.com/refundq/refundq/internal/testenv"
	"github.com/refundq/refundq/internal/teststack"
	"github.com/refundq/refundq/producer"
)

// Each merchant's replies are read by its own profile, in the worker and
// in the operator actions alike. Against the alt dialect, with request
// status lagging a second behind the refund call, the merchant whose
// profile describes the dialect reads the lag as "not found yet" and its
// refund succeeds; the merchant on the shipped profile reads the same
// replies as ones it does not know and parks its refund for an operator.
func TestEachMerchantKeepsItsOwnProfile(t *testing.T) {
	s := teststack.New(t, teststack.WithCredential("alt-auth", "alt-secret"), teststack.WithSim(func(c *fpsim.Config) {
		c.Dialect = fpsim.DialectAlt
		c.Credentials["plain-auth"] = "plain-secret"
	}))
	dir := t.TempDir()
	merchantsFile := filepath.Join(dir, "merchants.yaml")
	testenv.Must(t, os.WriteFile(merchantsFile, []byte(`merchants:
  alt:
    auth_id: alt-auth
    secret_env: ALT_SECRET
    profile: `+testenv.AltProfile()+`
  plain:
    auth_id: plain-auth
    secret_env: PLAIN_SECRET
`), 0o600))
	vars := map[string]string{"ALT_SECRET": "alt-secret", "PLAIN_SECRET": "plain-secret", "REFUNDQ_REDIS_URL": s.Redis.URL(),
		"REFUNDQ_MERCHANTS_FILE": merchantsFile, "REFUNDQ_PROVIDER_URL": s.SimURL, "REFUNDQ_SETTLE_WINDOW": "1s"}
	getenv := func(k string) string { return vars[k] }
	var out bytes.Buffer
	cfg, _, err := config.Load("worker", nil, getenv, &out)
	testenv.Must(t, err)
	e := &env{cfg: cfg, stdout: &out, stderr: &out, getenv: getenv}

	ops, err := operatorProviders(e)
	testenv.Must(t, err)
	for merchant, want := range map[string]bool{"alt": true, "plain": false} {
		c, ok := ops(merchant)
		if !ok {
			t.Fatalf("no operator client for %s", merchant)
		}
		_, err := c.Status(context.Background(), "00000000-0000-4000-8000-000000000000")
		if got := freedompay.KindOf(err) == freedompay.KindNotFound; got != want {
			t.Errorf("operator client of %s: status of an unknown request: %v; want not found %v", merchant, err, want)
		}
	}

	startWiredWorker(s, e, zap.NewNop(), prometheus.NewRegistry())
	ids := map[string]string{}
	for _, m := range []string{"alt", "plain"} {
		key := m + "-lagging"
		s.Sim.Script("refund", refund.DeriveRequestID(m, key), "status_lag=1s")
		ids[m] = s.Enqueue(producer.Refund{IdempotencyKey: key, Merchant: m, OrderID: "order-000001", Amount: "1.00"})
	}
	if rec := s.WaitSettled(ids["alt"], 30*time.Second); rec.State != refund.Succeeded {
		t.Errorf("alt merchant's refund is %s (%s %s), want succeeded", rec.State, rec.ReasonCode, rec.Reason)
	}
	if rec := s.WaitSettled(ids["plain"], 30*time.Second); rec.State != refund.NeedsAttention || rec.ReasonCode != refund.AttentionProviderConfig {
		t.Errorf("plain merchant's refund is %s (%s %s), want needs_attention provider_config", rec.State, rec.ReasonCode, rec.Reason)
	}
}
