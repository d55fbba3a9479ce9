package fpsim

import (
	"encoding/json"
	"fmt"
	"net/http"
	"reflect"
	"strings"
	"testing"
	"time"
)

// dialectRow is one row of docs/provider.md's dialect table: a situation,
// how to cause it, and the reply each dialect must give.
type dialectRow struct {
	situation string
	cause     func(f *fixture) reply
	native    wantWire
	alt       wantWire
}

// wantWire is an expected reply: HTTP status, and either the exact JSON
// fields (besides dt, checked separately) or the exact HTML page.
type wantWire struct {
	code       int
	fields     map[string]string
	html       string
	retryAfter string
}

func nativeErr(code int, errorCode string) wantWire {
	return wantWire{code: code, fields: map[string]string{"status": "error", "error_code": errorCode, "message": "*", "dt": "*"}}
}

func altErr(code int, c, message string) wantWire {
	return wantWire{code: code, fields: map[string]string{"status": "error", "code": c, "message": message}}
}

var proxyPage = wantWire{code: http.StatusBadGateway, html: proxy502}

func dialectRows() []dialectRow {
	okRefund := wantWire{code: 200, fields: map[string]string{"status": "ok", "request_status": "process", "dt": "*"}}
	okStatus := wantWire{code: 200, fields: map[string]string{"status": "ok", "request_status": "process", "dt": "*",
		"transaction_id": "txn-1", "fin_document_id": ""}}
	script := func(name, entry string) func(f *fixture) reply {
		return func(f *fixture) reply {
			f.sim.Script("refund", rid(name), entry)
			return f.refund(name, "txn-1", "1")
		}
	}
	return []dialectRow{
		{"refund accepted", func(f *fixture) reply { return f.refund("a", "txn-1", "1") }, okRefund, okRefund},
		{"status known", func(f *fixture) reply { f.refund("a", "txn-1", "1"); return f.status("a") }, okStatus, okStatus},
		{"bad signature", func(f *fixture) reply { return f.signedAs(testAuthID, "wrong").refund("a", "txn-1", "1") },
			nativeErr(401, "INVALID_SIGNATURE"), altErr(401, "1001", "Signature verification failed")},
		{"validation (request_id not a UUID)", func(f *fixture) reply {
			return f.do(request{path: PathRefund, body: `{"request_id":"r-1","transaction_id":"txn-1"}`})
		}, nativeErr(200, "VALIDATION_ERROR"), altErr(400, "1002", "Invalid parameter: request_id")},
		{"validation (amount null)", func(f *fixture) reply {
			return f.do(request{path: PathRefund, body: refundJSON("a", "txn-1", "null")})
		}, nativeErr(200, "VALIDATION_ERROR"), altErr(400, "1002", "Invalid parameter: amount")},
		{"validation (Content-Type)", func(f *fixture) reply {
			return f.do(request{path: PathRefund, body: refundJSON("a", "txn-1", ""), ctype: ptr("text/plain")})
		}, nativeErr(200, "VALIDATION_ERROR"), altErr(400, "1002", "Invalid parameter: Content-Type")},
		{"request not found", func(f *fixture) reply { return f.status("never") },
			nativeErr(200, "REQUEST_NOT_FOUND"), altErr(404, "2004", "Request not found")},
		{"duplicate request_id", func(f *fixture) reply { f.refund("a", "txn-1", "1"); return f.refund("a", "txn-1", "1") },
			nativeErr(200, "DUPLICATE_REQUEST_ID"), altErr(409, "2009", "Request with this request_id already exists")},
		{"transaction not found", func(f *fixture) reply { return f.refund("a", "txn-nope", "1") },
			nativeErr(200, "TRANSACTION_NOT_FOUND"), altErr(200, "3001", "Transaction does not exist")},
		{"over-refund", func(f *fixture) reply { return f.refund("a", "txn-1", "100.01") },
			nativeErr(200, "AMOUNT_EXCEEDED"), altErr(200, "3002", "Refund amount exceeds available balance")},
		{"rate limited", script("a", "429"), nativeErr(429, "RATE_LIMITED"),
			wantWire{code: 429, fields: map[string]string{"status": "error", "code": "9001", "message": "Too many requests"},
				retryAfter: "1"}},
		{"internal error (first 5xx)", script("a", "5xx"), nativeErr(500, "INTERNAL_ERROR"), altErr(500, "5000", "Internal error")},
		{"internal error (second 5xx: front proxy)", func(f *fixture) reply { script("a", "5xx")(f); return script("b", "5xx_commit")(f) },
			nativeErr(500, "INTERNAL_ERROR"), proxyPage},
		{"outage", func(f *fixture) reply { f.sim.SetFaults(Faults{Down: true}); return f.status("a") },
			nativeErr(503, "SERVICE_UNAVAILABLE"), proxyPage},
	}
}

func TestDialectTable(t *testing.T) {
	for _, row := range dialectRows() {
		for _, d := range []Dialect{DialectNative, DialectAlt} {
			t.Run(fmt.Sprintf("%s/%s", d, row.situation), func(t *testing.T) {
				f := newFixture(t, func(c *Config) { c.Dialect = d })
				want := row.native
				if d == DialectAlt {
					want = row.alt
				}
				checkWire(t, row.cause(f), want)
			})
		}
	}
}

