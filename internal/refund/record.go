package refund

import "time"

// Record is the store of record for one refund: the request as accepted plus
// everything the worker learned. The asynq task only points at it.
type Record struct {
	Request
	ParamHash string
	State     State
	Source    string // producer, api, import, cli, demo
	BatchID   string
	Queue     string
	CreatedAt time.Time
	UpdatedAt time.Time
	// Attempts counts refund calls sent; Polls counts status calls.
	Attempts int
	Polls    int
	// RequestStatus is the provider's last request_status; ProviderCode and
	// ProviderMessage its last error, if any.
	RequestStatus   string
	ProviderCode    string
	ProviderMessage string
	FinDocumentID   string
	// Reason explains the latest state in words, e.g. why needs_attention.
	Reason string
	// ResumedAt is when an operator last sent the refund back to work
	// (retry, or a reconcile that found it in progress). The deadline counts
	// from the later of it and CreatedAt, or a refund that reached
	// needs_attention at its deadline would bounce straight back.
	ResumedAt time.Time
	// Callback is the delivery of the merchant callback, for a refund with
	// a callback_url that reached a terminal state.
	Callback CallbackDelivery
}

// CallbackState is where a merchant callback's delivery stands.
type CallbackState string

const (
	CallbackPending   CallbackState = "pending" // scheduled or being retried
	CallbackDelivered CallbackState = "delivered"
	CallbackFailed    CallbackState = "failed" // given up; see LastError
)

// Done reports whether delivery has ended, either way.
func (s CallbackState) Done() bool { return s == CallbackDelivered || s == CallbackFailed }

// CallbackDelivery records a callback's delivery. It is empty for a refund
// without a callback_url or not yet terminal.
type CallbackDelivery struct {
	State    CallbackState
	Attempts int
	// LastError is the last failed attempt's error, with the URL redacted.
	LastError string
}

// Event is one line of a refund's bounded history.
type Event struct {
	At     time.Time `json:"at"`
	Type   string    `json:"type"` // accepted, state, submit, reconcile, poll, error
	From   State     `json:"from,omitempty"`
	To     State     `json:"to,omitempty"`
	Detail string    `json:"detail,omitempty"`
}
