package fpsim

import (
	"encoding/json"
	"net/http"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/shopspring/decimal"
)

func TestAdminRoundTrip(t *testing.T) {
	f := newFixture(t, func(c *Config) { c.Transactions = nil })

	var added map[string]int
	if code := f.admin("POST", "/sim/transactions", `[{"transaction_id":"j1","order_id":"oj1","amount":12.50},{"transaction_id":"j2","order_id":"oj2","amount":"7","decline":true}]`, &added); code != 200 || added["added"] != 2 {
		t.Fatalf("POST JSON transactions: %d %v", code, added)
	}
	csv := "transaction_id,order_id,amount,decline\nc1,oc1,99.99,false\nc2,oc2,1,\n"
	if code := f.admin("POST", "/sim/transactions", csv, &added); code != 200 || added["added"] != 2 {
		t.Fatalf("POST CSV transactions: %d %v", code, added)
	}
	for _, bad := range []string{`[{"transaction_id":"b","amount":-1}]`, "transaction_id,amount\nx,1\n", "[{"} {
		if code := f.admin("POST", "/sim/transactions", bad, nil); code != http.StatusBadRequest {
			t.Errorf("POST %q: %d, want 400", bad, code)
		}
	}

	want := Faults{Latency: time.Millisecond, Rate429: 0.5, HangMax: time.Second, StatusLagRate: 0.2, StatusLagMax: 30 * time.Second,
		LateCommitRate: 0.05, LateCommitRaceRate: 0.01, LateCommitMin: time.Second, LateCommitMax: 20 * time.Second, ForgetRate: 0.01}
	var got Faults
	put := `{"latency":"1ms","rate_429":0.5,"hang_max":"1s","status_lag_rate":0.2,"status_lag_max":"30s","late_commit_rate":0.05,` +
		`"late_commit_race_rate":0.01,"late_commit_min":"1s","late_commit_max":"20s","forget_rate":0.01}`
	if code := f.admin("PUT", "/sim/faults", put, &got); code != 200 || got != want {
		t.Fatalf("PUT faults: %d %+v", code, got)
	}
	got = Faults{}
	if code := f.admin("GET", "/sim/faults", "", &got); code != 200 || got != want || f.sim.Faults() != want {
		t.Fatalf("GET faults: %d %+v", code, got)
	}
	for _, bad := range []string{`{"rate_429":2}`, `{"rate_4299":0.1}`, `nope`, `{"status_lag_rate":0.5}`,
		`{"late_commit_min":"3s","late_commit_max":"1s"}`, `{"late_commit_rate":0.6,"rate_drop":0.6}`} {
		if code := f.admin("PUT", "/sim/faults", bad, nil); code != http.StatusBadRequest {
			t.Errorf("PUT faults %s: %d, want 400", bad, code)
		}
	}
	f.admin("PUT", "/sim/faults", `{}`, nil)

	var queued map[string]int
	script := `{"endpoint":"refund","request_id":"` + rid("s1") + `","faults":["drop+status_lag=5s"]}`
	if code := f.admin("POST", "/sim/script", script, &queued); code != 200 || queued["queued"] != 1 {
		t.Fatalf("POST script: %d %v", code, queued)
	}
	for _, bad := range []string{`{"endpoint":"refund","request_id":"s1","faults":["boom"]}`, `{"endpoint":"clearing","request_id":"s1","faults":["5xx"]}`,
		`{"endpoint":"refund","faults":["5xx"]}`, `{"endpoint":"status","request_id":"s1","faults":["late_commit=1s"]}`} {
		if code := f.admin("POST", "/sim/script", bad, nil); code != http.StatusBadRequest {
			t.Errorf("POST script %s: %d, want 400", bad, code)
		}
	}
	f.do(request{path: PathRefund, body: `{"request_id":"` + rid("s1") + `","order_id":"oj1"}`}).wantNoReply(t)

	var l Ledger
	if code := f.admin("GET", "/sim/ledger", "", &l); code != 200 {
		t.Fatalf("GET ledger: %d", code)
	}
	if len(l.Requests) != 1 || l.Requests[0].RequestID != rid("s1") || l.Requests[0].Executions != 1 || !l.Requests[0].Amount.Equal(dec("12.5")) {
		t.Fatalf("ledger requests = %+v", l.Requests)
	}
	if !reflect.DeepEqual(l.Requests[0], f.mustLedgerRequest("s1")) {
		t.Fatalf("ledger JSON round trip: %+v vs %+v", l.Requests[0], f.mustLedgerRequest("s1"))
	}
	if len(l.Transactions) != 4 || l.Transactions[0].TransactionID != "j1" || !l.Transactions[0].Pending.Equal(dec("12.5")) {
		t.Fatalf("ledger transactions = %+v", l.Transactions)
	}

	// The JSON shape is a contract for the demo and black-box tests.
	raw := f.get("/sim/ledger")
	for _, want := range []string{`"request_id": "` + rid("s1") + `"`, `"transaction_id": "j1"`, `"order_id": "oj1"`, `"amount": "12.50"`,
		`"submissions": 1`, `"executions": 1`, `"status": "process"`, `"refunded": "0.00"`, `"pending": "12.50"`, `"amount": "99.99"`,
		`"auth_id": "` + testAuthID + `"`, `"faults": [`, `"drop",`, `"status_lag"`, `"visible_at": "2025-03-01T12:00:05Z"`} {
		if !strings.Contains(raw, want) {
			t.Errorf("ledger JSON lacks %s:\n%s", want, raw)
		}
	}

	var health map[string]string
	if code := f.admin("GET", "/healthz", "", &health); code != 200 || health["status"] != "ok" {
		t.Fatalf("healthz: %d %v", code, health)
	}

	metrics := f.get("/metrics")
	for _, want := range []string{`fpsim_requests_total{endpoint="refund",result="fault"} 1`, `fpsim_executions_total 1`,
		`fpsim_faults_total{fault="drop"} 1`, `fpsim_faults_total{fault="status_lag"} 1`} {
		if !strings.Contains(metrics, want) {
			t.Errorf("metrics lack %s:\n%s", want, metrics)
		}
	}
	if mfs, err := f.sim.Registry().Gather(); err != nil || len(mfs) != 3 {
		t.Errorf("registry gathers %d families (%v), want only the 3 simulator metrics", len(mfs), err)
	}
}

