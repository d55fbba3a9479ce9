package ops

import (
	"context"
	"fmt"
	"slices"
	"time"

	"go.uber.org/zap"

	"github.com/refundq/refundq/internal/freedompay"
	"github.com/refundq/refundq/internal/refund"
	"github.com/refundq/refundq/internal/store"
	"github.com/refundq/refundq/worker"
)

// Reconciliation is what Reconcile learned and did.
type Reconciliation struct {
	// Before is the refund's state when Reconcile read it.
	Before refund.State
	// Record is the refund after Reconcile.
	Record *refund.Record
	// Answer is the provider's reply; nil when NotFound.
	Answer *freedompay.Response
	// NotFound means the provider has never received this request_id: no
	// money moved. The record is left as it was.
	NotFound bool
	// Applied tells whether the answer changed the record.
	Applied bool
}

// reconcilable are the states whose record an answer may change. A queued
// refund was never sent and a terminal one is final: for them Reconcile
// only reports what the provider says.
var reconcilable = []refund.State{refund.Submitting, refund.Unknown, refund.Processing, refund.NeedsAttention}

// Reconcile asks the provider, once and now, for the status of the
// refund's own request_id and applies the answer: success or error settles
// the refund, anything else makes it processing and resumes polling. It
// holds the refund's lock for the call, so it never races a worker; when a
// worker holds it, Reconcile returns ErrBusy.
func (o *Operator) Reconcile(ctx context.Context, id, by string) (*Reconciliation, error) {
	rec, err := o.store.Get(ctx, id)
	if err != nil {
		return nil, err
	}
	var p worker.Provider
	if o.providers != nil {
		p, _ = o.providers(rec.Merchant)
	}
	if p == nil {
		return nil, fmt.Errorf("%w: %q", ErrNoProvider, rec.Merchant)
	}
	token, ok, err := o.store.Lock(ctx, id, o.timeout+10*time.Second)
	if err != nil {
		return nil, err
	}
	if !ok {
		return nil, ErrBusy
	}
	defer func() { _ = o.store.Unlock(context.WithoutCancel(ctx), id, token) }()
	if rec, err = o.store.Get(ctx, id); err != nil {
		return nil, err
	}
	callCtx, cancel := context.WithTimeout(ctx, o.timeout)
	resp, err := p.Status(callCtx, id)
	cancel()
	r := &Reconciliation{Before: rec.State, Record: rec, Answer: resp}
	log := o.log.With(zap.String("request_id", id), zap.String("order_id", rec.OrderID),
		zap.String("merchant", rec.Merchant), zap.String("by", by))
	switch {
	case freedompay.KindOf(err) == freedompay.KindNotFound:
		r.NotFound = true
		log.Info("operator reconcile: provider has no such request_id")
		return r, o.store.AddEvent(ctx, id, refund.Event{Type: "operator_reconcile",
			Detail: actor(by) + ": provider has never received this request_id; nothing changed"})
	case err != nil:
		return nil, fmt.Errorf("ops: status of %s: %w", id, err)
	}
	log.Info("operator reconcile", zap.String("request_status", resp.RequestStatus))
	if !slices.Contains(reconcilable, rec.State) {
		return r, nil
	}
	return r, o.apply(ctx, r, by)
}

// apply moves the refund by the provider's request_status, the way the
// worker does, and restarts polling for a refund still in progress.
func (o *Operator) apply(ctx context.Context, r *Reconciliation, by string) error {
	resp := r.Answer
	c := store.Change{From: []refund.State{r.Before}, To: refund.Processing, Resume: true,
		RequestStatus: resp.RequestStatus, FinDocumentID: resp.FinDocumentID, Event: "operator_reconcile",
		Detail: actor(by) + ": request_status " + resp.RequestStatus}
	switch resp.RequestStatus {
	case freedompay.RequestSuccess:
		c.To, c.Resume = refund.Succeeded, false
	case freedompay.RequestError:
		c.To, c.Resume, c.Reason = refund.Failed, false, "provider request_status error"
	}
	rec, _, err := o.store.Transition(ctx, r.Record.RequestID, c)
	if err != nil {
		return asStateError("reconcile", err)
	}
	r.Record, r.Applied = rec, true
	if rec.State == refund.Processing {
		return o.ensurePoll(ctx, rec.RequestID)
	}
	return o.settle(ctx, rec)
}
