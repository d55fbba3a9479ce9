package fpsim

import (
	"context"
	"encoding/json"
	"net/http"
	"testing"
	"time"

	"github.com/refundq/refundq/internal/freedompay"
)

func TestScriptedDropCommitsThenDrops(t *testing.T) {
	f := newFixture(t, nil)
	f.sim.Script("refund", "drop-1", "drop")
	_, err := f.refund("drop-1", "txn-1", amt("40.00"))
	wantErr(t, err, freedompay.KindAmbiguous, "")

	r := f.mustLedgerRequest("drop-1")
	if r.Executions != 1 || r.Submissions != 1 {
		t.Fatalf("ledger = %+v, want the dropped refund executed once", r)
	}
	// The worker's recovery: resubmitting is a harmless duplicate; status
	// tells the truth.
	_, err = f.refund("drop-1", "txn-1", amt("40.00"))
	wantErr(t, err, freedompay.KindDuplicate, freedompay.CodeDuplicateRequestID)
	f.wantStatus("drop-1", freedompay.RequestProcess)
	f.clock.Advance(testDelay)
	f.wantStatus("drop-1", freedompay.RequestSuccess)
	if r := f.mustLedgerRequest("drop-1"); r.Executions != 1 || r.Submissions != 2 {
		t.Fatalf("ledger = %+v", r)
	}
	f.wantTotals("txn-1", "40.00", "0")
	f.wantClean()
}

func TestScripted5xx(t *testing.T) {
	f := newFixture(t, nil)
	f.sim.Script(freedompay.PathRefund, "c", "5xx_commit")
	_, err := f.refund("c", "txn-1", amt("10"))
	if e := wantErr(t, err, freedompay.KindAmbiguous, ""); e.HTTPStatus != http.StatusInternalServerError {
		t.Fatalf("http %d, want 500", e.HTTPStatus)
	}
	if r := f.mustLedgerRequest("c"); r.Executions != 1 {
		t.Fatalf("5xx_commit did not execute: %+v", r)
	}
	f.wantStatus("c", freedompay.RequestProcess)

	f.sim.Script("refund", "n", "5xx")
	_, err = f.refund("n", "txn-1", amt("10"))
	wantErr(t, err, freedompay.KindAmbiguous, freedompay.CodeInternal)
	if _, ok := f.ledgerRequest("n"); ok {
		t.Fatal("plain 5xx recorded the request")
	}
	_, err = f.status("n")
	wantErr(t, err, freedompay.KindNotFound, "")
	// The script was one-shot: the same id now goes through.
	f.mustRefund("n", "txn-1", amt("10"))
}

func TestScriptQueuesFaultsInOrderPerEndpoint(t *testing.T) {
	f := newFixture(t, nil)
	f.mustRefund("q", "txn-1", amt("1"))
	f.sim.Script("status", "q", "429", "5xx")
	_, err := f.status("q")
	wantErr(t, err, freedompay.KindRateLimited, freedompay.CodeRateLimited)
	_, err = f.status("q")
	wantErr(t, err, freedompay.KindAmbiguous, "")
	f.wantStatus("q", freedompay.RequestProcess)
}

func TestRateLimited(t *testing.T) {
	f := newFixture(t, nil)
	f.sim.Script("refund", "rl", "429")
	_, err := f.refund("rl", "txn-1", amt("10"))
	if e := wantErr(t, err, freedompay.KindRateLimited, freedompay.CodeRateLimited); e.HTTPStatus != http.StatusTooManyRequests {
		t.Fatalf("http %d, want 429", e.HTTPStatus)
	}
	if _, ok := f.ledgerRequest("rl"); ok {
		t.Fatal("429 recorded the request")
	}
	f.mustRefund("rl", "txn-1", amt("10")) // never executed, so the id is still fresh

	f.sim.SetFaults(Faults{Rate429: 1})
	_, err = f.refund("rl2", "txn-1", amt("10"))
	wantErr(t, err, freedompay.KindRateLimited, "")
}

func TestTimeoutWithClientDeadline(t *testing.T) {
	f := newFixture(t, func(c *Config) { c.Faults.HangMax = 5 * time.Second })
	timedRefund := func(id string) error {
		ctx, cancel := context.WithTimeout(context.Background(), 150*time.Millisecond)
		defer cancel()
		_, err := f.client.Refund(ctx, freedompay.RefundRequest{RequestID: id, TransactionID: "txn-1", Amount: amt("10")})
		return err
	}

	f.sim.Script("refund", "to", "timeout")
	start := time.Now()
	wantErr(t, timedRefund("to"), freedompay.KindAmbiguous, "")
	if d := time.Since(start); d > 3*time.Second {
		t.Fatalf("timeout took %s: the client deadline should end it", d)
	}
	if _, ok := f.ledgerRequest("to"); ok {
		t.Fatal("plain timeout executed the refund")
	}

	f.sim.Script("refund", "toc", "timeout_commit")
	wantErr(t, timedRefund("toc"), freedompay.KindAmbiguous, "")
	if r := f.mustLedgerRequest("toc"); r.Executions != 1 {
		t.Fatalf("timeout_commit ledger = %+v", r)
	}
}

func TestTimeoutEndsAtHangMax(t *testing.T) {
	f := newFixture(t, func(c *Config) { c.Faults = Faults{RateTimeout: 1, HangMax: 50 * time.Millisecond} })
	_, err := f.refund("hm", "txn-1", amt("1")) // the client allows 10s
	wantErr(t, err, freedompay.KindAmbiguous, "")
}

