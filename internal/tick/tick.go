// Package tick runs the periodic loops of refundq's processes.
package tick

import (
	"context"
	"time"
)

// Every calls f every d until ctx ends, then returns. The first call is
// d after the start: each loop that uses it has nothing to do before.
func Every(ctx context.Context, d time.Duration, f func()) {
	t := time.NewTicker(d)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			f()
		}
	}
}
