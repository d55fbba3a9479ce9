// Package operator holds the operator actions on refunds (retry, reconcile,
// cancel) and the listings and counts behind `refundq list` and `stats`.
// The CLI and the HTTP API both call it, so an action means the same thing
// whichever way an operator takes it. What a provider answer means comes
// from package lifecycle, the same rules the worker follows.
//
// No action ever submits a refund or changes its request_id. Every action
// takes the refund's lock, so it never races a worker that is talking to
// the provider about the same refund.
package operator

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/hibiken/asynq"
	"github.com/redis/go-redis/v9"
	"go.uber.org/zap"

	"github.com/refundq/refundq/internal/freedompay"
	"github.com/refundq/refundq/internal/lifecycle"
	"github.com/refundq/refundq/internal/metrics"
	"github.com/refundq/refundq/internal/refund"
	"github.com/refundq/refundq/internal/store"
	"github.com/refundq/refundq/internal/tasks"
)

// Providers finds a merchant's Card API client; ok is false for a merchant
// with no configured credential.
type Providers func(merchant string) (p freedompay.API, ok bool)

// Operator performs operator actions against one Redis.
type Operator struct {
	store     *store.Redis
	client    *asynq.Client
	insp      *asynq.Inspector
	settler   *lifecycle.Settler
	providers Providers
	m         *metrics.Metrics
	log       *zap.Logger
	now       func() time.Time
	timeout   time.Duration
	retention time.Duration
	rules     lifecycle.Rules
}

// Option configures an Operator.
type Option func(*Operator)

// WithProviders gives Reconcile the merchants' Card API clients.
func WithProviders(ps Providers) Option { return func(o *Operator) { o.providers = ps } }

// WithMetrics counts the refunds an operator action settles, so terminal
// counts stay whole when a refund ends outside a worker.
func WithMetrics(m *metrics.Metrics) Option { return func(o *Operator) { o.m = m } }

// WithLogger sets the logger; the default discards.
func WithLogger(l *zap.Logger) Option { return func(o *Operator) { o.log = l } }

// WithRetention sets how long records are kept after they become terminal.
func WithRetention(d time.Duration) Option { return func(o *Operator) { o.retention = d } }

// WithClock replaces the clock (default: Redis's own), for tests.
func WithClock(now func() time.Time) Option { return func(o *Operator) { o.now = now } }

// WithProviderTimeout bounds Reconcile's status call; it must be the
// workers' provider timeout, which the settle window allows for (default
// 30s).
func WithProviderTimeout(d time.Duration) Option { return func(o *Operator) { o.timeout = d } }

// WithSettleWindow sets the settle window Reconcile judges "not found" by;
// it must be the workers' (default lifecycle.DefaultSettleWindow).
func WithSettleWindow(d time.Duration) Option { return func(o *Operator) { o.rules.SettleWindow = d } }

// New returns an Operator over rdb. It holds nothing of its own to
// release: the caller closes rdb.
func New(rdb redis.UniversalClient, opts ...Option) *Operator {
	o := &Operator{log: zap.NewNop(), now: store.ServerClock(rdb), timeout: 30 * time.Second,
		rules: lifecycle.Rules{SettleWindow: lifecycle.DefaultSettleWindow, PollDelay: func(int) time.Duration { return 0 }}}
	for _, opt := range opts {
		opt(o)
	}
	o.rules.CallTimeout = o.timeout
	if o.retention == 0 {
		o.retention = store.DefaultRetention
	}
	o.store = store.New(rdb, store.WithClock(o.now), store.WithRetention(o.retention))
	o.client = asynq.NewClientFromRedisClient(rdb)
	o.insp = asynq.NewInspectorFromRedisClient(rdb)
	o.settler = lifecycle.NewSettler(o.store, o.client, o.insp, o.m)
	return o
}

// ErrNoProvider is returned by Reconcile for a merchant with no configured
// credential.
var ErrNoProvider = errors.New("ops: no credential configured for the refund's merchant")

// ErrNewerRecord refuses every action on a record a newer refundq wrote:
// this version cannot know what its fields mean.
var ErrNewerRecord = errors.New("ops: the refund was written by a newer refundq; only that version may act on it")

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

// refuse builds the StateError for action on a refund in st. The hints
// never say that no money moved unless the refund provably never reached
// the provider.
func refuse(action string, st refund.State) error {
	hints := map[refund.State]string{
		refund.Queued:         "it has not been sent yet and its submit task will run; a worker will submit it",
		refund.Submitting:     "a worker is sending it; wait, or ask the provider with reconcile",
		refund.Unknown:        "the provider may have it; use reconcile or retry",
		refund.Processing:     "the provider has it and it is being polled; use reconcile to ask now",
		refund.Succeeded:      "it is final: the provider refunded it",
		refund.Failed:         "it is final: the provider declined it and no earlier attempt was in doubt",
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

// locked runs act with the refund's lock held and its record read under
// it, so an action never cuts in on a worker's provider call.
func (o *Operator) locked(ctx context.Context, id string, act func(rec *refund.Record, token string) error) error {
	token, rec, err := o.store.LockAndGet(ctx, id, o.timeout+10*time.Second)
	if err != nil {
		return err
	}
	if token == "" {
		return ErrBusy
	}
	defer func() { _ = o.store.Unlock(context.WithoutCancel(ctx), id, token) }()
	if rec.Version > refund.RecordVersion {
		return fmt.Errorf("%w: %s (record version %d)", ErrNewerRecord, id, rec.Version)
	}
	return act(rec, token)
}

// ensure gives the refund a task that runs now. It reports what it found.
func (o *Operator) ensure(ctx context.Context, rec *refund.Record) (tasks.Found, error) {
	return tasks.EnsureRefund(ctx, o.client, o.insp, rec.RequestID, rec.Merchant, rec.Queue, rec.State == refund.Queued, true)
}

// hasRunnableTask reports whether the refund's submit or poll task will
// run without help.
func (o *Operator) hasRunnableTask(rec *refund.Record) (bool, error) {
	return tasks.RefundRunnable(o.insp, rec.RequestID, rec.Queue)
}

func actor(by string) string {
	if by == "" {
		return "operator"
	}
	return "operator " + by
}

func (o *Operator) logger(rec *refund.Record, by string) *zap.Logger {
	return o.log.With(zap.String("request_id", rec.RequestID), zap.String("order_id", rec.OrderID),
		zap.String("merchant", rec.Merchant), zap.String("by", by))
}
