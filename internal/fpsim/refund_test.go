package fpsim

import (
	"fmt"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/refundq/refundq/internal/freedompay"
	"github.com/shopspring/decimal"
)

func TestFullRefundSettlesAfterStatusDelay(t *testing.T) {
	f := newFixture(t, nil)
	resp := f.mustRefund("r1", "txn-1", amt("100.00"))
	if resp.RequestStatus != freedompay.RequestProcess {
		t.Fatalf("refund request_status %q, want process", resp.RequestStatus)
	}
	if _, err := time.Parse(time.RFC3339, resp.DT); err != nil || !strings.HasSuffix(resp.DT, "+00:00") {
		t.Fatalf("dt %q: want RFC 3339 with numeric offset (%v)", resp.DT, err)
	}
	f.wantTotals("txn-1", "0", "100.00")

	f.clock.Advance(testDelay - time.Millisecond)
	st := f.wantStatus("r1", freedompay.RequestProcess)
	if st.FinDocumentID != "" {
		t.Fatalf("fin_document_id %q before success", st.FinDocumentID)
	}

	f.clock.Advance(time.Millisecond)
	st = f.wantStatus("r1", freedompay.RequestSuccess)
	if st.TransactionID != "txn-1" || st.FinDocumentID != "fd-1" {
		t.Fatalf("status = %+v, want transaction_id txn-1 and fin_document_id fd-1", st)
	}
	f.wantTotals("txn-1", "100.00", "0")
	r := f.mustLedgerRequest("r1")
	if r.Submissions != 1 || r.Executions != 1 || r.Status != "success" || !r.Amount.Equal(dec("100")) {
		t.Fatalf("ledger request = %+v", r)
	}
	f.wantClean()
}

func TestZeroStatusDelaySettlesInTheReply(t *testing.T) {
	f := newFixture(t, func(c *Config) { c.StatusDelay = 0 })
	if resp := f.mustRefund("r1", "txn-1", nil); resp.RequestStatus != freedompay.RequestSuccess {
		t.Fatalf("request_status %q, want success at once", resp.RequestStatus)
	}
	if resp := f.mustRefund("r2", "txn-decline", nil); resp.RequestStatus != freedompay.RequestError {
		t.Fatalf("declined request_status %q, want error at once", resp.RequestStatus)
	}
	f.wantTotals("txn-1", "100.00", "0")
	f.wantTotals("txn-decline", "0", "0")
}

func TestPartialRefundsAndOverRefundGuard(t *testing.T) {
	f := newFixture(t, nil)
	f.mustRefund("p1", "txn-1", amt("30.00"))
	f.mustRefund("p2", "txn-1", amt("50.50"))
	// Pending refunds count against the remainder: 19.50 is left.
	_, err := f.refund("p3", "txn-1", amt("19.51"))
	wantErr(t, err, freedompay.KindPermanent, freedompay.CodeAmountExceeded)
	f.mustRefund("p4", "txn-1", amt("19.50"))
	_, err = f.refund("p5", "txn-1", amt("0.01"))
	wantErr(t, err, freedompay.KindPermanent, freedompay.CodeAmountExceeded)

	f.clock.Advance(testDelay)
	f.wantTotals("txn-1", "100.00", "0")
	for id, want := range map[string]string{"p1": "success", "p2": "success", "p3": "rejected", "p4": "success", "p5": "rejected"} {
		r := f.mustLedgerRequest(id)
		if r.Status != want {
			t.Errorf("%s: ledger status %q, want %q", id, r.Status, want)
		}
		if wantExec := map[bool]int{true: 0, false: 1}[want == "rejected"]; r.Executions != wantExec {
			t.Errorf("%s: executions %d, want %d", id, r.Executions, wantExec)
		}
	}
	// A rejected refund polls as request_status error, not as unknown.
	f.wantStatus("p3", freedompay.RequestError)
	f.wantClean()
}

func TestMissingAmountRefundsTheRemainder(t *testing.T) {
	f := newFixture(t, nil)
	f.mustRefund("part", "txn-1", amt("40.00"))
	f.mustRefund("rest", "txn-1", nil)
	if r := f.mustLedgerRequest("rest"); !r.Amount.Equal(dec("60")) {
		t.Fatalf("full refund resolved to %s, want 60.00", money(r.Amount))
	}
	_, err := f.refund("again", "txn-1", nil)
	wantErr(t, err, freedompay.KindPermanent, freedompay.CodeAmountExceeded)
	f.clock.Advance(testDelay)
	f.wantTotals("txn-1", "100.00", "0")
	f.wantClean()
}