func TestDownAnswers503WithoutExecuting(t *testing.T) {
	f := newFixture(t, func(c *Config) { c.Faults.Down = true })
	_, err := f.refund("down", "txn-1", nil)
	if e := wantErr(t, err, freedompay.KindAmbiguous, ""); e.HTTPStatus != http.StatusServiceUnavailable {
		t.Fatalf("http %d, want 503", e.HTTPStatus)
	}
	_, err = f.status("down")
	wantErr(t, err, freedompay.KindAmbiguous, "")
	if l := f.sim.Ledger(); len(l.Requests) != 0 {
		t.Fatalf("outage recorded requests: %+v", l.Requests)
	}
	f.sim.SetFaults(Faults{})
	f.mustRefund("down", "txn-1", nil)

	f.sim.Script("refund", "down2", "down")
	_, err = f.refund("down2", "txn-1", nil)
	wantErr(t, err, freedompay.KindAmbiguous, "")
}

func TestRandomDropWithCommit(t *testing.T) {
	f := newFixture(t, func(c *Config) { c.Faults.RateDrop = 1 })
	_, err := f.refund("rd", "txn-1", amt("5"))
	wantErr(t, err, freedompay.KindAmbiguous, "")
	f.sim.SetFaults(Faults{})
	f.wantStatus("rd", freedompay.RequestProcess)
	if r := f.mustLedgerRequest("rd"); r.Executions != 1 {
		t.Fatalf("ledger = %+v", r)
	}
}

func TestLatencyHonoursClientDeadline(t *testing.T) {
	f := newFixture(t, func(c *Config) { c.Faults.Latency = 30 * time.Millisecond })
	start := time.Now()
	f.mustRefund("lat", "txn-1", amt("1"))
	if d := time.Since(start); d < 30*time.Millisecond {
		t.Fatalf("reply after %s, want at least the 30ms latency", d)
	}
	f.sim.SetFaults(Faults{Latency: 10 * time.Second})
	ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
	defer cancel()
	_, err := f.client.Refund(ctx, freedompay.RefundRequest{RequestID: "lat2", TransactionID: "txn-1"})
	wantErr(t, err, freedompay.KindAmbiguous, "")
	if _, ok := f.ledgerRequest("lat2"); ok {
		t.Fatal("a call abandoned during latency was executed")
	}
}

func TestSeededFaultsAreReproducible(t *testing.T) {
	draw := func() []fault {
		s := New(Config{Seed: 42, Faults: Faults{Rate5xx: 0.25, RateTimeout: 0.25, Rate429: 0.25, RateDrop: 0.25, CommitOnFault: true}})
		out := make([]fault, 50)
		for i := range out {
			out[i] = s.nextFault(freedompay.PathRefund, "x")
		}
		return out
	}
	a, b := draw(), draw()
	seen := map[fault]bool{}
	for i := range a {
		if a[i] != b[i] {
			t.Fatalf("draw %d differs: %s vs %s", i, a[i], b[i])
		}
		seen[a[i]] = true
	}
	for _, want := range []fault{fault5xxCommit, faultTimeoutCommit, fault429, faultDrop} {
		if !seen[want] {
			t.Errorf("fault %s never drawn in 50 tries", want)
		}
	}
}

func TestFaultsJSON(t *testing.T) {
	in := Faults{Latency: 200 * time.Millisecond, LatencyJitter: 50 * time.Millisecond, Rate5xx: 0.1, RateTimeout: 0.05,
		Rate429: 0.02, RateDrop: 0.03, CommitOnFault: true, DeclineRate: 0.5, Down: true, HangMax: 2 * time.Second}
	raw, err := json.Marshal(in)
	if err != nil {
		t.Fatal(err)
	}
	want := `{"latency":"200ms","latency_jitter":"50ms","rate_5xx":0.1,"rate_timeout":0.05,"rate_429":0.02,"rate_drop":0.03,"commit_on_fault":true,"decline_rate":0.5,"down":true,"hang_max":"2s"}`
	if string(raw) != want {
		t.Fatalf("marshal:\n got %s\nwant %s", raw, want)
	}
	var out Faults
	if err := json.Unmarshal(raw, &out); err != nil || out != in {
		t.Fatalf("round trip = %+v, %v", out, err)
	}
	if err := json.Unmarshal([]byte(`{"latency":1000000}`), &out); err != nil || out.Latency != time.Millisecond {
		t.Fatalf("numeric duration: %+v, %v", out, err)
	}
	for _, bad := range []string{`{"latency":"fast"}`, `{"rate_5xxx":1}`, `{"down":"yes"}`} {
		if err := json.Unmarshal([]byte(bad), &out); err == nil {
			t.Errorf("%s: want error", bad)
		}
	}
	if err := in.Validate(); err != nil {
		t.Fatalf("valid faults: %v", err)
	}
	for _, bad := range []Faults{{Rate5xx: 1.5}, {Rate5xx: 0.6, RateDrop: 0.6}, {Latency: -1}, {DeclineRate: -0.1}} {
		if err := bad.Validate(); err == nil {
			t.Errorf("%+v: want validation error", bad)
		}
	}
}

func TestScriptPanicsOnUnknownFault(t *testing.T) {
	defer func() {
		if recover() == nil {
			t.Fatal("Script with an unknown fault did not panic")
		}
	}()
	New(Config{}).Script("refund", "x", "explode")
}
