package producer

import (
	"sort"
	"strings"

	"github.com/refundq/refundq/internal/refund"
)

// Where a batch row's request_id comes from: the field that fixed it, or
// the row's content.
const (
	fromRequestID      = "request_id"
	fromIdempotencyKey = "idempotency_key"
	fromContent        = ""
)

// BatchRowID returns the request_id EnqueueBatch gives a valid row: its
// request_id; else the one Enqueue derives from its merchant and
// idempotency_key; else one derived from its content in the merchant's
// namespace: merchant, order_id, transaction_id, amount (normalised, so
// 10 and 10.00 are one amount; or full), description and metadata.
//
// The content id depends on nothing else: not the batch, the file, its
// line endings, quoting or column order, nor the row's position. Fixing
// a rejected row and running a file again therefore adds exactly that
// row, and the same keyless row in a later batch is answered as a
// duplicate of the earlier refund instead of refunding twice.
func BatchRowID(r Refund) string {
	id, _ := batchRowID(r)
	return id
}

func batchRowID(r Refund) (id, from string) {
	r = canonicalize(r)
	switch {
	case r.RequestID != "":
		return r.RequestID, fromRequestID
	case r.IdempotencyKey != "":
		return refund.DeriveRequestID(r.Merchant, r.IdempotencyKey), fromIdempotencyKey
	}
	// The "row" prefix and NUL separators keep content keys apart from
	// idempotency keys, which are printable.
	return refund.DeriveRequestID(r.Merchant, "row\x00"+contentKey(r)), fromContent
}

// CanonicalRow renders every field of r in one form that ignores how it
// was written (merchant defaulted, amount normalised or "full", metadata
// sorted), for digests of a batch's content such as a derived batch id.
// It is defined for invalid rows too.
func CanonicalRow(r Refund) string {
	r = canonicalize(r)
	return "v1\x00" + r.RequestID + "\x00" + r.IdempotencyKey + "\x00" + r.CallbackURL + "\x00" + contentKey(r)
}

// contentKey is what identifies a keyless row. NUL cannot occur in a
// valid field, so two different rows never share a key.
func contentKey(r Refund) string {
	amount := r.Amount
	if amount == "" {
		amount = "full"
	}
	key := r.Merchant + "\x00" + r.OrderID + "\x00" + r.TransactionID + "\x00" + amount + "\x00" + r.Description
	if len(r.Metadata) == 0 {
		return key
	}
	keys := make([]string, 0, len(r.Metadata))
	for k := range r.Metadata {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	var b strings.Builder
	b.WriteString(key)
	for _, k := range keys {
		b.WriteString("\x00" + k + "\x00" + r.Metadata[k])
	}
	return b.String()
}

// canonicalize writes text in NFC, defaults the merchant and writes a decimal amount with two
// fraction digits; unlike Request.Normalize it derives no request_id and
// leaves an amount that is not a number as written.
func canonicalize(r Refund) Refund {
	r = fromRequest(r.request().NormalizeText())
	if r.Merchant == "" {
		r.Merchant = refund.DefaultMerchant
	}
	if a, ok := normalAmount(r.Amount); ok {
		r.Amount = a
	}
	return r
}

// normalAmount writes an amount of refund.ParseAmount's syntax as
// decimal.StringFixed(2) would ("010.5" is "10.50"), without a regular
// expression or a decimal: every row of a file goes through it twice.
func normalAmount(a string) (string, bool) {
	whole, frac, dot := strings.Cut(a, ".")
	if len(whole) < 1 || len(whole) > 11 || dot && (len(frac) < 1 || len(frac) > 2) || !digits(whole) || !digits(frac) {
		return "", false
	}
	whole = strings.TrimLeft(whole, "0")
	if whole == "" {
		whole = "0"
	}
	return whole + "." + (frac + "00")[:2], true
}

func digits(s string) bool {
	for i := range len(s) {
		if s[i] < '0' || s[i] > '9' {
			return false
		}
	}
	return true
}
