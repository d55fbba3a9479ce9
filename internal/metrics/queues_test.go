package metrics_test

import (
	"context"
	"testing"
	"time"

	"github.com/hibiken/asynq"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/refundq/refundq/internal/metrics"
	"github.com/refundq/refundq/internal/tasks"
	"github.com/refundq/refundq/internal/testenv"
)

func TestQueueCollector(t *testing.T) {
	rdb := testenv.StartRedis(t).Client()
	client := asynq.NewClientFromRedisClient(rdb)
	ctx := context.Background()
	for _, id := range []string{"a", "b"} {
		task, opts := tasks.Submit(id, "m", tasks.QueueInteractive)
		testenv.Must(t, tasks.Enqueue(ctx, client, task, opts))
	}
	task, opts := tasks.Poll("c", time.Hour)
	testenv.Must(t, tasks.Enqueue(ctx, client, task, opts))

	reg := prometheus.NewRegistry()
	reg.MustRegister(metrics.NewQueueCollector(asynq.NewInspectorFromRedisClient(rdb), tasks.QueueNames()...))
	want := map[[2]string]float64{
		{tasks.QueueInteractive, "pending"}: 2, {tasks.QueueInteractive, "scheduled"}: 0,
		{tasks.QueuePoll, "scheduled"}: 1, {tasks.QueuePoll, "pending"}: 0,
		// Never used, so unknown to asynq: reported as zero, not left out.
		{tasks.QueueBulk, "pending"}: 0, {tasks.QueueCallback, "archived"}: 0,
	}
	got := gaugeValues(t, reg, "refundq_queue_size")
	for k, v := range want {
		if g, ok := got[k]; !ok || g != v {
			t.Errorf("refundq_queue_size%v = %v (present %v), want %v", k, g, ok, v)
		}
	}
	if n := len(got); n != len(tasks.QueueNames())*6 {
		t.Errorf("%d queue_size series, want %d (every queue × 6 states)", n, len(tasks.QueueNames())*6)
	}
	if lat := gaugeValues(t, reg, "refundq_queue_latency_seconds"); len(lat) != len(tasks.QueueNames()) ||
		lat[[2]string{tasks.QueueInteractive, ""}] < 0 {
		t.Errorf("latency series: %v", lat)
	}
}

// Alerts take rate() over these counters, which cannot see the increment
// that creates a series: they must exist at zero from the start.
func TestCountersStartAtZero(t *testing.T) {
	reg := prometheus.NewRegistry()
	metrics.New(reg)
	terminal := gaugeValues(t, reg, "refundq_refunds_terminal_total")
	for _, st := range []string{"succeeded", "failed", "canceled"} {
		if v, ok := terminal[[2]string{st, ""}]; !ok || v != 0 {
			t.Errorf("refundq_refunds_terminal_total{state=%q} = %v (present %v), want 0", st, v, ok)
		}
	}
	got := gaugeValues(t, reg, "refundq_provider_requests_total")
	for _, k := range [][2]string{{"refund", "ok"}, {"refund", "rate_limited"}, {"status", "ambiguous"}, {"status", "not_found"}} {
		if _, ok := got[k]; !ok {
			t.Errorf("refundq_provider_requests_total%v missing", k)
		}
	}
}

// gaugeValues reads a metric's series keyed by their first two label values.
func gaugeValues(t *testing.T, reg *prometheus.Registry, name string) map[[2]string]float64 {
	t.Helper()
	mfs, err := reg.Gather()
	testenv.Must(t, err)
	out := map[[2]string]float64{}
	for _, mf := range mfs {
		if mf.GetName() != name {
			continue
		}
		for _, m := range mf.GetMetric() {
			var k [2]string
			for i, l := range m.GetLabel() {
				if i < 2 {
					k[i] = l.GetValue()
				}
			}
			switch {
			case m.GetGauge() != nil:
				out[k] = m.GetGauge().GetValue()
			case m.GetCounter() != nil:
				out[k] = m.GetCounter().GetValue()
			}
		}
	}
	return out
}
