// Package providercheck is refundq's go-live conformance check: a short,
// scripted and safe conversation with a Card API host that learns its real
// reply vocabulary. Each step provokes one kind of reply (a bad signature, a
// status for a request_id never sent, a refund of a transaction that does
// not exist, an over-refund, one small real refund, its duplicate, and polls
// until it is final), shows the raw reply and the meaning the current
// provider profile gives it, says whether that is the meaning it must have,
// and drafts a profile from what the provider actually said.
package providercheck

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"time"

	"github.com/google/uuid"
	"github.com/shopspring/decimal"

	"github.com/refundq/refundq/internal/freedompay"
)

// Config is one check run.
type Config struct {
	BaseURL    string
	Credential freedompay.Credential
	// Profile is the vocabulary under test (nil: the shipped default).
	Profile *freedompay.Profile
	// TransactionID or OrderID names the test transaction the real refund
	// and the over-refund are made against.
	TransactionID, OrderID string
	// Amount is the small real refund, in major units.
	Amount decimal.Decimal
	// OverAmount is the over-refund; it must exceed what the transaction
	// can refund (default 9999999999.99).
	OverAmount decimal.Decimal
	// PollEvery and PollFor bound the polls of the real refund.
	PollEvery, PollFor time.Duration
	// CallTimeout bounds one call (default 30s).
	CallTimeout time.Duration
}

// MinOverAmount is the smallest over-refund the check sends: an amount no
// test transaction can cover, so the step can only be refused. A smaller
// one could simply be paid.
var MinOverAmount = decimal.New(1, 9) // 1,000,000,000.00

// Expect is the meaning a step's reply must have.
type Expect struct {
	// Meaning is a profile meaning, or "answer" for a documented success
	// reply.
	Meaning freedompay.Meaning
	// Reason is the rejection reason a rejected reply must give.
	Reason string
	// Statuses, for an answer, are the request_status values allowed.
	Statuses []string
}

const meaningAnswer freedompay.Meaning = "answer"

func (e Expect) String() string {
	switch {
	case e.Meaning == meaningAnswer:
		return fmt.Sprintf("answer %v", e.Statuses)
	case e.Reason != "":
		return string(e.Meaning) + " (" + e.Reason + ")"
	}
	return string(e.Meaning)
}

// Step is one exchange of the conversation and its verdict.
type Step struct {
	Name   string
	Expect Expect
	Got    freedompay.Exchange
	// Meaning is what the profile made of the reply.
	Meaning string
	OK      bool
	// Note adds what the step learned, such as how long request status
	// lagged behind the refund call.
	Note string
}

// Report is a whole run.
type Report struct {
	Steps []Step
	// RequestID is the real refund's request_id, and OverRefundID the
	// over-refund's: the two that could move money, to ask the provider
	// about.
	RequestID, OverRefundID string
	// StatusLag is how long request status answered "not found" for the
	// real refund after it was accepted: a lower bound for the settle
	// window.
	StatusLag time.Duration
}

// OK reports whether every step got the meaning it must have.
func (r *Report) OK() bool {
	for _, s := range r.Steps {
		if !s.OK {
			return false
		}
	}
	return len(r.Steps) > 0
}

