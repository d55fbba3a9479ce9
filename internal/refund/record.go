package refund

import "time"

// RecordVersion is the record layout this build writes and understands.
// Version 2 records when the refund was sent; a version 1 record (written
// before that) is treated as possibly sent whenever it has been attempted.
const RecordVersion = 2

// Record is the store of record for one refund: the request as accepted plus
// everything the worker learned. The asynq task only points at it.
type Record struct {
	Request
	// Version is the layout the record was written in (RecordVersion). A
	// worker leaves a record from a newer refundq alone.
	Version   int
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
	// Reason explains the latest state in words, e.g. why needs_attention;
	// ReasonCode names the needs_attention cause (see Attention).
	Reason     string
	ReasonCode Attention
	// FirstSentAt is when the refund was first sent; the deadline counts
	// from it. LastSentAt is the latest send that may have reached the
	// provider; the settle window counts from it. A call that provably
	// reached nobody (nothing written, or a 429) does not count as a send.
	FirstSentAt, LastSentAt time.Time
	// Acknowledged records that the provider showed it has the request_id:
	// a request_status was seen, or a duplicate rejection came back. Such a
	// refund is never sent again automatically.
	Acknowledged bool
	// Ambiguous records that some attempt's outcome was never learned (no
	// reply, a 5xx, a crash mid-call). After that a rejection of a later
	// attempt is not proof that no money moved.
	Ambiguous bool
	// NotFoundSince is when request status first answered "not found"
	// since the last send; a "found" answer or a new send clears it.
	NotFoundSince time.Time
	// UnrecognizedSince is when the provider started answering in a way
	// the provider profile does not know; a recognized answer clears it.
	UnrecognizedSince time.Time
	// DoubtedRejection holds a rejection that came after an ambiguous
	// attempt while the worker asks request status whether the earlier
	// attempt executed. It is never turned into failed by itself.
	DoubtedRejection string
	// ResumedAt is when an operator last sent the refund back to work
	// (retry, or a reconcile that found it in progress). The deadline counts
	// from the later of it and CreatedAt, or a refund that reached
	// needs_attention at its deadline would bounce straight back.
	ResumedAt time.Time
	// Callback is the delivery of the merchant callback, for a refund with
	// a callback_url that reached a terminal state.
	Callback CallbackDelivery
	// HeldBy names who created a refund that was accepted held (see
	// Held); an approver of another name must approve it. Empty for a
	// refund that was never held.
	HeldBy string
}

// NeverSent reports whether the refund provably never reached the
// provider: no send was recorded, and no attempt's outcome was in doubt.
// A version 1 record with attempts cannot tell, so it counts as sent.
func (r *Record) NeverSent() bool {
	if r.Version < 2 && r.Attempts > 0 {
		return false
	}
	return r.FirstSentAt.IsZero() && r.LastSentAt.IsZero() && !r.Ambiguous && !r.Acknowledged
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
