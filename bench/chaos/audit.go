package main

import (
	"fmt"

	"github.com/shopspring/decimal"

	"github.com/refundq/refundq/internal/fpsim"
	"github.com/refundq/refundq/internal/freedompay"
	"github.com/refundq/refundq/internal/refund"
)

// tally is what the audit counted, for the summary table.
type tally struct {
	states      map[refund.State]int
	executions  int // refunds the provider executed, all request_ids
	submissions int // refund calls the provider accepted for checking
	resubmitted int // request_ids the provider saw more than once
	rejected    int // request_ids refused without executing (over-refunds)
	attempts    int // refund calls refundq recorded sending
	polls       int
	// attention lists the needs_attention refunds with their reasons and
	// what the provider's ledger says happened to each.
	attention        []string
	attentionReasons map[string]int
	// failedExecuted and succeededUnexecuted count the two lies a refund's
	// final state can tell: failed although money moved, succeeded
	// although it did not. Each is also a violation.
	failedExecuted, succeededUnexecuted int
}

// audit checks refundq's records against the provider's ledger. Each
// returned line is a broken invariant:
//   - no request_id executed more than once (Ledger.Audit);
//   - per-transaction refunds within the amount (Ledger.Audit);
//   - every accepted refund has a record, and it is settled;
//   - succeeded means executed exactly once, for the planned amount;
//     failed means never executed;
//   - the outcome is the planned one: the simulator declines nothing, so
//     refunds within the amount succeed and over-refunds fail;
//   - nothing the driver did not enqueue was executed;
//   - each transaction's refunded total is the sum of its succeeded refunds.
func audit(accepted []*plannedRefund, recs map[string]*refund.Record, l fpsim.Ledger) ([]string, tally) {
	v := l.Audit()
	t := tally{states: map[refund.State]int{}, attentionReasons: map[string]int{}}
	byID := make(map[string]fpsim.LedgerRequest, len(l.Requests))
	for _, lr := range l.Requests {
		byID[lr.RequestID] = lr
		t.executions += lr.Executions
		t.submissions += lr.Submissions
		if lr.Submissions > 1 {
			t.resubmitted++
		}
		if lr.Status == "rejected" {
			t.rejected++
		}
	}
	want := map[string]decimal.Decimal{}
	known := make(map[string]bool, len(accepted))
	for _, p := range accepted {
		known[p.id] = true
		r, ok := recs[p.id]
		if !ok {
			v = append(v, fmt.Sprintf("accepted refund %s (%s) has no record", p.id, p.refund.IdempotencyKey))
			continue
		}
		t.states[r.State]++
		if lr := byID[p.id]; r.State == refund.Failed && lr.Executions > 0 {
			t.failedExecuted++
		} else if r.State == refund.Succeeded && lr.Executions == 0 {
			t.succeededUnexecuted++
		}
		t.attempts += r.Attempts
		t.polls += r.Polls
		v = append(v, checkRefund(p, r, byID[p.id])...)
		switch {
		case r.State == refund.Succeeded:
			want[p.txnID] = want[p.txnID].Add(p.amount)
		case r.State == refund.NeedsAttention:
			lr, seen := byID[p.id]
			ledger := "the provider never recorded it"
			if seen {
				ledger = lr.Summary()
			}
			t.attention = append(t.attention, fmt.Sprintf("%s [%s] %s; ledger: %s", p.id, r.ReasonCode, r.Reason, ledger))
			t.attentionReasons[string(r.ReasonCode)]++
			if byID[p.id].Status == freedompay.RequestSuccess {
				want[p.txnID] = want[p.txnID].Add(byID[p.id].Amount) // the operator's to confirm
			}
		}
	}
	for _, lr := range l.Requests {
		if !known[lr.RequestID] && lr.Executions > 0 {
			v = append(v, fmt.Sprintf("request %s executed by the provider but never accepted by refundq", lr.RequestID))
		}
	}
	return append(v, checkTotals(l.Transactions, want)...), t
}

// checkRefund compares one refund's record with its ledger entry (zero if
// the provider never saw it) and with the plan.
func checkRefund(p *plannedRefund, r *refund.Record, lr fpsim.LedgerRequest) []string {
	var v []string
	bad := func(format string, args ...any) {
		v = append(v, fmt.Sprintf("refund %s (%s %s, state %s): ", p.id, p.kind, p.refund.Amount, r.State)+fmt.Sprintf(format, args...))
	}
	switch r.State {
	case refund.Succeeded:
		if lr.Executions != 1 || lr.Status != freedompay.RequestSuccess {
			bad("provider executed it %d times with status %q, want once with success", lr.Executions, lr.Status)
		}
		if !lr.Amount.Equal(p.amount) {
			bad("provider refunded %s, want %s", lr.Amount.StringFixed(2), p.amount.StringFixed(2))
		}
	case refund.Failed, refund.Canceled:
		if lr.Executions != 0 {
			bad("provider executed it %d times", lr.Executions)
		}
	case refund.NeedsAttention:
		// Allowed: an operator's queue, not a loss. Ledger.Audit still
		// catches a double execution.
	default:
		bad("not settled")
	}
	switch {
	case r.State == refund.Canceled:
		bad("canceled, but nothing in the run cancels")
	case p.mustSucceed() && r.State == refund.Failed:
		bad("a refund within the transaction's amount failed: %s %s (%s)", r.ProviderCode, r.ProviderMessage, r.Reason)
	case !p.mustSucceed() && r.State == refund.Succeeded:
		bad("an over-refund succeeded")
	}
	return v
}

// checkTotals compares each transaction's refunded total at the provider
// with the planned amounts of the refunds refundq recorded as succeeded,
// plus the ones parked in needs_attention that the provider did execute
// (listed in the summary for an operator).
func checkTotals(txns []fpsim.LedgerTransaction, want map[string]decimal.Decimal) []string {
	var v []string
	for _, tx := range txns {
		w := want[tx.TransactionID]
		if !tx.Refunded.Equal(w) || !tx.Pending.IsZero() {
			v = append(v, fmt.Sprintf("transaction %s: provider refunded %s (pending %s), refundq recorded %s succeeded",
				tx.TransactionID, tx.Refunded.StringFixed(2), tx.Pending.StringFixed(2), w.StringFixed(2)))
		}
	}
	return v
}
