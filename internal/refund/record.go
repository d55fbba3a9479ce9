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
}

// Event is one line of a refund's bounded history.
type Event struct {
	At     time.Time `json:"at"`
	Type   string    `json:"type"` // accepted, state, submit, reconcile, poll, error
	From   State     `json:"from,omitempty"`
	To     State     `json:"to,omitempty"`
	Detail string    `json:"detail,omitempty"`
}
