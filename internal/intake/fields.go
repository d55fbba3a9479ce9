package intake

import (
	"strings"
	"unicode"

	"github.com/refundq/refundq/internal/refund"
)

// csvColumns are the CSV header names, in the order messages list them.
// It is a function rather than a variable so nobody can append to it.
func csvColumns() []string {
	return []string{"order_id", "transaction_id", "amount", "description", "request_id", "idempotency_key", "merchant"}
}

// jsonKeys are the keys of a refund object: the CSV columns and two more.
func jsonKeys() []string { return append(csvColumns(), "callback_url", "metadata") }

func isCSVColumn(name string) bool {
	for _, c := range csvColumns() {
		if c == name {
			return true
		}
	}
	return false
}

// stringField maps a column or JSON key to the Request field it fills, or
// nil if the name is not a plain string field. Both formats use it, so a
// column and a key of the same name always mean the same thing. amount is
// not one: see amountCell.
func stringField(r *refund.Request, name string) *string {
	switch name {
	case "order_id":
		return &r.OrderID
	case "transaction_id":
		return &r.TransactionID
	case "description":
		return &r.Description
	case "request_id":
		return &r.RequestID
	case "idempotency_key":
		return &r.IdempotencyKey
	case "merchant":
		return &r.Merchant
	case "callback_url":
		return &r.CallbackURL
	}
	return nil
}

// trim drops spaces and invisible characters around a value: a person
// cannot see them, so they must not change what a row means or which
// request_id it gets. Inside a value they stay, and validation refuses
// them where they do not belong.
func trim(s string) string { return strings.TrimFunc(s, isBlank) }

// isBlank is Unicode white space (NBSP included) and the zero-width
// characters editors and spreadsheets leave behind, the BOM among them.
func isBlank(r rune) bool {
	switch r {
	case '\ufeff', '\u200b', '\u200c', '\u200d', '\u2060':
		return true
	}
	return unicode.IsSpace(r)
}