// Run holds the conversation. It returns an error only when it cannot be
// held at all (bad configuration); every surprise from the provider is a
// step that is not OK.
func Run(ctx context.Context, cfg Config) (*Report, error) {
	if err := cfg.defaults(); err != nil {
		return nil, err
	}
	r := &runner{cfg: cfg, rep: &Report{RequestID: uuid.NewString()}}
	good, err := r.client(cfg.Credential)
	if err != nil {
		return nil, err
	}
	forged, err := r.client(freedompay.Credential{AuthID: cfg.Credential.AuthID, Secret: randomSecret()})
	if err != nil {
		return nil, err
	}
	r.step(ctx, "bad signature", Expect{Meaning: freedompay.MeaningAuthError}, func(ctx context.Context) {
		_, _ = forged.Status(ctx, uuid.NewString())
	})
	r.step(ctx, "status of a request_id never sent", Expect{Meaning: freedompay.MeaningNotFound}, func(ctx context.Context) {
		_, _ = good.Status(ctx, uuid.NewString())
	})
	small := cfg.Amount
	r.step(ctx, "refund of a transaction that does not exist", Expect{Meaning: freedompay.MeaningRejected, Reason: "unknown_transaction"},
		func(ctx context.Context) {
			_, _ = good.Refund(ctx, freedompay.RefundRequest{RequestID: uuid.NewString(), TransactionID: "refundq-check-" + randomHex(6), Amount: &small})
		})
	over, overID := cfg.OverAmount, uuid.NewString()
	r.rep.OverRefundID = overID
	r.step(ctx, "over-refund of the test transaction", Expect{Meaning: freedompay.MeaningRejected, Reason: "over_refund"},
		func(ctx context.Context) { _, _ = good.Refund(ctx, r.refund(&over, overID)) })
	if last := r.rep.Steps[len(r.rep.Steps)-1]; last.Got.Resp != nil {
		// The provider took an over-refund: stop before sending anything
		// else, and say which request_id to ask it about.
		r.rep.Steps[len(r.rep.Steps)-1].Note = fmt.Sprintf("THE PROVIDER ACCEPTED THE OVER-REFUND (request_id %s): money may have moved; "+
			"ask Freedom Pay about it; the check stopped here", overID)
		return r.rep, nil
	}
	accepted := []string{freedompay.RequestProcess, freedompay.RequestSuccess}
	r.step(ctx, "small real refund", Expect{Meaning: meaningAnswer, Statuses: accepted},
		func(ctx context.Context) { _, _ = good.Refund(ctx, r.refund(&small, r.rep.RequestID)) })
	r.step(ctx, "the same refund again (duplicate request_id)", Expect{Meaning: freedompay.MeaningDuplicate},
		func(ctx context.Context) { _, _ = good.Refund(ctx, r.refund(&small, r.rep.RequestID)) })
	r.poll(ctx, good)
	return r.rep, nil
}

func (c *Config) defaults() error {
	switch {
	case c.BaseURL == "":
		return errors.New("providercheck: no base URL")
	case c.Credential.AuthID == "" || c.Credential.Secret == "":
		return errors.New("providercheck: no credential")
	case c.TransactionID == "" && c.OrderID == "":
		return errors.New("providercheck: name the test transaction (transaction_id or order_id)")
	case !c.Amount.IsPositive():
		return errors.New("providercheck: the real refund needs an amount above zero")
	}
	if c.Profile == nil {
		c.Profile = freedompay.DefaultProfile()
	}
	if c.OverAmount.IsZero() {
		c.OverAmount = decimal.RequireFromString("9999999999.99")
	}
	if c.OverAmount.LessThan(MinOverAmount) {
		return fmt.Errorf("providercheck: the over-refund must be at least %s, so that no test transaction can cover it; got %s",
			MinOverAmount.StringFixed(2), c.OverAmount.StringFixed(2))
	}
	if c.PollEvery <= 0 {
		c.PollEvery = 2 * time.Second
	}
	if c.PollFor <= 0 {
		c.PollFor = 5 * time.Minute
	}
	if c.CallTimeout <= 0 {
		c.CallTimeout = 30 * time.Second
	}
	return nil
}

// runner holds one conversation's state.
type runner struct {
	cfg  Config
	rep  *Report
	last freedompay.Exchange
}

func (r *runner) client(cred freedompay.Credential) (*freedompay.Client, error) {
	return freedompay.New(cred, freedompay.WithBaseURL(r.cfg.BaseURL), freedompay.WithProfile(r.cfg.Profile),
		freedompay.WithTrace(func(x freedompay.Exchange) { r.last = x }))
}

func (r *runner) refund(amount *decimal.Decimal, id string) freedompay.RefundRequest {
	return freedompay.RefundRequest{RequestID: id, TransactionID: r.cfg.TransactionID, OrderID: r.cfg.OrderID,
		Description: "refundq provider-check", Amount: amount}
}

// step makes one call, judges its reply and records it.
func (r *runner) step(ctx context.Context, name string, want Expect, call func(context.Context)) {
	r.rep.Steps = append(r.rep.Steps, r.exchange(ctx, name, want, call))
}

