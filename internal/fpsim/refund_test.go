package fpsim

import (
	"fmt"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/shopspring/decimal"
)

func TestFullRefundSettlesAfterStatusDelay(t *testing.T) {
	f := newFixture(t, nil)
	r := f.refund("r1", "txn-1", "100.00")
	if r.Status != "ok" || r.RequestStatus != RequestProcess {
		t.Fatalf("refund: %s, want ok/process", r)
	}
	if _, err := time.Parse(time.RFC3339, r.DT); err != nil || !strings.HasSuffix(r.DT, "+00:00") {
		t.Fatalf("dt %q: want RFC 3339 with numeric offset (%v)", r.DT, err)
	}
	if strings.Contains(r.raw, "transaction_id") {
		t.Fatalf("refund reply carries status-only fields: %s", r.raw)
	}
	f.wantTotals("txn-1", "0", "100.00")

	f.clock.Advance(testDelay - time.Millisecond)
	st := f.wantStatus("r1", RequestProcess)
	if !strings.Contains(st.raw, `"fin_document_id":""`) || st.TransactionID != "txn-1" {
		t.Fatalf("status before success: %s", st.raw)
	}

	f.clock.Advance(time.Millisecond)
	st = f.wantStatus("r1", RequestSuccess)
	if st.TransactionID != "txn-1" || st.FinDocumentID != "fd-1" {
		t.Fatalf("status = %s, want transaction_id txn-1 and fin_document_id fd-1", st)
	}
	f.wantTotals("txn-1", "100.00", "0")
	lr := f.wantLedger("r1", RequestSuccess, 1)
	if lr.Submissions != 1 || !lr.Amount.Equal(dec("100")) || lr.AuthID != testAuthID || len(lr.Faults) != 0 {
		t.Fatalf("ledger request = %+v", lr)
	}
	f.wantClean()
}

func TestZeroStatusDelaySettlesInTheReply(t *testing.T) {
	f := newFixture(t, func(c *Config) { c.StatusDelay = 0 })
	if rs := f.mustRefund("r1", "txn-1", ""); rs != RequestSuccess {
		t.Fatalf("request_status %q, want success at once", rs)
	}
	if rs := f.mustRefund("r2", "txn-decline", ""); rs != RequestError {
		t.Fatalf("declined request_status %q, want error at once", rs)
	}
	f.wantTotals("txn-1", "100.00", "0")
	f.wantTotals("txn-decline", "0", "0")
}

func TestPartialRefundsAndOverRefundGuard(t *testing.T) {
	f := newFixture(t, nil)
	f.mustRefund("p1", "txn-1", "30.00")
	f.mustRefund("p2", "txn-1", "50.50")
	// Pending refunds count against the remainder: 19.50 is left.
	f.refund("p3", "txn-1", "19.51").wantError(t, http.StatusOK, "AMOUNT_EXCEEDED")
	f.mustRefund("p4", "txn-1", "19.50")
	f.refund("p5", "txn-1", "0.01").wantError(t, http.StatusOK, "AMOUNT_EXCEEDED")

	f.clock.Advance(testDelay)
	f.wantTotals("txn-1", "100.00", "0")
	for name, want := range map[string]string{"p1": RequestSuccess, "p2": RequestSuccess, "p3": LedgerRejected, "p4": RequestSuccess, "p5": LedgerRejected} {
		executions := 1
		if want == LedgerRejected {
			executions = 0
		}
		f.wantLedger(name, want, executions)
	}
	// A rejected refund polls as request_status error, not as unknown.
	f.wantStatus("p3", RequestError)
	f.wantClean()
}

func TestMissingAmountRefundsTheRemainder(t *testing.T) {
	f := newFixture(t, nil)
	f.mustRefund("part", "txn-1", "40.00")
	f.mustRefund("rest", "txn-1", "")
	if r := f.mustLedgerRequest("rest"); !r.Amount.Equal(dec("60")) {
		t.Fatalf("full refund resolved to %s, want 60.00", money(r.Amount))
	}
	f.refund("again", "txn-1", "").wantError(t, http.StatusOK, "AMOUNT_EXCEEDED")
	f.wantSettled("txn-1", "100.00")
}

