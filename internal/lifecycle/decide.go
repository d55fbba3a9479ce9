// Package lifecycle is the one place that decides what a provider answer
// means for a refund, and what settling a refund involves. The worker and
// the operator actions both go through it, so a rule such as "never resend
// a refund the provider acknowledged" is written once.
//
// Decide functions are pure: they read a record and an answer and return a
// Step (the compare-and-set to apply, and what to do next). Settler does
// the bookkeeping once a refund is settled.
package lifecycle

import (
	"errors"
	"fmt"
	"time"

	"github.com/refundq/refundq/internal/freedompay"
	"github.com/refundq/refundq/internal/refund"
	"github.com/refundq/refundq/internal/store"
)

// DefaultSettleWindow is how long request status must keep answering "not
// found" after the last send before refundq believes the request never
// arrived. A real status endpoint can lag behind the refund call, and a
// call can commit after the client gave up; docs/provider.md lists this as
// an assumption to confirm with Freedom Pay.
const DefaultSettleWindow = 15 * time.Minute

// Rules are the timings answers are judged by.
type Rules struct {
	// SettleWindow: see DefaultSettleWindow. It also bounds how long an
	// acknowledged refund may stay unknown to request status, and how long
	// replies the provider profile does not know are waited out.
	SettleWindow time.Duration
	// PollDelay is the wait before status poll n (0-based).
	PollDelay func(n int) time.Duration
	// CallTimeout is the longest a refund call may run. A call whose end
	// was never recorded (its worker died) may have ended that long after
	// it started, and a late commit counts from the end.
	CallTimeout time.Duration
}

// Next is what the caller does after a step.
type Next int

const (
	// Poll: ask request status after Step.After.
	Poll Next = iota + 1
	// Resend: the provider has shown over the settle window that it never
	// got the request; send it again with the same request_id.
	Resend
	// Settled: terminal or needs_attention.
	Settled
	// Retry: nothing reached the provider; retry the submit with backoff,
	// spending the failure budget.
	Retry
	// Wait: the provider is rate limiting; try the same call after
	// Step.After without spending the budget.
	Wait
	// AskStatus: a rejection came after an ambiguous attempt; ask request
	// status now before believing it.
	AskStatus
)

// Step is the outcome of one answer.
type Step struct {
	// Change is the compare-and-set to apply. A zero To means no state
	// change: only Note is logged.
	Change store.Change
	Next   Next
	After  time.Duration
	// Note is the event logged when there is no Change.
	Note string
	// Err is the call's error, for Retry and for logs.
	Err error
}

// RateLimitWait is how long a 429 defers the next call.
const RateLimitWait = 2 * time.Second

// DecideSubmit judges the reply to a refund call. before is the record as
// it was before the submitting transition, after as that transition wrote
// it (in state submitting).
func DecideSubmit(before, after *refund.Record, resp *freedompay.Response, err error, now time.Time, r Rules) Step {
	from := []refund.State{refund.Submitting}
	if err == nil {
		return submitAnswered(before, resp, r)
	}
	var pe *freedompay.Error
	errors.As(err, &pe)
	switch {
	case errors.Is(err, freedompay.ErrInvalidRequest):
		return parked(unsent(before, from, false), refund.AttentionBadAmount, "not sent: "+err.Error())
	case freedompay.KindOf(err) == freedompay.KindDuplicate:
		c := acked(from, refund.Processing, "duplicate", "provider already has this request_id; polling")
		return Step{Change: c, Next: Poll, After: r.PollDelay(0)}
	case freedompay.KindOf(err) == freedompay.KindPermanent:
		return rejected(before, from, pe, r)
	case freedompay.KindOf(err) == freedompay.KindAuth:
		return parked(unsent(before, from, false), refund.AttentionCredentialRejected, "provider refused the credential: "+reply(pe))
	case freedompay.KindOf(err) == freedompay.KindConfig:
		return parked(unsent(before, from, false), refund.AttentionProviderConfig, "provider URL is wrong: "+reply(pe))
	case freedompay.KindOf(err) == freedompay.KindRateLimited:
		// The provider answered and took nothing, so the send does not
		// count for the settle window; it does count as the first send,
		// so a provider that throttles a refund for ever meets its deadline.
		c := unsent(before, from, true)
		c.Event, c.Detail = "rate_limited", err.Error()
		return Step{Change: c, Next: Wait, After: RateLimitWait, Err: err}
	case freedompay.KindOf(err) == freedompay.KindRetryable:
		c := unsent(before, from, false)
		c.Event, c.Detail = "error", "not sent: "+err.Error()
		return Step{Change: c, Next: Retry, Err: err}
	}
	// Ambiguous: it may have executed. Reconcile on the poll chain, before
	// anything is sent again. The settle window counts from now, when the
	// client gave up, not from when the call began: a provider's late
	// commit counts from the moment its client went away.
	c := store.Change{From: from, To: refund.Unknown, Ambiguous: true, LastSentAt: now, Event: "ambiguous", Detail: describe(err)}
	if pe != nil && pe.Unrecognized && after.UnrecognizedSince.IsZero() {
		c.UnrecognizedSince = now
	}
	return Step{Change: c, Next: Poll, After: r.PollDelay(0), Err: err}
}

