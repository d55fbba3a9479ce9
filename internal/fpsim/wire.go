package fpsim

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
)

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

// parseRefund validates a refund body. Any error is a VALIDATION_ERROR.
func parseRefund(body []byte) (refundCall, error) {
	var b refundBody
	if err := json.Unmarshal(body, &b); err != nil {
		return refundCall{}, fmt.Errorf("malformed JSON body: %w", err)
	}
	if b.RequestID == "" {
		return refundCall{}, errors.New("request_id is required")
	}
	if b.OrderID == "" && b.TransactionID == "" {
		return refundCall{}, errors.New("order_id or transaction_id is required")
	}
	in := refundCall{RequestID: b.RequestID, OrderID: b.OrderID, TransactionID: b.TransactionID}
	raw := bytes.TrimSpace(b.Amount)
	if len(raw) == 0 || string(raw) == "null" {
		return in, nil // no amount: refund the full remainder
	}
	amount, err := parseAmount(string(raw))
	if err != nil {
		return refundCall{}, err
	}
	in.Amount = &amount
	return in, nil
}

// parseStatus validates a request/status body and returns its request_id.
func parseStatus(body []byte) (string, error) {
	var b struct {
		RequestID string `json:"request_id"`
	}
	if err := json.Unmarshal(body, &b); err != nil {
		return "", fmt.Errorf("malformed JSON body: %w", err)
	}
	if b.RequestID == "" {
		return "", errors.New("request_id is required")
	}
	return b.RequestID, nil
}
