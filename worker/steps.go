package worker

import (
	"context"
	"errors"
	"fmt"
	"time"

	"go.uber.org/zap"

	"github.com/refundq/refundq/internal/freedompay"
	"github.com/refundq/refundq/internal/lifecycle"
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

// action is what one run decided asynq should do next.
type action struct {
	kind   actionKind
	after  time.Duration
	reason string
	err    error
}

func done() action                             { return action{kind: actDone} }
func fail(err error) action                    { return action{kind: actFail, err: err} }
func waitFor(d time.Duration, r string) action { return action{kind: actWait, after: d, reason: r} }

// advance moves a refund one step along queued → submitting → processing →
// terminal. It must be called with the refund's lock held.
func (w *Worker) advance(ctx context.Context, j *job) action {
	if j.rec.State == refund.Held {
		// It waits for an approver and has no task of its own; a stray
		// one (a tool's, a hand-made one) ends here and sends nothing.
		j.log.Warn("a task ran for a held refund; it waits for approval and was not sent")
		return done()
	}
	if j.p == nil {
		return w.park(ctx, j, refund.AttentionNoCredential, fmt.Sprintf("no credential configured for merchant %q", j.rec.Merchant))
	}
	switch j.rec.State {
	case refund.Queued:
		return w.submit(ctx, j)
	case refund.Submitting, refund.Unknown, refund.Processing:
		// A refund found in submitting or unknown may have reached the
		// provider: ask before anything is sent again.
		return w.askStatus(ctx, j)
	}
	return done()
}

// submit records submitting, then sends the refund with its fixed
// request_id. Recording first means a crash mid-call leaves a refund that the
// next run reconciles instead of blindly resending. The rate limit and the
// breaker are passed before that, so a refund they hold back stays as it was.
func (w *Worker) submit(ctx context.Context, j *job) action {
	if _, err := j.rec.AmountDecimal(); err != nil {
		return w.park(ctx, j, refund.AttentionBadAmount, "stored "+err.Error()+"; nothing sent")
	}
	release, err := j.p.admit(ctx)
	if err != nil {
		return heldBack(err)
	}
	defer release()
	before := j.rec
	rec, err := w.store.Transition(ctx, before.RequestID, sendChange(before))
	if err != nil && !errors.Is(err, store.ErrNotReplicated) {
		return w.storeFailed(ctx, j, err, "submit")
	}
	return w.send(ctx, j, before, rec, err)
}

// sendChange records a send from base, the record as read (queued, or
// unknown for a resend); nil is a claim's, which sends from queued and
// whose record the script reads itself.
func sendChange(base *refund.Record) store.Change {
	from, detail := refund.Queued, "first send"
	if base != nil {
		from, detail = base.State, fmt.Sprintf("attempt %d", base.Attempts+1)
	}
	return store.Change{From: []refund.State{from}, To: refund.Submitting, Attempts: 1, Sent: true, Base: base,
		Event: "submit", Detail: detail}
}

// send makes the refund call that rec, in submitting, records; before is
// the record it was recorded from. unreplicated is ErrNotReplicated when
// the record of the send may not survive a failover: a later run would then
// send again, so no call is made and the send is taken back.
func (w *Worker) send(ctx context.Context, j *job, before, rec *refund.Record, unreplicated error) action {
	j.rec = rec
	amount, err := rec.AmountDecimal()
	switch {
	case unreplicated != nil:
		err = &freedompay.Error{Kind: freedompay.KindRetryable, Endpoint: freedompay.PathRefund, Err: unreplicated}
	case err != nil:
		// Only a claim gets here: it records the send before it has read
		// the amount. The client would refuse it all the same.
		err = fmt.Errorf("%w: stored %w", freedompay.ErrInvalidRequest, err)
	}
	if err != nil {
		return w.apply(ctx, ctx, j, lifecycle.DecideSubmit(before, rec, nil, err, w.cfg.Now(), w.rules()))
	}
	j.called = true
	j.log.Info("submitting refund", zap.Int("attempt", rec.Attempts), zap.String("amount", rec.Amount))
	callCtx, cancel := context.WithTimeout(ctx, w.cfg.ProviderTimeout)
	resp, err := j.p.Refund(callCtx, freedompay.RefundRequest{
		RequestID: rec.RequestID, OrderID: rec.OrderID, TransactionID: rec.TransactionID,
		Description: rec.Description, Amount: amount,
	})
	cancel()
	if err != nil {
		j.log.Warn("refund call failed", zap.Stringer("kind", freedompay.KindOf(err)), zap.Error(err))
	}
	// The provider may have acted: record what it said even if our own
	// context ends now.
	wctx, wcancel := context.WithTimeout(context.WithoutCancel(ctx), 10*time.Second)
	defer wcancel()
	return w.apply(wctx, ctx, j, lifecycle.DecideSubmit(before, rec, resp, err, w.cfg.Now(), w.rules()))
}

// askStatus asks the provider about the refund's request_id and applies
// the answer.
func (w *Worker) askStatus(ctx context.Context, j *job) action {
	callCtx, cancel := context.WithTimeout(ctx, w.cfg.ProviderTimeout)
	resp, err := j.p.Status(callCtx, j.rec.RequestID)
	cancel()
	if a, held := deferred(err); held {
		return a
	}
	wctx, wcancel := context.WithTimeout(context.WithoutCancel(ctx), 10*time.Second)
	defer wcancel()
	return w.apply(wctx, ctx, j, lifecycle.DecideStatus(j.rec, resp, err, w.cfg.Now(), w.rules()))
}

// apply writes a step's change and carries out what comes next. wctx is
// for the writes, which must outlive the task's context; ctx is for
// further provider calls, which must not.
func (w *Worker) apply(wctx, ctx context.Context, j *job, s lifecycle.Step) action {
	c := s.Change
	if c.To != "" {
		// This run's step ends with the change, which releases the lock in
		// the same round trip; a terminal refund's lock is left to expire,
		// since nothing will ever need it again.
		ends := s.Next != lifecycle.Resend && s.Next != lifecycle.AskStatus
		if ends && !c.To.Terminal() {
			c.Unlock = j.token
		}
		c.Base = j.rec
		rec, err := w.store.Transition(wctx, j.rec.RequestID, c)
		if err != nil {
			return w.storeFailed(wctx, j, err, c.Detail)
		}
		j.rec = rec
		if ends {
			j.token = ""
		}
	} else if s.Note != "" {
		w.addEvent(wctx, j, "reconcile", s.Note)
	}
	switch s.Next {
	case lifecycle.Settled:
		return w.settled(wctx, j)
	case lifecycle.Resend:
		j.log.Info("resending with the same request_id", zap.String("why", c.Detail))
		return w.submit(ctx, j)
	case lifecycle.AskStatus:
		return w.askStatus(ctx, j)
	case lifecycle.Retry:
		return fail(s.Err)
	case lifecycle.Wait:
		return waitFor(jitter(s.After), "provider rate limit")
	}
	return action{kind: actPoll, after: s.After, reason: string(j.rec.State)}
}

// park moves a refund to needs_attention. It is the only way out for a
// refund the worker cannot settle by itself, and it always says why.
func (w *Worker) park(ctx context.Context, j *job, a refund.Attention, why string) action {
	wctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 10*time.Second)
	defer cancel()
	c := lifecycle.Parked(j.rec, a, why)
	return w.apply(wctx, ctx, j, lifecycle.Step{Change: c, Next: lifecycle.Settled})
}

