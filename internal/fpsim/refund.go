package fpsim

import (
	"fmt"
	"net/http"

	"github.com/refundq/refundq/internal/freedompay"
	"github.com/shopspring/decimal"
)

// dtLayout is the provider's datetime format, YYYY-MM-DDThh:mm:ss±hh:mm
// (RFC 3339 with a numeric offset even for UTC).
const dtLayout = "2006-01-02T15:04:05-07:00"

// reply is an HTTP answer to a Card API call, before faults are applied.
type reply struct {
	code int
	body freedompay.Response
}

func errorReply(code, message string) reply {
	return reply{http.StatusOK, freedompay.Response{Status: "error", ErrorCode: code, Message: message}}
}

// refundCall is a validated refund body.
type refundCall struct {
	RequestID, OrderID, TransactionID string
	// Amount is nil for a full refund of the remainder.
	Amount *decimal.Decimal
}

// refund applies the provider's business rules to one refund call, in one
// critical section: duplicate request_id, transaction lookup, remaining
// amount, commit. Every call that gets here is recorded in the ledger.
func (s *Sim) refund(in refundCall) reply {
	s.mu.Lock()
	defer s.mu.Unlock()
	now := s.now()
	s.settleDueLocked(now)

	if r, ok := s.book.reqs[in.RequestID]; ok {
		// The Card API is not replay-idempotent: a repeat is an error and is
		// not processed, whatever became of the first one.
		r.submissions++
		return errorReply(freedompay.CodeDuplicateRequestID,
			fmt.Sprintf("request_id %s was already received", in.RequestID))
	}
	rec := &reqState{id: in.RequestID, txnID: in.TransactionID, orderID: in.OrderID, submissions: 1, created: now}
	if in.Amount != nil {
		rec.amount = *in.Amount
	}
	t, ok := s.book.find(in.TransactionID, in.OrderID)
	if !ok {
		rec.status = statusRejected
		s.book.addRequest(rec)
		return errorReply(freedompay.CodeTransactionNotFound,
			fmt.Sprintf("no transaction with transaction_id %q / order_id %q", in.TransactionID, in.OrderID))
	}
	rec.txnID, rec.orderID = t.TransactionID, t.OrderID

	remaining := t.remaining()
	amount := remaining
	if in.Amount != nil {
		amount = *in.Amount
	}
	rec.amount = amount
	if !remaining.IsPositive() || amount.GreaterThan(remaining) {
		rec.status = statusRejected
		s.book.addRequest(rec)
		return errorReply(freedompay.CodeAmountExceeded,
			fmt.Sprintf("refund %s exceeds refundable remainder %s of transaction %s", money(amount), money(remaining), t.TransactionID))
	}

	rec.executions = 1
	rec.txn = t
	rec.status = freedompay.RequestProcess
	t.pending = t.pending.Add(amount)
	s.book.addRequest(rec)
	s.metrics.executions.Inc()
	if s.statusDelay <= 0 {
		s.book.settle(rec, s.declinesLocked(t))
	} else {
		s.book.unsettled = append(s.book.unsettled, rec)
	}
	return reply{http.StatusOK, freedompay.Response{Status: "ok", RequestStatus: rec.status, DT: now.Format(dtLayout)}}
}

// status answers request/status for one request_id, settling what is due
// first (settlement is lazy: it happens when someone looks).
func (s *Sim) status(requestID string) reply {
	s.mu.Lock()
	defer s.mu.Unlock()
	now := s.now()
	s.settleDueLocked(now)
	r, ok := s.book.reqs[requestID]
	if !ok {
		return errorReply(freedompay.CodeRequestNotFound, fmt.Sprintf("request_id %s is unknown", requestID))
	}
	rs := r.status
	if rs == statusRejected {
		rs = freedompay.RequestError
	}
	return reply{http.StatusOK, freedompay.Response{
		Status: "ok", RequestStatus: rs, TransactionID: r.txnID, FinDocumentID: r.finDoc, DT: now.Format(dtLayout),
	}}
}

// nowDT is the current time in the provider's dt format.
func (s *Sim) nowDT() string { return s.now().Format(dtLayout) }