// submitAnswered handles a refund call that got a request_status.
func submitAnswered(before *refund.Record, resp *freedompay.Response, r Rules) Step {
	from := []refund.State{refund.Submitting}
	c := acked(from, refund.Processing, "status", "request_status "+resp.RequestStatus)
	c.RequestStatus, c.FinDocumentID = resp.RequestStatus, resp.FinDocumentID
	switch resp.RequestStatus {
	case freedompay.RequestSuccess:
		c.To = refund.Succeeded
		return Step{Change: c, Next: Settled}
	case freedompay.RequestError:
		if before.Ambiguous {
			return doubt(c, "request_status error on a resend")
		}
		c.To, c.Reason = refund.Failed, "provider request_status error"
		return Step{Change: c, Next: Settled}
	}
	return Step{Change: c, Next: Poll, After: r.PollDelay(0)}
}

// rejected handles a permanent rejection: a failure only when no earlier
// attempt was ambiguous.
func rejected(before *refund.Record, from []refund.State, pe *freedompay.Error, _ Rules) Step {
	what := fmt.Sprintf("rejected (%s): %s", pe.Reason, reply(pe))
	c := store.Change{From: from, Event: "rejected", Detail: what, ProviderCode: pe.Code, ProviderMessage: pe.Message}
	if before.Ambiguous {
		return doubt(c, what)
	}
	c.To, c.Reason = refund.Failed, "rejected by provider: "+pe.Reason
	return Step{Change: c, Next: Settled}
}

// doubt holds a rejection that follows an ambiguous attempt until request
// status has been asked: the earlier attempt may have paid.
func doubt(c store.Change, what string) Step {
	c.To, c.DoubtedRejection = refund.Unknown, what
	c.Detail = what + "; an earlier attempt's outcome is unknown, so asking request status before believing it"
	return Step{Change: c, Next: AskStatus}
}

// unsent undoes the send a submitting transition recorded, for a call that
// provably executed nothing: a refund never sent before goes back to
// queued. keepFirst keeps the first send, for a call the provider answered
// (and so reached it) without taking it.
func unsent(before *refund.Record, from []refund.State, keepFirst bool) store.Change {
	c := store.Change{From: from, To: refund.Unknown}
	if before.State == refund.Queued {
		c.To = refund.Queued
		c.Clear = append(c.Clear, store.FactLastSent)
		if !keepFirst && before.FirstSentAt.IsZero() {
			c.Clear = append(c.Clear, store.FactFirstSent)
		}
		return c
	}
	if before.LastSentAt.IsZero() {
		c.Clear = append(c.Clear, store.FactLastSent)
	} else {
		c.LastSentAt = before.LastSentAt
	}
	return c
}

// DecideStatus judges a request status answer for rec, which is in
// submitting (a run found a call whose outcome it never learned), unknown,
// processing or, for an operator's reconcile, needs_attention.
func DecideStatus(rec *refund.Record, resp *freedompay.Response, err error, now time.Time, r Rules) Step {
	from := []refund.State{rec.State}
	// A refund found in submitting had a call whose outcome nobody learned.
	ambiguous := rec.State == refund.Submitting
	var pe *freedompay.Error
	errors.As(err, &pe)
	var s Step
	switch {
	case err == nil:
		s = statusAnswered(rec, from, resp, now, r)
	case freedompay.KindOf(err) == freedompay.KindNotFound:
		s = notFound(rec, from, now, r)
	case freedompay.KindOf(err) == freedompay.KindRateLimited:
		// No event: a busy provider would push the refund's history out of
		// its bounded log.
		return Step{Next: Wait, After: RateLimitWait, Err: err}
	case freedompay.KindOf(err) == freedompay.KindAuth:
		s = parked(store.Change{From: from}, refund.AttentionCredentialRejected, "request status refused the credential: "+reply(pe))
	case freedompay.KindOf(err) == freedompay.KindConfig:
		s = parked(store.Change{From: from}, refund.AttentionProviderConfig, "request status URL is wrong: "+reply(pe))
	default:
		s = unavailable(rec, from, pe, err, now, r)
	}
	if s.Change.To != "" {
		s.Change.Polls = 1
		s.Change.Ambiguous = s.Change.Ambiguous || ambiguous
	}
	return s
}

