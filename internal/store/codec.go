package store

import (
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"time"

	"github.com/refundq/refundq/internal/refund"
)

// Hash field names. Short but readable: a refund hash is written once per
// state change and read on every task run.
const (
	fVersion     = "v"
	fRequestID   = "request_id"
	fIdemKey     = "idempotency_key"
	fMerchant    = "merchant"
	fOrderID     = "order_id"
	fTxnID       = "transaction_id"
	fAmount      = "amount"
	fDescription = "description"
	fCallbackURL = "callback_url"
	fMetadata    = "metadata"
	fParamHash   = "param_hash"
	fState       = "state"
	fSource      = "source"
	fBatchID     = "batch_id"
	fQueue       = "queue"
	fCreatedAt   = "created_at"
	fUpdatedAt   = "updated_at"
	fAttempts    = "attempts"
	fPolls       = "polls"
	fReqStatus   = "request_status"
	fCode        = "provider_code"
	fMessage     = "provider_message"
	fFinDoc      = "fin_document_id"
	fReason      = "reason"
	fReasonCode  = "reason_code"
	fResumedAt   = "resumed_at"
	fFirstSent   = "first_sent_at" // written by transitionScript
	fLastSent    = "last_sent_at"  // written by transitionScript
	fAcked       = "acknowledged"
	fAmbiguous   = "ambiguous"
	fNotFound    = "not_found_since"
	fUnknownRep  = "unrecognized_since"
	fDoubted     = "doubted_rejection"
	fHeldBy      = "held_by"
)

func ms(t time.Time) string { return strconv.FormatInt(t.UnixMilli(), 10) }

// ErrCorrupt marks a stored record or batch that does not decode: a field
// that should be a number or JSON is not. Nothing acts on such a record; it
// is an operator's to look at.
var ErrCorrupt = errors.New("store: stored value does not decode")

// fieldReader reads typed hash fields and keeps the first failure, so a
// decoder reads every field and reports the one that was wrong.
type fieldReader struct {
	h   map[string]string
	err error
}

func (f *fieldReader) fail(field string, err error) {
	if f.err == nil {
		f.err = fmt.Errorf("%w: field %s %q: %w", ErrCorrupt, field, f.h[field], err)
	}
}

// int reads an integer field; absent is zero.
func (f *fieldReader) int(field string) int {
	v, ok := f.h[field]
	if !ok || v == "" {
		return 0
	}
	n, err := strconv.Atoi(v)
	if err != nil {
		f.fail(field, err)
	}
	return n
}

// time reads a unix-milliseconds field; absent is the zero time.
func (f *fieldReader) time(field string) time.Time {
	n := f.int(field)
	if n == 0 {
		return time.Time{}
	}
	return time.UnixMilli(int64(n))
}

func parseMS(s string) time.Time {
	f := fieldReader{h: map[string]string{"t": s}}
	return f.time("t")
}

// encode flattens a record into HSET arguments, leaving out empty fields.
func encode(r *refund.Record) []any {
	args := make([]any, 0, 40)
	put := func(k, v string) {
		if v != "" {
			args = append(args, k, v)
		}
	}
	put(fVersion, strconv.Itoa(refund.RecordVersion))
	put(fRequestID, r.RequestID)
	put(fIdemKey, r.IdempotencyKey)
	put(fMerchant, r.Merchant)
	put(fOrderID, r.OrderID)
	put(fTxnID, r.TransactionID)
	put(fAmount, r.Amount)
	put(fDescription, r.Description)
	put(fCallbackURL, r.CallbackURL)
	if len(r.Metadata) > 0 {
		b, _ := json.Marshal(r.Metadata)
		put(fMetadata, string(b))
	}
	put(fParamHash, r.ParamHash)
	put(fState, string(r.State))
	put(fSource, r.Source)
	put(fBatchID, r.BatchID)
	put(fQueue, r.Queue)
	put(fCreatedAt, ms(r.CreatedAt))
	put(fUpdatedAt, ms(r.UpdatedAt))
	put(fHeldBy, r.HeldBy)
	put(fReason, r.Reason)
	return args
}

// decode reads a record hash. A record from a newer refundq decodes its
// version and request_id only, so a worker can leave it alone without
// guessing at the rest; any other field that does not decode is an error
// wrapping ErrCorrupt.
func decode(h map[string]string) (*refund.Record, error) {
	f := &fieldReader{h: h}
	r := &refund.Record{Version: f.int(fVersion)}
	switch {
	case r.Version < 0:
		f.fail(fVersion, fmt.Errorf("negative version %d", r.Version))
	case r.Version == 0:
		r.Version = 1 // written before records carried a version
	}
	r.RequestID = h[fRequestID]
	if r.Version > refund.RecordVersion || f.err != nil {
		return r, f.err
	}
	r.Request = refund.Request{
		RequestID: h[fRequestID], IdempotencyKey: h[fIdemKey], Merchant: h[fMerchant],
		OrderID: h[fOrderID], TransactionID: h[fTxnID], Amount: h[fAmount],
		Description: h[fDescription], CallbackURL: h[fCallbackURL],
	}
	r.ParamHash, r.State, r.Source, r.BatchID, r.Queue = h[fParamHash], refund.State(h[fState]), h[fSource], h[fBatchID], h[fQueue]
	r.CreatedAt, r.UpdatedAt, r.ResumedAt = f.time(fCreatedAt), f.time(fUpdatedAt), f.time(fResumedAt)
	r.FirstSentAt, r.LastSentAt = f.time(fFirstSent), f.time(fLastSent)
	r.NotFoundSince, r.UnrecognizedSince = f.time(fNotFound), f.time(fUnknownRep)
	r.RequestStatus, r.ProviderCode, r.ProviderMessage = h[fReqStatus], h[fCode], h[fMessage]
	r.FinDocumentID, r.Reason, r.ReasonCode = h[fFinDoc], h[fReason], refund.Attention(h[fReasonCode])
	r.Acknowledged, r.Ambiguous, r.DoubtedRejection = h[fAcked] == "1", h[fAmbiguous] == "1", h[fDoubted]
	r.Attempts, r.Polls = f.int(fAttempts), f.int(fPolls)
	r.HeldBy = h[fHeldBy]
	if m := h[fMetadata]; m != "" {
		if err := json.Unmarshal([]byte(m), &r.Metadata); err != nil {
			f.fail(fMetadata, err)
		}
	}
	r.Callback = decodeCallback(f)
	if !slices.Contains(refund.States(), r.State) {
		f.fail(fState, fmt.Errorf("unknown state %q", r.State))
	}
	if f.err != nil {
		return nil, fmt.Errorf("store: refund %s: %w", r.RequestID, f.err)
	}
	return r, nil
}
