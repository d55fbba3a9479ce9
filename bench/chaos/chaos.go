package main

import (
	"context"
	"math/rand/v2"
	"sync"
	"sync/atomic"
	"time"
)

// chaos runs the faults of one profile against the live system: a SIGKILL
// every few seconds, one graceful stop, one Redis crash, one provider
// outage. Times count from the start of the intake.
type chaos struct {
	rec   *recorder
	p     profile
	fleet *fleet
	redis *redisServer
	sim   *simProc
	rng   *rand.Rand // used by the killer goroutine only

	kills     atomic.Int64
	terms     atomic.Int64
	termTook  atomic.Int64 // nanoseconds of the graceful stop
	restarts  atomic.Int64 // redis-server
	redisDown atomic.Int64 // nanoseconds from SIGKILL to serving again
	outages   atomic.Int64
}

func (c *chaos) run(ctx context.Context) {
	var wg sync.WaitGroup
	wg.Go(func() { c.killer(ctx) })
	wg.Go(func() { c.at(ctx, c.p.gracefulAt, c.graceful) })
	wg.Go(func() { c.at(ctx, c.p.redisRestartAt, c.restartRedis) })
	wg.Go(func() { c.at(ctx, c.p.outageAt, c.outage) })
	wg.Wait()
}

// at runs f once d has passed, unless ctx ends first.
func (c *chaos) at(ctx context.Context, d time.Duration, f func(context.Context)) {
	select {
	case <-ctx.Done():
	case <-time.After(d):
		f(ctx)
	}
}

// killer SIGKILLs a random worker every killEvery (±50%) until the chaos
// window closes. The last kill is what the run's tail waits for: asynq
// gives the killed worker's tasks back only after their 30s lease and the
// next 60s recoverer pass.
func (c *chaos) killer(ctx context.Context) {
	end := time.Now().Add(c.p.chaosWindow)
	for {
		gap := c.p.killEvery/2 + time.Duration(c.rng.Int64N(int64(c.p.killEvery)))
		if time.Now().Add(gap).After(end) {
			return
		}
		select {
		case <-ctx.Done():
			return
		case <-time.After(gap):
		}
		i := c.rng.IntN(len(c.fleet.slots))
		if err := c.fleet.crash(i); err != nil {
			c.rec.violate("SIGKILL worker-%d: %v", i+1, err)
			continue
		}
		c.kills.Add(1)
		c.rec.logf("SIGKILL worker-%d, restarted", i+1)
	}
}

// graceful SIGTERMs a worker mid-run: it must finish what it holds and
// exit 0, and what it did not start must go back to the queue.
func (c *chaos) graceful(context.Context) {
	i := c.fleet.longestRunning()
	code, took, err := c.fleet.stopGracefully(i)
	c.terms.Add(1)
	c.termTook.Store(int64(took))
	switch {
	case err != nil:
		c.rec.violate("graceful stop of worker-%d: %v", i+1, err)
	case code != 0:
		c.rec.violate("worker-%d exited %d after SIGTERM, want 0", i+1, code)
	default:
		c.rec.logf("SIGTERM worker-%d: exited 0 after %s, restarted", i+1, took.Round(time.Millisecond))
	}
}

func (c *chaos) restartRedis(ctx context.Context) {
	began := time.Now()
	c.rec.logf("SIGKILL redis-server")
	if err := c.redis.restart(ctx, c.p.redisDown); err != nil {
		c.rec.violate("redis restart: %v", err)
		return
	}
	c.restarts.Add(1)
	c.redisDown.Store(int64(time.Since(began)))
	c.rec.logf("redis-server back after %s (AOF reloaded)", time.Since(began).Round(time.Millisecond))
}

// outage takes the provider away: every Card API call answers 503 and
// nothing executes, then it comes back.
func (c *chaos) outage(ctx context.Context) {
	if err := c.sim.setDown(ctx, true); err != nil {
		c.rec.violate("provider outage: %v", err)
		return
	}
	c.rec.logf("provider down for %s", c.p.outage)
	select {
	case <-ctx.Done():
	case <-time.After(c.p.outage):
	}
	// Bring it back even if the run is ending: the audit reads the ledger.
	if err := c.sim.setDown(context.WithoutCancel(ctx), false); err != nil {
		c.rec.violate("provider back up: %v", err)
		return
	}
	c.outages.Add(1)
	c.rec.logf("provider back up")
}
