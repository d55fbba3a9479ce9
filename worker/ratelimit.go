package worker

import (
	"context"
	"fmt"
	"math/rand/v2"
	"time"

	"github.com/go-redis/redis_rate/v10"
)

// minRateWait is the shortest rate-limit deferral: asynq schedules retries
// in whole seconds, so a shorter one only spins the task.
const minRateWait = time.Second

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
