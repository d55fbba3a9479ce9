package fpsim

import (
	"container/heap"
	"time"

	"github.com/shopspring/decimal"
)

// merchantKey scopes an id to one merchant: each auth_id has its own
// transactions and its own request_ids.
type merchantKey struct{ authID, id string }

// txnState is one merchant's transaction and its running refund totals.
type txnState struct {
	Transaction
	refunded, pending decimal.Decimal
}

func (t *txnState) remaining() decimal.Decimal {
	return t.Amount.Sub(t.refunded).Sub(t.pending)
}

// reqState is one request_id of one merchant, as the provider's database
// holds it.
type reqState struct {
	key            merchantKey
	txnID, orderID string
	// amount is the requested amount, or the remainder a full refund
	// resolved to (zero if rejected before resolving).
	amount      decimal.Decimal
	submissions int
	// recorded is set once the provider processed the request (at the
	// call, or at a late commit's execution); status says "not found"
	// before.
	recorded bool
	// held is whether the duplicate check sees the request_id. Only a
	// pending late_commit_race leaves a known request unheld.
	held bool
	// execs are the executions, in order. The first is the one status
	// reports; a second one is a double refund. A recorded request without
	// executions was rejected by the business rules.
	execs []*execution
	// late are late commits of this request_id still to execute.
	late         []*lateCall
	lateRejected int
	// visibleAt ends a status lag; forget makes the request vanish from
	// status when it settles, and forgotten says that has happened.
	visibleAt         time.Time
	forget, forgotten bool
	faults            []fault
}

// visible reports whether request/status admits knowing the request.
func (r *reqState) visible(now time.Time) bool {
	return r.recorded && !r.forgotten && !now.Before(r.visibleAt)
}

// tag records that f shaped the request, once.
func (r *reqState) tag(f fault) {
	for _, g := range r.faults {
		if g == f {
			return
		}
	}
	r.faults = append(r.faults, f)
}

// ledgerStatus is the request's status as the ledger reports it.
func (r *reqState) ledgerStatus() string {
	switch {
	case len(r.execs) > 0:
		return r.execs[0].status
	case !r.recorded:
		return LedgerLatePending
	}
	return LedgerRejected
}

// execution is one time the provider moved money for a request.
type execution struct {
	req    *reqState
	txn    *txnState
	amount decimal.Decimal
	status string // process, success or error
	finDoc string
}

// lateCall is a refund call whose reply was lost and which executes later.
type lateCall struct {
	req  *reqState
	call refundCall
	plan plan
	race bool
}

// event is something due at a time: a settlement or a late execution.
// Events run in time order (seq breaks ties in creation order), so a late
// commit sees exactly the balances it would have seen at its moment.
type event struct {
	at   time.Time
	seq  uint64
	exec *execution // settle this
	late *lateCall  // or execute this
}

type eventQueue []event

func (q eventQueue) Len() int { return len(q) }
func (q eventQueue) Less(i, j int) bool {
	if !q[i].at.Equal(q[j].at) {
		return q[i].at.Before(q[j].at)
	}
	return q[i].seq < q[j].seq
}
func (q eventQueue) Swap(i, j int) { q[i], q[j] = q[j], q[i] }
func (q *eventQueue) Push(x any)   { *q = append(*q, x.(event)) }
func (q *eventQueue) Pop() any {
	old := *q
	e := old[len(old)-1]
	*q = old[:len(old)-1]
	return e
}

// book holds all ledger state. It has no lock of its own: every method is
// called with Sim.mu held, so one refund decision sees one consistent book.
type book struct {
	// authIDs are the configured merchants, sorted: a transaction that
	// names none gets one copy per merchant, in this order.
	authIDs  []string
	txns     map[merchantKey]*txnState // by auth_id and transaction_id
	txnOrder []*txnState
	byOrder  map[merchantKey]*txnState // by auth_id and order_id; last added wins
	reqs     map[merchantKey]*reqState
	reqOrder []*reqState
	events   eventQueue
	seq      uint64
	finSeq   int
}

func newBook(authIDs []string) *book {
	return &book{authIDs: authIDs, txns: map[merchantKey]*txnState{}, byOrder: map[merchantKey]*txnState{},
		reqs: map[merchantKey]*reqState{}}
}

// addTransaction adds t to its merchant, or to every merchant as that
// merchant's own copy when t names none.
func (b *book) addTransaction(t Transaction) {
	if t.AuthID != "" {
		b.putTransaction(t)
		return
	}
	for _, id := range b.authIDs {
		c := t
		c.AuthID = id
		b.putTransaction(c)
	}
}

// putTransaction adds t, or updates the merchant's transaction with the
// same id in place (keeping its refund totals) so reloading a seed file is
// harmless.
func (b *book) putTransaction(t Transaction) {
	key := merchantKey{t.AuthID, t.TransactionID}
	if cur, ok := b.txns[key]; ok {
		if old := (merchantKey{t.AuthID, cur.OrderID}); b.byOrder[old] == cur {
			delete(b.byOrder, old)
		}
		cur.Transaction = t
		if t.OrderID != "" {
			b.byOrder[merchantKey{t.AuthID, t.OrderID}] = cur
		}
		return
	}
	st := &txnState{Transaction: t}
	b.txns[key] = st
	b.txnOrder = append(b.txnOrder, st)
	if t.OrderID != "" {
		b.byOrder[merchantKey{t.AuthID, t.OrderID}] = st
	}
}

// find looks a merchant's transaction up by transaction_id, else by
// order_id. When both are given they must name the same transaction: a
// mismatch is far more likely a partner bug than an intent, so it is "not
// found".
func (b *book) find(authID, txnID, orderID string) (*txnState, bool) {
	if txnID != "" {
		t, ok := b.txns[merchantKey{authID, txnID}]
		if !ok || (orderID != "" && t.OrderID != orderID) {
			return nil, false
		}
		return t, true
	}
	t, ok := b.byOrder[merchantKey{authID, orderID}]
	return t, ok && orderID != ""
}

// request returns the merchant's request, creating an unrecorded one.
func (b *book) request(key merchantKey) *reqState {
	if r, ok := b.reqs[key]; ok {
		return r
	}
	r := &reqState{key: key}
	b.reqs[key] = r
	b.reqOrder = append(b.reqOrder, r)
	return r
}

func (b *book) schedule(at time.Time, ev event) {
	b.seq++
	ev.at, ev.seq = at, b.seq
	heap.Push(&b.events, ev)
}

// nextDue pops the earliest event due by now.
func (b *book) nextDue(now time.Time) (event, bool) {
	if len(b.events) == 0 || b.events[0].at.After(now) {
		return event{}, false
	}
	return heap.Pop(&b.events).(event), true
}
