package producer

import (
	"github.com/shopspring/decimal"

	"github.com/refundq/refundq/internal/refund"
)

// Hold says which refunds are accepted held for an approver (maker-checker)
// and who created them. A held refund is recorded in state held with no
// task, so nothing sends it until an approver of another name approves it
// (it is then queued) or rejects it (canceled).
type Hold struct {
	// All holds every refund: with EnqueueBatch, a held batch.
	All bool
	// Above, when positive, holds every refund over this amount, and every
	// full refund, whose amount only the provider knows.
	Above decimal.Decimal
	// By names who created the refunds; the approver must be someone
	// else. Empty is the producer's source (WithSource).
	By string
	// Reason says why the refunds are held, for their records and the
	// batch; empty says it in general words.
	Reason string
}

// active reports whether h may hold anything.
func (h Hold) active() bool { return h.All || h.Above.IsPositive() }

// apply holds rec when h says so: state held, who created it and why.
func (h Hold) apply(rec *refund.Record, source string) {
	why := h.reason(rec.Request)
	if why == "" {
		return
	}
	rec.State, rec.HeldBy, rec.Reason = refund.Held, h.maker(source), "held for approval: "+why
}

func (h Hold) reason(r refund.Request) string {
	if h.All {
		if h.Reason != "" {
			return h.Reason
		}
		return "the batch is held"
	}
	if !h.Above.IsPositive() {
		return ""
	}
	if r.Amount == "" {
		return "a full refund, whose amount is not known before it is sent, with a hold over " + h.Above.StringFixed(2)
	}
	d, err := refund.ParseAmount(r.Amount)
	if err != nil || d.GreaterThan(h.Above) {
		return "the amount " + r.Amount + " is over the hold threshold " + h.Above.StringFixed(2)
	}
	return ""
}

// EnqueueHold holds the refund as h says.
func EnqueueHold(h Hold) EnqueueOption { return func(o *enqueueOpts) { o.hold = h } }

// BatchHold holds the batch's new rows as h says. The batch's metadata
// records the hold and h.By among its makers before any row is written.
func BatchHold(h Hold) BatchOption { return func(o *batchOpts) { o.hold = h } }

func (h Hold) maker(source string) string {
	if h.By == "" {
		return source
	}
	return h.By
}

// batchReason is what the batch's metadata says of the hold.
func (h Hold) batchReason() string {
	if h.All {
		return h.reason(refund.Request{})
	}
	return "refunds over " + h.Above.StringFixed(2) + " and full refunds are held one by one"
}
