package worker

import (
	"context"
	"errors"
	"sync"
	"sync/atomic"
	"time"

	"github.com/go-redis/redis_rate/v10"
	"github.com/redis/go-redis/v9"
	"go.uber.org/zap"

	"github.com/refundq/refundq/internal/freedompay"
	"github.com/refundq/refundq/internal/metrics"
)

// Protection keeps workers from overwhelming the provider: a call rate per
// merchant shared by every worker on the same Redis, and a circuit breaker
// per merchant in each process. A call that either holds back is not made,
// and the refund waits without spending its failure budget.
type Protection struct {
	// RateLimit returns the provider calls per second allowed for a
	// merchant's credential across all workers; 0 means no limit. Nil means
	// no limit for anyone. The burst equals the rate.
	RateLimit func(merchant string) int
	// BreakerFailures is how many consecutive failures that suggest the
	// provider is unwell (no reply, a 5xx, an unreadable reply) open a
	// merchant's breaker (default 5; negative turns breakers off).
	// Rejections, duplicates and 429s do not count.
	BreakerFailures int
	// BreakerOpen is how long an open breaker refuses calls before it lets
	// one probe through (default 30s).
	BreakerOpen time.Duration
}

func (p *Protection) setDefaults() {
	if p.BreakerFailures == 0 {
		p.BreakerFailures = 5
	}
	if p.BreakerOpen <= 0 {
		p.BreakerOpen = 30 * time.Second
	}
}

// errNotCalled gives back a breaker slot whose call was never made.
var errNotCalled = errors.New("worker: provider call not made")

// deferral is a provider call that was not made because the rate limit or
// the breaker said wait. It is a wait, never a failure.
type deferral struct {
	after  time.Duration
	reason string
}

func (d *deferral) Error() string { return d.reason }

// deferred turns a held-back call into a wait action.
func deferred(err error) (action, bool) {
	var d *deferral
	if !errors.As(err, &d) {
		return action{}, false
	}
	return waitFor(d.after, d.reason), true
}

// heldBack is the action for a submit that admit refused.
func heldBack(err error) action {
	if a, ok := deferred(err); ok {
		return a
	}
	return fail(err)
}

// protector holds one Worker's protection: the breakers live as long as the
// process, the rate-limit buckets in Redis.
type protector struct {
	cfg     Protection
	limiter *redis_rate.Limiter
	m       *metrics.Metrics
	log     *zap.Logger

	mu       sync.Mutex
	breakers map[string]*breaker
}

func newProtector(rdb redis.UniversalClient, cfg Protection, m *metrics.Metrics, log *zap.Logger) *protector {
	return &protector{cfg: cfg, limiter: redis_rate.NewLimiter(rdb), m: m, log: log, breakers: map[string]*breaker{}}
}

// wrap returns p guarded for merchant, for one task run.
func (g *protector) wrap(merchant string, p freedompay.API) *guarded {
	return &guarded{p: p, g: g, b: g.breaker(merchant), merchant: merchant}
}

// guarded is a Card API client that passes the merchant's breaker and rate limit
// before every call, and reports each outcome to the breaker. It serves one
// task run, so the permit admit takes for the run's first call is its own.
type guarded struct {
	p        freedompay.API
	g        *protector
	b        *breaker
	merchant string
	// admitted is the permit admit took, until a call claims it.
	admitted *permit
}

func (p *guarded) Refund(ctx context.Context, r freedompay.RefundRequest) (*freedompay.Response, error) {
	done, err := p.enter(ctx, "refund")
	if err != nil {
		return nil, err
	}
	resp, err := p.p.Refund(ctx, r)
	done(err)
	return resp, err
}

func (p *guarded) Status(ctx context.Context, id string) (*freedompay.Response, error) {
	done, err := p.enter(ctx, "status")
	if err != nil {
		return nil, err
	}
	resp, err := p.p.Status(ctx, id)
	done(err)
	return resp, err
}

// enter admits one call: with the permit admit took, or with a new one.
func (p *guarded) enter(ctx context.Context, endpoint string) (func(error), error) {
	if pm := p.admitted; pm != nil && pm.claim() {
		return pm.done, nil
	}
	return p.take(ctx, endpoint)
}

// take passes the breaker first, so an open breaker spends no rate tokens.
// A call the breaker refuses counts as outcome breaker_open: while the
// breaker is open the provider error rate stays visible instead of
// dropping to no calls at all.
func (p *guarded) take(ctx context.Context, endpoint string) (func(error), error) {
	done := func(error) {}
	if p.b != nil {
		d, err := p.b.cb.Allow()
		if err != nil {
			if p.g.m != nil {
				p.g.m.ProviderRequests.WithLabelValues(endpoint, "breaker_open").Inc()
			}
			return nil, p.b.refusal(err)
		}
		done = d
	}
	if err := p.g.limit(ctx, p.merchant); err != nil {
		done(errNotCalled)
		return nil, err
	}
	return done, nil
}

// admit takes the permit for the refund call a submit is about to make,
// before the refund is marked submitting: a refund held back stays where it
// was instead of looking sent, and the call that follows does not queue for
// a second token. release gives the permit back if the call is not made.
func (p *guarded) admit(ctx context.Context) (release func(), _ error) {
	done, err := p.take(ctx, "refund")
	if err != nil {
		return func() {}, err
	}
	p.admitted = &permit{done: done}
	return p.admitted.release, nil
}

// permit is one admitted call.
type permit struct {
	done func(error)
	used atomic.Bool
}

func (pm *permit) claim() bool { return pm.used.CompareAndSwap(false, true) }

// release gives the slot back if the call was never made.
func (pm *permit) release() {
	if pm.claim() {
		pm.done(errNotCalled)
	}
}
