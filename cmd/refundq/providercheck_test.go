package main

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/shopspring/decimal"

	"github.com/refundq/refundq/internal/fpsim"
	"github.com/refundq/refundq/internal/freedompay"
	"github.com/refundq/refundq/internal/teststack"
)

// providerCheck runs `refundq provider-check` against a simulator in
// dialect, with the given profile file ("" for the shipped default), and
// returns its exit code, its output and the draft it wrote.
func providerCheck(t *testing.T, dialect fpsim.Dialect, profile string) (int, string, string) {
	t.Helper()
	_, url := teststack.StartSim(t, fpsim.Config{Credentials: map[string]string{"check-merchant": "check-secret"}, Dialect: dialect,
		StatusDelay: 300 * time.Millisecond, Transactions: fpsim.GenerateTransactions(3, decimal.NewFromInt(100)), Seed: 5}, nil)
	draft := filepath.Join(t.TempDir(), "draft.yaml")
	env := map[string]string{"REFUNDQ_PROVIDER_URL": url, "REFUNDQ_AUTH_ID": "check-merchant", "REFUNDQ_SECRET": "check-secret",
		"REFUNDQ_PROVIDER_PROFILE": profile}
	var stdout, stderr bytes.Buffer
	code := run(context.Background(), []string{"provider-check", "--transaction-id", "txn-000002", "--amount", "2.50",
		"--draft", draft, "--poll-for", "20s"}, &stdout, &stderr, func(k string) string { return env[k] })
	b, err := os.ReadFile(draft)
	if err != nil {
		t.Fatalf("no draft written: %v\n%s%s", err, stdout.String(), stderr.String())
	}
	if strings.Contains(stdout.String()+stderr.String()+string(b), "check-secret") {
		t.Fatal("the secret appears in provider-check's output or draft")
	}
	return code, stdout.String() + stderr.String(), string(b)
}

func TestProviderCheckPassesAgainstTheNativeDialect(t *testing.T) {
	code, out, draft := providerCheck(t, fpsim.DialectNative, "")
	if code != 0 || strings.Contains(out, " NO\n") {
		t.Fatalf("exit %d:\n%s", code, out)
	}
	if _, err := freedompay.ParseProfile([]byte(draft)); err != nil {
		t.Fatalf("draft does not parse: %v\n%s", err, draft)
	}
	t.Logf("native dialect, default profile:\n%s", out)
}

// Against the other dialect the shipped profile misreads the replies, and
// says so; the draft it writes from them makes the check pass.
func TestProviderCheckFindsTheMismatchesAndItsDraftFixesThem(t *testing.T) {
	code, out, draft := providerCheck(t, fpsim.DialectAlt, "")
	if code == 0 {
		t.Fatalf("the default profile passed against the alt dialect:\n%s", out)
	}
	for _, step := range []string{"status of a request_id never sent", "refund of a transaction that does not exist",
		"over-refund of the test transaction", "the same refund again"} {
		if !mismatched(out, step) {
			t.Errorf("step %q is not reported as a mismatch:\n%s", step, out)
		}
	}
	t.Logf("alt dialect, default profile:\n%s", out)
	file := filepath.Join(t.TempDir(), "alt.yaml")
	if err := os.WriteFile(file, []byte(draft), 0o600); err != nil {
		t.Fatal(err)
	}
	code, out, _ = providerCheck(t, fpsim.DialectAlt, file)
	if code != 0 {
		t.Fatalf("with its own draft: exit %d:\n%s", code, out)
	}
	t.Logf("alt dialect, drafted profile:\n%s", out)
}

func mismatched(out, step string) bool {
	for _, line := range strings.Split(out, "\n") {
		if strings.HasPrefix(line, step) && strings.HasSuffix(strings.TrimSpace(line), "NO") {
			return true
		}
	}
	return false
}

func TestProviderCheckRefusesProductionUnlessAllowed(t *testing.T) {
	for _, env := range []map[string]string{
		{"REFUNDQ_PROVIDER_ENV": "prod"},
		{"REFUNDQ_PROVIDER_URL": "https://api.freedompay.kz"},
		{"REFUNDQ_PROVIDER_URL": "https://API.FreedomPay.KZ"},
		{"REFUNDQ_PROVIDER_URL": "https://api.freedompay.kz./"},
		{"REFUNDQ_PROVIDER_URL": "https://api.freedompay.kg"},
		{"REFUNDQ_PROVIDER_URL": "::not a url"},
	} {
		env["REFUNDQ_AUTH_ID"], env["REFUNDQ_SECRET"] = "a", "s"
		var stdout, stderr bytes.Buffer
		code := run(context.Background(), []string{"provider-check", "--transaction-id", "t"}, &stdout, &stderr,
			func(k string) string { return env[k] })
		if code == 0 || !strings.Contains(stderr.String(), "--allow-prod") {
			t.Errorf("%v: exit %d: %s", env, code, stderr.String())
		}
	}
}

// The over-refund must be one no test transaction can cover; one the
// provider takes all the same stops the check before any other refund.
func TestProviderCheckNeverPaysAnOverRefundUnnoticed(t *testing.T) {
	sim, url := teststack.StartSim(t, fpsim.Config{Credentials: map[string]string{"m": "s"},
		Transactions: []fpsim.Transaction{{TransactionID: "big", Amount: decimal.RequireFromString("5000000000.00")}}}, nil)
	env := map[string]string{"REFUNDQ_PROVIDER_URL": url, "REFUNDQ_AUTH_ID": "m", "REFUNDQ_SECRET": "s"}
	check := func(args ...string) (int, string) {
		var out bytes.Buffer
		code := run(context.Background(), append([]string{"provider-check", "--transaction-id", "big", "--draft",
			filepath.Join(t.TempDir(), "d.yaml"), "--poll-for", "5s"}, args...), &out, &out, func(k string) string { return env[k] })
		return code, out.String()
	}
	if code, out := check("--over-amount", "900.00"); code == 0 || !strings.Contains(out, "at least 1000000000.00") {
		t.Fatalf("a coverable over-refund: exit %d:\n%s", code, out)
	}
	code, out := check("--over-amount", "1000000000.00")
	if code == 0 || !strings.Contains(out, "ACCEPTED THE OVER-REFUND") || strings.Contains(out, "small real refund  ") {
		t.Fatalf("an over-refund the provider took: exit %d:\n%s", code, out)
	}
	if n := len(sim.Ledger().Requests); n != 2 { // the unknown transaction and the over-refund; nothing after
		t.Fatalf("the provider saw %d refunds after the over-refund was taken: %+v", n, sim.Ledger().Requests)
	}
}
