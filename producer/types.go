package producer

import (
	"errors"
	"time"

	"github.com/refundq/refundq/internal/refund"
)

// Refund is one refund request.
//
// Identify it with RequestID or IdempotencyKey: the same key always gives
// the same request_id, which is what makes every retry, at every layer,
// safe. Name what to refund with OrderID or TransactionID. Amount is
// decimal text in major units, at most two places ("10.50"); an empty
// Amount asks for a full refund of what remains, so code that computes an
// amount must never leave it empty by accident.
type Refund struct {
	// RequestID is the provider's idempotency key. Leave it empty to have
	// it derived from Merchant and IdempotencyKey.
	RequestID string `json:"request_id,omitempty"`
	// IdempotencyKey is the caller's own key for the refund, such as
	// "order-1234-return-1". Required when RequestID is empty.
	IdempotencyKey string `json:"idempotency_key,omitempty"`
	// Merchant names the credential to refund with; empty means "default".
	Merchant string `json:"merchant,omitempty"`
	// OrderID or TransactionID identifies the payment to refund.
	OrderID       string `json:"order_id,omitempty"`
	TransactionID string `json:"transaction_id,omitempty"`
	// Amount is the partial amount, or empty for a full refund.
	Amount string `json:"amount,omitempty"`
	// Description is shown to people; any printable text.
	Description string `json:"description,omitempty"`
	// CallbackURL, when set, receives a signed notice once the refund is
	// terminal (see worker/callback).
	CallbackURL string `json:"callback_url,omitempty"`
	// Metadata is kept with the refund and returned by Get.
	Metadata map[string]string `json:"metadata,omitempty"`
}

// The one place the public type meets the internal one: a conversion,
// which the compiler allows only while the two keep the same fields.
func (r Refund) request() refund.Request { return refund.Request(r) }

func fromRequest(r refund.Request) Refund { return Refund(r) }

// State is where a refund is in its life. A refund moves forward only:
// Held when it waits for an approver, Queued, then Submitting, Unknown or Processing while a worker drives it,
// and finally Succeeded, Failed or Canceled, or NeedsAttention when a
// person must decide (see docs/runbook.md).
type State string

// The states of a refund.
const (
	Queued     State = "queued"
	Submitting State = "submitting" // recorded before the provider call
	Unknown    State = "unknown"    // the call's outcome is not known yet
	Processing State = "processing" // the provider has it; a worker polls
	Succeeded  State = "succeeded"
	// Failed means the provider refused the refund and no money moved.
	Failed   State = "failed"
	Canceled State = "canceled"
	// NeedsAttention means a person must look: Status.Reason and
	// Status.Advice say why and what to do.
	NeedsAttention State = "needs_attention"
	// Held waits for an approver (see Hold): nothing sends it until one
	// approves it (Queued) or rejects it (Canceled).
	Held State = "held"
)

// Terminal reports whether nothing more will happen to the refund.
func (s State) Terminal() bool { return s == Succeeded || s == Failed || s == Canceled }

// FieldError names one invalid field of a refund and why.
type FieldError struct {
	Field  string `json:"field"`
	Reason string `json:"reason"`
}

func (e FieldError) Error() string { return e.Field + ": " + e.Reason }

// ValidationError lists every invalid field of a refund, not just the
// first. Nothing is written for a refund that has one.
type ValidationError struct {
	Fields []FieldError `json:"fields"`
}

func (e *ValidationError) Error() string {
	ve := refund.ValidationError{Fields: make([]refund.FieldError, len(e.Fields))}
	for i, f := range e.Fields {
		ve.Fields[i] = refund.FieldError(f)
	}
	return ve.Error()
}

// validate checks r and returns a *ValidationError naming every bad field.
func validate(r Refund) error {
	err := refund.Validate(r.request())
	var ve *refund.ValidationError
	if !errors.As(err, &ve) {
		return err
	}
	out := &ValidationError{Fields: make([]FieldError, len(ve.Fields))}
	for i, f := range ve.Fields {
		out.Fields[i] = FieldError(f)
	}
	return out
}

// Receipt says what Enqueue did.
type Receipt struct {
	RequestID string
	State     State
	// Duplicate is true when the refund already existed with the same
	// parameters; nothing new was queued.
	Duplicate bool
	CreatedAt time.Time
}

// Status is a refund as Get reads it back.
type Status struct {
	// Refund is the refund as accepted: its request_id fixed, its merchant
	// defaulted and its amount written with two decimals.
	Refund
	State   State
	BatchID string
	// Reason says in words why the refund is in its state; for
	// NeedsAttention, ReasonCode names the cause and Advice what to do.
	Reason     string
	ReasonCode string
	Advice     string
	// Attempts counts refund calls sent; Polls counts status calls.
	Attempts int
	Polls    int
	// ProviderStatus is the provider's last request_status, and
	// FinDocumentID its document for a succeeded refund.
	ProviderStatus string
	FinDocumentID  string
	CreatedAt      time.Time
	UpdatedAt      time.Time
	// FirstSentAt is when the refund was first sent; zero if never.
	FirstSentAt time.Time
	// Events is the refund's event log, oldest first.
	Events []Event
}

// Event is one entry of a refund's event log.
type Event struct {
	At time.Time
	// Type is accepted, state, submit, reconcile, poll or error.
	Type   string
	From   State
	To     State
	Detail string
}

func statusOf(rec *refund.Record, events []refund.Event) *Status {
	st := &Status{Refund: fromRequest(rec.Request), State: State(rec.State), BatchID: rec.BatchID,
		Reason: rec.Reason, ReasonCode: string(rec.ReasonCode), Attempts: rec.Attempts, Polls: rec.Polls,
		ProviderStatus: rec.RequestStatus, FinDocumentID: rec.FinDocumentID,
		CreatedAt: rec.CreatedAt, UpdatedAt: rec.UpdatedAt, FirstSentAt: rec.FirstSentAt}
	if rec.State == refund.NeedsAttention {
		st.Advice = rec.ReasonCode.Advice()
	}
	for _, e := range events {
		st.Events = append(st.Events, Event{At: e.At, Type: e.Type, From: State(e.From), To: State(e.To), Detail: e.Detail})
	}
	return st
}
