package api

import (
	"time"

	"github.com/refundq/refundq/internal/refund"
)

// refundView is a refund as the API shows it (schema Refund in
// docs/openapi.yaml). It is a separate type from refund.Record so that a
// field added to the record is not published by accident.
type refundView struct {
	RequestID       string            `json:"request_id"`
	State           refund.State      `json:"state"`
	Merchant        string            `json:"merchant"`
	OrderID         string            `json:"order_id,omitempty"`
	TransactionID   string            `json:"transaction_id,omitempty"`
	Amount          *string           `json:"amount"` // null: the full remaining amount
	Description     string            `json:"description,omitempty"`
	IdempotencyKey  string            `json:"idempotency_key,omitempty"`
	CallbackURL     string            `json:"callback_url,omitempty"`
	Metadata        map[string]string `json:"metadata,omitempty"`
	Source          string            `json:"source,omitempty"`
	BatchID         string            `json:"batch_id,omitempty"`
	CreatedAt       time.Time         `json:"created_at"`
	UpdatedAt       time.Time         `json:"updated_at"`
	Attempts        int               `json:"attempts"`
	Polls           int               `json:"polls"`
	RequestStatus   string            `json:"request_status,omitempty"`
	ProviderCode    string            `json:"provider_code,omitempty"`
	ProviderMessage string            `json:"provider_message,omitempty"`
	FinDocumentID   string            `json:"fin_document_id,omitempty"`
	Reason          string            `json:"reason,omitempty"`
	HeldBy          string            `json:"held_by,omitempty"`
	Events          []eventView       `json:"events,omitempty"`
}

type eventView struct {
	At     time.Time    `json:"at"`
	Type   string       `json:"type"`
	From   refund.State `json:"from,omitempty"`
	To     refund.State `json:"to,omitempty"`
	Detail string       `json:"detail,omitempty"`
}

func viewRefund(rec *refund.Record) refundView {
	v := refundView{
		RequestID: rec.RequestID, State: rec.State, Merchant: rec.Merchant,
		OrderID: rec.OrderID, TransactionID: rec.TransactionID, Description: rec.Description,
		IdempotencyKey: rec.IdempotencyKey, Metadata: rec.Metadata, Source: rec.Source, BatchID: rec.BatchID,
		CreatedAt: rec.CreatedAt.UTC(), UpdatedAt: rec.UpdatedAt.UTC(), Attempts: rec.Attempts, Polls: rec.Polls,
		RequestStatus: rec.RequestStatus, ProviderCode: rec.ProviderCode, ProviderMessage: rec.ProviderMessage,
		FinDocumentID: rec.FinDocumentID, Reason: rec.Reason, HeldBy: rec.HeldBy,
	}
	if rec.Amount != "" {
		amount := rec.Amount
		v.Amount = &amount
	}
	// The callback URL may carry credentials in its userinfo or query.
	if rec.CallbackURL != "" {
		v.CallbackURL = refund.RedactURL(rec.CallbackURL)
	}
	return v
}

func withEvents(v refundView, events []refund.Event) refundView {
	v.Events = make([]eventView, len(events))
	for i, e := range events {
		v.Events[i] = eventView{At: e.At.UTC(), Type: e.Type, From: e.From, To: e.To, Detail: e.Detail}
	}
	return v
}
