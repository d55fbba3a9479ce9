package worker

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"time"

	"go.uber.org/zap"

	"github.com/refundq/refundq/internal/freedompay"
	"github.com/refundq/refundq/internal/refund"
	"github.com/refundq/refundq/internal/store"
)

type actionKind int

const (
	actDone actionKind = iota // settled; nothing more to do
	actPoll                   // the provider has it: poll after `after`
	actWait                   // try the same step again after `after`, not a failure
	actFail                   // a transient failure: retry with backoff
)

// action is what one step decided should happen next.
type action struct {
	kind   actionKind
	after  time.Duration
	reason string
	err    error
}

func done() action                             { return action{kind: actDone} }
func fail(err error) action                    { return action{kind: actFail, err: err} }
func waitFor(d time.Duration, r string) action { return action{kind: actWait, after: d, reason: r} }

// rateLimitWait is how long a 429 defers the next call.
const rateLimitWait = 2 * time.Second

// advance moves a refund one step along queued → submitting → processing →
// terminal. It must be called with the refund's lock held.
func (w *Worker) advance(ctx context.Context, j *job) action {
	if j.p == nil {
		return w.needsAttention(ctx, j, fmt.Sprintf("no credential configured for merchant %q", j.rec.Merchant))
	}
	switch j.rec.State {
	case refund.Queued:
		return w.submit(ctx, j, refund.Queued)
	case refund.Submitting, refund.Unknown:
		// A submit may have reached the provider: ask before sending again.
		return w.reconcile(ctx, j)
	case refund.Processing:
		return w.poll(ctx, j)
	}
	return done()
}

// submit records submitting, then sends the refund with its fixed
// request_id. Recording first means a crash mid-call leaves a refund that the
// next run reconciles instead of blindly resending. The rate limit and the
// breaker are passed before that, so a refund they hold back stays as it was.
func (w *Worker) submit(ctx context.Context, j *job, from refund.State) action {
	ctx, release, err := admit(ctx, j.p)
	if err != nil {
		return heldBack(err)
	}
	defer release()
	rec, _, err := w.store.Transition(ctx, j.rec.RequestID, store.Change{
		From: []refund.State{from}, To: refund.Submitting, Attempts: 1,
		Event: "submit", Detail: fmt.Sprintf("attempt %d", j.rec.Attempts+1),
	})
	if err != nil {
		return w.storeFailed(err)
	}
	j.rec = rec
	j.log.Info("submitting refund", zap.Int("attempt", rec.Attempts), zap.String("amount", rec.Amount))
	callCtx, cancel := context.WithTimeout(ctx, w.cfg.ProviderTimeout)
	resp, err := j.p.Refund(callCtx, freedompay.RefundRequest{
		RequestID: rec.RequestID, OrderID: rec.OrderID, TransactionID: rec.TransactionID,
		Description: rec.Description, Amount: rec.AmountDecimal(),
	})
	cancel()
	// The provider may have acted: record what it said even if our own
	// context ends now.
	wctx, wcancel := context.WithTimeout(context.WithoutCancel(ctx), 10*time.Second)
	defer wcancel()
	if err == nil {
		return w.applyStatus(wctx, j, refund.Submitting, resp, 0)
	}
	return w.submitError(wctx, j, err)
}

func (w *Worker) submitError(ctx context.Context, j *job, err error) action {
	j.log.Warn("refund call failed", zap.Stringer("kind", freedompay.KindOf(err)), zap.Error(err))
	var pe *freedompay.Error
	errors.As(err, &pe)
	switch freedompay.KindOf(err) {
	case freedompay.KindDuplicate:
		// The provider already has this request_id: an earlier attempt got
		// through. Poll it; never resubmit under a new id.
		return w.move(ctx, j, store.Change{From: []refund.State{refund.Submitting}, To: refund.Processing,
			Event: "duplicate", Detail: "provider already has this request_id; polling"}, w.cfg.pollDelay(0))
	case freedompay.KindPermanent:
		if credentialProblem(pe) {
			return w.needsAttention(ctx, j, "provider rejected the merchant credential: "+pe.Error())
		}
		return w.finish(ctx, j, refund.Submitting, store.Change{To: refund.Failed, Event: "rejected",
			ProviderCode: pe.Code, ProviderMessage: pe.Message, Detail: pe.Error(), Reason: "rejected by provider"})
	case freedompay.KindRateLimited:
		w.addEvent(ctx, j, "rate_limited", err.Error())
		return waitFor(jitter(rateLimitWait), "provider rate limit")
	case freedompay.KindRetryable:
		w.addEvent(ctx, j, "error", "not sent: "+err.Error())
		return fail(err)
	}
	// Ambiguous: it may have been executed. Reconcile after a short pause,
	// on the poll chain, before anything is sent again.
	return w.move(ctx, j, store.Change{From: []refund.State{refund.Submitting}, To: refund.Unknown,
		Event: "ambiguous", Detail: err.Error()}, w.cfg.pollDelay(0))
}

