package freedompay

import (
	"encoding/json"

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
	// ErrorCode and Message are present when Status is "error". Their names
	// are the simulator's; the real schema is undocumented.
	ErrorCode string `json:"error_code,omitempty"`
	Message   string `json:"message,omitempty"`
}
