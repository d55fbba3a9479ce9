// Package callback is what a merchant's endpoint needs to trust a refundq
// callback: the event's shape, its headers, and Verify. It imports only the
// standard library, so a receiver that checks callbacks pulls in nothing
// else.
package callback

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"time"
)

// Headers of a merchant callback. The signature is "v1=" and the hex
// HMAC-SHA256, under the merchant's callback secret, of the timestamp, a
// dot and the raw body. A receiver may see several comma-separated v1
// values in the future (secret rotation); one valid value is enough.
const (
	TimestampHeader = "X-Refundq-Timestamp" // unix seconds
	SignatureHeader = "X-Refundq-Signature"
)

// Event is the JSON body of a merchant callback: the refund's terminal
// outcome. A refund has one, so receivers can deduplicate deliveries by
// RequestID.
type Event struct {
	RequestID     string `json:"request_id"`
	OrderID       string `json:"order_id,omitempty"`
	TransactionID string `json:"transaction_id,omitempty"`
	Merchant      string `json:"merchant"`
	// Amount is absent for a full refund.
	Amount string `json:"amount,omitempty"`
	// State is succeeded, failed or canceled.
	State         string `json:"state"`
	RequestStatus string `json:"request_status,omitempty"`
	ProviderCode  string `json:"provider_code,omitempty"`
	// OccurredAt is when the refund reached State.
	OccurredAt time.Time `json:"occurred_at"`
}

// ErrInvalid is returned by Verify for a request that did not come from
// refundq, was altered, or is too old to trust.
var ErrInvalid = errors.New("refundq callback rejected")

// Verify checks a callback before a receiver trusts it: the signature over
// the timestamp and the exact body bytes received, under the merchant's
// callback secret, and a timestamp no further than tolerance from now. The
// tolerance bounds how long a captured request can be replayed; five
// minutes is usual. It returns an error wrapping ErrInvalid.
func Verify(secret []byte, header http.Header, body []byte, now time.Time, tolerance time.Duration) error {
	if len(secret) == 0 {
		return fmt.Errorf("%w: no secret to verify with", ErrInvalid)
	}
	ts, err := strconv.ParseInt(header.Get(TimestampHeader), 10, 64)
	if err != nil {
		return fmt.Errorf("%w: missing or malformed %s", ErrInvalid, TimestampHeader)
	}
	if d := now.Sub(time.Unix(ts, 0)).Abs(); d > tolerance {
		return fmt.Errorf("%w: timestamp is %s away from now, beyond %s", ErrInvalid, d.Round(time.Second), tolerance)
	}
	want, _ := hex.DecodeString(Sign(secret, ts, body))
	for _, part := range strings.Split(header.Get(SignatureHeader), ",") {
		v, ok := strings.CutPrefix(strings.TrimSpace(part), "v1=")
		if !ok {
			continue
		}
		if got, err := hex.DecodeString(v); err == nil && hmac.Equal(got, want) {
			return nil
		}
	}
	return fmt.Errorf("%w: signature does not match", ErrInvalid)
}

// Sign is the signature refundq sends for body at unix time ts: the hex
// HMAC-SHA256 of "<ts>.<body>" (without the "v1=" prefix).
func Sign(secret []byte, ts int64, body []byte) string {
	m := hmac.New(sha256.New, secret)
	m.Write([]byte(strconv.FormatInt(ts, 10)))
	m.Write([]byte{'.'})
	m.Write(body)
	return hex.EncodeToString(m.Sum(nil))
}
