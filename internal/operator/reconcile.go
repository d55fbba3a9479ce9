package operator

import (
	"context"
	"fmt"

	"go.uber.org/zap"

	"github.com/refundq/refundq/internal/freedompay"
	"github.com/refundq/refundq/internal/lifecycle"
	"github.com/refundq/refundq/internal/refund"
)

// Reconciliation is what Reconcile learned and did.
type Reconciliation struct {
	// Before is the refund's state when Reconcile read it.
	Before refund.State
	// Record is the refund after Reconcile.
	Record *refund.Record
	// Answer is the provider's reply; nil when there was none.
	Answer *freedompay.Response
	// Err is the provider error when there was no answer (not found
	// included).
	Err error
	// NotFound means request status does not know the request_id now. It
	// does not mean that no money moved: a status endpoint can lag, and a
	// refund the provider acknowledged is never resent.
	NotFound bool
	// Applied tells whether the answer changed the record.
	Applied bool
	// Verdict says in words what the answer means for the refund.
	Verdict string
}

// reconcilable are the states whose record an answer may change. A queued
// refund was never sent and a terminal one is final: for them Reconcile
// only reports what the provider says.
var reconcilable = map[refund.State]bool{refund.Submitting: true, refund.Unknown: true, refund.Processing: true,
	refund.NeedsAttention: true}

// Reconcile asks the provider, once and now, for the status of the
// refund's own request_id and applies the answer by the workers' rules: a
// final answer settles the refund, "process" resumes polling, and "not
// found" never resends anything by itself. It holds the refund's lock for
// the call; when a worker holds it, Reconcile returns ErrBusy.
func (o *Operator) Reconcile(ctx context.Context, id, by string) (*Reconciliation, error) {
	var r *Reconciliation
	err := o.locked(ctx, id, func(rec *refund.Record, token string) error {
		p, ok := o.provider(rec)
		if !ok {
			return fmt.Errorf("%w: %q", ErrNoProvider, rec.Merchant)
		}
		callCtx, cancel := context.WithTimeout(ctx, o.timeout)
		resp, err := p.Status(callCtx, id)
		cancel()
		r = &Reconciliation{Before: rec.State, Record: rec, Answer: resp, Err: err,
			NotFound: freedompay.KindOf(err) == freedompay.KindNotFound}
		o.logger(rec, by).Info("operator reconcile", zap.Stringer("kind", freedompay.KindOf(err)), zap.Error(err))
		if !reconcilable[rec.State] {
			r.Verdict = fmt.Sprintf("the refund is %s; the answer does not change it", rec.State)
			return nil
		}
		return o.apply(ctx, r, lifecycle.DecideStatus(rec, resp, err, o.now(), o.rules), token, by)
	})
	return r, err
}

func (o *Operator) provider(rec *refund.Record) (freedompay.API, bool) {
	if o.providers == nil {
		return nil, false
	}
	p, ok := o.providers(rec.Merchant)
	return p, ok && p != nil
}

// apply writes a step as the worker would, marked as the operator's, and
// hands a refund that is still in progress back to its poll chain.
func (o *Operator) apply(ctx context.Context, r *Reconciliation, s lifecycle.Step, token, by string) error {
	rec := r.Record
	r.Verdict = verdict(rec, s)
	c := s.Change
	if c.To == "" {
		if s.Next == lifecycle.Wait {
			return fmt.Errorf("ops: the provider is rate limiting; try again shortly: %w", s.Err)
		}
		return o.store.AddEvent(ctx, rec.RequestID, refund.Event{Type: "operator_reconcile", Detail: actor(by) + ": " + r.Verdict})
	}
	c.Event, c.Detail = "operator_reconcile", actor(by)+": "+c.Detail
	c.Unlock, c.Base = token, rec
	// Only an answer that the provider still has it in progress restarts
	// the deadline; a "not found" must not keep a refund alive for ever.
	c.Resume = c.To == refund.Processing && c.RequestStatus == freedompay.RequestProcess
	next, err := o.store.Transition(ctx, rec.RequestID, c)
	if err != nil {
		return asStateError("reconcile", err)
	}
	r.Record, r.Applied = next, true
	if next.State.Settled() {
		return o.settler.Settled(ctx, next)
	}
	_, err = o.ensure(ctx, next)
	return err
}

// verdict says what an answer means for the refund, in the words the CLI
// and the console show.
func verdict(rec *refund.Record, s lifecycle.Step) string {
	c := s.Change
	switch {
	case s.Next == lifecycle.Resend && rec.State == refund.NeedsAttention:
		return s.Note + "; `retry` sends it again with the same request_id"
	case s.Next == lifecycle.Resend:
		return c.Detail + "; a worker sends it again with the same request_id"
	case c.To == refund.Succeeded:
		return "the provider refunded it"
	case c.To == refund.Failed:
		return "the provider reports request_status error for this request_id"
	case c.To == refund.Processing:
		return "the provider still has it in progress; polling resumed and the deadline restarted"
	case c.To == refund.NeedsAttention:
		return c.Reason
	case c.To != "":
		return c.Detail + "; its poll chain keeps asking"
	}
	return s.Note
}

// Reconcilable reports whether Reconcile may change a refund in st.
func Reconcilable(st refund.State) bool { return reconcilable[st] }