// Every new fault is counted in fpsim_faults_total.
func TestFaultMetrics(t *testing.T) {
	f := newFixture(t, nil)
	for name, entry := range map[string]string{"l": "late_commit=1s", "r": "late_commit_race=1s", "g": "forget", "s": "status_lag=1s"} {
		f.sim.Script("refund", rid(name), entry)
		f.refund(name, "txn-1", "1")
	}
	metrics := f.get("/metrics")
	for _, fault := range []string{"late_commit", "late_commit_race", "forget", "status_lag"} {
		if want := `fpsim_faults_total{fault="` + fault + `"} 1`; !strings.Contains(metrics, want) {
			t.Errorf("metrics lack %s:\n%s", want, metrics)
		}
	}
}

func TestCardAPIRejectsOtherMethods(t *testing.T) {
	f := newFixture(t, nil)
	res, err := f.srv.Client().Get(f.srv.URL + PathRefund)
	if err != nil {
		t.Fatal(err)
	}
	res.Body.Close()
	if res.StatusCode != http.StatusMethodNotAllowed {
		t.Fatalf("GET refund: %d, want 405", res.StatusCode)
	}
}

func TestLedgerAuditCatchesViolations(t *testing.T) {
	l := Ledger{
		Requests: []LedgerRequest{
			{RequestID: "ok", TransactionID: "t1", Amount: dec("10"), Submissions: 2, Executions: 1, Status: "success"},
			{RequestID: "twice", TransactionID: "t1", Amount: dec("10"), Submissions: 2, Executions: 2, Status: "success"},
		},
		Transactions: []LedgerTransaction{
			{TransactionID: "t1", Amount: dec("25"), Refunded: dec("20"), Pending: dec("10")},
			{TransactionID: "t2", Amount: dec("25"), Refunded: dec("25"), Pending: decimal.Zero},
		},
	}
	v := l.Audit()
	if len(v) != 2 || !strings.Contains(v[0], "twice") || !strings.Contains(v[0], "executed 2 times") ||
		!strings.Contains(v[1], "t1") || !strings.Contains(v[1], "30.00 > amount 25.00") {
		t.Fatalf("audit = %q", v)
	}
	// The JSON form audits the same after a round trip.
	raw, err := json.Marshal(l)
	if err != nil {
		t.Fatal(err)
	}
	var back Ledger
	if err := json.Unmarshal(raw, &back); err != nil {
		t.Fatal(err)
	}
	if got := back.Audit(); len(got) != 2 || got[0] != v[0] || got[1] != v[1] {
		t.Fatalf("audit after round trip = %q", got)
	}
	if (Ledger{}).Audit() != nil {
		t.Fatal("empty ledger should audit clean")
	}
}

