package lifecycle

import (
	"errors"
	"testing"
	"time"

	"github.com/refundq/refundq/internal/freedompay"
	"github.com/refundq/refundq/internal/refund"
	"github.com/refundq/refundq/internal/store"
)

var (
	t0    = time.Date(2026, 12, 1, 10, 0, 0, 0, time.UTC)
	rules = Rules{SettleWindow: 10 * time.Minute, CallTimeout: 30 * time.Second, PollDelay: func(int) time.Duration { return time.Second }}
)

func perr(kind freedompay.Kind, mods ...func(*freedompay.Error)) error {
	e := &freedompay.Error{Kind: kind, Endpoint: freedompay.PathRefund, HTTPStatus: 200, Code: "X", Message: "m", Reason: "over_refund"}
	for _, m := range mods {
		m(e)
	}
	return e
}

func unrecognized(e *freedompay.Error) { e.Unrecognized, e.Reply = true, `{"weird":1}` }

func answer(rs string) *freedompay.Response {
	return &freedompay.Response{Status: "ok", RequestStatus: rs}
}

// sentRecord is a refund whose first and last send were at t0.
func sentRecord(st refund.State, mods ...func(*refund.Record)) *refund.Record {
	r := &refund.Record{State: st, Version: refund.RecordVersion, Attempts: 1, FirstSentAt: t0, LastSentAt: t0}
	for _, m := range mods {
		m(r)
	}
	return r
}

func ambiguous(r *refund.Record)    { r.Ambiguous = true }
func acknowledged(r *refund.Record) { r.Acknowledged = true }

// DecideSubmit, case by case: what a refund call's reply means.
func TestDecideSubmit(t *testing.T) {
	queued := &refund.Record{State: refund.Queued, Version: refund.RecordVersion}
	resent := sentRecord(refund.Unknown, ambiguous)
	cases := []struct {
		name   string
		before *refund.Record
		resp   *freedompay.Response
		err    error
		to     refund.State
		next   Next
		reason refund.Attention
	}{
		{"accepted in process", queued, answer("process"), nil, refund.Processing, Poll, ""},
		{"accepted and done", queued, answer("success"), nil, refund.Succeeded, Settled, ""},
		{"declined on the first attempt", queued, answer("error"), nil, refund.Failed, Settled, ""},
		{"declined on a resend after an ambiguous attempt", resent, answer("error"), nil, refund.Unknown, AskStatus, ""},
		{"duplicate", resent, nil, perr(freedompay.KindDuplicate), refund.Processing, Poll, ""},
		{"rejected on the first attempt", queued, nil, perr(freedompay.KindPermanent), refund.Failed, Settled, ""},
		{"rejected after an ambiguous attempt", resent, nil, perr(freedompay.KindPermanent), refund.Unknown, AskStatus, ""},
		{"credential refused", queued, nil, perr(freedompay.KindAuth), refund.NeedsAttention, Settled, refund.AttentionCredentialRejected},
		{"route missing", queued, nil, perr(freedompay.KindConfig), refund.NeedsAttention, Settled, refund.AttentionProviderConfig},
		{"rate limited, never sent before", queued, nil, perr(freedompay.KindRateLimited), refund.Queued, Wait, ""},
		{"rate limited on a resend", resent, nil, perr(freedompay.KindRateLimited), refund.Unknown, Wait, ""},
		{"not written, never sent before", queued, nil, perr(freedompay.KindRetryable), refund.Queued, Retry, ""},
		{"no reply", queued, nil, perr(freedompay.KindAmbiguous), refund.Unknown, Poll, ""},
		{"reply the profile does not know", queued, nil, perr(freedompay.KindAmbiguous, unrecognized), refund.Unknown, Poll, ""},
		{"not from the client at all", queued, nil, errors.New("boom"), refund.Unknown, Poll, ""},
		{"amount refused by the client", queued, nil, freedompay.ErrInvalidRequest, refund.NeedsAttention, Settled, refund.AttentionBadAmount},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			after := *c.before
			after.State, after.LastSentAt = refund.Submitting, t0.Add(time.Hour)
			s := DecideSubmit(c.before, &after, c.resp, c.err, t0.Add(time.Hour), rules)
			if s.Change.To != c.to || s.Next != c.next || s.Change.ReasonCode != c.reason {
				t.Fatalf("to %s next %v reason %q, want %s %v %q (detail %q)", s.Change.To, s.Next, s.Change.ReasonCode,
					c.to, c.next, c.reason, s.Change.Detail)
			}
			if c.to == refund.Failed && c.before.Ambiguous {
				t.Fatal("failed after an ambiguous attempt")
			}
		})
	}
}

