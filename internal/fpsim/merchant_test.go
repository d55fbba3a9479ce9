package fpsim

import (
	"net/http"
	"strings"
	"testing"
)

func twoMerchants(c *Config) {
	c.Credentials = map[string]string{testAuthID: testSecret, otherAuthID: otherSecret}
	c.Transactions = append(c.Transactions, Transaction{TransactionID: "txn-own", OrderID: "order-own", Amount: dec("20"), AuthID: otherAuthID})
}

// A transaction naming no auth_id is every merchant's own copy, with its
// own balance; one naming an auth_id is that merchant's alone.
func TestMerchantsHaveTheirOwnTransactions(t *testing.T) {
	a := newFixture(t, twoMerchants)
	b := a.signedAs(otherAuthID, otherSecret)
	a.mustRefund("a-full", "txn-1", "")
	b.mustRefund("b-full", "txn-1", "") // B's copy is untouched by A's refund
	a.refund("a-more", "txn-1", "0.01").wantError(t, http.StatusOK, "AMOUNT_EXCEEDED")
	a.refund("a-own", "txn-own", "1").wantError(t, http.StatusOK, "TRANSACTION_NOT_FOUND")
	b.mustRefund("b-own", "txn-own", "1")

	a.clock.Advance(testDelay)
	a.wantTotals("txn-1", "100.00", "0")
	b.wantTotals("txn-1", "100.00", "0")
	b.wantTotals("txn-own", "1.00", "0")
	l := a.sim.Ledger()
	if len(l.Transactions) != 5 {
		t.Fatalf("ledger transactions = %+v, want txn-1 and txn-decline for each merchant plus txn-own", l.Transactions)
	}
	if _, ok := l.TransactionOf(testAuthID, "txn-own"); ok {
		t.Fatal("merchant A has a copy of B's own transaction")
	}
	if r, _ := l.RequestOf(otherAuthID, rid("b-own")); r.AuthID != otherAuthID || r.Status != RequestSuccess {
		t.Fatalf("B's request = %+v", r)
	}
	a.wantClean()
}

// A request_id used by merchant A is unknown to B's status calls and is no
// duplicate for B.
func TestMerchantsHaveTheirOwnRequestIDs(t *testing.T) {
	a := newFixture(t, twoMerchants)
	b := a.signedAs(otherAuthID, otherSecret)
	a.mustRefund("shared", "txn-1", "10")
	b.wantNotFound("shared")
	b.mustRefund("shared", "txn-1", "25")
	a.refund("shared", "txn-1", "10").wantError(t, http.StatusOK, "DUPLICATE_REQUEST_ID")
	b.refund("shared", "txn-1", "25").wantError(t, http.StatusOK, "DUPLICATE_REQUEST_ID")

	ra, rb := a.mustLedgerRequest("shared"), b.mustLedgerRequest("shared")
	if ra.AuthID != testAuthID || rb.AuthID != otherAuthID || !ra.Amount.Equal(dec("10")) || !rb.Amount.Equal(dec("25")) ||
		ra.Submissions != 2 || rb.Submissions != 2 {
		t.Fatalf("ledger A %+v, B %+v", ra, rb)
	}
	// A script is for the request_id, whichever merchant sends it.
	a.sim.Script("status", rid("shared"), "429")
	b.status("shared").wantError(t, http.StatusTooManyRequests, "RATE_LIMITED")
	a.wantClean()
}

func TestTransactionOwnersAreChecked(t *testing.T) {
	f := newFixture(t, twoMerchants)
	body := `[{"transaction_id":"t9","order_id":"o9","amount":5,"auth_id":"999"}]`
	if code := f.admin("POST", "/sim/transactions", body, nil); code != http.StatusBadRequest {
		t.Fatalf("unknown auth_id: %d, want 400", code)
	}
	csv := "transaction_id,order_id,amount,auth_id\nt9,o9,5," + otherAuthID + "\nt10,o10,6,\n"
	if code := f.admin("POST", "/sim/transactions", csv, nil); code != http.StatusOK {
		t.Fatalf("CSV with auth_id: %d", code)
	}
	l := f.sim.Ledger()
	if _, ok := l.TransactionOf(testAuthID, "t9"); ok {
		t.Fatal("t9 was given to a merchant it does not name")
	}
	if _, ok := l.TransactionOf(otherAuthID, "t9"); !ok {
		t.Fatal("t9 missing for its merchant")
	}
	for _, id := range []string{testAuthID, otherAuthID} {
		if _, ok := l.TransactionOf(id, "t10"); !ok {
			t.Fatalf("t10 (no auth_id) missing for %s", id)
		}
	}
	cfg := Config{Credentials: map[string]string{testAuthID: testSecret},
		Transactions: []Transaction{{TransactionID: "t", Amount: dec("1"), AuthID: "ghost"}}}
	if err := cfg.Validate(); err == nil || !strings.Contains(err.Error(), "ghost") {
		t.Fatalf("Config.Validate = %v, want the unknown auth_id named", err)
	}
	if err := (Config{Dialect: "v2"}).Validate(); err == nil {
		t.Fatal("Config.Validate accepted an unknown dialect")
	}
	if err := (Config{Faults: Faults{Rate5xx: 2}}).Validate(); err == nil {
		t.Fatal("Config.Validate accepted invalid faults")
	}
}
