package fpsim_test

import (
	"context"
	"fmt"
	"net/http/httptest"
	"time"

	"github.com/refundq/refundq/internal/fpsim"
	"github.com/refundq/refundq/internal/freedompay"
	"github.com/shopspring/decimal"
)

// A refund whose reply is lost still executes exactly once; the status
// endpoint, not a resubmit, tells the caller what happened.
func Example() {
	sim := fpsim.New(fpsim.Config{
		Credentials:  map[string]string{"123456": "secret"},
		Transactions: fpsim.GenerateTransactions(1, decimal.RequireFromString("100.00")),
	})
	srv := httptest.NewServer(sim.Handler())
	defer srv.Close()
	client, err := freedompay.New(freedompay.Credential{AuthID: "123456", Secret: "secret"}, freedompay.WithBaseURL(srv.URL))
	if err != nil {
		panic(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()

	sim.Script("refund", "req-1", "drop")
	_, err = client.Refund(ctx, freedompay.RefundRequest{RequestID: "req-1", TransactionID: "txn-000001"})
	fmt.Println("refund:", freedompay.KindOf(err))

	st, err := client.Status(ctx, "req-1")
	if err != nil {
		panic(err)
	}
	fmt.Println("status:", st.RequestStatus, st.FinDocumentID)
	l := sim.Ledger()
	fmt.Println("executions:", l.Requests[0].Executions, "refunded:", l.Transactions[0].Refunded.StringFixed(2), "audit:", l.Audit())
	// Output:
	// refund: ambiguous
	// status: success fd-1
	// executions: 1 refunded: 100.00 audit: []
}