// A call that reached nobody undoes the send it recorded, so the settle
// window counts only sends that may have arrived.
func TestUnsentRestoresTheLastSend(t *testing.T) {
	before := sentRecord(refund.Unknown, ambiguous)
	s := DecideSubmit(before, sentRecord(refund.Submitting), nil, perr(freedompay.KindRetryable), t0.Add(time.Hour), rules)
	if !s.Change.LastSentAt.Equal(t0) {
		t.Fatalf("last send %v, want it put back to %v", s.Change.LastSentAt, t0)
	}
	s = DecideSubmit(&refund.Record{State: refund.Queued}, sentRecord(refund.Submitting), nil, perr(freedompay.KindRetryable), t0, rules)
	if s.Change.To != refund.Queued || len(s.Change.Clear) != 2 {
		t.Fatalf("first attempt not sent: %+v, want back to queued with its send times cleared", s.Change)
	}
	// A 429 reached the provider: the first send stands, so a provider that
	// throttles a refund for ever cannot keep it queued past its deadline.
	s = DecideSubmit(&refund.Record{State: refund.Queued}, sentRecord(refund.Submitting), nil, perr(freedompay.KindRateLimited), t0, rules)
	if s.Change.To != refund.Queued || len(s.Change.Clear) != 1 || s.Change.Clear[0] != store.FactLastSent {
		t.Fatalf("first attempt throttled: %+v, want back to queued keeping its first send", s.Change)
	}
}

// DecideStatus, case by case, with the settle window.
func TestDecideStatus(t *testing.T) {
	window := rules.SettleWindow
	notFoundSince := func(d time.Duration) func(*refund.Record) {
		return func(r *refund.Record) { r.NotFoundSince = t0.Add(d) }
	}
	doubted := func(r *refund.Record) { r.DoubtedRejection = "rejected (over_refund)" }
	cases := []struct {
		name   string
		rec    *refund.Record
		at     time.Duration // after t0, the last send
		resp   *freedompay.Response
		err    error
		to     refund.State
		next   Next
		reason refund.Attention
	}{
		{"found in process", sentRecord(refund.Unknown), time.Second, answer("process"), nil, refund.Processing, Poll, ""},
		{"found done", sentRecord(refund.Unknown), time.Second, answer("success"), nil, refund.Succeeded, Settled, ""},
		{"found declined", sentRecord(refund.Processing, acknowledged), time.Second, answer("error"), nil, refund.Failed, Settled, ""},
		{"declined after a doubted rejection", sentRecord(refund.Unknown, ambiguous, doubted), time.Second, answer("error"), nil,
			refund.NeedsAttention, Settled, refund.AttentionDoubtedRejection},
		{"success wins over a doubted rejection", sentRecord(refund.Unknown, ambiguous, doubted), time.Second, answer("success"), nil,
			refund.Succeeded, Settled, ""},
		{"not found a second after the send", sentRecord(refund.Unknown), time.Second, nil, perr(freedompay.KindNotFound),
			refund.Unknown, Poll, ""},
		{"not found just inside the window", sentRecord(refund.Unknown, ambiguous, notFoundSince(time.Second)), window, nil,
			perr(freedompay.KindNotFound), refund.Unknown, Poll, ""},
		{"not found over the whole window", sentRecord(refund.Unknown, ambiguous, notFoundSince(time.Second)), window + time.Second, nil,
			perr(freedompay.KindNotFound), refund.Unknown, Resend, ""},
		{"crash mid-call: the window counts from the latest the call could end", sentRecord(refund.Submitting, notFoundSince(time.Second)),
			window + time.Second, nil, perr(freedompay.KindNotFound), refund.Unknown, Poll, ""},
		{"crash mid-call, not found a window after the call's end", sentRecord(refund.Submitting, notFoundSince(time.Second)),
			window + rules.CallTimeout, nil, perr(freedompay.KindNotFound), refund.Unknown, Resend, ""},
		{"the first not found, after a long status outage", sentRecord(refund.Unknown, ambiguous), 3 * window, nil,
			perr(freedompay.KindNotFound), refund.Unknown, Poll, ""},
		{"not found a whole window after that first one", sentRecord(refund.Unknown, ambiguous, notFoundSince(2*window)), 3 * window, nil,
			perr(freedompay.KindNotFound), refund.Unknown, Resend, ""},
		{"acknowledged, not found a day later", sentRecord(refund.Unknown, acknowledged), 24 * time.Hour, nil,
			perr(freedompay.KindNotFound), refund.Unknown, Poll, ""},
		{"acknowledged, forgotten for the window", sentRecord(refund.Processing, acknowledged, notFoundSince(time.Second)), window + time.Second, nil,
			perr(freedompay.KindNotFound), refund.NeedsAttention, Settled, refund.AttentionForgotten},
		{"processing counts as acknowledged", sentRecord(refund.Processing, notFoundSince(time.Second)), 2 * window, nil,
			perr(freedompay.KindNotFound), refund.NeedsAttention, Settled, refund.AttentionForgotten},
		{"doubted rejection, not found", sentRecord(refund.Unknown, ambiguous, doubted), time.Second, nil,
			perr(freedompay.KindNotFound), refund.NeedsAttention, Settled, refund.AttentionDoubtedRejection},
		{"status unavailable", sentRecord(refund.Unknown), 2 * window, nil, perr(freedompay.KindAmbiguous), refund.Unknown, Poll, ""},
		{"unknown replies inside the window", sentRecord(refund.Unknown), time.Second, nil, perr(freedompay.KindAmbiguous, unrecognized),
			refund.Unknown, Poll, ""},
		{"unknown replies for the window", sentRecord(refund.Unknown, func(r *refund.Record) { r.UnrecognizedSince = t0 }), window, nil,
			perr(freedompay.KindAmbiguous, unrecognized), refund.NeedsAttention, Settled, refund.AttentionUnknownReplies},
		{"status credential refused", sentRecord(refund.Processing, acknowledged), time.Second, nil, perr(freedompay.KindAuth),
			refund.NeedsAttention, Settled, refund.AttentionCredentialRejected},
		{"rate limited", sentRecord(refund.Processing, acknowledged), time.Second, nil, perr(freedompay.KindRateLimited), "", Wait, ""},
		{"declined a second after a send nobody answered", sentRecord(refund.Unknown, ambiguous), time.Second, answer("error"), nil,
			refund.Unknown, Poll, ""},
		{"declined still, a window after that send", sentRecord(refund.Unknown, ambiguous), window, answer("error"), nil,
			refund.Failed, Settled, ""},
		{"declined right after a crash mid-call", sentRecord(refund.Submitting), window, answer("error"), nil,
			refund.Unknown, Poll, ""},
		{"not found after a refund reply nobody understood", sentRecord(refund.Unknown, ambiguous, func(r *refund.Record) { r.UnrecognizedSince = t0 }),
			time.Minute, nil, perr(freedompay.KindNotFound), refund.Unknown, Poll, ""},
		{"...for the whole window: parked, never resent", sentRecord(refund.Unknown, ambiguous, func(r *refund.Record) { r.UnrecognizedSince = t0 }),
			window, nil, perr(freedompay.KindNotFound), refund.NeedsAttention, Settled, refund.AttentionUnknownReplies},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			s := DecideStatus(c.rec, c.resp, c.err, t0.Add(c.at), rules)
			if s.Change.To != c.to || s.Next != c.next || s.Change.ReasonCode != c.reason {
				t.Fatalf("to %s next %v reason %q, want %s %v %q (detail %q)", s.Change.To, s.Next, s.Change.ReasonCode,
					c.to, c.next, c.reason, s.Change.Detail)
			}
			if c.next == Resend && (c.rec.Acknowledged || c.rec.State == refund.Processing) {
				t.Fatal("an acknowledged refund is resent")
			}
			if c.rec.State == refund.Submitting && s.Change.To != "" && !s.Change.Ambiguous {
				t.Fatal("a call found mid-flight was not marked ambiguous")
			}
		})
	}
}

