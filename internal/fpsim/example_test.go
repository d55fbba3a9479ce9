package fpsim

import (
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"time"

	"github.com/shopspring/decimal"
)

// A refund whose reply is lost and which commits three seconds after the
// client gave up: until then status says "not found" although the
// duplicate check already holds the request_id. The ledger tells the truth
// throughout.
func Example_lateCommit() {
	clk := newClock()
	sim := New(Config{
		Credentials:  map[string]string{"123456": "secret"},
		Transactions: GenerateTransactions(1, decimal.RequireFromString("100.00")),
		Faults:       Faults{HangMax: time.Millisecond},
		Now:          clk.Now,
	})
	srv := httptest.NewServer(sim.Handler())
	defer srv.Close()
	post := func(path, body string) string {
		req, _ := http.NewRequest(http.MethodPost, srv.URL+path, strings.NewReader(body))
		req.Header.Set("Content-Type", "application/json")
		req.Header.Set(SignatureHeader, sign("secret", "123456", path, []byte(body)))
		res, err := srv.Client().Do(req)
		if err != nil {
			return "no reply"
		}
		defer res.Body.Close()
		var b reply
		if err := json.NewDecoder(res.Body).Decode(&b); err != nil {
			return err.Error()
		}
		return b.Status + " " + b.RequestStatus + b.ErrorCode
	}
	id := "828cf71d-a447-4a67-a149-c1df8bc197ca"
	refund := `{"request_id":"` + id + `","transaction_id":"txn-000001","amount":40}`
	status := `{"request_id":"` + id + `"}`

	sim.Script("refund", id, "late_commit=3s")
	fmt.Println("refund:", post(PathRefund, refund))
	fmt.Println("status:", post(PathStatus, status))
	fmt.Println("resend:", post(PathRefund, refund))
	fmt.Println("ledger:", sim.Ledger().Requests[0].Status)
	clk.Advance(3 * time.Second)
	fmt.Println("status:", post(PathStatus, status))
	fmt.Println("ledger:", sim.Ledger().Requests[0].Summary())
	// Output:
	// refund: no reply
	// status: error REQUEST_NOT_FOUND
	// resend: error DUPLICATE_REQUEST_ID
	// ledger: late_pending
	// status: ok success
	// ledger: request 828cf71d-a447-4a67-a149-c1df8bc197ca (auth_id 123456, transaction txn-000001, 40.00): executed 1 time(s), status success; faults late_commit
}
