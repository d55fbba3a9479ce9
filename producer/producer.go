// Package producer accepts refunds into refundq. Enqueue validates a refund,
// fixes its request_id, writes the refund record and queues it for a
// worker. Once Enqueue returns nil the refund will reach a terminal state
// or a visible needs_attention state.
//
// Idempotency: the same request_id (given, or derived from the merchant and
// idempotency key) with the same parameters returns the existing refund;
// with different parameters it is ErrConflict. Invalid input returns a
// *ValidationError naming every bad field, and nothing is written.
package producer

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/hibiken/asynq"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/redis/go-redis/v9"

	"github.com/refundq/refundq/internal/metrics"
	"github.com/refundq/refundq/internal/refund"
	"github.com/refundq/refundq/internal/store"
	"github.com/refundq/refundq/internal/tasks"
)

// ErrConflict is returned when a request_id is already used by a refund
// with different parameters.
var ErrConflict = errors.New("producer: request_id already used with different parameters")

// Producer enqueues refunds. It is safe for concurrent use.
type Producer struct {
	rdb     redis.UniversalClient
	own     bool
	store   *store.Redis
	client  *asynq.Client
	insp    *asynq.Inspector
	metrics *metrics.Metrics
	source  string
	bulk    bulkClient // EnqueueBatch's client, see batch_pipe.go
	// retention is how long records outlive their last change.
	retention time.Duration
	// acks and ackTimeout: see WithReplicaAcks.
	acks       int
	ackTimeout time.Duration
}

// Option configures a Producer.
type Option func(*Producer)

// WithSource labels the refunds this producer accepts (producer, api,
// import, cli, demo) in records and metrics.
func WithSource(s string) Option { return func(p *Producer) { p.source = s } }

// WithRetention sets how long refund records are kept after their last
// change (default 90 days).
func WithRetention(d time.Duration) Option {
	return func(p *Producer) { p.retention = d }
}

// WithReplicaAcks makes Enqueue acknowledge a refund only once n Redis
// replicas hold both its record and its task, waiting at most timeout
// (default 1s), and EnqueueBatch a complete batch only once they hold all
// of it. A refund acknowledged so survives a failover. When the replicas
// do not confirm in time, Enqueue and EnqueueBatch return an error
// wrapping ErrNotReplicated: the refunds may exist all the same, and
// enqueueing them again with the same keys or rows is safe.
//
// The timeout is held between 1ms and 2s: WAIT 0 waits forever, and a
// wait as long as the client's read timeout ends in a read error and a
// resend. Redis Cluster cannot confirm a refund this way (its record and
// its task are on different shards): there New fails, and Enqueue and
// EnqueueBatch write nothing and return ErrReplicaAcksOnCluster.
func WithReplicaAcks(n int, timeout time.Duration) Option {
	return func(p *Producer) { p.acks, p.ackTimeout = n, timeout }
}

// ErrNotReplicated is returned when the replicas WithReplicaAcks asks for
// did not confirm a refund in time.
var ErrNotReplicated = errors.New("producer: Redis replicas did not confirm the write in time")

// ErrReplicaAcksOnCluster is returned when WithReplicaAcks is used on Redis
// Cluster, which cannot keep its promise.
var ErrReplicaAcksOnCluster = errors.New("producer: replica acks are not supported on Redis Cluster")

// replicationError marks the store's unconfirmed write with producer's own
// ErrNotReplicated, so callers outside the module can match it.
func replicationError(err error) error {
	switch {
	case errors.Is(err, store.ErrNotReplicated):
		return fmt.Errorf("%w: %w", ErrNotReplicated, err)
	case errors.Is(err, store.ErrReplicaAcksOnCluster):
		return fmt.Errorf("%w: %w", ErrReplicaAcksOnCluster, err)
	}
	return err
}

// WithRegisterer counts accepted refunds in refundq_enqueued_total on
// reg. Producers, workers and the API sharing one registry share the
// metrics too.
func WithRegisterer(reg prometheus.Registerer) Option {
	return func(p *Producer) { p.metrics = metrics.New(reg) }
}

// New connects a producer to the Redis that redisOpt describes.
func New(redisOpt asynq.RedisConnOpt, opts ...Option) (*Producer, error) {
	rdb, ok := redisOpt.MakeRedisClient().(redis.UniversalClient)
	if !ok {
		return nil, errors.New("producer: unsupported redis option")
	}
	p := NewFromClient(rdb, opts...)
	p.own = true
	if err := p.store.CheckReplication(); err != nil {
		_ = p.Close()
		return nil, replicationError(err)
	}
	return p, nil
}

// NewFromClient uses an existing go-redis client, which the caller closes.
func NewFromClient(rdb redis.UniversalClient, opts ...Option) *Producer {
	p := &Producer{rdb: rdb, client: asynq.NewClientFromRedisClient(rdb), insp: asynq.NewInspectorFromRedisClient(rdb),
		source: "producer", retention: store.DefaultRetention}
	for _, o := range opts {
		o(p)
	}
	p.store = store.New(rdb, store.WithRetention(p.retention), store.WithClock(store.ServerClock(rdb)),
		store.WithReplicaAcks(p.acks, p.ackTimeout))
	return p
}