// exchange makes one call and judges its reply.
func (r *runner) exchange(ctx context.Context, name string, want Expect, call func(context.Context)) Step {
	ctx, cancel := context.WithTimeout(ctx, r.cfg.CallTimeout)
	defer cancel()
	r.last = freedompay.Exchange{}
	call(ctx)
	s := Step{Name: name, Expect: want, Got: r.last}
	s.Meaning, s.OK = judge(r.last, want)
	return s
}

// poll asks request status about the real refund until it is final, and
// records the last answer. "Not found" in between is a lagging status
// endpoint, which the report measures; "process" and transient errors are
// waited out; anything else ends the polls as a mismatch.
func (r *runner) poll(ctx context.Context, c *freedompay.Client) {
	want := Expect{Meaning: meaningAnswer, Statuses: []string{freedompay.RequestSuccess, freedompay.RequestError}}
	start := time.Now()
	for {
		s := r.exchange(ctx, "poll until final", want, func(ctx context.Context) { _, _ = c.Status(ctx, r.rep.RequestID) })
		kind := freedompay.KindOf(s.Got.Err)
		if kind == freedompay.KindNotFound {
			r.rep.StatusLag = time.Since(start)
		}
		inProgress := s.Got.Resp != nil && s.Got.Resp.RequestStatus == freedompay.RequestProcess
		transient := kind == freedompay.KindNotFound || kind == freedompay.KindRetryable || kind == freedompay.KindRateLimited ||
			(kind == freedompay.KindAmbiguous && !unrecognized(s.Got.Err))
		late := time.Since(start) > r.cfg.PollFor || ctx.Err() != nil
		if s.OK || late || !(inProgress || transient) {
			switch {
			case r.rep.StatusLag > 0:
				s.Note = fmt.Sprintf("request status answered not found for %s after the refund was accepted", r.rep.StatusLag.Round(time.Second))
			case !s.OK && late:
				s.Note = fmt.Sprintf("not final after %s of polls", r.cfg.PollFor)
			}
			r.rep.Steps = append(r.rep.Steps, s)
			return
		}
		select {
		case <-ctx.Done():
		case <-time.After(r.cfg.PollEvery):
		}
	}
}

func unrecognized(err error) bool {
	var pe *freedompay.Error
	return errors.As(err, &pe) && pe.Unrecognized
}

// judge names what the profile made of an exchange and whether it is what
// the step must get.
func judge(x freedompay.Exchange, want Expect) (string, bool) {
	if x.Err == nil && x.Resp != nil {
		got := "answer " + x.Resp.RequestStatus
		if want.Meaning != meaningAnswer {
			return got, false
		}
		for _, st := range want.Statuses {
			if st == x.Resp.RequestStatus {
				return got, true
			}
		}
		return got, false
	}
	var pe *freedompay.Error
	if !errors.As(x.Err, &pe) {
		return "no answer: " + fmt.Sprint(x.Err), false
	}
	got := meaningOf(pe)
	switch {
	case pe.Unrecognized:
		return got, false
	case want.Meaning == meaningAnswer:
		return got, false
	}
	return got, got == want.String()
}

// meaningOf is the profile's meaning of a classified error, as Expect
// prints it.
func meaningOf(pe *freedompay.Error) string {
	if pe.Unrecognized {
		return "ambiguous (no profile rule)"
	}
	m := map[freedompay.Kind]freedompay.Meaning{
		freedompay.KindNotFound: freedompay.MeaningNotFound, freedompay.KindDuplicate: freedompay.MeaningDuplicate,
		freedompay.KindPermanent: freedompay.MeaningRejected, freedompay.KindRateLimited: freedompay.MeaningRateLimited,
		freedompay.KindAuth: freedompay.MeaningAuthError, freedompay.KindConfig: freedompay.MeaningConfigError,
		freedompay.KindAmbiguous: freedompay.MeaningAmbiguous, freedompay.KindRetryable: "not sent",
	}[pe.Kind]
	if pe.Reason != "" {
		return string(m) + " (" + pe.Reason + ")"
	}
	return string(m)
}

func randomSecret() freedompay.Secret { return freedompay.Secret(randomHex(32)) }

func randomHex(n int) string {
	b := make([]byte, n)
	_, _ = rand.Read(b) // crypto/rand.Read never fails on Linux
	return hex.EncodeToString(b)
}