func TestLookupByOrderID(t *testing.T) {
	f := newFixture(t, nil)
	ctx := t.Context()
	if _, err := f.client.Refund(ctx, freedompay.RefundRequest{RequestID: "o1", OrderID: "order-1", Amount: amt("10")}); err != nil {
		t.Fatal(err)
	}
	if r := f.mustLedgerRequest("o1"); r.TransactionID != "txn-1" {
		t.Fatalf("resolved transaction %q, want txn-1", r.TransactionID)
	}
	_, err := f.client.Refund(ctx, freedompay.RefundRequest{RequestID: "o2", OrderID: "order-nope"})
	wantErr(t, err, freedompay.KindPermanent, freedompay.CodeTransactionNotFound)
	// Both ids given but naming different transactions: not found.
	_, err = f.client.Refund(ctx, freedompay.RefundRequest{RequestID: "o3", TransactionID: "txn-1", OrderID: "order-decline"})
	wantErr(t, err, freedompay.KindPermanent, freedompay.CodeTransactionNotFound)
	if r := f.mustLedgerRequest("o2"); r.Status != statusRejected || r.Executions != 0 {
		t.Fatalf("not-found request = %+v", r)
	}
}

func TestDuplicateRequestID(t *testing.T) {
	f := newFixture(t, nil)
	f.mustRefund("dup", "txn-1", amt("10.00"))
	_, err := f.refund("dup", "txn-1", amt("10.00"))
	wantErr(t, err, freedompay.KindDuplicate, freedompay.CodeDuplicateRequestID)
	// Even with a different body the id is spent.
	_, err = f.refund("dup", "txn-1", amt("5.00"))
	wantErr(t, err, freedompay.KindDuplicate, freedompay.CodeDuplicateRequestID)
	r := f.mustLedgerRequest("dup")
	if r.Submissions != 3 || r.Executions != 1 {
		t.Fatalf("ledger = %+v, want 3 submissions and 1 execution", r)
	}
	f.wantTotals("txn-1", "0", "10.00")

	// A rejected request_id is spent too.
	_, err = f.refund("rej", "txn-nope", nil)
	wantErr(t, err, freedompay.KindPermanent, freedompay.CodeTransactionNotFound)
	_, err = f.refund("rej", "txn-1", nil)
	wantErr(t, err, freedompay.KindDuplicate, freedompay.CodeDuplicateRequestID)
	if r := f.mustLedgerRequest("rej"); r.Executions != 0 || r.Submissions != 2 {
		t.Fatalf("rejected ledger = %+v", r)
	}
}

func TestBadSignature(t *testing.T) {
	f := newFixture(t, nil)
	bad, err := freedompay.New(freedompay.Credential{AuthID: testAuthID, Secret: "wrong"},
		freedompay.WithBaseURL(f.srv.URL), freedompay.WithHTTPClient(f.srv.Client()))
	if err != nil {
		t.Fatal(err)
	}
	_, err = bad.Refund(t.Context(), freedompay.RefundRequest{RequestID: "sig", TransactionID: "txn-1"})
	e := wantErr(t, err, freedompay.KindAuth, freedompay.CodeInvalidSignature)
	if e.HTTPStatus != http.StatusUnauthorized {
		t.Fatalf("http %d, want 401", e.HTTPStatus)
	}

	body := `{"request_id":"sig2","transaction_id":"txn-1"}`
	cases := map[string]struct{ uri, secret string }{
		"unsigned":                 {freedompay.PathRefund, ""},
		"signed for status path":   {freedompay.PathStatus, testSecret},
		"signed with other secret": {freedompay.PathRefund, "nope"},
	}
	for name, c := range cases {
		code, r := f.post(freedompay.PathRefund, c.uri, c.secret, body)
		if code != http.StatusUnauthorized || r.Status != "error" || r.ErrorCode != freedompay.CodeInvalidSignature || r.Message == "" {
			t.Errorf("%s: http %d %+v, want 401 INVALID_SIGNATURE", name, code, r)
		}
	}
	if l := f.sim.Ledger(); len(l.Requests) != 0 {
		t.Fatalf("bad signatures were recorded: %+v", l.Requests)
	}
	// The same body, correctly signed, is still fresh.
	if code, r := f.post(freedompay.PathRefund, freedompay.PathRefund, testSecret, body); code != 200 || r.Status != "ok" {
		t.Fatalf("good signature: http %d %+v", code, r)
	}
}