func statusAnswered(rec *refund.Record, from []refund.State, resp *freedompay.Response, now time.Time, r Rules) Step {
	c := acked(from, refund.Processing, "status", "request_status "+resp.RequestStatus)
	c.RequestStatus, c.FinDocumentID = resp.RequestStatus, resp.FinDocumentID
	c.Clear = append(c.Clear, store.FactNotFoundSince, store.FactUnrecognized)
	switch resp.RequestStatus {
	case freedompay.RequestSuccess:
		c.To = refund.Succeeded
		return Step{Change: c, Next: Settled}
	case freedompay.RequestError:
		switch {
		case rec.DoubtedRejection != "":
			return parked(c, refund.AttentionDoubtedRejection, bothFacts(rec, "request_status error"))
		case unconfirmed(rec) && now.Sub(sendEnded(rec, now, r)) < r.SettleWindow:
			return errorTooSoon(rec, from, now, r)
		}
		c.To, c.Reason = refund.Failed, "provider request_status error"
		return Step{Change: c, Next: Settled}
	}
	return Step{Change: c, Next: Poll, After: r.PollDelay(rec.Polls + 1)}
}

// unconfirmed reports whether the provider has yet to show, by answering a
// refund call, that it has this request: every send so far ended without
// an answer. Until then a status answer may describe a request the
// provider has not caught up with.
func unconfirmed(rec *refund.Record) bool {
	return !rec.Acknowledged && rec.State != refund.Processing
}

// errorTooSoon waits out a request_status error that came within the
// settle window of a send whose outcome is unknown. A provider that
// answers an unknown request_id with request_status error (its reply to
// one is undocumented) would otherwise fail a refund whose call commits a
// moment later. An error that still stands once the window has passed is
// final.
func errorTooSoon(rec *refund.Record, from []refund.State, now time.Time, r Rules) Step {
	c := store.Change{From: from, To: rec.State, Event: "status", Detail: fmt.Sprintf(
		"request_status error %s after a send whose outcome is unknown; believed only once it stands after the %s settle window",
		now.Sub(sendEnded(rec, now, r)).Round(time.Second), r.SettleWindow)}
	if rec.State == refund.Submitting {
		c.To = refund.Unknown
	}
	if rec.State == refund.NeedsAttention {
		return Step{Next: Settled, Note: c.Detail}
	}
	return Step{Change: c, Next: Poll, After: r.PollDelay(rec.Polls + 1)}
}

// notFound applies the settle window. Not found proves that a request never
// arrived only when the not-found answers span the window from the last
// send; an acknowledged request is never resent, and parks once the
// provider has forgotten it for a whole window.
func notFound(rec *refund.Record, from []refund.State, now time.Time, r Rules) Step {
	since := rec.NotFoundSince
	c := store.Change{From: from, To: rec.State, Event: "reconcile"}
	if since.IsZero() {
		since, c.NotFoundSince = now, now
	}
	if rec.State == refund.Submitting {
		c.To = refund.Unknown
	}
	switch {
	case rec.DoubtedRejection != "":
		return parked(c, refund.AttentionDoubtedRejection, bothFacts(rec, "request status: not found"))
	case rec.Acknowledged || rec.State == refund.Processing:
		if now.Sub(since) >= r.SettleWindow {
			return parked(c, refund.AttentionForgotten, fmt.Sprintf(
				"provider acknowledged this request_id but request status has not found it since %s", since.UTC().Format(time.RFC3339)))
		}
		c.Detail = "request status: not found, but the provider acknowledged this request_id earlier; it is never resent"
	case !rec.UnrecognizedSince.IsZero():
		// A reply in a vocabulary the profile does not know may have been an
		// acceptance: it is never followed by a resend.
		if now.Sub(rec.UnrecognizedSince) >= r.SettleWindow {
			return parked(c, refund.AttentionUnknownReplies, fmt.Sprintf(
				"the provider answered the refund call in a way the profile does not know, and request status has not found it since %s",
				since.UTC().Format(time.RFC3339)))
		}
		c.Detail = "request status: not found after a refund reply the profile does not know; it is never resent"
	case now.Sub(windowStart(rec, since, r)) >= r.SettleWindow:
		c.Detail = fmt.Sprintf("request status: not found since %s (%s after the last send), a whole settle window; resending with the same request_id",
			since.UTC().Format(time.RFC3339), since.Sub(sentAt(rec, since)).Round(time.Second))
		if rec.State == refund.NeedsAttention {
			return Step{Change: store.Change{}, Next: Resend, Note: c.Detail}
		}
		return Step{Change: c, Next: Resend}
	default:
		c.Detail = fmt.Sprintf("request status: not found %s after the last send; a resend waits until not found has lasted the %s settle window",
			now.Sub(sentAt(rec, since)).Round(time.Second), r.SettleWindow)
	}
	if rec.State == refund.NeedsAttention {
		return Step{Next: Settled, Note: c.Detail}
	}
	return Step{Change: c, Next: Poll, After: r.PollDelay(rec.Polls + 1)}
}

