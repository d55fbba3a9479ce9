package fpsim

import (
	"bytes"
	"context"
	"crypto/hmac"
	"crypto/sha512"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/shopspring/decimal"
)

const (
	testAuthID  = "123456"
	testSecret  = "secret"
	otherAuthID = "654321"
	otherSecret = "other-secret"
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

// merchant is the credential a fixture signs with.
type merchant struct{ authID, secret string }

type fixture struct {
	t     *testing.T
	sim   *Sim
	srv   *httptest.Server
	clock *clock
	as    merchant
}

const testDelay = 2 * time.Second

// newFixture starts a simulator with two transactions (txn-1/order-1 for
// 100.00 and a declining txn-decline/order-decline for 50.00), a 2s status
// delay on a fake clock, and hangs bounded at 5ms so a lost reply costs a
// test nothing. Calls are signed as testAuthID.
func newFixture(t *testing.T, mutate func(*Config)) *fixture {
	t.Helper()
	clk := newClock()
	cfg := Config{
		Credentials: map[string]string{testAuthID: testSecret},
		StatusDelay: testDelay,
		Seed:        1,
		Now:         clk.Now,
		Faults:      Faults{HangMax: 5 * time.Millisecond},
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
	return &fixture{t: t, sim: sim, srv: srv, clock: clk, as: merchant{testAuthID, testSecret}}
}

// signedAs returns a view of the fixture that signs with another credential.
func (f *fixture) signedAs(authID, secret string) *fixture {
	g := *f
	g.as = merchant{authID, secret}
	return &g
}

func dec(s string) decimal.Decimal { return decimal.RequireFromString(s) }

// rid is the request_id a test calls name: a stable UUID, as the provider
// requires.
func rid(name string) string {
	return uuid.NewSHA1(uuid.NameSpaceURL, []byte("fpsim-test/"+name)).String()
}

// sign makes the detached HS512 JWS of the provider's docs (§2). It is the
// test's own, written from the docs like the verifier but separately, and
// pinned to the documented vector in jws_test.go.
func sign(secret, authID, uri string, body []byte) string {
	hdr := fmt.Sprintf(`{"uri":%q,"auth_id":%q,"method":"POST","params":"","alg":"HS512"}`, uri, authID)
	enc := base64.RawURLEncoding
	h := enc.EncodeToString([]byte(hdr))
	m := hmac.New(sha512.New, []byte(secret))
	m.Write([]byte(h + "." + enc.EncodeToString(body)))
	return h + ".." + enc.EncodeToString(m.Sum(nil))
}

// reply is what came back from one Card API call, in either dialect.
type reply struct {
	err         error // no reply at all (connection closed, deadline)
	code        int
	contentType string
	retryAfter  string
	raw         string
	// The JSON fields of both dialects; empty when absent or not JSON.
	Status        string `json:"status"`
	RequestStatus string `json:"request_status"`
	TransactionID string `json:"transaction_id"`
	FinDocumentID string `json:"fin_document_id"`
	DT            string `json:"dt"`
	ErrorCode     string `json:"error_code"`
	Code          string `json:"code"`
	Message       string `json:"message"`
}

// request is one raw Card API call; zero fields get the fixture's defaults.
type request struct {
	path, body string
	uri        string        // signed uri; default path
	sig        *string       // X-JWS-Signature; default a valid one
	ctype      *string       // Content-Type; default application/json
	timeout    time.Duration // client deadline; default 10s
}

func (f *fixture) do(rq request) reply {
	f.t.Helper()
	if rq.uri == "" {
		rq.uri = rq.path
	}
	if rq.timeout == 0 {
		rq.timeout = 10 * time.Second
	}
	ctx, cancel := context.WithTimeout(context.Background(), rq.timeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, f.srv.URL+rq.path, strings.NewReader(rq.body))
	if err != nil {
		f.t.Fatal(err)
	}
	ctype := "application/json"
	if rq.ctype != nil {
		ctype = *rq.ctype
	}
	if ctype != "" {
		req.Header.Set("Content-Type", ctype)
	}
	sig := sign(f.as.secret, f.as.authID, rq.uri, []byte(rq.body))
	if rq.sig != nil {
		sig = *rq.sig
	}
	if sig != "" {
		req.Header.Set(SignatureHeader, sig)
	}
	res, err := f.srv.Client().Do(req)
	if err != nil {
		return reply{err: err}
	}
	defer res.Body.Close()
	raw, err := io.ReadAll(res.Body)
	if err != nil {
		return reply{err: err}
	}
	out := reply{code: res.StatusCode, contentType: res.Header.Get("Content-Type"),
		retryAfter: res.Header.Get("Retry-After"), raw: string(raw)}
	if strings.HasPrefix(out.contentType, "application/json") {
		if err := json.Unmarshal(raw, &out); err != nil {
			f.t.Fatalf("JSON reply %q: %v", raw, err)
		}
	}
	return out
}

// refundJSON is a refund request body; amount is raw JSON ("" omits it).
func refundJSON(name, txnID, amount string) string {
	b := fmt.Sprintf(`{"request_id":%q,"transaction_id":%q`, rid(name), txnID)
	if amount != "" {
		b += `,"amount":` + amount
	}
	return b + "}"
}

func (f *fixture) refund(name, txnID, amount string) reply {
	f.t.Helper()
	return f.do(request{path: PathRefund, body: refundJSON(name, txnID, amount)})
}

func (f *fixture) status(name string) reply {
	f.t.Helper()
	return f.do(request{path: PathStatus, body: fmt.Sprintf(`{"request_id":%q}`, rid(name))})
}

// mustRefund submits a refund that must be accepted and returns its
// request_status.
func (f *fixture) mustRefund(name, txnID, amount string) string {
	f.t.Helper()
	r := f.refund(name, txnID, amount)
	if r.err != nil || r.code != http.StatusOK || r.Status != "ok" {
		f.t.Fatalf("refund %s: %s", name, r)
	}
	return r.RequestStatus
}

// wantStatus polls status once and checks request_status.
func (f *fixture) wantStatus(name, want string) reply {
	f.t.Helper()
	r := f.status(name)
	if r.err != nil || r.Status != "ok" || r.RequestStatus != want {
		f.t.Fatalf("status %s: %s, want request_status %q", name, r, want)
	}
	return r
}

// wantNotFound checks that status denies knowing name, with exactly the
// reply a request_id never sent gets.
func (f *fixture) wantNotFound(name string) {
	f.t.Helper()
	got := f.status(name)
	never := f.status("never-sent/" + name)
	never.raw = strings.ReplaceAll(never.raw, rid("never-sent/"+name), rid(name))
	if got.err != nil || got.code != never.code || got.raw != never.raw || got.contentType != never.contentType {
		f.t.Fatalf("status %s: %s\nwant the never-sent reply %s", name, got, never)
	}
}

func (r reply) String() string {
	if r.err != nil {
		return "no reply: " + r.err.Error()
	}
	return fmt.Sprintf("http %d %s %s", r.code, r.contentType, strings.TrimSpace(r.raw))
}

// wantError checks a native error reply: HTTP status and error_code.
func (r reply) wantError(t *testing.T, code int, errorCode string) {
	t.Helper()
	if r.err != nil || r.code != code || r.Status != "error" || r.ErrorCode != errorCode || r.Message == "" || r.DT == "" {
		t.Fatalf("%s, want http %d error_code %s with a message and dt", r, code, errorCode)
	}
}

func (r reply) wantNoReply(t *testing.T) {
	t.Helper()
	if r.err == nil {
		t.Fatalf("%s, want the connection closed without a reply", r)
	}
}

func (f *fixture) ledgerRequest(name string) (LedgerRequest, bool) {
	return f.sim.Ledger().RequestOf(f.as.authID, rid(name))
}

func (f *fixture) mustLedgerRequest(name string) LedgerRequest {
	f.t.Helper()
	r, ok := f.ledgerRequest(name)
	if !ok {
		f.t.Fatalf("ledger has no request %s", name)
	}
	return r
}

// wantLedger checks a request's status and execution count in the ledger.
func (f *fixture) wantLedger(name, status string, executions int) LedgerRequest {
	f.t.Helper()
	r := f.mustLedgerRequest(name)
	if r.Status != status || r.Executions != executions {
		f.t.Fatalf("ledger %s = %+v, want status %s with %d execution(s)", name, r, status, executions)
	}
	return r
}

// wantTotals checks a transaction's refunded and pending totals.
func (f *fixture) wantTotals(txnID, refunded, pending string) {
	f.t.Helper()
	lt, ok := f.sim.Ledger().TransactionOf(f.as.authID, txnID)
	if !ok {
		f.t.Fatalf("ledger has no transaction %s for %s", txnID, f.as.authID)
	}
	if !lt.Refunded.Equal(dec(refunded)) || !lt.Pending.Equal(dec(pending)) {
		f.t.Fatalf("%s: refunded %s pending %s, want %s / %s", txnID, money(lt.Refunded), money(lt.Pending), refunded, pending)
	}
}

// wantSettled lets the simulator finish processing, then wants txnID to
// have refunded refunded with nothing pending and the ledger's audit clean.
func (f *fixture) wantSettled(txnID, refunded string) {
	f.t.Helper()
	f.clock.Advance(testDelay)
	f.wantTotals(txnID, refunded, "0")
	f.wantClean()
}

func (f *fixture) wantClean() {
	f.t.Helper()
	if v := f.sim.Ledger().Audit(); len(v) != 0 {
		f.t.Fatalf("audit: %v", v)
	}
}

// admin calls an admin endpoint and decodes the JSON reply into out.
func (f *fixture) admin(method, path, body string, out any) int {
	f.t.Helper()
	code, raw := f.call(method, path, body)
	if out != nil && code == http.StatusOK {
		if err := json.Unmarshal(raw, out); err != nil {
			f.t.Fatalf("%s %s: reply %q: %v", method, path, raw, err)
		}
	}
	return code
}

// get fetches an admin page as text.
func (f *fixture) get(path string) string {
	f.t.Helper()
	_, raw := f.call(http.MethodGet, path, "")
	return string(raw)
}

// call sends one request to the simulator and returns the reply.
func (f *fixture) call(method, path, body string) (int, []byte) {
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
	return res.StatusCode, raw
}

func ptr[T any](v T) *T { return &v }