// An operator's reconcile of a needs_attention refund changes nothing on
// "not found": it never resends, and says so.
func TestDecideStatusOfAParkedRefund(t *testing.T) {
	rec := sentRecord(refund.NeedsAttention, acknowledged)
	s := DecideStatus(rec, nil, perr(freedompay.KindNotFound), t0.Add(time.Hour), rules)
	if s.Change.To != "" || s.Next == Resend || s.Note == "" {
		t.Fatalf("parked acknowledged refund: %+v", s)
	}
	rec = sentRecord(refund.NeedsAttention, func(r *refund.Record) { r.NotFoundSince = t0.Add(time.Minute) })
	s = DecideStatus(rec, nil, perr(freedompay.KindNotFound), t0.Add(time.Hour), rules)
	if s.Change.To != "" || s.Next != Resend {
		t.Fatalf("parked never-acknowledged refund, not found for an hour: %+v, want a report that retry would resend", s)
	}
}

func TestPastDeadline(t *testing.T) {
	cases := []struct {
		name string
		rec  *refund.Record
		late bool
	}{
		{"queued for days, never sent", &refund.Record{State: refund.Queued, CreatedAt: t0.Add(-72 * time.Hour)}, false},
		{"queued, throttled by the provider for a day", &refund.Record{State: refund.Queued, FirstSentAt: t0.Add(-25 * time.Hour)}, true},
		{"accepted days ago, first sent now", &refund.Record{State: refund.Processing, CreatedAt: t0.Add(-72 * time.Hour), FirstSentAt: t0}, false},
		{"first sent a day ago", &refund.Record{State: refund.Processing, FirstSentAt: t0.Add(-25 * time.Hour)}, true},
		{"retried by an operator since", &refund.Record{State: refund.Unknown, FirstSentAt: t0.Add(-25 * time.Hour), ResumedAt: t0.Add(-time.Hour)}, false},
		{"settled", &refund.Record{State: refund.NeedsAttention, FirstSentAt: t0.Add(-25 * time.Hour)}, false},
	}
	for _, c := range cases {
		if _, late := PastDeadline(c.rec, t0, 24*time.Hour); late != c.late {
			t.Errorf("%s: late %v, want %v", c.name, late, c.late)
		}
	}
}
