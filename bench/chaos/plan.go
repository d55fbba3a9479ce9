package main

import (
	"fmt"
	"math/rand/v2"
	"sync/atomic"

	"github.com/shopspring/decimal"

	"github.com/refundq/refundq/internal/fpsim"
	"github.com/refundq/refundq/internal/refund"
	"github.com/refundq/refundq/producer"
)

// txnAmount is what `refundq sim --generate` gives every transaction.
var txnAmount = decimal.NewFromInt(1000)

// kind is what a planned refund asks for, which fixes its outcome.
type kind int

const (
	kindFull    kind = iota // the whole 1000.00 of a transaction no other refund touches
	kindPartial             // one or two partials per transaction, summing below its amount
	kindOver                // more than the transaction's amount: must fail permanently
)

func (k kind) String() string { return [...]string{"full", "partial", "over-refund"}[k] }

// plannedRefund is one refund of the run. Its outcome does not depend on
// the order refunds reach the provider: that is what lets the audit say
// exactly which state each refund must end in.
type plannedRefund struct {
	refund producer.Refund
	id     string
	kind   kind
	txnID  string
	// amount is what the provider must refund: the requested amount, or the
	// whole transaction for a full refund. Zero for an over-refund.
	amount decimal.Decimal
	bulk   bool
	// held refunds come in through the held batch (see held.go), not
	// through Enqueue; their repeats still do.
	held bool
	// accepted is set once an Enqueue of it returned success.
	accepted atomic.Bool
}

// mustSucceed is the expected outcome: the simulator declines nothing, so
// every refund within its transaction's amount succeeds.
func (p *plannedRefund) mustSucceed() bool { return p.kind != kindOver }

// op is one Enqueue call: a refund, or a repeat of one.
type op struct {
	r   *plannedRefund
	dup bool
}

type plan struct {
	txns    int
	refunds []*plannedRefund
	ops     []op
}

// Per-transaction mix. A pair of partials makes two refunds, so the
// over-refund share per transaction is scaled up to about 1% of refunds.
const (
	shareOver = 0.0135
	shareFull = 0.30
	sharePair = 0.3365 // the rest is a single partial
	shareDup  = 0.01   // of refunds, enqueued a second time
	shareBulk = 0.20
)

// newPlan draws n refunds over as many transactions as they need.
func newPlan(n int, seed uint64) *plan {
	rng := rand.New(rand.NewPCG(seed, seed^0x5eed))
	pl := &plan{}
	all := fpsim.GenerateTransactions(n, txnAmount) // the ids `refundq sim --generate` makes
	for len(pl.refunds) < n {
		txn := all[pl.txns]
		pl.txns++
		x := rng.Float64()
		switch {
		case x < shareOver:
			over := txnAmount.Add(cents(1 + rng.IntN(99999)))
			pl.add(rng, txn, kindOver, over.StringFixed(2), decimal.Zero)
		case x < shareOver+shareFull:
			pl.add(rng, txn, kindFull, "", txnAmount)
		case x < shareOver+shareFull+sharePair && n-len(pl.refunds) >= 2:
			for range 2 {
				a := cents(100 + rng.IntN(49900)) // 1.00 to 499.99: two stay below 1000.00
				pl.add(rng, txn, kindPartial, a.StringFixed(2), a)
			}
		default:
			a := cents(100 + rng.IntN(99900)) // 1.00 to 999.99
			pl.add(rng, txn, kindPartial, a.StringFixed(2), a)
		}
	}
	pl.order(rng)
	return pl
}

func cents(n int) decimal.Decimal { return decimal.New(int64(n), -2) }

// add plans one refund, addressed by transaction_id or by order_id at
// random so both lookups are exercised.
func (pl *plan) add(rng *rand.Rand, txn fpsim.Transaction, k kind, amount string, want decimal.Decimal) {
	i := len(pl.refunds) + 1
	r := producer.Refund{IdempotencyKey: fmt.Sprintf("chaos-%06d", i), Amount: amount,
		Description: fmt.Sprintf("chaos %s refund %d", k, i)}
	if rng.IntN(2) == 0 {
		r.TransactionID = txn.TransactionID
	} else {
		r.OrderID = txn.OrderID
	}
	p := &plannedRefund{refund: r, id: refund.DeriveRequestID(refund.DefaultMerchant, r.IdempotencyKey),
		kind: k, txnID: txn.TransactionID, amount: want, bulk: rng.Float64() < shareBulk}
	pl.refunds = append(pl.refunds, p)
}

// order lays out the Enqueue calls: every refund once, and about 1% of
// them again a few hundred calls later at most, so most repeats arrive
// after the original was accepted and some while a worker is on it.
func (pl *plan) order(rng *rand.Rand) {
	type repeat struct {
		r   *plannedRefund
		due int
	}
	var pending []repeat
	for _, r := range pl.refunds {
		pl.ops = append(pl.ops, op{r: r})
		if rng.Float64() < shareDup {
			pending = append(pending, repeat{r, len(pl.ops) + rng.IntN(200)})
		}
		for len(pending) > 0 && pending[0].due <= len(pl.ops) {
			pl.ops = append(pl.ops, op{r: pending[0].r, dup: true})
			pending = pending[1:]
		}
	}
	for _, p := range pending {
		pl.ops = append(pl.ops, op{r: p.r, dup: true})
	}
}

func (pl *plan) count(k kind) int {
	n := 0
	for _, r := range pl.refunds {
		if r.kind == k {
			n++
		}
	}
	return n
}
