package fpsim

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"sync"
	"testing"
	"time"

	"github.com/refundq/refundq/internal/freedompay"
	"github.com/shopspring/decimal"
)

const (
	testAuthID = "123456"
	testSecret = "secret"
)

// clock is a controllable Now so settlement is tested without sleeping.
type clock struct {
	mu sync.Mutex
	t  time.Time
}

func newClock() *clock { return &clock{t: time.Date(2025, 3, 1, 12, 0, 0, 0, time.UTC)} }

func (c *clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *clock) Advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = c.t.Add(d)
}

type fixture struct {
	t      *testing.T
	sim    *Sim
	srv    *httptest.Server
	client *freedompay.Client
	clock  *clock
}

const testDelay = 2 * time.Second

// newFixture starts a simulator with two transactions (txn-1/order-1 for
// 100.00 and a declining txn-decline/order-decline for 50.00), a 2s status
// delay on a fake clock, and a real freedompay client pointed at it.
func newFixture(t *testing.T, mutate func(*Config)) *fixture {
	t.Helper()
	clk := newClock()
	cfg := Config{
		Credentials: map[string]string{testAuthID: testSecret},
		StatusDelay: testDelay,
		Seed:        1,
		Now:         clk.Now,
		Transactions: []Transaction{
			{TransactionID: "txn-1", OrderID: "order-1", Amount: dec("100.00")},
			{TransactionID: "txn-decline", OrderID: "order-decline", Amount: dec("50.00"), Decline: true},
		},
	}
	if mutate != nil {
		mutate(&cfg)
	}
	sim := New(cfg)
	srv := httptest.NewServer(sim.Handler())
	t.Cleanup(srv.Close)
	client, err := freedompay.New(freedompay.Credential{AuthID: testAuthID, Secret: testSecret},
		freedompay.WithBaseURL(srv.URL), freedompay.WithHTTPClient(srv.Client()))
	if err != nil {
		t.Fatal(err)
	}
	return &fixture{t: t, sim: sim, srv: srv, client: client, clock: clk}
}

func dec(s string) decimal.Decimal { return decimal.RequireFromString(s) }

func amt(s string) *decimal.Decimal { d := dec(s); return &d }

func (f *fixture) refund(id, txnID string, amount *decimal.Decimal) (*freedompay.Response, error) {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	return f.client.Refund(ctx, freedompay.RefundRequest{RequestID: id, TransactionID: txnID, Amount: amount})
}

func (f *fixture) status(id string) (*freedompay.Response, error) {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	return f.client.Status(ctx, id)
}

// mustRefund submits a refund that must be accepted.
func (f *fixture) mustRefund(id, txnID string, amount *decimal.Decimal) *freedompay.Response {
	f.t.Helper()
	resp, err := f.refund(id, txnID, amount)
	if err != nil {
		f.t.Fatalf("refund %s: %v", id, err)
	}
	if resp.Status != "ok" {
		f.t.Fatalf("refund %s: status %q", id, resp.Status)
	}
	return resp
}

// wantStatus polls status once and checks request_status.
func (f *fixture) wantStatus(id, want string) *freedompay.Response {
	f.t.Helper()
	resp, err := f.status(id)
	if err != nil {
		f.t.Fatalf("status %s: %v", id, err)
	}
	if resp.RequestStatus != want {
		f.t.Fatalf("status %s: request_status %q, want %q", id, resp.RequestStatus, want)
	}
	return resp
}

func (f *fixture) ledgerRequest(id string) (LedgerRequest, bool) {
	for _, r := range f.sim.Ledger().Requests {
		if r.RequestID == id {
			return r, true
		}
	}
	return LedgerRequest{}, false
}

func (f *fixture) mustLedgerRequest(id string) LedgerRequest {
	f.t.Helper()
	r, ok := f.ledgerRequest(id)
	if !ok {
		f.t.Fatalf("ledger has no request %s", id)
	}
	return r
}

func (f *fixture) ledgerTxn(id string) LedgerTransaction {
	f.t.Helper()
	for _, t := range f.sim.Ledger().Transactions {
		if t.TransactionID == id {
			return t
		}
	}
	f.t.Fatalf("ledger has no transaction %s", id)
	return LedgerTransaction{}
}

// wantTotals checks a transaction's refunded and pending totals.
func (f *fixture) wantTotals(txnID, refunded, pending string) {
	f.t.Helper()
	lt := f.ledgerTxn(txnID)
	if !lt.Refunded.Equal(dec(refunded)) || !lt.Pending.Equal(dec(pending)) {
		f.t.Fatalf("%s: refunded %s pending %s, want %s / %s", txnID, money(lt.Refunded), money(lt.Pending), refunded, pending)
	}
}

func (f *fixture) wantClean() {
	f.t.Helper()
	if v := f.sim.Ledger().Audit(); len(v) != 0 {
		f.t.Fatalf("audit: %v", v)
	}
}

// wantErr checks err is a client *Error of kind (and code, if non-empty).
func wantErr(t *testing.T, err error, kind freedompay.Kind, code string) *freedompay.Error {
	t.Helper()
	var e *freedompay.Error
	if !errors.As(err, &e) {
		t.Fatalf("err = %v (%T), want *freedompay.Error of kind %s", err, err, kind)
	}
	if e.Kind != kind {
		t.Fatalf("kind = %s, want %s (err %v)", e.Kind, kind, err)
	}
	if code != "" && e.Code != code {
		t.Fatalf("code = %q, want %q (err %v)", e.Code, code, err)
	}
	return e
}

// post sends a raw Card API call signed for uri with secret (unsigned when
// secret is empty), for the cases the real client cannot produce.
func (f *fixture) post(path, uri, secret, body string) (int, freedompay.Response) {
	f.t.Helper()
	req, err := http.NewRequest(http.MethodPost, f.srv.URL+path, bytes.NewBufferString(body))
	if err != nil {
		f.t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/json")
	if secret != "" {
		req.Header.Set(freedompay.SignatureHeader, freedompay.Sign([]byte(secret), testAuthID, uri, []byte(body)))
	}
	res, err := f.srv.Client().Do(req)
	if err != nil {
		f.t.Fatal(err)
	}
	defer res.Body.Close()
	raw, err := io.ReadAll(res.Body)
	if err != nil {
		f.t.Fatal(err)
	}
	var r freedompay.Response
	if err := json.Unmarshal(raw, &r); err != nil {
		f.t.Fatalf("reply %q: %v", raw, err)
	}
	return res.StatusCode, r
}

// admin calls an admin endpoint and decodes the JSON reply into out.
func (f *fixture) admin(method, path, body string, out any) int {
	f.t.Helper()
	req, err := http.NewRequest(method, f.srv.URL+path, bytes.NewBufferString(body))
	if err != nil {
		f.t.Fatal(err)
	}
	res, err := f.srv.Client().Do(req)
	if err != nil {
		f.t.Fatal(err)
	}
	defer res.Body.Close()
	raw, err := io.ReadAll(res.Body)
	if err != nil {
		f.t.Fatal(err)
	}
	if out != nil && res.StatusCode == http.StatusOK {
		if err := json.Unmarshal(raw, out); err != nil {
			f.t.Fatalf("%s %s: reply %q: %v", method, path, raw, err)
		}
	}
	return res.StatusCode
}
