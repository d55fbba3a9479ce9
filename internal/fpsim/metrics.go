package fpsim

import (
	"github.com/prometheus/client_golang/prometheus"
)

// metrics are registered on the simulator's own registry, never the global
// default one, so several simulators (parallel tests) and the worker's own
// metrics in the same process cannot collide.
type metrics struct {
	requests   *prometheus.CounterVec
	executions prometheus.Counter
	faults     *prometheus.CounterVec
}

func newMetrics(reg *prometheus.Registry) *metrics {
	m := &metrics{
		requests: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "fpsim_requests_total",
			Help: "Card API calls by endpoint (refund, status) and result (ok, a lower-case native error code in either dialect, fault, client_gone).",
		}, []string{"endpoint", "result"}),
		executions: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "fpsim_executions_total",
			Help: "Refunds actually executed (committed), whatever the client was told.",
		}),
		faults: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "fpsim_faults_total",
			Help: "Injected faults by kind (5xx, 5xx_commit, timeout, timeout_commit, 429, drop, down, late_commit, late_commit_race, status_lag, forget).",
		}, []string{"fault"}),
	}
	reg.MustRegister(m.requests, m.executions, m.faults)
	return m
}
