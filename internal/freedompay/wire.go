package freedompay

import (
	"encoding/json"
	"fmt"
	"strings"

	"github.com/shopspring/decimal"
)

// Card API paths.
const (
	PathRefund = "/v5/card-api/transaction/refund"
	PathStatus = "/v5/card-api/request/status"
)

// Base URLs of the two documented environments.
const (
	BaseURLTest = "https://test-api.freedompay.kz"
	BaseURLProd = "https://api.freedompay.kz"
)

// Request statuses (the provider's request_status dictionary).
const (
	RequestProcess = "process"
	RequestSuccess = "success"
	RequestError   = "error"
)

// RefundRequest is the body of POST /v5/card-api/transaction/refund.
type RefundRequest struct {
	RequestID     string
	OrderID       string
	TransactionID string
	Description   string
	// Amount is nil for a full refund.
	Amount *decimal.Decimal
}

// MarshalJSON writes amount as a JSON number from the decimal's text, so no
// float ever touches the value.
func (r RefundRequest) MarshalJSON() ([]byte, error) {
	var amount json.RawMessage
	if r.Amount != nil {
		amount = json.RawMessage(r.Amount.StringFixed(2))
	}
	return json.Marshal(struct {
		RequestID     string          `json:"request_id"`
		OrderID       string          `json:"order_id,omitempty"`
		TransactionID string          `json:"transaction_id,omitempty"`
		Description   string          `json:"description,omitempty"`
		Amount        json.RawMessage `json:"amount,omitempty"`
	}{r.RequestID, r.OrderID, r.TransactionID, r.Description, amount})
}

// StatusRequest is the body of POST /v5/card-api/request/status.
type StatusRequest struct {
	RequestID string `json:"request_id"`
}

// Response is the common reply envelope. Status says whether the API call
// worked; RequestStatus is the state of the operation behind it. They are
// separate on purpose: status "ok" with request_status "error" is a declined
// refund, not a failed call.
type Response struct {
	Status        string `json:"status"`
	RequestStatus string `json:"request_status,omitempty"`
	TransactionID string `json:"transaction_id,omitempty"`
	FinDocumentID string `json:"fin_document_id,omitempty"`
	DT            string `json:"dt,omitempty"`
}

// envelope is a reply read leniently: the documented fields, and an error
// code and message wherever a provider's dialect puts them.
type envelope struct {
	resp          Response
	code, message string
}

// codeFields and messageFields are where dialects put an error's code and
// message, in order of preference.
var (
	codeFields    = []string{"error_code", "code", "errorCode", "error.code"}
	messageFields = []string{"message", "error_message", "errorMessage", "error.message", "description"}
)

// decodeEnvelope never fails: an unreadable body has empty fields, which
// only a rule on the HTTP status can match.
func decodeEnvelope(raw []byte) envelope {
	var env envelope
	var top map[string]json.RawMessage
	if json.Unmarshal(raw, &top) != nil {
		return env
	}
	_ = json.Unmarshal(raw, &env.resp) // fields of the wrong type stay empty
	env.code = firstText(top, codeFields)
	env.message = firstText(top, messageFields)
	return env
}

// firstText returns the first field present as a string or a number; a
// dotted name looks one object deep.
func firstText(top map[string]json.RawMessage, names []string) string {
	for _, n := range names {
		raw, ok := top[n]
		if outer, inner, nested := strings.Cut(n, "."); nested {
			var obj map[string]json.RawMessage
			if json.Unmarshal(top[outer], &obj) != nil {
				continue
			}
			raw, ok = obj[inner]
		}
		if !ok {
			continue
		}
		var s string
		if json.Unmarshal(raw, &s) == nil && s != "" {
			return s
		}
		var n json.Number
		if json.Unmarshal(raw, &n) == nil {
			return n.String()
		}
	}
	return ""
}

// check refuses amounts the provider must never see: not positive, or more
// precise than two decimals. Rounding money is never the client's call.
func (r RefundRequest) check() error {
	if r.Amount == nil {
		return nil
	}
	if !r.Amount.IsPositive() {
		return fmt.Errorf("%w: amount %s is not positive", ErrInvalidRequest, r.Amount.String())
	}
	if !r.Amount.Round(2).Equal(*r.Amount) {
		return fmt.Errorf("%w: amount %s has more than 2 decimals", ErrInvalidRequest, r.Amount.String())
	}
	return nil
}
