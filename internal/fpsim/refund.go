package fpsim

import (
	"fmt"
	"time"

	"github.com/shopspring/decimal"
)

// dtLayout is the provider's datetime format, YYYY-MM-DDThh:mm:ss±hh:mm
// (RFC 3339 with a numeric offset even for UTC).
const dtLayout = "2006-01-02T15:04:05-07:00"

// refund applies the provider's business rules to one refund call, in one
// critical section: duplicate request_id, transaction lookup, remaining
// amount, commit. Every call that gets here is recorded in the ledger.
func (s *Sim) refund(authID string, in refundCall, p plan) answer {
	s.mu.Lock()
	defer s.mu.Unlock()
	now := s.now()
	s.advanceLocked(now)

	r := s.book.request(merchantKey{authID, in.RequestID})
	r.submissions++
	if r.held {
		// The Card API is not replay-idempotent: a repeat is an error and is
		// not processed, whatever became of the first one.
		return failure(sitDuplicate, "request_id %s was already received", in.RequestID)
	}
	// New, or a resend racing a late_commit_race that has not executed:
	// the duplicate check does not see that one, so this call is new.
	if p.fault.commits() {
		r.tag(p.fault)
	}
	return s.recordLocked(r, in, now, p)
}

// recordLocked is the provider processing a request for the first time, at
// the moment at: it becomes known to the duplicate check and (after any
// status lag) to request/status.
func (s *Sim) recordLocked(r *reqState, in refundCall, at time.Time, p plan) answer {
	r.recorded, r.held = true, true
	r.txnID, r.orderID = in.TransactionID, in.OrderID
	if p.lag > 0 {
		r.visibleAt = at.Add(p.lag)
		r.tag(faultStatusLag)
		s.metrics.faults.WithLabelValues(string(faultStatusLag)).Inc()
	}
	if p.forget {
		r.forget = true
		r.tag(faultForget)
		s.metrics.faults.WithLabelValues(string(faultForget)).Inc()
	}
	a, t, amount, exec := s.executeLocked(r, in, at)
	r.amount = amount
	if t != nil {
		r.txnID, r.orderID = t.TransactionID, t.OrderID
	}
	if exec == nil {
		s.settledLocked(r) // a rejection is final at once
	}
	return a
}

// executeLocked checks the business rules for in at the moment at and, if
// they allow it, executes the refund as one more execution of r. It returns
// the reply, the transaction found, the amount resolved and the execution
// (nil when rejected).
func (s *Sim) executeLocked(r *reqState, in refundCall, at time.Time) (answer, *txnState, decimal.Decimal, *execution) {
	requested := decimal.Zero
	if in.Amount != nil {
		requested = *in.Amount
	}
	t, ok := s.book.find(r.key.authID, in.TransactionID, in.OrderID)
	if !ok {
		return failure(sitTransactionNotFound, "no transaction with transaction_id %q / order_id %q",
			in.TransactionID, in.OrderID), nil, requested, nil
	}
	remaining := t.remaining()
	amount := remaining
	if in.Amount != nil {
		amount = requested
	}
	if !remaining.IsPositive() || amount.GreaterThan(remaining) {
		return failure(sitAmountExceeded, "refund %s exceeds refundable remainder %s of transaction %s",
			money(amount), money(remaining), t.TransactionID), t, amount, nil
	}
	e := &execution{req: r, txn: t, amount: amount, status: RequestProcess}
	r.execs = append(r.execs, e)
	t.pending = t.pending.Add(amount)
	s.metrics.executions.Inc()
	if s.statusDelay <= 0 {
		s.settleLocked(e)
	} else {
		s.book.schedule(at.Add(s.statusDelay), event{exec: e})
	}
	return answer{requestStatus: e.status}, t, amount, e
}

// settleLocked finishes an execution: its pending amount either becomes
// refunded with a financial document (success) or is released (error). A
// decline is the transaction's Decline flag or a seeded DeclineRate draw.
func (s *Sim) settleLocked(e *execution) {
	t := e.txn
	t.pending = t.pending.Sub(e.amount)
	if t.Decline || (s.faults.DeclineRate > 0 && s.rng.Float64() < s.faults.DeclineRate) {
		e.status = RequestError
	} else {
		t.refunded = t.refunded.Add(e.amount)
		s.book.finSeq++
		e.finDoc = fmt.Sprintf("fd-%d", s.book.finSeq)
		e.status = RequestSuccess
	}
	if e == e.req.execs[0] {
		s.settledLocked(e.req)
	}
}

// settledLocked is the moment a request's outcome is final: a request
// marked to be forgotten vanishes from request/status now.
func (s *Sim) settledLocked(r *reqState) {
	if r.forget {
		r.forgotten = true
	}
}

// advanceLocked runs everything due by now, in time order: settlements and
// late executions. Evaluation is lazy (it happens when someone looks), so
// a test clock drives it without timers.
func (s *Sim) advanceLocked(now time.Time) {
	for {
		ev, ok := s.book.nextDue(now)
		if !ok {
			return
		}
		if ev.exec != nil {
			s.settleLocked(ev.exec)
		} else {
			s.runLateLocked(ev.late, ev.at)
		}
	}
}

// status answers request/status for one merchant's request_id. A request
// that is not recorded yet (a late commit), still lagging or forgotten gets
// exactly the reply of a request_id never received.
func (s *Sim) status(authID, requestID string) answer {
	s.mu.Lock()
	defer s.mu.Unlock()
	now := s.now()
	s.advanceLocked(now)
	r, ok := s.book.reqs[merchantKey{authID, requestID}]
	if !ok || !r.visible(now) {
		return failure(sitRequestNotFound, "request_id %s is unknown", requestID)
	}
	a := answer{isStatus: true, transactionID: r.txnID, requestStatus: RequestError}
	if len(r.execs) > 0 {
		a.requestStatus, a.finDocumentID = r.execs[0].status, r.execs[0].finDoc
	}
	return a
}

// nowDT is the current time in the provider's dt format.
func (s *Sim) nowDT() string { return s.now().Format(dtLayout) }
