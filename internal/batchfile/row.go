package batchfile

import (
	"bytes"
	"errors"
	"fmt"
	"unicode/utf8"

	"github.com/refundq/refundq/internal/refund"
)

// maxRaw bounds RowError.Raw and Row.Raw: enough to recognise the record in
// a rejects file, small enough that a file of huge bad rows stays cheap.
const maxRaw = 512

// Reader yields the records of a bulk file in order.
//
// Next returns io.EOF after the last record. A *RowError means only that
// record is unreadable: report it and call Next again. Any other error is
// fatal (the underlying read failed) and is returned again by later calls.
type Reader interface {
	Next() (Row, error)
}

// Row is one record that was read successfully. It has not been validated.
type Row struct {
	// Line is the 1-based physical line where the record starts, so an
	// operator can find it in an editor even after multi-line quoted fields.
	Line    int
	Request refund.Request
	// Raw is the record as written in the file, truncated to 512 bytes. It
	// rides along so Validate can put it into the rejects file.
	Raw string
}

// RowError is one problem with one record. Field is a request field name
// (order_id, amount, ...), "row" for a CSV record that cannot be split into
// fields, or "json" for a JSONL line that is not a JSON object.
type RowError struct {
	Line   int
	Field  string
	Reason string
	// Raw is the offending record, truncated to 512 bytes.
	Raw string
}

func (e RowError) Error() string {
	return fmt.Sprintf("line %d: %s: %s", e.Line, e.Field, e.Reason)
}

// Validate checks row with refund.Validate and returns one RowError per bad
// field, so the caller can report every problem of every row in one pass.
// It returns nil for a valid row.
func Validate(row Row) []RowError {
	err := refund.Validate(row.Request)
	if err == nil {
		return nil
	}
	var v *refund.ValidationError
	if !errors.As(err, &v) || len(v.Fields) == 0 {
		return []RowError{{Line: row.Line, Field: "request", Reason: err.Error(), Raw: row.Raw}}
	}
	out := make([]RowError, len(v.Fields))
	for i, f := range v.Fields {
		out[i] = RowError{Line: row.Line, Field: f.Field, Reason: f.Reason, Raw: row.Raw}
	}
	return out
}

// csvColumns are the CSV header names, in the order error messages list
// them. It is a function rather than a variable so nobody can append to it.
func csvColumns() []string {
	return []string{"order_id", "transaction_id", "amount", "description", "request_id", "idempotency_key", "merchant"}
}

// stringField maps a column or JSON key to the Request field it fills, or
// nil if the name is not a plain string field. Both formats use it so a
// column and a key of the same name always mean the same thing.
func stringField(r *refund.Request, name string) *string {
	switch name {
	case "order_id":
		return &r.OrderID
	case "transaction_id":
		return &r.TransactionID
	case "amount":
		return &r.Amount
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

// rawString turns record bytes into a Raw value: line endings trimmed and
// cut to maxRaw bytes without splitting a UTF-8 sequence.
func rawString(b []byte) string {
	b = bytes.Trim(b, "\r\n")
	if len(b) <= maxRaw {
		return string(b)
	}
	cut := maxRaw
	for i := maxRaw; i > maxRaw-utf8.UTFMax && i > 0; i-- {
		if utf8.RuneStart(b[i]) {
			cut = i
			break
		}
	}
	return string(b[:cut])
}
