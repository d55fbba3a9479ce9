package main

import (
	"strings"
	"testing"

	"github.com/shopspring/decimal"

	"github.com/refundq/refundq/internal/fpsim"
	"github.com/refundq/refundq/internal/freedompay"
	"github.com/refundq/refundq/internal/refund"
	"github.com/refundq/refundq/producer"
)

// auditCase is one refund of 400.00 on txn-000001 (an over-refund when
// over is set), its record state and its ledger entry.
type auditCase struct {
	name      string
	over      bool
	state     refund.State // "" means no record
	execs     int
	status    string
	refunded  string // txn-000001's refunded total at the provider
	unplanned int    // executions of a request_id the driver never enqueued
	want      string // substring of the one expected violation; "" for none
}

func TestAuditCatchesEveryBrokenInvariant(t *testing.T) {
	for _, c := range []auditCase{
		{name: "clean success", state: refund.Succeeded, execs: 1, status: freedompay.RequestSuccess, refunded: "400"},
		{name: "clean over-refund", over: true, state: refund.Failed, status: "rejected", refunded: "0"},
		{name: "needs attention, executed", state: refund.NeedsAttention, execs: 1, status: freedompay.RequestSuccess, refunded: "400"},
		{name: "double execution", state: refund.Succeeded, execs: 2, status: freedompay.RequestSuccess, refunded: "400", want: "executed 2 times"},
		{name: "succeeded never executed", state: refund.Succeeded, status: "", refunded: "0", want: "want once with success"},
		{name: "failed but executed", state: refund.Failed, execs: 1, status: freedompay.RequestSuccess, refunded: "400", want: "executed it 1 times"},
		{name: "valid refund failed", state: refund.Failed, status: freedompay.RequestError, refunded: "0", want: "within the transaction's amount failed"},
		{name: "over-refund succeeded", over: true, state: refund.Succeeded, execs: 1, status: freedompay.RequestSuccess, refunded: "1500", want: "over-refund succeeded"},
		{name: "lost record", state: "", refunded: "0", want: "has no record"},
		{name: "not settled", state: refund.Processing, execs: 1, status: freedompay.RequestSuccess, refunded: "400", want: "not settled"},
		{name: "books differ", state: refund.Succeeded, execs: 1, status: freedompay.RequestSuccess, refunded: "800", want: "refundq recorded 400.00"},
		{name: "unknown execution", state: refund.Succeeded, execs: 1, status: freedompay.RequestSuccess, refunded: "400", unplanned: 1, want: "never accepted"},
	} {
		t.Run(c.name, func(t *testing.T) {
			v, _ := audit(c.inputs())
			if c.want == "" {
				if len(v) != 0 {
					t.Fatalf("violations %q, want none", v)
				}
				return
			}
			if len(v) == 0 || !strings.Contains(strings.Join(v, "\n"), c.want) {
				t.Fatalf("violations %q, want one containing %q", v, c.want)
			}
		})
	}
}

func (c auditCase) inputs() ([]*plannedRefund, map[string]*refund.Record, fpsim.Ledger) {
	amount, k, want := decimal.NewFromInt(400), kindPartial, "400.00"
	if c.over {
		amount, k, want = decimal.NewFromInt(1500), kindOver, "1500.00"
	}
	p := &plannedRefund{refund: producer.Refund{IdempotencyKey: "k1", Amount: want}, id: "rid-1", kind: k, txnID: "txn-000001", amount: amount}
	if c.over {
		p.amount = decimal.Zero
	}
	recs := map[string]*refund.Record{}
	if c.state != "" {
		recs[p.id] = &refund.Record{State: c.state}
	}
	l := fpsim.Ledger{Transactions: []fpsim.LedgerTransaction{
		{TransactionID: "txn-000001", Amount: txnAmount, Refunded: decimal.RequireFromString(c.refunded)},
	}}
	if c.status != "" {
		l.Requests = append(l.Requests, fpsim.LedgerRequest{RequestID: p.id, TransactionID: "txn-000001",
			Amount: amount, Submissions: max(c.execs, 1), Executions: c.execs, Status: c.status})
	}
	if c.unplanned > 0 {
		l.Requests = append(l.Requests, fpsim.LedgerRequest{RequestID: "stranger", Executions: c.unplanned, Status: freedompay.RequestSuccess})
	}
	return []*plannedRefund{p}, recs, l
}

// The plan is what makes outcomes exact: partials of one transaction stay
// below its amount, over-refunds exceed it, and a full refund is alone.
func TestPlanOutcomesDoNotDependOnOrder(t *testing.T) {
	pl := newPlan(5000, 7)
	byTxn := map[string][]*plannedRefund{}
	for _, r := range pl.refunds {
		byTxn[r.txnID] = append(byTxn[r.txnID], r)
	}
	for txn, rs := range byTxn {
		sum := decimal.Zero
		for _, r := range rs {
			a := decimal.RequireFromString(orDefault(r.refund.Amount, "1000"))
			switch r.kind {
			case kindOver:
				if len(rs) != 1 || !a.GreaterThan(txnAmount) {
					t.Fatalf("%s: over-refund %s shares the transaction or fits it", txn, a)
				}
			case kindFull:
				if len(rs) != 1 || r.refund.Amount != "" {
					t.Fatalf("%s: full refund is not alone", txn)
				}
			default:
				sum = sum.Add(a)
			}
		}
		if sum.GreaterThanOrEqual(txnAmount) {
			t.Fatalf("%s: partials sum to %s, not below %s", txn, sum, txnAmount)
		}
	}
	if n, over := len(pl.refunds), pl.count(kindOver); over < n/200 || over > n/50 {
		t.Fatalf("%d over-refunds of %d, want about 1%%", over, n)
	}
	if dups := len(pl.ops) - len(pl.refunds); dups < len(pl.refunds)/200 || dups > len(pl.refunds)/50 {
		t.Fatalf("%d repeated enqueues of %d, want about 1%%", dups, len(pl.refunds))
	}
}

func orDefault(s, d string) string {
	if s == "" {
		return d
	}
	return s
}