func TestValidationErrors(t *testing.T) {
	f := newFixture(t, nil)
	cases := map[string]string{
		"malformed":         `{"request_id":`,
		"trailing garbage":  `{"request_id":"v","transaction_id":"txn-1"} x`,
		"no request_id":     `{"transaction_id":"txn-1"}`,
		"no ids":            `{"request_id":"v"}`,
		"string amount":     `{"request_id":"v","transaction_id":"txn-1","amount":"10.00"}`,
		"zero amount":       `{"request_id":"v","transaction_id":"txn-1","amount":0}`,
		"negative amount":   `{"request_id":"v","transaction_id":"txn-1","amount":-1}`,
		"three decimals":    `{"request_id":"v","transaction_id":"txn-1","amount":1.001}`,
		"huge exponent":     `{"request_id":"v","transaction_id":"txn-1","amount":1e999999999}`,
		"request_id number": `{"request_id":5,"transaction_id":"txn-1"}`,
		"bool amount":       `{"request_id":"v","transaction_id":"txn-1","amount":true}`,
	}
	for name, body := range cases {
		code, r := f.post(freedompay.PathRefund, freedompay.PathRefund, testSecret, body)
		if code != http.StatusOK || r.Status != "error" || r.ErrorCode != freedompay.CodeValidation {
			t.Errorf("%s: http %d %+v, want 200 VALIDATION_ERROR", name, code, r)
		}
	}
	code, r := f.post(freedompay.PathStatus, freedompay.PathStatus, testSecret, `{}`)
	if code != http.StatusOK || r.ErrorCode != freedompay.CodeValidation {
		t.Errorf("status without request_id: http %d %+v", code, r)
	}
	if l := f.sim.Ledger(); len(l.Requests) != 0 {
		t.Fatalf("invalid requests were recorded: %+v", l.Requests)
	}
	// Equivalent spellings of a valid amount are accepted as the same value.
	for i, a := range []string{"1.50", "1.5", "1.500", "0.15e1"} {
		body := fmt.Sprintf(`{"request_id":"ok-%d","transaction_id":"txn-1","amount":%s}`, i, a)
		if code, r := f.post(freedompay.PathRefund, freedompay.PathRefund, testSecret, body); code != 200 || r.Status != "ok" {
			t.Errorf("amount %s: http %d %+v", a, code, r)
		}
		if got := f.mustLedgerRequest(fmt.Sprintf("ok-%d", i)).Amount; !got.Equal(dec("1.5")) {
			t.Errorf("amount %s recorded as %s", a, got)
		}
	}
}

func TestStatusOfUnknownRequest(t *testing.T) {
	f := newFixture(t, nil)
	_, err := f.status("never-sent")
	wantErr(t, err, freedompay.KindNotFound, freedompay.CodeRequestNotFound)
}

func TestDeclinedTransaction(t *testing.T) {
	f := newFixture(t, nil)
	if resp := f.mustRefund("d1", "txn-decline", nil); resp.RequestStatus != freedompay.RequestProcess {
		t.Fatalf("declining refund should be accepted first, got %q", resp.RequestStatus)
	}
	f.wantTotals("txn-decline", "0", "50.00")
	f.clock.Advance(testDelay)
	st := f.wantStatus("d1", freedompay.RequestError)
	if st.Status != "ok" || st.FinDocumentID != "" {
		t.Fatalf("declined status = %+v", st)
	}
	f.wantTotals("txn-decline", "0", "0")
	if r := f.mustLedgerRequest("d1"); r.Executions != 1 || r.Status != "error" {
		t.Fatalf("ledger = %+v", r)
	}
}

func TestDeclineRate(t *testing.T) {
	f := newFixture(t, func(c *Config) { c.Faults.DeclineRate = 1 })
	f.mustRefund("dr", "txn-1", amt("25"))
	f.clock.Advance(testDelay)
	f.wantStatus("dr", freedompay.RequestError)
	// The released amount is refundable again.
	f.sim.SetFaults(Faults{})
	f.mustRefund("dr2", "txn-1", nil)
	f.clock.Advance(testDelay)
	f.wantStatus("dr2", freedompay.RequestSuccess)
	f.wantTotals("txn-1", "100.00", "0")
}

// TestConcurrentRefundsNeverOverRefund hammers one transaction from many
// goroutines, with commit faults on, and checks the invariants hold.
func TestConcurrentRefundsNeverOverRefund(t *testing.T) {
	f := newFixture(t, func(c *Config) {
		c.Faults = Faults{Rate5xx: 0.2, RateDrop: 0.2, CommitOnFault: true}
	})
	var wg sync.WaitGroup
	for i := range 40 {
		wg.Go(func() {
			id := fmt.Sprintf("c-%d", i%30) // some ids are sent twice
			_, _ = f.refund(id, "txn-1", amt("10.00"))
			_, _ = f.status(id)
		})
	}
	wg.Go(func() {
		for range 20 {
			_ = f.sim.Ledger()
			f.clock.Advance(100 * time.Millisecond)
			f.sim.SetFaults(f.sim.Faults())
		}
	})
	wg.Wait()
	f.clock.Advance(testDelay)
	l := f.sim.Ledger()
	if v := l.Audit(); len(v) != 0 {
		t.Fatalf("audit: %v", v)
	}
	executed := 0
	for _, r := range l.Requests {
		executed += r.Executions
	}
	if executed != 10 {
		t.Fatalf("%d refunds of 10.00 executed against 100.00, want exactly 10", executed)
	}
	f.wantTotals("txn-1", "100.00", "0")
}

func TestAmountTextParsing(t *testing.T) {
	good := map[string]string{"1": "1", "0.01": "0.01", "10.10": "10.1", "2.50e1": "25", "100.000": "100"}
	for in, want := range good {
		d, err := parseAmount(in)
		if err != nil || !d.Equal(decimal.RequireFromString(want)) {
			t.Errorf("parseAmount(%q) = %s, %v; want %s", in, d, err, want)
		}
	}
	for _, in := range []string{"", "abc", "+1", "01", "1.", ".5", "0", "0.00", "-5", "1.001", "1e-3", "1e31", "NaN", "Infinity", "0x10", strings.Repeat("9", 41)} {
		if d, err := parseAmount(in); err == nil {
			t.Errorf("parseAmount(%q) = %s, want error", in, d)
		}
	}
}