// Close releases the connection if New opened it.
func (p *Producer) Close() error {
	if p.own {
		return p.rdb.Close()
	}
	return nil
}

// EnqueueOption adjusts one Enqueue call.
type EnqueueOption func(*enqueueOpts)

type enqueueOpts struct {
	queue   string
	batchID string
	hold    Hold
}

// Bulk sends the refund to the low-priority bulk queue, for batch work
// that must not delay interactive refunds.
func Bulk() EnqueueOption { return func(o *enqueueOpts) { o.queue = tasks.QueueBulk } }

// InBatch records the refund as part of batch id.
func InBatch(id string) EnqueueOption { return func(o *enqueueOpts) { o.batchID = id } }

// Enqueue accepts one refund: once it returns without an error, the refund
// is stored and queued, and workers take it to succeeded, failed, canceled
// or needs_attention. Enqueueing the same refund again (same request_id or
// idempotency key, same parameters) is safe and returns the stored refund
// with Duplicate set.
//
// Its errors, each safe to tell apart with errors.Is or errors.As:
//   - *ValidationError: the refund is invalid, every bad field named;
//     nothing was written.
//   - ErrConflict: the request_id is taken by a refund with other
//     parameters; the Receipt carries that refund's state.
//   - ErrNotReplicated (with WithReplicaAcks): the replicas did not confirm
//     the refund in time; it may exist, and enqueueing it again is safe.
//   - ErrReplicaAcksOnCluster: WithReplicaAcks on Redis Cluster; nothing
//     was written.
//   - anything else is Redis unreachable or failing: the refund may or may
//     not exist, and enqueueing it again with the same key is safe.
func (p *Producer) Enqueue(ctx context.Context, r Refund, opts ...EnqueueOption) (Receipt, error) {
	o := enqueueOpts{queue: tasks.QueueInteractive}
	for _, f := range opts {
		f(&o)
	}
	if err := validate(r); err != nil {
		return Receipt{}, err
	}
	if err := p.store.CheckReplication(); err != nil {
		return Receipt{}, replicationError(err)
	}
	req := r.request().Normalize()
	rec := &refund.Record{Request: req, ParamHash: req.ParamHash(), State: refund.Queued,
		Source: p.source, BatchID: o.batchID, Queue: o.queue}
	o.hold.apply(rec, p.source)
	stored, created, err := p.store.Create(ctx, rec)
	if err != nil {
		return Receipt{}, fmt.Errorf("producer: %w", err)
	}
	if !created && stored.ParamHash != rec.ParamHash {
		return Receipt{RequestID: req.RequestID, State: State(stored.State)}, fmt.Errorf("%w: %s", ErrConflict, req.RequestID)
	}
	// Queue even for a repeat still in queued: if the first Enqueue wrote
	// the record but failed to queue, or a tool archived or deleted the
	// task since, this repairs it. The task id makes a second copy
	// impossible.
	if stored.State == refund.Queued {
		t, topts := tasks.Submit(req.RequestID, stored.Merchant, stored.Queue)
		if _, err := tasks.Ensure(ctx, p.client, p.insp, stored.Queue, tasks.SubmitID(req.RequestID), t, topts); err != nil {
			return Receipt{}, fmt.Errorf("producer: %w", err)
		}
	}
	// The last write, made after the task's, so a replica that has it has
	// the record and the task too.
	var task []string
	if stored.State == refund.Queued {
		task = append(task, tasks.Key(stored.Queue, tasks.SubmitID(req.RequestID)))
	}
	if err := p.store.Replicate(ctx, req.RequestID, task...); err != nil {
		return Receipt{}, fmt.Errorf("producer: refund %s may be accepted but is not confirmed on the replicas; enqueue it again: %w", req.RequestID, replicationError(err))
	}
	if created && p.metrics != nil {
		p.metrics.Enqueued.WithLabelValues(p.source).Inc()
	}
	return Receipt{RequestID: req.RequestID, State: State(stored.State), Duplicate: !created, CreatedAt: stored.CreatedAt}, nil
}

// ErrNotFound is returned by Get for a request_id that no refund has, or
// whose record has outlived its retention.
var ErrNotFound = errors.New("producer: no refund has this request_id")

// Get reads a refund back by its request_id, with its event log.
func (p *Producer) Get(ctx context.Context, requestID string) (*Status, error) {
	rec, err := p.store.Get(ctx, requestID)
	if errors.Is(err, store.ErrNotFound) {
		return nil, fmt.Errorf("%w: %s", ErrNotFound, requestID)
	}
	if err != nil {
		return nil, fmt.Errorf("producer: %w", err)
	}
	if rec.Version > refund.RecordVersion {
		// Its fields may mean something else now: a blank amount, say, is
		// not a full refund.
		return nil, fmt.Errorf("producer: refund %s was written by a newer refundq (record version %d)", requestID, rec.Version)
	}
	events, err := p.store.Events(ctx, requestID)
	if err != nil {
		return nil, fmt.Errorf("producer: %w", err)
	}
	return statusOf(rec, events), nil
}
