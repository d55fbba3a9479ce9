package worker

import (
	"context"
	"slices"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/refundq/refundq/internal/refund"
	"github.com/refundq/refundq/internal/store"
)

// stateCollector reports refunds per unsettled state and the age of the
// oldest pending one, read from the store's state indexes at scrape time.
// Reading at scrape time keeps every worker's numbers identical and right
// after restarts, which a process-local gauge would not be.
type stateCollector struct {
	store  *store.Redis
	now    func() time.Time
	count  *prometheus.Desc
	oldest *prometheus.Desc
}

func newStateCollector(s *store.Redis, now func() time.Time) *stateCollector {
	return &stateCollector{
		store: s, now: now,
		count: prometheus.NewDesc("refundq_refunds", "Refunds currently in each unsettled state (held included).", []string{"state"}, nil),
		oldest: prometheus.NewDesc("refundq_oldest_pending_seconds",
			"Time since the least recently changed unsettled refund last changed.", nil, nil),
	}
}

func (c *stateCollector) Describe(ch chan<- *prometheus.Desc) { ch <- c.count; ch <- c.oldest }

func (c *stateCollector) Collect(ch chan<- prometheus.Metric) {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	counts, since, err := c.store.StateCounts(ctx)
	if err != nil {
		ch <- prometheus.NewInvalidMetric(c.count, err)
		return
	}
	var oldest time.Time
	for _, st := range refund.Unsettled() {
		ch <- prometheus.MustNewConstMetric(c.count, prometheus.GaugeValue, float64(counts[st]), string(st))
		// Held and needs_attention refunds wait for a person, visibly:
		// they have their own counts, not an age as pending work.
		if t, ok := since[st]; ok && slices.Contains(refund.Pending(), st) && (oldest.IsZero() || t.Before(oldest)) {
			oldest = t
		}
	}
	age := 0.0
	if !oldest.IsZero() {
		age = c.now().Sub(oldest).Seconds()
	}
	ch <- prometheus.MustNewConstMetric(c.oldest, prometheus.GaugeValue, age)
}
