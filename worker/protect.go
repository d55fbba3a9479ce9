package worker

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"sync"
	"sync/atomic"
	"time"

	"github.com/go-redis/redis_rate/v10"
	"github.com/redis/go-redis/v9"
	"github.com/sony/gobreaker/v2"
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

// minRateWait is the shortest rate-limit deferral: asynq schedules retries
// in whole seconds, so a shorter one only spins the task.
const minRateWait = time.Second

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

// wrap returns p guarded for merchant.
func (g *protector) wrap(merchant string, p Provider) Provider {
	return protected{p: p, g: g, b: g.breaker(merchant), merchant: merchant}
}

// rateKey is the merchant's bucket; redis_rate stores it as "rate:<key>".
func rateKey(merchant string) string { return "refundq:provider:" + merchant }

// paceLimit is the longest rate-limit wait a worker spends in process.
// asynq schedules retries to the whole second, so refunds deferred through
// the queue all return at once on each second boundary and pass in bursts;
// pacing short waits in process spreads calls evenly and keeps any 5s window
// within the limit. A slot is held only as long as a slow provider call would
// hold it; longer waits go back to the queue.
const paceLimit = 500 * time.Millisecond

// paceSpread is the random extra wait between pacing attempts.
const paceSpread = 100 * time.Millisecond

// limit spends one of the merchant's shared tokens, or says how long to wait.
func (g *protector) limit(ctx context.Context, merchant string) error {
	if g.cfg.RateLimit == nil {
		return nil
	}
	n := g.cfg.RateLimit(merchant)
	if n <= 0 {
		return nil
	}
	// A small burst: the bucket, not the queue, evens out the calls.
	lim := redis_rate.Limit{Rate: n, Burst: max(1, n/10), Period: time.Second}
	for waited := false; ; waited = true {
		res, err := g.limiter.Allow(ctx, rateKey(merchant), lim)
		if err != nil {
			return fmt.Errorf("provider rate limit: %w", err)
		}
		if res.Allowed > 0 {
			return nil
		}
		if g.m != nil && !waited {
			g.m.RateLimitWaits.WithLabelValues(merchant).Inc()
		}
		if res.RetryAfter > paceLimit {
			return &deferral{after: jitter(max(res.RetryAfter, minRateWait)), reason: "provider rate limit of merchant " + merchant}
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		// Spread the waiters so they do not all ask Redis at the same instant.
		case <-time.After(res.RetryAfter + rand.N(paceSpread)):
		}
	}
}

// breaker is one merchant's circuit breaker.
type breaker struct {
	cb *gobreaker.TwoStepCircuitBreaker[struct{}]
	// openUntil is when an open breaker lets a probe through (unix nanos):
	// refunds held back by it come back then rather than at a guess.
	openUntil atomic.Int64
}

// breaker returns the merchant's breaker, or nil when breakers are off.
func (g *protector) breaker(merchant string) *breaker {
	if g.cfg.BreakerFailures < 0 {
		return nil
	}
	g.mu.Lock()
	defer g.mu.Unlock()
	if b, ok := g.breakers[merchant]; ok {
		return b
	}
	b := &breaker{}
	b.cb = gobreaker.NewTwoStepCircuitBreaker[struct{}](gobreaker.Settings{
		Name:        merchant,
		Timeout:     g.cfg.BreakerOpen,
		ReadyToTrip: func(c gobreaker.Counts) bool { return c.ConsecutiveFailures >= uint32(g.cfg.BreakerFailures) },
		IsSuccessful: func(err error) bool {
			return !unhealthy(err)
		},
		IsExcluded:    neutral,
		OnStateChange: func(_ string, from, to gobreaker.State) { g.changed(b, merchant, from, to) },
	})
	g.breakers[merchant] = b
	g.gauge(merchant, gobreaker.StateClosed)
	return b
}

// changed runs under the breaker's own lock: it must not call back into it.
func (g *protector) changed(b *breaker, merchant string, from, to gobreaker.State) {
	if to == gobreaker.StateOpen {
		b.openUntil.Store(time.Now().Add(g.cfg.BreakerOpen).UnixNano())
	}
	g.gauge(merchant, to)
	log := g.log.Info
	if to == gobreaker.StateOpen {
		log = g.log.Warn
	}
	log("provider circuit breaker "+to.String(), zap.String("merchant", merchant), zap.Stringer("from", from))
}

