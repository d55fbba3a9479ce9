package worker

import (
	"context"
	"errors"
	"sync/atomic"
	"time"

	"github.com/sony/gobreaker/v2"
	"go.uber.org/zap"

	"github.com/refundq/refundq/internal/freedompay"
)

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