// settled finishes a refund this run has settled.
func (w *Worker) settled(ctx context.Context, j *job) action {
	rec := j.rec
	if rec.State == refund.NeedsAttention {
		j.log.Error("refund needs attention", zap.String("reason_code", string(rec.ReasonCode)), zap.String("reason", rec.Reason))
	} else {
		j.log.Info("refund settled", zap.String("state", string(rec.State)), zap.String("request_status", rec.RequestStatus),
			zap.Int("attempts", rec.Attempts), zap.Int("polls", rec.Polls), zap.String("provider_code", rec.ProviderCode))
	}
	if err := w.settler.Settled(ctx, rec); err != nil {
		return fail(err) // settled all the same; the task's next run retries this (see run)
	}
	return done()
}

// storeFailed turns a store error into an action. A refused transition
// means someone else moved the refund; the answer this run was about to
// record goes on the event log rather than nowhere.
func (w *Worker) storeFailed(ctx context.Context, j *job, err error, answer string) action {
	var te *refund.TransitionError
	if !errors.As(err, &te) {
		return fail(err)
	}
	j.log.Warn("refund moved under this run; answer not applied", zap.String("now", string(te.From)), zap.String("answer", answer))
	w.addEvent(ctx, j, "late_answer", fmt.Sprintf("not applied, the refund was already %s: %s", te.From, answer))
	if te.From == refund.Queued && j.called {
		w.lostSend(ctx, j)
	}
	return waitFor(time.Second, err.Error())
}

// lostSend records a send that Redis forgot: this run marked the refund
// submitting and called the provider, and now finds it queued again (a
// restart from an old snapshot, a failover onto a replica that lagged).
// Left queued, it would be sent again at once; recorded as an ambiguous
// send, it is reconciled first, under the settle window.
func (w *Worker) lostSend(ctx context.Context, j *job) {
	_, err := w.store.Transition(ctx, j.rec.RequestID, store.Change{From: []refund.State{refund.Queued}, To: refund.Unknown,
		Sent: true, Ambiguous: true, Attempts: 1, Event: "lost_send",
		Detail: "Redis lost the record of a send this worker made; reconciling before anything is sent again"})
	if err != nil {
		j.log.Error("a send Redis lost could not be recorded; the refund may be sent again", zap.Error(err))
	}
}

func (w *Worker) addEvent(ctx context.Context, j *job, typ, detail string) {
	if err := w.store.AddEvent(ctx, j.rec.RequestID, refund.Event{Type: typ, Detail: detail}); err != nil {
		j.log.Warn("event not recorded", zap.Error(err))
	}
}

func (w *Worker) rules() lifecycle.Rules {
	return lifecycle.Rules{SettleWindow: w.cfg.SettleWindow, PollDelay: w.cfg.pollDelay, CallTimeout: w.cfg.ProviderTimeout}
}