func TestLoadAndGenerateTransactions(t *testing.T) {
	dir := t.TempDir()
	csvPath := filepath.Join(dir, "txns.csv")
	// Columns are found by name; a BOM and extra columns are tolerated.
	if err := os.WriteFile(csvPath, []byte("\xef\xbb\xbfamount,order_id,transaction_id,currency\n10.00,o1,t1,KZT\n2.5,o2,t2,KZT\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	txns, err := LoadTransactions(csvPath)
	if err != nil {
		t.Fatal(err)
	}
	if len(txns) != 2 || txns[0].TransactionID != "t1" || txns[1].OrderID != "o2" || !txns[1].Amount.Equal(dec("2.5")) {
		t.Fatalf("csv = %+v", txns)
	}

	gen := GenerateTransactions(3, dec("150.00"))
	if len(gen) != 3 || gen[0].TransactionID != "txn-000001" || gen[2].OrderID != "order-000003" || !gen[1].Amount.Equal(dec("150")) {
		t.Fatalf("generated = %+v", gen)
	}
	raw, err := json.Marshal(gen)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(raw), `"amount":"150.00"`) {
		t.Fatalf("marshalled transactions %s", raw)
	}
	jsonPath := filepath.Join(dir, "txns.json")
	if err := os.WriteFile(jsonPath, raw, 0o600); err != nil {
		t.Fatal(err)
	}
	back, err := LoadTransactions(jsonPath)
	if err != nil {
		t.Fatal(err)
	}
	for i := range gen {
		if back[i].TransactionID != gen[i].TransactionID || back[i].OrderID != gen[i].OrderID || !back[i].Amount.Equal(gen[i].Amount) {
			t.Fatalf("json round trip %d: %+v vs %+v", i, back[i], gen[i])
		}
	}

	for name, bad := range map[string]string{
		"missing column": "transaction_id,amount\nt,1\n",
		"empty":          "",
		"duplicate id":   `[{"transaction_id":"a","amount":1},{"transaction_id":"a","amount":2}]`,
		"no id":          `[{"order_id":"o","amount":1}]`,
		"bad decline":    "transaction_id,order_id,amount,decline\nt,o,1,maybe\n",
		"decimal comma":  "transaction_id,order_id,amount\nt,o,\"1,5\"\n",
	} {
		if _, err := ParseTransactions([]byte(bad)); err == nil {
			t.Errorf("%s: want error", name)
		}
	}
	if _, err := LoadTransactions(filepath.Join(dir, "missing.csv")); err == nil {
		t.Fatal("missing file: want error")
	}
}

func TestAddTransactionsUpdatesInPlace(t *testing.T) {
	f := newFixture(t, nil)
	f.mustRefund("u1", "txn-1", "60")
	f.sim.AddTransactions(Transaction{TransactionID: "txn-1", OrderID: "order-1b", Amount: dec("80")})
	f.refund("u2", "txn-1", "30").wantError(t, http.StatusOK, "AMOUNT_EXCEEDED") // 80 - 60 pending = 20 left
	byOrder := func(name, orderID string) reply {
		return f.do(request{path: PathRefund, body: `{"request_id":"` + rid(name) + `","order_id":"` + orderID + `"}`})
	}
	byOrder("u3", "order-1").wantError(t, http.StatusOK, "TRANSACTION_NOT_FOUND") // old order id is gone
	if r := byOrder("u4", "order-1b"); r.Status != "ok" {
		t.Fatal(r)
	}
	f.clock.Advance(testDelay)
	f.wantTotals("txn-1", "80.00", "0")
}
