package store

import (
	"encoding/json"
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
	fReplicated  = "replicated_at" // written by Replicate
)

func ms(t time.Time) string { return strconv.FormatInt(t.UnixMilli(), 10) }

func parseMS(s string) time.Time {
	n, _ := strconv.ParseInt(s, 10, 64)
	if n == 0 {
		return time.Time{}
	}
	return time.UnixMilli(n)
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
	return args
}

func decode(h map[string]string) *refund.Record {
	r := &refund.Record{
		Request: refund.Request{
			RequestID: h[fRequestID], IdempotencyKey: h[fIdemKey], Merchant: h[fMerchant],
			OrderID: h[fOrderID], TransactionID: h[fTxnID], Amount: h[fAmount],
			Description: h[fDescription], CallbackURL: h[fCallbackURL],
		},
		ParamHash: h[fParamHash], State: refund.State(h[fState]), Source: h[fSource],
		BatchID: h[fBatchID], Queue: h[fQueue],
		CreatedAt: parseMS(h[fCreatedAt]), UpdatedAt: parseMS(h[fUpdatedAt]),
		RequestStatus: h[fReqStatus], ProviderCode: h[fCode], ProviderMessage: h[fMessage],
		FinDocumentID: h[fFinDoc], Reason: h[fReason], ReasonCode: refund.Attention(h[fReasonCode]),
		ResumedAt: parseMS(h[fResumedAt]), FirstSentAt: parseMS(h[fFirstSent]), LastSentAt: parseMS(h[fLastSent]),
		Acknowledged: h[fAcked] == "1", Ambiguous: h[fAmbiguous] == "1", NotFoundSince: parseMS(h[fNotFound]),
		UnrecognizedSince: parseMS(h[fUnknownRep]),
		DoubtedRejection:  h[fDoubted],
	}
	r.Version = 1
	if v, err := strconv.Atoi(h[fVersion]); err == nil {
		r.Version = v
	}
	r.Attempts, _ = strconv.Atoi(h[fAttempts])
	r.Polls, _ = strconv.Atoi(h[fPolls])
	if m := h[fMetadata]; m != "" {
		_ = json.Unmarshal([]byte(m), &r.Metadata)
	}
	r.Callback = decodeCallback(h)
	return r
}
