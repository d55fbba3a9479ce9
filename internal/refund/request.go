// Package refund is refundq's domain: what a refund request is, what makes
// one valid, how its request_id is derived, and the states it moves through.
package refund

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"net/url"
	"sort"

	"github.com/google/uuid"
	"github.com/shopspring/decimal"
	"golang.org/x/text/unicode/norm"
)

// Request is a refund as a producer submits it. Amount is decimal text in
// major units; empty means a full refund of what remains.
type Request struct {
	RequestID      string            `json:"request_id,omitempty"`
	IdempotencyKey string            `json:"idempotency_key,omitempty"`
	Merchant       string            `json:"merchant,omitempty"`
	OrderID        string            `json:"order_id,omitempty"`
	TransactionID  string            `json:"transaction_id,omitempty"`
	Amount         string            `json:"amount,omitempty"`
	Description    string            `json:"description,omitempty"`
	CallbackURL    string            `json:"callback_url,omitempty"`
	Metadata       map[string]string `json:"metadata,omitempty"`
}

// NormalizeText writes the idempotency key, the description and the
// metadata in Unicode NFC. The same text typed on two systems, or re-saved
// by an editor, can arrive composed ("é") or decomposed ("e" and an
// accent); without this the two would be two keys, and two refunds.
func (r Request) NormalizeText() Request {
	r.IdempotencyKey, r.Description = norm.NFC.String(r.IdempotencyKey), norm.NFC.String(r.Description)
	if metadataIsNFC(r.Metadata) {
		return r // every row of a file comes here twice: no copy when nothing changes
	}
	m := make(map[string]string, len(r.Metadata))
	for k, v := range r.Metadata {
		nk := norm.NFC.String(k)
		if _, taken := r.Metadata[nk]; taken && nk != k {
			nk = k // two spellings of one key: keep both rather than drop a value
		}
		m[nk] = norm.NFC.String(v)
	}
	r.Metadata = m
	return r
}

func metadataIsNFC(m map[string]string) bool {
	for k, v := range m {
		if !norm.NFC.IsNormalString(k) || !norm.NFC.IsNormalString(v) {
			return false
		}
	}
	return true
}

// DefaultMerchant is the credential name used when a request names none.
const DefaultMerchant = "default"

// namespace roots every derived request_id. Changing it would re-key every
// idempotency key ever accepted, so it is fixed forever.
var namespace = uuid.MustParse("6f1c2a7e-3b0d-5c8e-9a41-2d7f0b9e4c13")

// DeriveRequestID maps (merchant, idempotency key) to a stable UUIDv5, so the
// same business refund always gets the same provider request_id.
func DeriveRequestID(merchant, key string) string {
	ns := uuid.NewSHA1(namespace, []byte(merchant))
	return uuid.NewSHA1(ns, []byte(key)).String()
}

// Normalize fills defaults and the request_id. Call it after Validate.
func (r Request) Normalize() Request {
	r = r.NormalizeText()
	if r.Merchant == "" {
		r.Merchant = DefaultMerchant
	}
	if r.RequestID == "" {
		r.RequestID = DeriveRequestID(r.Merchant, r.IdempotencyKey)
	}
	if r.Amount != "" {
		d, _ := decimal.NewFromString(r.Amount)
		r.Amount = d.StringFixed(2)
	}
	return r
}

// ParamHash fingerprints everything that changes what the provider is asked
// to do, so a repeated request_id can be told apart from a conflicting one.
// It deliberately ignores the idempotency key and callback settings.
func (r Request) ParamHash() string {
	h := sha256.New()
	for _, f := range []string{r.Merchant, r.OrderID, r.TransactionID, r.Amount, r.Description} {
		h.Write([]byte(f))
		h.Write([]byte{0})
	}
	keys := make([]string, 0, len(r.Metadata))
	for k := range r.Metadata {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		h.Write([]byte(k + "=" + r.Metadata[k] + "\x00"))
	}
	return hex.EncodeToString(h.Sum(nil))[:32]
}

// AmountDecimal returns the amount, or nil for a full refund. Anything
// but the empty string or a valid amount is an error, never a full refund:
// a record that was altered or written by a buggy producer must not refund
// the whole transaction.
func (r Request) AmountDecimal() (*decimal.Decimal, error) {
	if r.Amount == "" {
		return nil, nil
	}
	d, err := ParseAmount(r.Amount)
	if err != nil {
		return nil, fmt.Errorf("amount %q: %w", r.Amount, err)
	}
	return &d, nil
}

// RedactURL strips credentials, query and fragment from a callback URL so
// it can be shown or logged.
func RedactURL(raw string) string {
	u, err := url.Parse(raw)
	if err != nil {
		return "[unparseable url]"
	}
	u.User, u.RawQuery, u.Fragment, u.ForceQuery = nil, "", "", false
	return u.String()
}