func checkWire(t *testing.T, got reply, want wantWire) {
	t.Helper()
	if got.err != nil || got.code != want.code {
		t.Fatalf("%s, want http %d", got, want.code)
	}
	if got.retryAfter != want.retryAfter {
		t.Fatalf("Retry-After %q, want %q", got.retryAfter, want.retryAfter)
	}
	if want.html != "" {
		if got.contentType != "text/html" || got.raw != want.html {
			t.Fatalf("%s, want the front proxy's HTML page", got)
		}
		return
	}
	var fields map[string]any
	if got.contentType != "application/json" || json.Unmarshal([]byte(got.raw), &fields) != nil {
		t.Fatalf("%s, want a JSON object", got)
	}
	if len(fields) != len(want.fields) {
		t.Fatalf("fields %v, want exactly %v", fields, want.fields)
	}
	for k, v := range want.fields {
		s, ok := fields[k].(string)
		if !ok || (v == "*" && s == "") || (v != "*" && s != v) {
			t.Fatalf("%s = %v, want %q (reply %s)", k, fields[k], v, got.raw)
		}
	}
}

func TestDialectAtRunTime(t *testing.T) {
	f := newFixture(t, nil)
	f.status("x").wantError(t, 200, "REQUEST_NOT_FOUND")
	if err := f.sim.SetDialect(DialectAlt); err != nil || f.sim.Dialect() != DialectAlt {
		t.Fatalf("SetDialect: %v", err)
	}
	checkWire(t, f.status("x"), altErr(404, "2004", "Request not found"))
	if err := f.sim.SetDialect("klingon"); err == nil || f.sim.Dialect() != DialectAlt {
		t.Fatalf("unknown dialect: %v, dialect now %s", err, f.sim.Dialect())
	}
	var got dialectBody
	if code := f.admin("PUT", "/sim/dialect", `{"dialect":"native"}`, &got); code != 200 || got.Dialect != DialectNative {
		t.Fatalf("PUT /sim/dialect: %d %+v", code, got)
	}
	if code := f.admin("GET", "/sim/dialect", "", &got); code != 200 || got.Dialect != DialectNative {
		t.Fatalf("GET /sim/dialect: %d %+v", code, got)
	}
	for _, bad := range []string{`{"dialect":"klingon"}`, `{"dialekt":"alt"}`, `alt`} {
		if code := f.admin("PUT", "/sim/dialect", bad, nil); code != http.StatusBadRequest {
			t.Errorf("PUT /sim/dialect %s: %d, want 400", bad, code)
		}
	}
	f.status("x").wantError(t, 200, "REQUEST_NOT_FOUND")
}

// The dialect changes words, never deeds: the same seed and calls, with
// every fault on, give the same ledger in both dialects.
func TestDialectsExecuteTheSame(t *testing.T) {
	run := func(d Dialect) ([]byte, map[string]int) {
		f := newFixture(t, func(c *Config) {
			c.Dialect = d
			c.Seed = 7
			c.Faults = Faults{Rate5xx: 0.1, RateTimeout: 0.05, Rate429: 0.05, RateDrop: 0.05, CommitOnFault: true,
				LateCommitRate: 0.1, LateCommitRaceRate: 0.05, LateCommitMin: time.Second, LateCommitMax: 20 * time.Second,
				StatusLagRate: 0.2, StatusLagMax: 30 * time.Second, ForgetRate: 0.05, DeclineRate: 0.1, HangMax: time.Millisecond}
			c.Transactions = GenerateTransactions(10, dec("100"))
		})
		codes := map[string]int{}
		for i := range 120 {
			name := fmt.Sprint("d-", i%80) // a third are resends
			r := f.refund(name, fmt.Sprintf("txn-%06d", i%10+1), "30")
			codes[fmt.Sprint(r.code)]++
			f.status(name)
			f.clock.Advance(700 * time.Millisecond)
		}
		f.clock.Advance(time.Minute)
		raw, err := json.Marshal(f.sim.Ledger())
		if err != nil {
			t.Fatal(err)
		}
		return raw, codes
	}
	native, nativeCodes := run(DialectNative)
	alt, altCodes := run(DialectAlt)
	if string(native) != string(alt) {
		t.Fatalf("ledgers differ:\nnative %s\nalt    %s", native, alt)
	}
	if reflect.DeepEqual(nativeCodes, altCodes) || altCodes["409"] == 0 || altCodes["502"] == 0 {
		t.Fatalf("the dialects answered with the same HTTP statuses (%v vs %v): the workload does not exercise them", nativeCodes, altCodes)
	}
	for _, want := range []string{`"late_commit"`, `"late_commit_race"`, `"status_lag"`, `"forget"`, `"5xx_commit"`} {
		if !strings.Contains(string(native), want) {
			t.Errorf("the workload never struck %s", want)
		}
	}
}

func TestParseDialect(t *testing.T) {
	for in, want := range map[string]Dialect{"": DialectNative, "native": DialectNative, " ALT ": DialectAlt} {
		if got, err := ParseDialect(in); err != nil || got != want {
			t.Errorf("ParseDialect(%q) = %q, %v", in, got, err)
		}
	}
	if _, err := ParseDialect("v2"); err == nil {
		t.Error("ParseDialect(v2): want error")
	}
}
