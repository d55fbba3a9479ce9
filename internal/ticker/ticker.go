// Package ticker runs background chores on a fixed period until their
// context ends: the worker's sweep and breaker reports, the import report's
// heartbeat and the demo's clock.
package ticker

import (
	"context"
	"time"
)

// Run calls f every d until ctx ends. A call that overruns the period
// delays the next one rather than piling up, as time.Ticker drops ticks.
func Run(ctx context.Context, d time.Duration, f func(context.Context)) {
	t := time.NewTicker(d)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			f(ctx)
		}
	}
}
