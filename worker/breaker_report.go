package worker

import (
	"context"
	"fmt"
	"os"
	"time"

	"go.uber.org/zap"

	"github.com/refundq/refundq/internal/ticker"
)

// breakerReportEvery is how often a worker reports its breakers to Redis
// for the console; a report outlives three of these.
const breakerReportEvery = 5 * time.Second

// reportBreakers tells Redis, every few seconds until ctx ends, the state
// of this process's circuit breakers: they live in memory here, and the
// console shows every worker's (store.Breakers).
func (w *Worker) reportBreakers(ctx context.Context) {
	host, _ := os.Hostname()
	id := fmt.Sprintf("%s:%d", host, os.Getpid())
	report := func(ctx context.Context) {
		if states := w.protection.states(); len(states) > 0 {
			if err := w.store.ReportBreakers(ctx, id, states, 3*breakerReportEvery); err != nil && ctx.Err() == nil {
				w.log.Debug("breaker report failed", zap.Error(err))
			}
		}
	}
	report(ctx)
	ticker.Run(ctx, breakerReportEvery, report)
}

// states is each merchant's breaker state: closed, half-open or open.
func (g *protector) states() map[string]string {
	g.mu.Lock()
	defer g.mu.Unlock()
	out := make(map[string]string, len(g.breakers))
	for m, b := range g.breakers {
		out[m] = b.cb.State().String()
	}
	return out
}
