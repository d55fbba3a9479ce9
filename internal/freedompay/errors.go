package freedompay

import (
	"errors"
	"fmt"
)

// Kind classifies a failed provider call by what the caller may safely do next.
type Kind int

const (
	// KindPermanent: the provider rejected the request and did not execute
	// it (validation, unknown transaction, over-refund). Error.Reason says
	// which. A caller whose earlier attempt was ambiguous must not take it
	// as proof that nothing executed.
	KindPermanent Kind = iota + 1
	// KindAmbiguous: the request may have reached the provider and its
	// outcome is unknown (no reply, a 5xx, a reply the profile does not
	// know). Reconcile through request status; never resend on it.
	KindAmbiguous
	// KindRetryable: the request certainly did not reach the provider
	// (connection refused, DNS failure, nothing written). Safe to resend.
	KindRetryable
	// KindRateLimited: the provider did not take the call; try later.
	KindRateLimited
	// KindDuplicate: the provider already knows this request_id. The earlier
	// submission arrived; poll it.
	KindDuplicate
	// KindNotFound: request status does not know this request_id. It proves
	// nothing until it has lasted a settle window.
	KindNotFound
	// KindAuth: the provider refused the credential or the signature. An
	// operator must fix the configuration.
	KindAuth
	// KindConfig: the base URL is wrong (a route that does not exist, a
	// redirect). An operator must fix the configuration.
	KindConfig
)

var kindNames = map[Kind]string{
	KindPermanent: "permanent", KindAmbiguous: "ambiguous", KindRetryable: "retryable",
	KindRateLimited: "rate_limited", KindDuplicate: "duplicate", KindNotFound: "not_found",
	KindAuth: "auth_error", KindConfig: "config_error",
}

func (k Kind) String() string {
	if s, ok := kindNames[k]; ok {
		return s
	}
	return "unknown"
}

// Kinds lists every kind, for metric labels.
func Kinds() []Kind {
	return []Kind{KindPermanent, KindAmbiguous, KindRetryable, KindRateLimited, KindDuplicate, KindNotFound, KindAuth, KindConfig}
}

// Error is every error the client returns for a provider call. It never
// carries credentials or the signature.
type Error struct {
	Kind       Kind
	Endpoint   string // PathRefund or PathStatus
	HTTPStatus int    // 0 when no response arrived
	Code       string // provider error code, when it sent one
	Message    string // provider message, when it sent one
	// Reason is the rejection reason of a KindPermanent error
	// (validation, unknown_transaction, over_refund).
	Reason string
	// Rule names the profile rule that classified the reply; empty when
	// none did.
	Rule string
	// Unrecognized marks a reply that no profile rule knows: it is
	// ambiguous because refundq cannot tell what it means.
	Unrecognized bool
	// Reply is the start of the raw reply, printable and with the
	// credential redacted, for the refund's event log.
	Reply string
	Err   error // transport cause, when there was one
}

func (e *Error) Error() string {
	s := fmt.Sprintf("freedompay %s: %s", e.Endpoint, e.Kind)
	if e.Unrecognized {
		s += " (reply not in the provider profile)"
	}
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

// ErrInvalidRequest is returned, before anything is sent, for a request the
// client refuses to send: an amount that is not positive or has more than
// two decimals. The client never rounds money.
var ErrInvalidRequest = errors.New("freedompay: invalid request, not sent")
