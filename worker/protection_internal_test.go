package worker

import (
	"context"
	"errors"
	"sync/atomic"
	"testing"
	"time"

	"github.com/sony/gobreaker/v2"
	"go.uber.org/zap"

	"github.com/refundq/refundq/internal/freedompay"
	"github.com/refundq/refundq/internal/testenv"
)

// scriptedProvider answers every call with err and counts the calls.
type scriptedProvider struct {
	err   error
	calls atomic.Int64
}

func (p *scriptedProvider) Refund(context.Context, freedompay.RefundRequest) (*freedompay.Response, error) {
	p.calls.Add(1)
	return &freedompay.Response{}, p.err
}

func (p *scriptedProvider) Status(context.Context, string) (*freedompay.Response, error) {
	p.calls.Add(1)
	return &freedompay.Response{}, p.err
}

func kindErr(k freedompay.Kind) error {
	return &freedompay.Error{Kind: k, Endpoint: freedompay.PathRefund}
}

func TestBreakerCountsOnlyProviderTrouble(t *testing.T) {
	g := newProtector(nil, Protection{BreakerFailures: 3, BreakerOpen: time.Hour}, nil, zap.NewNop())
	fake := &scriptedProvider{}
	p := g.wrap("m1", fake)
	ctx := context.Background()

	// A healthy provider saying no, however often, must not stop refunds.
	for _, k := range []freedompay.Kind{freedompay.KindPermanent, freedompay.KindDuplicate,
		freedompay.KindNotFound, freedompay.KindRateLimited} {
		fake.err = kindErr(k)
		for range 5 {
			if _, err := p.Refund(ctx, freedompay.RefundRequest{}); !errors.Is(err, fake.err) {
				t.Fatalf("%s: got %v, want the provider's error", k, err)
			}
		}
	}
	if got := fake.calls.Load(); got != 20 {
		t.Fatalf("provider saw %d calls, want 20", got)
	}
	fake.err = kindErr(freedompay.KindAmbiguous)
	for range 3 {
		_, _ = p.Status(ctx, "id")
	}
	_, err := p.Refund(ctx, freedompay.RefundRequest{})
	if fake.calls.Load() != 23 {
		t.Fatalf("a call went through the open breaker: %d calls", fake.calls.Load())
	}
	a, held := deferred(err)
	if !held || a.kind != actWait || a.after < 30*time.Minute {
		t.Fatalf("open breaker: got %v (action %+v), want a wait until it may close", err, a)
	}
	if isFailure(wait(a.after, a.reason)) {
		t.Fatal("a breaker wait counts as a failure")
	}
	// Another merchant has its own breaker.
	fake2 := &scriptedProvider{}
	if _, err := g.wrap("m2", fake2).Refund(ctx, freedompay.RefundRequest{}); err != nil || fake2.calls.Load() != 1 {
		t.Fatalf("merchant m2 was held back by m1's breaker: %v", err)
	}
}

func TestUnusedPermitIsGivenBack(t *testing.T) {
	g := newProtector(nil, Protection{BreakerFailures: 1, BreakerOpen: time.Millisecond}, nil, zap.NewNop())
	fake := &scriptedProvider{err: kindErr(freedompay.KindRetryable)}
	p := g.wrap("m", fake)
	_, _ = p.Refund(context.Background(), freedompay.RefundRequest{})
	b := g.breaker("m")
	deadline := time.Now().Add(5 * time.Second)
	for b.cb.State() != gobreaker.StateHalfOpen {
		if time.Now().After(deadline) {
			t.Fatal("breaker never went half-open")
		}
		time.Sleep(time.Millisecond)
	}
	// Half-open admits one probe. A submit that took it and then could not
	// mark the refund submitting must hand it back, or the breaker would
	// refuse every call from then on.
	release, err := p.admit(context.Background())
	if err != nil {
		t.Fatalf("first admit: %v", err)
	}
	if _, err := g.wrap("m", fake).admit(context.Background()); err == nil {
		t.Fatal("half-open breaker admitted two probes")
	}
	release()
	probe := g.wrap("m", fake)
	release, err = probe.admit(context.Background())
	if err != nil {
		t.Fatalf("admit after release: %v", err)
	}
	defer release()
	fake.err = nil
	if _, err := probe.Refund(context.Background(), freedompay.RefundRequest{}); err != nil {
		t.Fatalf("the admitted call was refused: %v", err)
	}
	if s := b.cb.State(); s != gobreaker.StateClosed {
		t.Fatalf("breaker %s after a successful probe, want closed", s)
	}
}

func TestAdmittedCallSpendsOneToken(t *testing.T) {
	r := testenv.StartRedis(t)
	g := newProtector(r.Client(), Protection{BreakerFailures: -1, RateLimit: func(string) int { return 1 }}, nil, zap.NewNop())
	fake := &scriptedProvider{}
	p := g.wrap("m", fake)
	release, err := p.admit(context.Background())
	if err != nil {
		t.Fatalf("admit: %v", err)
	}
	defer release()
	// The bucket holds one token and admit spent it: the call must use the
	// permit, not queue for a second token.
	if _, err := p.Refund(context.Background(), freedompay.RefundRequest{}); err != nil {
		t.Fatalf("admitted call: %v", err)
	}
	_, err = p.Status(context.Background(), "id")
	if _, held := deferred(err); !held || fake.calls.Load() != 1 {
		t.Fatalf("second call in the same second: err %v, %d calls; want it held back", err, fake.calls.Load())
	}
}
