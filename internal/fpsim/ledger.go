package fpsim

import (
	"encoding/json"
	"fmt"
	"time"

	"github.com/refundq/refundq/internal/freedompay"
	"github.com/shopspring/decimal"
)

// statusRejected is the ledger status of a refund refused by business rules
// (unknown transaction, over-refund). It never executed; the status endpoint
// reports it as request_status "error".
const statusRejected = "rejected"

// Ledger is the simulator's book of record: what the provider received and
// what it actually did. Tests and the demo compare it with the worker's own
// records; Audit checks the invariants a correct worker must never break.
type Ledger struct {
	Requests     []LedgerRequest     `json:"requests"`
	Transactions []LedgerTransaction `json:"transactions"`
}

// LedgerRequest is one refund request_id as the provider saw it.
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
	// Status is the request_status (process, success, error) or "rejected".
	Status string
}

// LedgerTransaction is one refundable transaction and its refund totals.
type LedgerTransaction struct {
	TransactionID string
	OrderID       string
	Amount        decimal.Decimal
	// Refunded is the total of settled successful refunds.
	Refunded decimal.Decimal
	// Pending is the total of executed refunds not settled yet.
	Pending decimal.Decimal
}

type ledgerRequestJSON struct {
	RequestID     string `json:"request_id"`
	TransactionID string `json:"transaction_id"`
	OrderID       string `json:"order_id"`
	Amount        string `json:"amount"`
	Submissions   int    `json:"submissions"`
	Executions    int    `json:"executions"`
	Status        string `json:"status"`
}

// MarshalJSON writes the amount as a two-place decimal string.
func (r LedgerRequest) MarshalJSON() ([]byte, error) {
	return json.Marshal(ledgerRequestJSON{r.RequestID, r.TransactionID, r.OrderID, money(r.Amount), r.Submissions, r.Executions, r.Status})
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
	*r = LedgerRequest{w.RequestID, w.TransactionID, w.OrderID, amount, w.Submissions, w.Executions, w.Status}
	return nil
}

type ledgerTransactionJSON struct {
	TransactionID string `json:"transaction_id"`
	OrderID       string `json:"order_id"`
	Amount        string `json:"amount"`
	Refunded      string `json:"refunded"`
	Pending       string `json:"pending"`
}

// MarshalJSON writes the amounts as two-place decimal strings.
func (t LedgerTransaction) MarshalJSON() ([]byte, error) {
	return json.Marshal(ledgerTransactionJSON{t.TransactionID, t.OrderID, money(t.Amount), money(t.Refunded), money(t.Pending)})
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
	*t = LedgerTransaction{w.TransactionID, w.OrderID, amounts[0], amounts[1], amounts[2]}
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
			out = append(out, fmt.Sprintf("request %s (transaction %s) executed %d times: double refund of %s each",
				r.RequestID, r.TransactionID, r.Executions, money(r.Amount)))
		}
	}
	for _, t := range l.Transactions {
		if total := t.Refunded.Add(t.Pending); total.GreaterThan(t.Amount) {
			out = append(out, fmt.Sprintf("transaction %s over-refunded: refunded %s + pending %s = %s > amount %s",
				t.TransactionID, money(t.Refunded), money(t.Pending), money(total), money(t.Amount)))
		}
	}
	return out
}

// txnState is a transaction and its running refund totals.
type txnState struct {
	Transaction
	refunded, pending decimal.Decimal
}

func (t *txnState) remaining() decimal.Decimal {
	return t.Amount.Sub(t.refunded).Sub(t.pending)
}

// reqState is one refund request_id.
type reqState struct {
	id, txnID, orderID      string
	amount                  decimal.Decimal
	submissions, executions int
	status                  string
	created                 time.Time
	finDoc                  string
	txn                     *txnState // nil when rejected as not found
}

