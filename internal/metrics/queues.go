package metrics

import (
	"slices"

	"github.com/hibiken/asynq"
	"github.com/prometheus/client_golang/prometheus"
)

// queueStates are the task states reported per queue, in asynq's terms.
// Aggregating is left out: refundq does not use task groups.
var queueStates = []string{"pending", "active", "scheduled", "retry", "archived", "completed"}

// QueueCollector reports asynq's queues, read through asynq.Inspector at
// scrape time. It stands in for asynq's x/metrics, which has no labels to
// spare and pulls in go-redis v8 next to refundq's v9.
//
// The numbers describe shared state in Redis, so every process that
// registers the collector reports the same values: aggregate with max(),
// never sum().
type QueueCollector struct {
	insp      *asynq.Inspector
	queues    []string
	size      *prometheus.Desc
	latency   *prometheus.Desc
	processed *prometheus.Desc
	failed    *prometheus.Desc
}

// NewQueueCollector reports the named queues. A queue asynq does not know
// yet (nothing was ever enqueued to it) reports zeros, so dashboards and
// alerts see a series from the start.
func NewQueueCollector(insp *asynq.Inspector, queues ...string) *QueueCollector {
	q := []string{"queue"}
	return &QueueCollector{
		insp: insp, queues: queues,
		size: prometheus.NewDesc("refundq_queue_size",
			"Tasks in each asynq queue, by task state.", []string{"queue", "state"}, nil),
		latency: prometheus.NewDesc("refundq_queue_latency_seconds",
			"Age of the oldest pending task in each asynq queue.", q, nil),
		processed: prometheus.NewDesc("refundq_queue_processed_total",
			"Task runs each asynq queue has finished, failed or not.", q, nil),
		failed: prometheus.NewDesc("refundq_queue_failed_total",
			"Task runs each asynq queue counted as failed.", q, nil),
	}
}

// Describe implements prometheus.Collector.
func (c *QueueCollector) Describe(ch chan<- *prometheus.Desc) {
	ch <- c.size
	ch <- c.latency
	ch <- c.processed
	ch <- c.failed
}

// Collect implements prometheus.Collector.
func (c *QueueCollector) Collect(ch chan<- prometheus.Metric) {
	known, err := c.insp.Queues()
	if err != nil {
		ch <- prometheus.NewInvalidMetric(c.size, err)
		return
	}
	for _, q := range c.queues {
		info := &asynq.QueueInfo{Queue: q}
		if slices.Contains(known, q) {
			if info, err = c.insp.GetQueueInfo(q); err != nil {
				ch <- prometheus.NewInvalidMetric(c.size, err)
				continue
			}
		}
		c.collectQueue(ch, info)
	}
}

func (c *QueueCollector) collectQueue(ch chan<- prometheus.Metric, info *asynq.QueueInfo) {
	counts := []int{info.Pending, info.Active, info.Scheduled, info.Retry, info.Archived, info.Completed}
	for i, st := range queueStates {
		ch <- prometheus.MustNewConstMetric(c.size, prometheus.GaugeValue, float64(counts[i]), info.Queue, st)
	}
	ch <- prometheus.MustNewConstMetric(c.latency, prometheus.GaugeValue, info.Latency.Seconds(), info.Queue)
	ch <- prometheus.MustNewConstMetric(c.processed, prometheus.CounterValue, float64(info.ProcessedTotal), info.Queue)
	ch <- prometheus.MustNewConstMetric(c.failed, prometheus.CounterValue, float64(info.FailedTotal), info.Queue)
}