// credentialProblem tells a bad credential, which an operator must fix and
// which says nothing about the refund itself, from a rejected refund.
func credentialProblem(e *freedompay.Error) bool {
	return e != nil && (e.HTTPStatus == http.StatusUnauthorized || e.HTTPStatus == http.StatusForbidden ||
		e.Code == freedompay.CodeInvalidSignature)
}

// reconcile asks the provider about a refund whose submit outcome is not
// known, and resubmits with the same request_id only if it never arrived.
func (w *Worker) reconcile(ctx context.Context, j *job) action {
	from := j.rec.State
	resp, err := w.status(ctx, j)
	if a, held := deferred(err); held {
		return a
	}
	wctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 10*time.Second)
	defer cancel()
	switch {
	case err == nil:
		return w.applyStatus(wctx, j, from, resp, 1)
	case freedompay.KindOf(err) == freedompay.KindNotFound:
		j.log.Info("reconcile: provider never received the refund; resubmitting with the same request_id")
		w.addEvent(wctx, j, "reconcile", "provider has no such request; resubmitting same request_id")
		return w.submit(ctx, j, from)
	case freedompay.KindOf(err) == freedompay.KindRateLimited:
		return waitFor(jitter(rateLimitWait), "provider rate limit")
	}
	return w.move(wctx, j, store.Change{From: []refund.State{from}, To: refund.Unknown, Polls: 1,
		Event: "reconcile", Detail: "status unavailable: " + err.Error()}, w.cfg.pollDelay(j.rec.Polls+1))
}

// poll asks for the status of a refund the provider has accepted.
func (w *Worker) poll(ctx context.Context, j *job) action {
	resp, err := w.status(ctx, j)
	if a, held := deferred(err); held {
		return a
	}
	wctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 10*time.Second)
	defer cancel()
	switch {
	case err == nil:
		return w.applyStatus(wctx, j, refund.Processing, resp, 1)
	case freedompay.KindOf(err) == freedompay.KindNotFound:
		return w.needsAttention(wctx, j, "provider no longer knows a request it accepted")
	case freedompay.KindOf(err) == freedompay.KindRateLimited:
		return waitFor(jitter(rateLimitWait), "provider rate limit")
	}
	return w.move(wctx, j, store.Change{From: []refund.State{refund.Processing}, To: refund.Processing, Polls: 1,
		Event: "poll", Detail: "status unavailable: " + err.Error()}, w.cfg.pollDelay(j.rec.Polls+1))
}

func (w *Worker) status(ctx context.Context, j *job) (*freedompay.Response, error) {
	callCtx, cancel := context.WithTimeout(ctx, w.cfg.ProviderTimeout)
	defer cancel()
	return j.p.Status(callCtx, j.rec.RequestID)
}

// applyStatus moves the refund by the provider's request_status.
func (w *Worker) applyStatus(ctx context.Context, j *job, from refund.State, resp *freedompay.Response, polls int) action {
	c := store.Change{From: []refund.State{from}, Polls: polls, RequestStatus: resp.RequestStatus,
		FinDocumentID: resp.FinDocumentID, Event: "status", Detail: "request_status " + resp.RequestStatus}
	switch resp.RequestStatus {
	case freedompay.RequestSuccess:
		c.To = refund.Succeeded
		return w.finish(ctx, j, from, c)
	case freedompay.RequestError:
		c.To, c.Reason = refund.Failed, "provider request_status error"
		return w.finish(ctx, j, from, c)
	}
	c.To = refund.Processing
	return w.move(ctx, j, c, w.cfg.pollDelay(j.rec.Polls+polls))
}

// move applies a non-final change and asks for a poll after `after`.
func (w *Worker) move(ctx context.Context, j *job, c store.Change, after time.Duration) action {
	j.release(&c)
	rec, _, err := w.store.Transition(ctx, j.rec.RequestID, c)
	if err != nil {
		return w.storeFailed(err)
	}
	j.rec = rec
	j.released(c)
	return action{kind: actPoll, after: after, reason: string(rec.State)}
}

// storeFailed turns a store error into an action. A refused transition means
// someone else moved the refund: look again shortly.
func (w *Worker) storeFailed(err error) action {
	var te *refund.TransitionError
	if errors.As(err, &te) {
		return waitFor(time.Second, err.Error())
	}
	return fail(err)
}

func (w *Worker) addEvent(ctx context.Context, j *job, typ, detail string) {
	if err := w.store.AddEvent(ctx, j.rec.RequestID, refund.Event{Type: typ, Detail: detail}); err != nil {
		j.log.Warn("event not recorded", zap.Error(err))
	}
}
