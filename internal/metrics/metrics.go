// Package metrics defines refundq's Prometheus metrics. There is no global
// registry: each process builds one Metrics on the registry it serves.
//
// Names follow Prometheus conventions: the refundq_ prefix, base units,
// _total for counters, and no request or order ids in labels.
package metrics

import (
	"errors"
	"fmt"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"

	"github.com/refundq/refundq/internal/freedompay"
	"github.com/refundq/refundq/internal/refund"
)

// Metrics holds every refundq metric a process may emit.
type Metrics struct {
	Enqueued         *prometheus.CounterVec
	ProviderRequests *prometheus.CounterVec
	ProviderDuration *prometheus.HistogramVec
	Terminal         *prometheus.CounterVec
	NeedsAttention   prometheus.Counter
	RefundDuration   *prometheus.HistogramVec
	Polls            prometheus.Histogram
	RefundedAmount   prometheus.Counter
	BreakerState     *prometheus.GaugeVec
	RateLimitWaits   *prometheus.CounterVec
	Callbacks        *prometheus.CounterVec
}

// New creates the metrics and registers them, with the Go and process
// collectors, on reg.
func New(reg prometheus.Registerer) *Metrics {
	m := &Metrics{
		Enqueued:         CounterVec("refundq_enqueued_total", "Refunds accepted for processing, by source.", "source"),
		ProviderRequests: CounterVec("refundq_provider_requests_total", "Card API calls, by endpoint and outcome.", "endpoint", "outcome"),
		ProviderDuration: HistogramVec("refundq_provider_request_duration_seconds", "Card API call latency.", []float64{.005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10, 30, 60}, "endpoint"),
		Terminal:         CounterVec("refundq_refunds_terminal_total", "Refunds that reached a terminal state.", "state"),
		NeedsAttention:   prometheus.NewCounter(prometheus.CounterOpts{Name: "refundq_needs_attention_total", Help: "Refunds moved to needs_attention."}),
		RefundDuration:   HistogramVec("refundq_refund_duration_seconds", "Time from enqueue to a terminal state.", prometheus.ExponentialBuckets(0.05, 2.5, 14), "state"),
		Polls:            prometheus.NewHistogram(prometheus.HistogramOpts{Name: "refundq_refund_polls", Help: "Status polls a refund needed before its terminal state.", Buckets: []float64{0, 1, 2, 3, 5, 8, 13, 21, 50, 100}}),
		RefundedAmount:   prometheus.NewCounter(prometheus.CounterOpts{Name: "refundq_refunded_amount_total", Help: "Sum of succeeded refund amounts, in major currency units."}),
		BreakerState:     prometheus.NewGaugeVec(prometheus.GaugeOpts{Name: "refundq_breaker_state", Help: "Circuit breaker state per merchant: 0 closed, 1 half-open, 2 open."}, []string{"merchant"}),
		RateLimitWaits:   CounterVec("refundq_rate_limit_waits_total", "Provider calls deferred by the shared rate limit.", "merchant"),
		Callbacks:        CounterVec("refundq_callbacks_total", "Merchant callback deliveries, by outcome.", "outcome"),
	}
	m.Enqueued, m.ProviderRequests, m.Terminal = reuse(reg, m.Enqueued), reuse(reg, m.ProviderRequests), reuse(reg, m.Terminal)
	m.RateLimitWaits, m.Callbacks = reuse(reg, m.RateLimitWaits), reuse(reg, m.Callbacks)
	m.ProviderDuration, m.RefundDuration = reuse(reg, m.ProviderDuration), reuse(reg, m.RefundDuration)
	m.NeedsAttention, m.RefundedAmount = reuse(reg, m.NeedsAttention), reuse(reg, m.RefundedAmount)
	m.Polls, m.BreakerState = reuse(reg, m.Polls), reuse(reg, m.BreakerState)
	reuse(reg, collectors.NewGoCollector())
	reuse(reg, collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	m.startAtZero()
	return m
}

// CounterVec is a counter with labels, the shape of most refundq metrics.
func CounterVec(name, help string, labels ...string) *prometheus.CounterVec {
	return prometheus.NewCounterVec(prometheus.CounterOpts{Name: name, Help: help}, labels)
}

// HistogramVec is a histogram with labels, such as a latency by route.
func HistogramVec(name, help string, buckets []float64, labels ...string) *prometheus.HistogramVec {
	return prometheus.NewHistogramVec(prometheus.HistogramOpts{Name: name, Help: help, Buckets: buckets}, labels)
}

// reuse registers c on reg, or, when reg already holds an equal
// collector (another producer, worker or API server of this process made
// its metrics there first), returns that one instead: the process then
// keeps one set of series however many components share the registry.
func reuse[C prometheus.Collector](reg prometheus.Registerer, c C) C {
	err := reg.Register(c)
	var are prometheus.AlreadyRegisteredError
	if errors.As(err, &are) {
		if existing, ok := are.ExistingCollector.(C); ok {
			return existing
		}
	}
	if err != nil {
		panic(fmt.Sprintf("metrics: %v", err))
	}
	return c
}

// startAtZero creates the series of every known label value. rate() and
// increase() cannot see the increment that creates a series, so without
// this the first failures or 429s after a start would never reach the
// alerts, and a quiet panel would show "no data" instead of zero.
func (m *Metrics) startAtZero() {
	for _, st := range []refund.State{refund.Succeeded, refund.Failed, refund.Canceled} {
		m.Terminal.WithLabelValues(string(st))
	}
	outcomes := []string{"ok"}
	for _, k := range freedompay.Kinds() {
		outcomes = append(outcomes, k.String())
	}
	for _, endpoint := range []string{"refund", "status"} {
		for _, o := range outcomes {
			m.ProviderRequests.WithLabelValues(endpoint, o)
		}
	}
}
