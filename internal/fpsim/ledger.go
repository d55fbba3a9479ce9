package fpsim

import (
	"encoding/json"
	"fmt"
	"strings"
	"time"

	"github.com/shopspring/decimal"
)

// Ledger statuses besides the request statuses (RequestProcess,
// RequestSuccess, RequestError).
const (
	// LedgerRejected is a request the business rules refused (unknown
	// transaction, over-refund). It never executed; the status endpoint
	// reports it as request_status "error".
	LedgerRejected = "rejected"
	// LedgerLatePending is a late commit that has not executed yet: zero
	// executions, and request/status says "not found".
	LedgerLatePending = "late_pending"
)

// Ledger is the simulator's book of record: what the provider received and
// what it actually did. Tests and the demo compare it with the worker's own
// records; Audit checks the invariants a correct worker must never break.
type Ledger struct {
	Requests     []LedgerRequest     `json:"requests"`
	Transactions []LedgerTransaction `json:"transactions"`
}

// LedgerRequest is one merchant's refund request_id as the provider saw it.
type LedgerRequest struct {
	RequestID     string
	TransactionID string
	OrderID       string
	// Amount is the refund amount: the requested one, or for a full refund
	// the remainder it resolved to (zero if rejected before resolving).
	Amount decimal.Decimal
	// Submissions counts refund calls with this request_id that passed the
	// signature and validation checks, duplicates included.
	Submissions int
	// Executions counts how often the refund was actually executed. Anything
	// above 1 is a double refund.
	Executions int
	// Status is the request_status of the first execution (process,
	// success, error), LedgerRejected, or LedgerLatePending. It is the
	// truth, whatever request/status currently admits.
	Status string
	// AuthID is the merchant that sent the request.
	AuthID string
	// Faults names, in the order they struck, every fault that shaped the
	// request: a commit-then-fail reply (5xx_commit, timeout_commit,
	// drop), late_commit, late_commit_race, status_lag, forget.
	Faults []string
	// LatePending counts late commits still to execute; LateRejected those
	// the business rules refused when their moment came.
	LatePending, LateRejected int
	// VisibleAt is when a status lag ends: request/status says "not
	// found" before it. Zero without a lag.
	VisibleAt time.Time
	// Forgotten says request/status now denies the request for good,
	// although it is recorded (and possibly executed).
	Forgotten bool
}

// LedgerTransaction is one merchant's refundable transaction and its
// refund totals.
type LedgerTransaction struct {
	TransactionID string
	OrderID       string
	Amount        decimal.Decimal
	// Refunded is the total of settled successful refunds.
	Refunded decimal.Decimal
	// Pending is the total of executed refunds not settled yet.
	Pending decimal.Decimal
	// AuthID is the merchant the transaction (or this copy of it) belongs to.
	AuthID string
}

type ledgerRequestJSON struct {
	RequestID     string   `json:"request_id"`
	TransactionID string   `json:"transaction_id"`
	OrderID       string   `json:"order_id"`
	Amount        string   `json:"amount"`
	Submissions   int      `json:"submissions"`
	Executions    int      `json:"executions"`
	Status        string   `json:"status"`
	AuthID        string   `json:"auth_id"`
	Faults        []string `json:"faults,omitempty"`
	LatePending   int      `json:"late_pending,omitempty"`
	LateRejected  int      `json:"late_rejected,omitempty"`
	VisibleAt     string   `json:"visible_at,omitempty"`
	Forgotten     bool     `json:"forgotten,omitempty"`
}

// MarshalJSON writes the amount as a two-place decimal string and
// VisibleAt in the provider's dt format.
func (r LedgerRequest) MarshalJSON() ([]byte, error) {
	w := ledgerRequestJSON{r.RequestID, r.TransactionID, r.OrderID, money(r.Amount), r.Submissions, r.Executions,
		r.Status, r.AuthID, r.Faults, r.LatePending, r.LateRejected, "", r.Forgotten}
	if !r.VisibleAt.IsZero() {
		w.VisibleAt = r.VisibleAt.Format(time.RFC3339Nano)
	}
	return json.Marshal(w)
}

// UnmarshalJSON reads what MarshalJSON writes, so a ledger fetched from
// GET /sim/ledger can be audited by another process.
func (r *LedgerRequest) UnmarshalJSON(b []byte) error {
	var w ledgerRequestJSON
	if err := json.Unmarshal(b, &w); err != nil {
		return fmt.Errorf("fpsim: ledger request: %w", err)
	}
	amount, err := decimal.NewFromString(w.Amount)
	if err != nil {
		return fmt.Errorf("fpsim: ledger request %q amount: %w", w.RequestID, err)
	}
	var visible time.Time
	if w.VisibleAt != "" {
		if visible, err = time.Parse(time.RFC3339Nano, w.VisibleAt); err != nil {
			return fmt.Errorf("fpsim: ledger request %q visible_at: %w", w.RequestID, err)
		}
	}
	*r = LedgerRequest{w.RequestID, w.TransactionID, w.OrderID, amount, w.Submissions, w.Executions, w.Status,
		w.AuthID, w.Faults, w.LatePending, w.LateRejected, visible, w.Forgotten}
	return nil
}

