package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/refundq/refundq/internal/fpsim"
	"github.com/refundq/refundq/internal/testenv"
)

// startSimCommand runs `refundq sim` in-process with args and env on a free
// port, and returns its base URL once /healthz answers.
func startSimCommand(t *testing.T, args []string, env map[string]string) string {
	t.Helper()
	addr := fmt.Sprintf("127.0.0.1:%d", testenv.FreePort(t))
	env["REFUNDQ_AUTH_ID"], env["REFUNDQ_SECRET"], env["REFUNDQ_LOG_LEVEL"] = "sim-merchant", "sim-secret", "warn"
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan int, 1)
	var errs bytes.Buffer
	go func() {
		done <- run(ctx, append([]string{"sim", "--addr", addr}, args...), io.Discard, &errs, func(k string) string { return env[k] })
	}()
	t.Cleanup(func() {
		cancel()
		if code := <-done; code != 0 {
			t.Errorf("refundq sim exited %d: %s", code, errs.String())
		}
	})
	url := "http://" + addr
	testenv.WaitFor(t, 10*time.Second, "refundq sim /healthz", func() bool {
		res, err := http.Get(url + "/healthz")
		if err != nil {
			return false
		}
		res.Body.Close()
		return res.StatusCode == http.StatusOK
	})
	return url
}

func getJSON(t *testing.T, url string, v any) {
	t.Helper()
	res, err := http.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	if err := json.NewDecoder(res.Body).Decode(v); err != nil {
		t.Fatalf("GET %s: %v", url, err)
	}
}

// Every fault and the dialect reach the running simulator from flags and
// from env; a flag wins over its env.
func TestSimCommandTakesFaultsAndDialect(t *testing.T) {
	url := startSimCommand(t, []string{
		"--dialect", "alt", "--seed", "7", "--commit-on-fault", "--rate-5xx", "0.1", "--hang-max", "5s",
		"--late-commit-rate", "0.05", "--late-commit-min", "2s", "--status-lag-max", "40s", "--forget-rate", "0.01",
	}, map[string]string{
		"REFUNDQ_SIM_STATUS_LAG_RATE":       "0.2",
		"REFUNDQ_SIM_LATE_COMMIT_RACE_RATE": "0.02",
		"REFUNDQ_SIM_LATE_COMMIT_MAX":       "25s",
		"REFUNDQ_SIM_DECLINE_RATE":          "0.3",
		"REFUNDQ_SIM_LATENCY_JITTER":        "1ms",
		"REFUNDQ_SIM_FORGET_RATE":           "0.5", // the flag wins
		"REFUNDQ_SIM_GENERATE":              "3",
	})
	want := fpsim.Faults{Rate5xx: 0.1, CommitOnFault: true, HangMax: 5 * time.Second, LatencyJitter: time.Millisecond,
		DeclineRate: 0.3, StatusLagRate: 0.2, StatusLagMax: 40 * time.Second, LateCommitRate: 0.05, LateCommitRaceRate: 0.02,
		LateCommitMin: 2 * time.Second, LateCommitMax: 25 * time.Second, ForgetRate: 0.01}
	var got fpsim.Faults
	getJSON(t, url+"/sim/faults", &got)
	if got != want {
		t.Fatalf("faults\n got %+v\nwant %+v", got, want)
	}
	var d struct{ Dialect string }
	getJSON(t, url+"/sim/dialect", &d)
	if d.Dialect != "alt" {
		t.Fatalf("dialect %q, want alt", d.Dialect)
	}
	var l fpsim.Ledger
	getJSON(t, url+"/sim/ledger", &l)
	if len(l.Transactions) != 3 || l.Transactions[0].AuthID != "sim-merchant" {
		t.Fatalf("ledger transactions = %+v, want 3 of sim-merchant", l.Transactions)
	}
	// An unsigned call in the alt dialect is its 401 with code 1001.
	res, err := http.Post(url+fpsim.PathStatus, "application/json", strings.NewReader(`{}`))
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(res.Body)
	res.Body.Close()
	if res.StatusCode != http.StatusUnauthorized || !strings.Contains(string(body), `"code":"1001"`) {
		t.Fatalf("unsigned call: %d %s", res.StatusCode, body)
	}
}

// Settings the simulator cannot run as meant stop it at start with the
// reason.
func TestSimCommandRefusesBadSettings(t *testing.T) {
	dir := t.TempDir()
	ghost := filepath.Join(dir, "txns.csv")
	if err := os.WriteFile(ghost, []byte("transaction_id,order_id,amount,auth_id\nt1,o1,5,nobody\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	getenv := func(k string) string {
		if k == "REFUNDQ_SECRET" {
			return "s"
		}
		return ""
	}
	cases := []struct {
		args []string
		want string
	}{
		{[]string{"--dialect", "v2"}, "want one of native, alt"},
		{[]string{"--late-commit-rate", "1.5"}, "ratio"},
		{[]string{"--rate-5xx", "0.6", "--late-commit-rate", "0.6"}, "sum to"},
		{[]string{"--late-commit-min", "30s"}, "late_commit_min"},
		{[]string{"--status-lag-rate", "0.1", "--status-lag-max", "0s"}, "status_lag_max"},
		{[]string{"--transactions", ghost}, `auth_id "nobody" has no credential`},
	}
	for _, c := range cases {
		var errs bytes.Buffer
		args := append([]string{"sim", "--addr", "127.0.0.1:0", "--auth-id", "a"}, c.args...)
		if code := run(context.Background(), args, io.Discard, &errs, getenv); code == 0 || !strings.Contains(errs.String(), c.want) {
			t.Errorf("%q: exit %d, stderr %q; want it to name %q", c.args, code, errs.String(), c.want)
		}
	}
}