// gauge exports the state as 0 closed, 1 half-open, 2 open: gobreaker's
// own numbering.
func (g *protector) gauge(merchant string, s gobreaker.State) {
	if g.m != nil {
		g.m.BreakerState.WithLabelValues(merchant).Set(float64(s))
	}
}

// refusal is the deferral for a call the breaker refused. A half-open
// breaker refuses while its probe is out; that is over within a call.
func (b *breaker) refusal(err error) error {
	after := time.Second
	if errors.Is(err, gobreaker.ErrOpenState) {
		after = max(time.Until(time.Unix(0, b.openUntil.Load())), time.Second)
	}
	return &deferral{after: jitter(after), reason: "provider circuit breaker " + b.cb.State().String() + " for merchant " + b.cb.Name()}
}

// unhealthy reports whether err says the provider itself is failing. A
// rejection, a duplicate or an unknown request is a healthy provider
// answering: a run of declined refunds must not stop the merchant's others.
func unhealthy(err error) bool {
	switch freedompay.KindOf(err) {
	case freedompay.KindAmbiguous, freedompay.KindRetryable:
		return true
	case 0:
		return err != nil // not from the client: assume the worst
	}
	return false
}

// neutral outcomes say nothing about the provider's health: a 429 (up, but
// busy), a call this worker canceled, a slot given back unused.
func neutral(err error) bool {
	return errors.Is(err, errNotCalled) || errors.Is(err, context.Canceled) ||
		freedompay.KindOf(err) == freedompay.KindRateLimited
}

// protected is a Provider that passes the merchant's breaker and rate limit
// before every call, and reports each outcome to the breaker.
type protected struct {
	p        Provider
	g        *protector
	b        *breaker
	merchant string
}

func (p protected) Refund(ctx context.Context, r freedompay.RefundRequest) (*freedompay.Response, error) {
	done, err := p.enter(ctx, "refund")
	if err != nil {
		return nil, err
	}
	resp, err := p.p.Refund(ctx, r)
	done(err)
	return resp, err
}

func (p protected) Status(ctx context.Context, id string) (*freedompay.Response, error) {
	done, err := p.enter(ctx, "status")
	if err != nil {
		return nil, err
	}
	resp, err := p.p.Status(ctx, id)
	done(err)
	return resp, err
}

// enter admits one call: with the permit submit took before it marked the
// refund submitting, or with a new one.
func (p protected) enter(ctx context.Context, endpoint string) (func(error), error) {
	if pm, ok := ctx.Value(permitKey{}).(*permit); ok && pm.b == p.b && pm.claim() {
		return pm.done, nil
	}
	return p.take(ctx, endpoint)
}

// take passes the breaker first, so an open breaker spends no rate tokens.
// A call the breaker refuses counts as outcome breaker_open: while the
// breaker is open the provider error rate stays visible instead of
// dropping to no calls at all.
func (p protected) take(ctx context.Context, endpoint string) (func(error), error) {
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

// permit is one admitted call, carried in the context from admit to the
// call itself.
type permit struct {
	b    *breaker
	done func(error)
	used atomic.Bool
}

type permitKey struct{}

func (pm *permit) claim() bool { return pm.used.CompareAndSwap(false, true) }

// release gives the slot back if the call was never made.
func (pm *permit) release() {
	if pm.claim() {
		pm.done(errNotCalled)
	}
}

// admit takes the permit for the Refund call a submit is about to make,
// before the refund is marked submitting: a refund held back stays where it
// was instead of looking sent, and the call that follows does not queue for
// a second token. release gives the permit back if the call is not made.
func admit(ctx context.Context, p Provider) (_ context.Context, release func(), _ error) {
	pp, ok := p.(protected)
	if !ok {
		return ctx, func() {}, nil
	}
	done, err := pp.take(ctx, "refund")
	if err != nil {
		return ctx, func() {}, err
	}
	pm := &permit{b: pp.b, done: done}
	return context.WithValue(ctx, permitKey{}, pm), pm.release, nil
}