// Summary says in one line what the provider really did with the request,
// for an audit listing of refunds an operator has to look at.
func (r LedgerRequest) Summary() string {
	parts := []string{fmt.Sprintf("executed %d time(s), status %s", r.Executions, r.Status)}
	if len(r.Faults) > 0 {
		parts = append(parts, "faults "+strings.Join(r.Faults, ","))
	}
	if r.LatePending > 0 {
		parts = append(parts, fmt.Sprintf("%d late commit(s) still to execute", r.LatePending))
	}
	if r.LateRejected > 0 {
		parts = append(parts, fmt.Sprintf("%d late commit(s) rejected when executed", r.LateRejected))
	}
	if !r.VisibleAt.IsZero() {
		parts = append(parts, "status lagged until "+r.VisibleAt.Format(time.RFC3339))
	}
	if r.Forgotten {
		parts = append(parts, "forgotten by request/status")
	}
	return fmt.Sprintf("request %s (auth_id %s, transaction %s, %s): %s", r.RequestID, r.AuthID, r.TransactionID,
		money(r.Amount), strings.Join(parts, "; "))
}

type ledgerTransactionJSON struct {
	TransactionID string `json:"transaction_id"`
	OrderID       string `json:"order_id"`
	Amount        string `json:"amount"`
	Refunded      string `json:"refunded"`
	Pending       string `json:"pending"`
	AuthID        string `json:"auth_id"`
}

// MarshalJSON writes the amounts as two-place decimal strings.
func (t LedgerTransaction) MarshalJSON() ([]byte, error) {
	return json.Marshal(ledgerTransactionJSON{t.TransactionID, t.OrderID, money(t.Amount), money(t.Refunded), money(t.Pending), t.AuthID})
}

// UnmarshalJSON reads what MarshalJSON writes.
func (t *LedgerTransaction) UnmarshalJSON(b []byte) error {
	var w ledgerTransactionJSON
	if err := json.Unmarshal(b, &w); err != nil {
		return fmt.Errorf("fpsim: ledger transaction: %w", err)
	}
	var amounts [3]decimal.Decimal
	for i, s := range []string{w.Amount, w.Refunded, w.Pending} {
		d, err := decimal.NewFromString(s)
		if err != nil {
			return fmt.Errorf("fpsim: ledger transaction %q: %w", w.TransactionID, err)
		}
		amounts[i] = d
	}
	*t = LedgerTransaction{w.TransactionID, w.OrderID, amounts[0], amounts[1], amounts[2], w.AuthID}
	return nil
}

// Audit returns one human-readable line per broken invariant: a request
// executed more than once (a double refund) or a transaction whose refunds,
// settled plus pending, exceed its amount. An empty result means the ledger
// is consistent.
func (l Ledger) Audit() []string {
	var out []string
	for _, r := range l.Requests {
		if r.Executions > 1 {
			out = append(out, fmt.Sprintf("request %s (auth_id %s, transaction %s) executed %d times: double refund of %s",
				r.RequestID, r.AuthID, r.TransactionID, r.Executions, money(r.Amount)))
		}
	}
	for _, t := range l.Transactions {
		if total := t.Refunded.Add(t.Pending); total.GreaterThan(t.Amount) {
			out = append(out, fmt.Sprintf("transaction %s (auth_id %s) over-refunded: refunded %s + pending %s = %s > amount %s",
				t.TransactionID, t.AuthID, money(t.Refunded), money(t.Pending), money(total), money(t.Amount)))
		}
	}
	return out
}

// snapshot copies the book into a Ledger the caller owns.
func (b *book) snapshot() Ledger {
	l := Ledger{
		Requests:     make([]LedgerRequest, 0, len(b.reqOrder)),
		Transactions: make([]LedgerTransaction, 0, len(b.txnOrder)),
	}
	for _, r := range b.reqOrder {
		l.Requests = append(l.Requests, r.ledger())
	}
	for _, t := range b.txnOrder {
		l.Transactions = append(l.Transactions, LedgerTransaction{t.TransactionID, t.OrderID, t.Amount, t.refunded, t.pending, t.AuthID})
	}
	return l
}

func (r *reqState) ledger() LedgerRequest {
	lr := LedgerRequest{
		RequestID: r.key.id, TransactionID: r.txnID, OrderID: r.orderID, Amount: r.amount,
		Submissions: r.submissions, Executions: len(r.execs), Status: r.ledgerStatus(),
		AuthID: r.key.authID, LatePending: len(r.late), LateRejected: r.lateRejected,
		VisibleAt: r.visibleAt, Forgotten: r.forgotten,
	}
	for _, f := range r.faults {
		lr.Faults = append(lr.Faults, string(f))
	}
	return lr
}

// Request returns the ledger entry of one request_id: the first merchant's
// that has it. With several merchants, RequestOf names the merchant.
func (l Ledger) Request(id string) (LedgerRequest, bool) { return l.RequestOf("", id) }

// RequestOf returns merchant authID's entry of one request_id; an empty
// authID matches any merchant.
func (l Ledger) RequestOf(authID, id string) (LedgerRequest, bool) {
	for _, r := range l.Requests {
		if r.RequestID == id && (authID == "" || r.AuthID == authID) {
			return r, true
		}
	}
	return LedgerRequest{}, false
}

// Transaction returns the ledger entry of one transaction: the first
// merchant's copy. With several merchants, TransactionOf names the merchant.
func (l Ledger) Transaction(id string) (LedgerTransaction, bool) { return l.TransactionOf("", id) }

// TransactionOf returns merchant authID's copy of one transaction; an empty
// authID matches any merchant.
func (l Ledger) TransactionOf(authID, id string) (LedgerTransaction, bool) {
	for _, t := range l.Transactions {
		if t.TransactionID == id && (authID == "" || t.AuthID == authID) {
			return t, true
		}
	}
	return LedgerTransaction{}, false
}
