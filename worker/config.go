package worker

import (
	"errors"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/redis/go-redis/v9"
	"go.uber.org/zap"

	"github.com/refundq/refundq/internal/lifecycle"
	"github.com/refundq/refundq/internal/store"
)

// Config is everything a Worker needs. Zero fields take the defaults below.
type Config struct {
	// Redis is the client for asynq and the refund records. Required.
	Redis redis.UniversalClient
	// Providers finds the Card API client of a refund's merchant. Required.
	Providers ProviderSet
	// Logger receives structured logs; nil discards them.
	Logger *zap.Logger
	// Registerer receives the worker's metrics; nil skips metrics.
	Registerer prometheus.Registerer

	// Concurrency is the number of refund sends handled at once: the
	// submit tasks of the interactive and bulk queues (default 20).
	Concurrency int
	// FollowUpConcurrency is the number of status polls and merchant
	// callbacks handled at once (default Concurrency). They have slots of
	// their own so that a slow merchant callback endpoint or a backlog of
	// polls never holds up new sends, nor the other way round.
	FollowUpConcurrency int
	// Queues maps queue names to weights (default tasks.DefaultQueues).
	// The poll and callback queues are served with the follow-up slots,
	// every other queue with the send slots.
	Queues map[string]int
	// ProviderTimeout bounds one Card API call (default 30s).
	ProviderTimeout time.Duration
	// PollSchedule is the wait before each status poll; the last entry
	// repeats (default 1s, 2s, 5s, 10s, 30s, 60s).
	PollSchedule []time.Duration
	// Deadline is how long after its first send a refund may stay
	// unsettled before it goes to needs_attention (default 24h). A refund
	// never sent has no deadline.
	Deadline time.Duration
	// SettleWindow is how long request status must keep answering "not
	// found" after the last send before a refund that the provider never
	// acknowledged is sent again (default lifecycle.DefaultSettleWindow,
	// 15m). A status endpoint can lag behind the refund call, and a call
	// can commit after the client gave up: a shorter window risks paying
	// twice. It also bounds how long an acknowledged refund may stay
	// unknown to request status before needs_attention.
	SettleWindow time.Duration
	// FailureBudget is how many failed submit attempts a refund gets before
	// needs_attention (default 10). Rate limits and waits do not count.
	FailureBudget int
	// ShutdownTimeout is how long Run waits for in-flight refunds on
	// shutdown (default ProviderTimeout + 5s, so a started call can finish).
	ShutdownTimeout time.Duration
	// DelayedTaskCheckInterval is how often asynq moves due polls and
	// retries to their queues (default 1s).
	DelayedTaskCheckInterval time.Duration
	// TaskCheckInterval is how long an idle worker waits before it looks
	// for new sends again (default 65ms). asynq polls rather than blocks:
	// its dequeue loop sleeps 0.5-1.5 times this whenever the queues are
	// empty, and each look costs three Redis commands per queue. 65ms
	// picks up a refund that arrives at a quiet fleet within 100ms at the
	// 99th percentile; 5ms cuts that to about 10ms at ten times the idle
	// cost (docs/performance.md has the table).
	TaskCheckInterval time.Duration
	// FollowUpCheckInterval is the same for polls and callbacks (default
	// 250ms). A poll is due seconds after its send and waits up to
	// DelayedTaskCheckInterval to be moved to its queue anyway, so looking
	// for one a quarter of a second late costs nothing a refund notices,
	// and keeps an idle worker's Redis load to about half of what one
	// interval for all four queues would.
	FollowUpCheckInterval time.Duration
	// SweepInterval is how often the worker re-enqueues work for refunds
	// whose task was lost (default 1m; negative disables).
	SweepInterval time.Duration
	// Protection rate-limits provider calls and breaks the circuit on an
	// unwell provider (see Protection for the defaults).
	Protection Protection
	// Callbacks notifies merchants of terminal refunds (see Callbacks).
	Callbacks Callbacks
	// Retention is how long records are kept after their last change
	// (default 90 days).
	Retention time.Duration
	// ReplicaAcks, when above zero, makes the record of every send wait
	// until that many Redis replicas hold it (for at most ReplicaAckTimeout)
	// before the provider is called, so a failover cannot lose the fact
	// that a refund was sent. See docs/operations.md.
	ReplicaAcks       int
	ReplicaAckTimeout time.Duration
	// Now is the clock times are stamped and compared by (default: Redis's
	// own, so workers on hosts whose clocks disagree still agree on the
	// settle window and the deadline). Tests replace it.
	Now func() time.Time
}

// DefaultTaskCheckInterval is Config.TaskCheckInterval's default.
const DefaultTaskCheckInterval = 65 * time.Millisecond

// DefaultFollowUpCheckInterval is Config.FollowUpCheckInterval's default.
const DefaultFollowUpCheckInterval = 250 * time.Millisecond

// DefaultPollSchedule is the documented default poll cadence.
var defaultPollSchedule = []time.Duration{time.Second, 2 * time.Second, 5 * time.Second, 10 * time.Second, 30 * time.Second, time.Minute}

func (c *Config) setDefaults() error {
	if c.Redis == nil || c.Providers == nil {
		return errors.New("worker: Config needs Redis and Providers")
	}
	def := func(d *time.Duration, v time.Duration) {
		if *d == 0 {
			*d = v
		}
	}
	if c.Logger == nil {
		c.Logger = zap.NewNop()
	}
	if c.Concurrency <= 0 {
		c.Concurrency = 20
	}
	if c.FollowUpConcurrency <= 0 {
		c.FollowUpConcurrency = c.Concurrency
	}
	def(&c.ProviderTimeout, 30*time.Second)
	def(&c.Deadline, 24*time.Hour)
	def(&c.SettleWindow, lifecycle.DefaultSettleWindow)
	def(&c.ShutdownTimeout, c.ProviderTimeout+5*time.Second)
	def(&c.DelayedTaskCheckInterval, time.Second)
	def(&c.SweepInterval, time.Minute)
	def(&c.Retention, 90*24*time.Hour)
	def(&c.TaskCheckInterval, DefaultTaskCheckInterval)
	def(&c.FollowUpCheckInterval, DefaultFollowUpCheckInterval)
	if len(c.PollSchedule) == 0 {
		c.PollSchedule = defaultPollSchedule
	}
	if c.FailureBudget <= 0 {
		c.FailureBudget = 10
	}
	if c.Now == nil {
		c.Now = store.ServerClock(c.Redis)
	}
	c.Protection.setDefaults()
	c.Callbacks.setDefaults()
	return nil
}

// handlerTimeout bounds one task run: at most a status call, a resend and
// the status call that checks a rejection of it.
func (c *Config) handlerTimeout() time.Duration { return 3*c.ProviderTimeout + 10*time.Second }

// lockTTL outlives any handler run, so the lock never lapses while its
// holder is still working.
func (c *Config) lockTTL() time.Duration { return c.handlerTimeout() + 30*time.Second }

// pollDelay is the wait before poll number n (0-based).
func (c *Config) pollDelay(n int) time.Duration {
	if n >= len(c.PollSchedule) {
		return c.PollSchedule[len(c.PollSchedule)-1]
	}
	if n < 0 {
		n = 0
	}
	return c.PollSchedule[n]
}