func TestLookupByOrderID(t *testing.T) {
	f := newFixture(t, nil)
	byOrder := func(name, txnID, orderID string) reply {
		return f.do(request{path: PathRefund, body: fmt.Sprintf(`{"request_id":%q,"transaction_id":%q,"order_id":%q,"amount":10}`,
			rid(name), txnID, orderID)})
	}
	if r := byOrder("o1", "", "order-1"); r.Status != "ok" {
		t.Fatal(r)
	}
	if r := f.mustLedgerRequest("o1"); r.TransactionID != "txn-1" {
		t.Fatalf("resolved transaction %q, want txn-1", r.TransactionID)
	}
	byOrder("o2", "", "order-nope").wantError(t, http.StatusOK, "TRANSACTION_NOT_FOUND")
	// Both ids given but naming different transactions: not found.
	byOrder("o3", "txn-1", "order-decline").wantError(t, http.StatusOK, "TRANSACTION_NOT_FOUND")
	f.wantLedger("o2", LedgerRejected, 0)
}

func TestDuplicateRequestID(t *testing.T) {
	f := newFixture(t, nil)
	f.mustRefund("dup", "txn-1", "10.00")
	f.refund("dup", "txn-1", "10.00").wantError(t, http.StatusOK, "DUPLICATE_REQUEST_ID")
	// Even with a different body the id is spent.
	f.refund("dup", "txn-1", "5.00").wantError(t, http.StatusOK, "DUPLICATE_REQUEST_ID")
	if r := f.wantLedger("dup", RequestProcess, 1); r.Submissions != 3 {
		t.Fatalf("ledger = %+v, want 3 submissions", r)
	}
	f.wantTotals("txn-1", "0", "10.00")

	// A rejected request_id is spent too.
	f.refund("rej", "txn-nope", "").wantError(t, http.StatusOK, "TRANSACTION_NOT_FOUND")
	f.refund("rej", "txn-1", "").wantError(t, http.StatusOK, "DUPLICATE_REQUEST_ID")
	if r := f.wantLedger("rej", LedgerRejected, 0); r.Submissions != 2 {
		t.Fatalf("rejected ledger = %+v", r)
	}
}

func TestValidationErrors(t *testing.T) {
	f := newFixture(t, nil)
	id := rid("v")
	body := func(rest string) string { return `{"request_id":"` + id + `"` + rest + `}` }
	cases := []struct {
		name, path, body string
		ctype            *string
		field            string
	}{
		{"malformed", PathRefund, `{"request_id":`, nil, "body"},
		{"trailing garbage", PathRefund, body(`,"transaction_id":"txn-1"`) + " x", nil, "body"},
		{"not an object", PathRefund, `[1]`, nil, "body"},
		{"no request_id", PathRefund, `{"transaction_id":"txn-1"}`, nil, "request_id"},
		{"request_id not a UUID", PathRefund, `{"request_id":"refund-42","transaction_id":"txn-1"}`, nil, "request_id"},
		{"request_id UUID without hyphens", PathRefund, `{"request_id":"` + strings.ReplaceAll(id, "-", "") + `","transaction_id":"txn-1"}`, nil, "request_id"},
		{"request_id UUID in braces", PathRefund, `{"request_id":"{` + id + `}","transaction_id":"txn-1"}`, nil, "request_id"},
		{"request_id urn", PathRefund, `{"request_id":"urn:uuid:` + id + `","transaction_id":"txn-1"}`, nil, "request_id"},
		{"request_id number", PathRefund, `{"request_id":5,"transaction_id":"txn-1"}`, nil, "request_id"},
		{"no ids", PathRefund, body(""), nil, "transaction_id"},
		{"transaction_id number", PathRefund, body(`,"transaction_id":7`), nil, "transaction_id"},
		{"amount null", PathRefund, body(`,"transaction_id":"txn-1","amount":null`), nil, "amount"},
		{"string amount", PathRefund, body(`,"transaction_id":"txn-1","amount":"10.00"`), nil, "amount"},
		{"zero amount", PathRefund, body(`,"transaction_id":"txn-1","amount":0`), nil, "amount"},
		{"negative amount", PathRefund, body(`,"transaction_id":"txn-1","amount":-1`), nil, "amount"},
		{"three decimals", PathRefund, body(`,"transaction_id":"txn-1","amount":1.001`), nil, "amount"},
		{"huge exponent", PathRefund, body(`,"transaction_id":"txn-1","amount":1e999999999`), nil, "amount"},
		{"bool amount", PathRefund, body(`,"transaction_id":"txn-1","amount":true`), nil, "amount"},
		{"no Content-Type", PathRefund, body(`,"transaction_id":"txn-1"`), ptr(""), "Content-Type"},
		{"text/plain", PathRefund, body(`,"transaction_id":"txn-1"`), ptr("text/plain"), "Content-Type"},
		{"form", PathRefund, body(`,"transaction_id":"txn-1"`), ptr("application/x-www-form-urlencoded"), "Content-Type"},
		{"status without request_id", PathStatus, `{}`, nil, "request_id"},
		{"status request_id not a UUID", PathStatus, `{"request_id":"r1"}`, nil, "request_id"},
		{"status text/plain", PathStatus, body(""), ptr("text/plain"), "Content-Type"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			r := f.do(request{path: c.path, body: c.body, ctype: c.ctype})
			r.wantError(t, http.StatusOK, "VALIDATION_ERROR")
			if !strings.HasPrefix(r.Message, c.field+": ") {
				t.Fatalf("message %q does not name the field %s", r.Message, c.field)
			}
		})
	}
	if l := f.sim.Ledger(); len(l.Requests) != 0 {
		t.Fatalf("invalid requests were recorded: %+v", l.Requests)
	}
	// Equivalent spellings of a valid amount are accepted as the same value,
	// an upper-case UUID and a charset parameter too.
	for i, a := range []string{"1.50", "1.5", "1.500", "0.15e1"} {
		if r := f.refund(fmt.Sprint("ok-", i), "txn-1", a); r.Status != "ok" {
			t.Errorf("amount %s: %s", a, r)
		}
		if got := f.mustLedgerRequest(fmt.Sprint("ok-", i)).Amount; !got.Equal(dec("1.5")) {
			t.Errorf("amount %s recorded as %s", a, got)
		}
	}
	upper := fmt.Sprintf(`{"request_id":%q,"transaction_id":"txn-1","amount":1}`, strings.ToUpper(rid("upper")))
	if r := f.do(request{path: PathRefund, body: upper, ctype: ptr("application/json; charset=utf-8")}); r.Status != "ok" {
		t.Fatalf("upper-case UUID with charset: %s", r)
	}
}

