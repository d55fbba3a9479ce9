// Package hold is the policy that holds refunds for an approver before any
// of them reaches the provider (maker-checker): a batch over a number of
// rows or a total amount, and a single refund over an amount. `refundq
// import`, `refundq enqueue` and `refundq serve` apply the same policy, set
// in internal/config.
package hold

import (
	"fmt"

	"github.com/shopspring/decimal"

	"github.com/refundq/refundq/internal/refund"
	"github.com/refundq/refundq/producer"
)

// Policy says what is held. Zero fields hold nothing.
type Policy struct {
	// BatchRows holds a batch of more than this many rows.
	BatchRows int
	// BatchAmount holds a batch whose amounts add up to more than this.
	// A batch with a full refund in it is held too: what a full refund
	// pays is known only to the provider.
	BatchAmount decimal.Decimal
	// RefundAmount holds any one refund over this amount, and any full
	// refund, on its own, in a batch or not.
	RefundAmount decimal.Decimal
}

// Size is what a first read of a batch found.
type Size struct {
	Rows int
	// Total adds up the amounts of the rows that give one; Full counts
	// the rows that ask for a full refund.
	Total decimal.Decimal
	Full  int
}

// Batch reports whether a batch of size s is held, and why in words.
func (p Policy) Batch(s Size) (bool, string) {
	switch {
	case p.BatchRows > 0 && s.Rows > p.BatchRows:
		return true, fmt.Sprintf("held by policy: %d rows, over the limit of %d", s.Rows, p.BatchRows)
	case p.BatchAmount.IsPositive() && s.Full > 0:
		return true, fmt.Sprintf("held by policy: %d full refunds, whose amounts are not known, and a total limit of %s",
			s.Full, p.BatchAmount.StringFixed(2))
	case p.BatchAmount.IsPositive() && s.Total.GreaterThan(p.BatchAmount):
		return true, fmt.Sprintf("held by policy: a total of %s, over the limit of %s", s.Total.StringFixed(2), p.BatchAmount.StringFixed(2))
	}
	return false, ""
}

// Hold is the producer hold for a batch of size s that by imports;
// asked holds it whatever its size.
func (p Policy) Hold(s Size, asked bool, by string) producer.Hold {
	h := producer.Hold{Above: p.RefundAmount, By: by}
	if asked {
		h.All, h.Reason = true, "held on import by "+by
	} else if held, why := p.Batch(s); held {
		h.All, h.Reason = true, why
	}
	return h
}

// Single is the producer hold for one refund that by creates.
func (p Policy) Single(by string) producer.Hold { return producer.Hold{Above: p.RefundAmount, By: by} }

// Add counts a readable row's amount: "" is a full refund, and text that
// is not an amount is left to the row's validation.
func (s *Size) Add(amount string) {
	if amount == "" {
		s.Full++
		return
	}
	if d, err := refund.ParseAmount(amount); err == nil {
		s.Total = s.Total.Add(d)
	}
}
