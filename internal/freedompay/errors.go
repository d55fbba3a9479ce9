package freedompay

import (
	"errors"
	"fmt"
)

// Kind classifies a failed provider call by what the caller may safely do next.
type Kind int

const (
	// KindPermanent: the provider rejected the request and did not execute it
	// (validation, unknown transaction, over-refund, bad credentials). Retrying
	// the same request cannot succeed.
	KindPermanent Kind = iota + 1
	// KindAmbiguous: the request may have reached the provider and its outcome
	// is unknown (timeout after the write, reset, 5xx, unreadable reply).
	// Reconcile through request status before any resubmit.
	KindAmbiguous
	// KindRetryable: the request certainly did not reach the provider
	// (connection refused, DNS failure, nothing written). Safe to resend.
	KindRetryable
	// KindRateLimited: the provider answered 429 and did not execute it.
	KindRateLimited
	// KindDuplicate: the provider already knows this request_id. The earlier
	// submission arrived; poll it.
	KindDuplicate
	// KindNotFound: request status does not know this request_id: the
	// provider never saw the refund.
	KindNotFound
)

var kindNames = map[Kind]string{
	KindPermanent: "permanent", KindAmbiguous: "ambiguous", KindRetryable: "retryable",
	KindRateLimited: "rate_limited", KindDuplicate: "duplicate", KindNotFound: "not_found",
}

func (k Kind) String() string {
	if s, ok := kindNames[k]; ok {
		return s
	}
	return "unknown"
}

// Error is every error the client returns for a provider call. It never
// carries credentials or the signature.
type Error struct {
	Kind       Kind
	Endpoint   string // PathRefund or PathStatus
	HTTPStatus int    // 0 when no response arrived
	Code       string // provider error_code, when it sent one
	Message    string // provider message, when it sent one
	Err        error  // transport cause, when there was one
}

func (e *Error) Error() string {
	s := fmt.Sprintf("freedompay %s: %s", e.Endpoint, e.Kind)
	if e.HTTPStatus != 0 {
		s += fmt.Sprintf(" (http %d)", e.HTTPStatus)
	}
	if e.Code != "" {
		s += ": " + e.Code
	}
	if e.Message != "" {
		s += ": " + e.Message
	}
	if e.Err != nil {
		s += ": " + e.Err.Error()
	}
	return s
}

func (e *Error) Unwrap() error { return e.Err }

// KindOf returns the classification of err, or 0 when err did not come from
// the client.
func KindOf(err error) Kind {
	var e *Error
	if errors.As(err, &e) {
		return e.Kind
	}
	return 0
}

// Provider error codes. The public docs define no error schema (see
// docs/provider.md); these are the codes the simulator sends and the client
// recognises. Anything unrecognised is treated as ambiguous, which only costs
// a reconcile.
const (
	CodeInvalidSignature    = "INVALID_SIGNATURE"
	CodeValidation          = "VALIDATION_ERROR"
	CodeTransactionNotFound = "TRANSACTION_NOT_FOUND"
	CodeAmountExceeded      = "AMOUNT_EXCEEDED"
	CodeDuplicateRequestID  = "DUPLICATE_REQUEST_ID"
	CodeRequestNotFound     = "REQUEST_NOT_FOUND"
	CodeRateLimited         = "RATE_LIMITED"
	CodeInternal            = "INTERNAL_ERROR"
)

var codeKinds = map[string]Kind{
	CodeInvalidSignature:    KindPermanent,
	CodeValidation:          KindPermanent,
	CodeTransactionNotFound: KindPermanent,
	CodeAmountExceeded:      KindPermanent,
	CodeDuplicateRequestID:  KindDuplicate,
	CodeRequestNotFound:     KindNotFound,
	CodeRateLimited:         KindRateLimited,
}