func TestStatusOfUnknownRequest(t *testing.T) {
	f := newFixture(t, nil)
	f.status("never-sent").wantError(t, http.StatusOK, "REQUEST_NOT_FOUND")
}

func TestDeclinedTransaction(t *testing.T) {
	f := newFixture(t, nil)
	if rs := f.mustRefund("d1", "txn-decline", ""); rs != RequestProcess {
		t.Fatalf("declining refund should be accepted first, got %q", rs)
	}
	f.wantTotals("txn-decline", "0", "50.00")
	f.clock.Advance(testDelay)
	if st := f.wantStatus("d1", RequestError); st.FinDocumentID != "" {
		t.Fatalf("declined status = %s", st)
	}
	f.wantTotals("txn-decline", "0", "0")
	f.wantLedger("d1", RequestError, 1)
}

func TestDeclineRate(t *testing.T) {
	f := newFixture(t, func(c *Config) { c.Faults.DeclineRate = 1 })
	f.mustRefund("dr", "txn-1", "25")
	f.clock.Advance(testDelay)
	f.wantStatus("dr", RequestError)
	// The released amount is refundable again.
	f.sim.SetFaults(Faults{})
	f.mustRefund("dr2", "txn-1", "")
	f.clock.Advance(testDelay)
	f.wantStatus("dr2", RequestSuccess)
	f.wantTotals("txn-1", "100.00", "0")
}

// TestConcurrentRefundsNeverOverRefund hammers one transaction from many
// goroutines, with commit faults on, and checks the invariants hold.
func TestConcurrentRefundsNeverOverRefund(t *testing.T) {
	f := newFixture(t, func(c *Config) {
		c.Faults = Faults{Rate5xx: 0.2, RateDrop: 0.2, CommitOnFault: true, HangMax: time.Millisecond}
	})
	var wg sync.WaitGroup
	for i := range 40 {
		wg.Go(func() {
			name := fmt.Sprintf("c-%d", i%30) // some ids are sent twice
			f.refund(name, "txn-1", "10.00")
			f.status(name)
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
	for _, in := range []string{"", "abc", "+1", "01", "1.", ".5", "0", "0.00", "-5", "1.001", "1e-3", "1e31", "NaN", "Infinity", "0x10", "null", strings.Repeat("9", 41)} {
		if d, err := parseAmount(in); err == nil {
			t.Errorf("parseAmount(%q) = %s, want error", in, d)
		}
	}
}
