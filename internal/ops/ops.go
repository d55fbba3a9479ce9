// Package ops holds the operator actions on refunds (retry, reconcile,
// cancel) and the listings and counts behind `refundq list` and `stats`.
// The CLI and the HTTP API both call it, so an action means the same thing
// whichever way an operator takes it.
//
// No action ever submits a refund or changes its request_id. Retry and
// reconcile hand a refund to the worker's poll chain, which asks the
// provider about the same request_id before anything is sent again.
package ops

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/hibiken/asynq"
	"github.com/redis/go-redis/v9"
	"go.uber.org/zap"

	"github.com/refundq/refundq/internal/metrics"
	"github.com/refundq/refundq/internal/refund"
	"github.com/refundq/refundq/internal/store"
	"github.com/refundq/refundq/internal/tasks"
	"github.com/refundq/refundq/worker"
)

// Operator performs operator actions against one Redis.
type Operator struct {
	store     *store.Redis
	client    *asynq.Client
	insp      *asynq.Inspector
	providers worker.ProviderSet
	m         *metrics.Metrics
	log       *zap.Logger
	now       func() time.Time
	timeout   time.Duration
	retention time.Duration
}

// Option configures an Operator.
type Option func(*Operator)

// WithProviders gives Reconcile the merchants' Card API clients.
func WithProviders(ps worker.ProviderSet) Option { return func(o *Operator) { o.providers = ps } }

// WithMetrics counts the refunds an operator action settles, so terminal
// counts stay whole when a refund ends outside a worker.
func WithMetrics(m *metrics.Metrics) Option { return func(o *Operator) { o.m = m } }

// WithLogger sets the logger; the default discards.
func WithLogger(l *zap.Logger) Option { return func(o *Operator) { o.log = l } }

// WithRetention sets how long records are kept after their last change.
func WithRetention(d time.Duration) Option { return func(o *Operator) { o.retention = d } }

// WithClock replaces time.Now, for tests.
func WithClock(now func() time.Time) Option { return func(o *Operator) { o.now = now } }

// WithProviderTimeout bounds Reconcile's status call (default 30s).
func WithProviderTimeout(d time.Duration) Option { return func(o *Operator) { o.timeout = d } }

// New returns an Operator over rdb. It holds nothing of its own to
// release: the caller closes rdb.
func New(rdb redis.UniversalClient, opts ...Option) *Operator {
	o := &Operator{log: zap.NewNop(), now: time.Now, timeout: 30 * time.Second}
	for _, opt := range opts {
		opt(o)
	}
	if o.retention == 0 {
		o.retention = store.DefaultRetention
	}
	o.store = store.New(rdb, store.WithClock(o.now), store.WithRetention(o.retention))
	o.client = asynq.NewClientFromRedisClient(rdb)
	o.insp = asynq.NewInspectorFromRedisClient(rdb)
	return o
}

// ErrNoProvider is returned by Reconcile for a merchant with no configured
// credential.
var ErrNoProvider = errors.New("ops: no credential configured for the refund's merchant")

// ErrBusy is returned when a worker holds the refund's lock: it is talking
// to the provider about it right now.
var ErrBusy = errors.New("ops: a worker is working on this refund right now; try again in a few seconds")

// StateError refuses an action the refund's current state does not allow.
type StateError struct {
	Action string
	State  refund.State
	Hint   string
}

func (e *StateError) Error() string {
	return fmt.Sprintf("cannot %s a refund in state %s: %s", e.Action, e.State, e.Hint)
}

// refuse builds the StateError for action on a refund in st.
func refuse(action string, st refund.State) error {
	hints := map[refund.State]string{
		refund.Queued:         "it has not been sent yet; a worker will submit it",
		refund.Submitting:     "a worker is sending it; wait, or ask the provider with reconcile",
		refund.Unknown:        "the provider may have it; use reconcile or retry",
		refund.Processing:     "the provider has it and it is being polled; use reconcile to ask now",
		refund.Succeeded:      "it is final: the provider refunded it",
		refund.Failed:         "it is final: the provider declined it and refunded nothing",
		refund.Canceled:       "it is final: it was canceled before it was sent",
		refund.NeedsAttention: "the provider may have executed it; use reconcile or retry",
	}
	return &StateError{Action: action, State: st, Hint: hints[st]}
}

// asStateError turns a refused compare-and-set into a StateError: the
// refund moved between our read and our write.
func asStateError(action string, err error) error {
	var te *refund.TransitionError
	if errors.As(err, &te) {
		return refuse(action, te.From)
	}
	return err
}

// ensurePoll makes sure the refund's poll chain runs now. A poll task that
// already exists (waiting for its next turn, or archived) is made due
// instead of enqueued twice; the task id is deterministic.
func (o *Operator) ensurePoll(ctx context.Context, id string) error {
	t, opts := tasks.Poll(id, 0)
	_, err := o.client.EnqueueContext(ctx, t, opts...)
	if !errors.Is(err, asynq.ErrTaskIDConflict) {
		if err != nil {
			return fmt.Errorf("ops: enqueue poll of %s: %w", id, err)
		}
		return nil
	}
	info, err := o.insp.GetTaskInfo(tasks.QueuePoll, tasks.PollID(id))
	if errors.Is(err, asynq.ErrTaskNotFound) {
		return o.ensurePoll(ctx, id) // it finished in between: enqueue afresh
	}
	if err != nil {
		return fmt.Errorf("ops: poll task of %s: %w", id, err)
	}
	switch info.State {
	case asynq.TaskStateScheduled, asynq.TaskStateRetry, asynq.TaskStateArchived:
		if err := o.insp.RunTask(tasks.QueuePoll, info.ID); err != nil && !errors.Is(err, asynq.ErrTaskNotFound) {
			return fmt.Errorf("ops: run poll of %s: %w", id, err)
		}
	}
	// Pending or active: it runs now anyway. An active run that is just
	// finishing leaves the refund to the worker's sweep.
	return nil
}

func actor(by string) string {
	if by == "" {
		return "operator"
	}
	return "operator " + by
}

// settle finishes the bookkeeping of a refund an operator action made
// terminal: it counts it and, for a refund with a callback_url, schedules
// the merchant callback exactly as a worker settling it would. An error
// here leaves the action done: the caller gets the record and the error.
func (o *Operator) settle(ctx context.Context, rec *refund.Record) error {
	if !rec.State.Terminal() {
		return nil
	}
	if o.m != nil {
		o.m.Terminal.WithLabelValues(string(rec.State)).Inc()
	}
	if rec.CallbackURL == "" || rec.Callback.State.Done() {
		return nil
	}
	if rec.Callback.State == "" {
		ok, err := o.store.UpdateCallback(ctx, rec.RequestID, store.CallbackUpdate{State: refund.CallbackPending})
		if err != nil || !ok {
			return o.notScheduled(rec, err)
		}
	}
	t, opts := tasks.Callback(rec.RequestID)
	return o.notScheduled(rec, tasks.Enqueue(ctx, o.client, t, opts))
}

func (o *Operator) notScheduled(rec *refund.Record, err error) error {
	if err == nil {
		return nil
	}
	return fmt.Errorf("ops: refund %s is %s, but its merchant callback was not scheduled: %w", rec.RequestID, rec.State, err)
}