// sentAt is the last send, or for a record without one, the first
// not-found answer.
func sentAt(rec *refund.Record, since time.Time) time.Time {
	if rec.LastSentAt.IsZero() {
		return since
	}
	return rec.LastSentAt
}

// sendEnded is the latest moment the last send can have ended: when its
// client gave up, if that was recorded, or a whole call after it began.
func sendEnded(rec *refund.Record, since time.Time, r Rules) time.Time {
	t := sentAt(rec, since)
	if rec.State == refund.Submitting || !rec.Ambiguous {
		t = t.Add(r.CallTimeout)
	}
	return t
}

// windowStart is when the settle window starts: the later of the end of
// the last send and the first of the not-found answers since. "Not found"
// proves a request never arrived only when the answers themselves span
// the window: one "not found" after a long status outage proves nothing
// about the time before it.
func windowStart(rec *refund.Record, since time.Time, r Rules) time.Time {
	start := sendEnded(rec, since, r)
	if since.After(start) {
		return since
	}
	return start
}

// unavailable handles a status call that got no usable answer. Replies the
// profile does not know are waited out for a settle window, then parked
// with the raw reply; a provider that is merely down waits for the
// deadline.
func unavailable(rec *refund.Record, from []refund.State, pe *freedompay.Error, err error, now time.Time, r Rules) Step {
	c := store.Change{From: from, To: rec.State, Event: "reconcile", Detail: "status unavailable: " + describe(err)}
	if rec.State == refund.Submitting {
		c.To = refund.Unknown
	}
	if pe != nil && pe.Unrecognized {
		since := rec.UnrecognizedSince
		if since.IsZero() {
			since, c.UnrecognizedSince = now, now
		}
		if now.Sub(since) >= r.SettleWindow {
			return parked(c, refund.AttentionUnknownReplies, "the provider kept answering in a way the profile does not know: "+reply(pe))
		}
	}
	if rec.State == refund.NeedsAttention {
		return Step{Next: Settled, Note: c.Detail, Err: err}
	}
	return Step{Change: c, Next: Poll, After: r.PollDelay(rec.Polls + 1), Err: err}
}

// Parked moves a refund from any unsettled state to needs_attention with
// reason a. It is the change every path to needs_attention uses.
func Parked(rec *refund.Record, a refund.Attention, why string) store.Change {
	return parked(store.Change{From: []refund.State{rec.State}}, a, why).Change
}

func parked(c store.Change, a refund.Attention, why string) Step {
	c.To, c.ReasonCode, c.Reason = refund.NeedsAttention, a, why
	c.Event, c.Detail = "needs_attention", why
	if len(c.From) == 1 && c.From[0] == refund.NeedsAttention {
		return Step{Next: Settled, Note: why}
	}
	return Step{Change: c, Next: Settled}
}

func acked(from []refund.State, to refund.State, event, detail string) store.Change {
	return store.Change{From: from, To: to, Acknowledged: true, Event: event, Detail: detail}
}

func bothFacts(rec *refund.Record, now string) string {
	return fmt.Sprintf("an earlier attempt's outcome is unknown, a later attempt was %s, and %s", rec.DoubtedRejection, now)
}

// describe is an error for the event log, with the raw reply the profile
// did not know.
func describe(err error) string {
	var pe *freedompay.Error
	if errors.As(err, &pe) && pe.Unrecognized {
		return err.Error() + "; reply: " + pe.Reply
	}
	return err.Error()
}

func reply(pe *freedompay.Error) string {
	if pe == nil {
		return "no reply"
	}
	if pe.Reply != "" {
		return pe.Error() + "; reply: " + pe.Reply
	}
	return pe.Error()
}
