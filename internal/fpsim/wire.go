package fpsim

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"mime"
	"net/http"
	"regexp"

	"github.com/shopspring/decimal"
)

// Card API paths the simulator serves (shared/freedompay-card-api.md §4).
const (
	PathRefund = "/v5/card-api/transaction/refund"
	PathStatus = "/v5/card-api/request/status"
)

// Request statuses: the provider's request_status dictionary (§3). The
// ledger uses them too, next to LedgerRejected and LedgerLatePending.
const (
	RequestProcess = "process"
	RequestSuccess = "success"
	RequestError   = "error"
)

// requestIDPattern is the textual UUID form (8-4-4-4-12 hex digits). The
// docs type request_id as uuid; hex digits are accepted in either case, as
// RFC 9562 asks of readers.
var requestIDPattern = regexp.MustCompile(`^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$`)

// invalid is a validation failure and the request field it concerns. The
// native dialect sends the whole message; the alt one names only the field.
type invalid struct {
	field, msg string
}

func (e *invalid) Error() string { return e.field + ": " + e.msg }

func invalidf(field, format string, args ...any) *invalid {
	return &invalid{field: field, msg: fmt.Sprintf(format, args...)}
}

// checkContentType enforces the documented Content-Type: application/json
// (parameters such as charset are allowed).
func checkContentType(r *http.Request) *invalid {
	ct := r.Header.Get("Content-Type")
	mt, _, err := mime.ParseMediaType(ct)
	if err != nil || mt != "application/json" {
		return invalidf("Content-Type", "must be application/json, got %q", ct)
	}
	return nil
}

// refundBody is the refund request as sent. Amount stays raw JSON so the
// number text goes to decimal untouched; unmarshalling it into float64
// would already have lost precision.
type refundBody struct {
	RequestID     string          `json:"request_id"`
	OrderID       string          `json:"order_id"`
	TransactionID string          `json:"transaction_id"`
	Description   string          `json:"description"`
	Amount        json.RawMessage `json:"amount"`
}

// refundCall is a validated refund body.
type refundCall struct {
	RequestID, OrderID, TransactionID string
	// Amount is nil for a full refund of the remainder.
	Amount *decimal.Decimal
}

// parseRefund validates a refund body.
func parseRefund(body []byte) (refundCall, *invalid) {
	var b refundBody
	if err := decodeBody(body, &b); err != nil {
		return refundCall{}, err
	}
	if err := checkRequestID(b.RequestID); err != nil {
		return refundCall{}, err
	}
	if b.OrderID == "" && b.TransactionID == "" {
		return refundCall{}, invalidf("transaction_id", "order_id or transaction_id is required")
	}
	in := refundCall{RequestID: b.RequestID, OrderID: b.OrderID, TransactionID: b.TransactionID}
	if b.Amount == nil {
		return in, nil // absent: refund the full remainder, as documented
	}
	raw := string(bytes.TrimSpace(b.Amount))
	if raw == "null" {
		return refundCall{}, invalidf("amount", "null is not an amount; omit amount for a full refund")
	}
	amount, err := parseAmount(raw)
	if err != nil {
		return refundCall{}, invalidf("amount", "%v", err)
	}
	in.Amount = &amount
	return in, nil
}

// parseStatus validates a request/status body and returns its request_id.
func parseStatus(body []byte) (string, *invalid) {
	var b struct {
		RequestID string `json:"request_id"`
	}
	if err := decodeBody(body, &b); err != nil {
		return "", err
	}
	if err := checkRequestID(b.RequestID); err != nil {
		return "", err
	}
	return b.RequestID, nil
}

// decodeBody unmarshals one JSON object. A field of the wrong type is
// blamed on that field, anything else on the body.
func decodeBody(body []byte, v any) *invalid {
	err := json.Unmarshal(body, v)
	if err == nil {
		return nil
	}
	var te *json.UnmarshalTypeError
	if errors.As(err, &te) && te.Field != "" {
		return invalidf(te.Field, "must be a JSON %s, got a JSON %s", te.Type.Kind(), te.Value)
	}
	return invalidf("body", "malformed JSON body: %v", err)
}

func checkRequestID(id string) *invalid {
	if id == "" {
		return invalidf("request_id", "is required")
	}
	if !requestIDPattern.MatchString(id) {
		return invalidf("request_id", "must be a UUID, got %q", id)
	}
	return nil
}