// book holds all ledger state. It has no lock of its own: every method is
// called with Sim.mu held, so one refund decision sees one consistent book.
type book struct {
	txns     map[string]*txnState // by transaction_id
	txnOrder []*txnState
	byOrder  map[string]*txnState // by order_id; last added wins
	reqs     map[string]*reqState
	reqOrder []*reqState
	// unsettled is FIFO by creation time; with a fixed StatusDelay that is
	// also due order, so settling only ever looks at the head.
	unsettled []*reqState
	finSeq    int
}

func newBook() *book {
	return &book{txns: map[string]*txnState{}, byOrder: map[string]*txnState{}, reqs: map[string]*reqState{}}
}

// addTransaction adds t, or updates an existing transaction with the same id
// in place (keeping its refund totals) so reloading a seed file is harmless.
func (b *book) addTransaction(t Transaction) {
	if cur, ok := b.txns[t.TransactionID]; ok {
		if b.byOrder[cur.OrderID] == cur {
			delete(b.byOrder, cur.OrderID)
		}
		cur.Transaction = t
		if t.OrderID != "" {
			b.byOrder[t.OrderID] = cur
		}
		return
	}
	st := &txnState{Transaction: t}
	b.txns[t.TransactionID] = st
	b.txnOrder = append(b.txnOrder, st)
	if t.OrderID != "" {
		b.byOrder[t.OrderID] = st
	}
}

// find looks a refund's transaction up by transaction_id, else by order_id.
// When both are given they must name the same transaction: a mismatch is
// far more likely a partner bug than an intent, so it is "not found".
func (b *book) find(txnID, orderID string) (*txnState, bool) {
	if txnID != "" {
		t, ok := b.txns[txnID]
		if !ok || (orderID != "" && t.OrderID != orderID) {
			return nil, false
		}
		return t, true
	}
	t, ok := b.byOrder[orderID]
	return t, ok && orderID != ""
}

func (b *book) addRequest(r *reqState) {
	b.reqs[r.id] = r
	b.reqOrder = append(b.reqOrder, r)
}

// settle finishes an executed refund: its pending amount either becomes
// refunded with a financial document (success) or is released (error).
func (b *book) settle(r *reqState, declined bool) {
	t := r.txn
	t.pending = t.pending.Sub(r.amount)
	if declined {
		r.status = freedompay.RequestError
		return
	}
	t.refunded = t.refunded.Add(r.amount)
	b.finSeq++
	r.finDoc = fmt.Sprintf("fd-%d", b.finSeq)
	r.status = freedompay.RequestSuccess
}

// settleDue settles every request whose age has reached delay. decline is
// asked once per settling request.
func (b *book) settleDue(now time.Time, delay time.Duration, decline func(*txnState) bool) {
	for len(b.unsettled) > 0 {
		r := b.unsettled[0]
		if now.Sub(r.created) < delay {
			return
		}
		b.unsettled[0] = nil
		b.unsettled = b.unsettled[1:]
		b.settle(r, decline(r.txn))
	}
}

// snapshot copies the book into a Ledger the caller owns.
func (b *book) snapshot() Ledger {
	l := Ledger{
		Requests:     make([]LedgerRequest, 0, len(b.reqOrder)),
		Transactions: make([]LedgerTransaction, 0, len(b.txnOrder)),
	}
	for _, r := range b.reqOrder {
		l.Requests = append(l.Requests, LedgerRequest{r.id, r.txnID, r.orderID, r.amount, r.submissions, r.executions, r.status})
	}
	for _, t := range b.txnOrder {
		l.Transactions = append(l.Transactions, LedgerTransaction{t.TransactionID, t.OrderID, t.Amount, t.refunded, t.pending})
	}
	return l
}

// Request returns the ledger entry of one request_id.
func (l Ledger) Request(id string) (LedgerRequest, bool) {
	for _, r := range l.Requests {
		if r.RequestID == id {
			return r, true
		}
	}
	return LedgerRequest{}, false
}

// Transaction returns the ledger entry of one transaction.
func (l Ledger) Transaction(id string) (LedgerTransaction, bool) {
	for _, t := range l.Transactions {
		if t.TransactionID == id {
			return t, true
		}
	}
	return LedgerTransaction{}, false
}
