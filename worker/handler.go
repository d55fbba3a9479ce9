package worker

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/hibiken/asynq"
	"go.uber.org/zap"

	"github.com/refundq/refundq/internal/lifecycle"
	"github.com/refundq/refundq/internal/refund"
	"github.com/refundq/refundq/internal/store"
	"github.com/refundq/refundq/internal/tasks"
)

// job is one task run on one refund.
type job struct {
	rec *refund.Record
	log *zap.Logger
	// p is the merchant's provider behind its breaker and rate limit;
	// nil for a merchant with no credential.
	p *guarded
	// token is the refund's lock while this run holds it. The change that
	// ends a step releases it in its own round trip (see apply).
	token string
	// called is set once this run has made a refund call.
	called bool
}

// handleSubmit runs a refund's submit task. It ends once the refund is
// settled or handed to the poll chain; only real failures count against the
// refund's budget.
func (w *Worker) handleSubmit(ctx context.Context, t *asynq.Task) error {
	return w.run(ctx, t, func(ctx context.Context, j *job, a action) error {
		switch a.kind {
		case actDone:
			return nil
		case actPoll:
			return w.enqueuePoll(ctx, j, a.after)
		case actWait:
			return wait(a.after, a.reason)
		}
		return w.failed(ctx, j, a.err)
	})
}

// handlePoll runs a refund's poll chain: reconcile or poll, then wait on
// asynq's retry path until the refund settles or its deadline passes.
func (w *Worker) handlePoll(ctx context.Context, t *asynq.Task) error {
	return w.run(ctx, t, func(ctx context.Context, j *job, a action) error {
		switch a.kind {
		case actDone:
			return nil
		case actFail:
			// Bounded by the deadline, not the budget: an outage must not
			// turn a refund the provider may have executed into a failure.
			j.log.Warn("poll failed, will retry", zap.Error(a.err))
			return wait(w.cfg.pollDelay(j.rec.Polls), "after error: "+a.err.Error())
		}
		return wait(a.after, a.reason)
	})
}

// run loads the refund, takes its lock, advances it one step and lets then
// decide what asynq should do next.
func (w *Worker) run(ctx context.Context, t *asynq.Task, then func(context.Context, *job, action) error) error {
	p, err := tasks.Decode(t.Payload())
	if errors.Is(err, tasks.ErrNewerPayload) {
		w.log.Warn("task from a newer refundq; leaving it for an upgraded worker", zap.Error(err))
		return wait(time.Minute, err.Error())
	}
	if err != nil {
		return fmt.Errorf("%w: %w", asynq.SkipRetry, err)
	}
	ctx, cancel := context.WithTimeout(ctx, w.cfg.handlerTimeout())
	defer cancel()
	j, sent, err := w.load(ctx, t.Type(), p)
	if err != nil {
		return err
	}
	defer w.unlock(ctx, j)
	if sent != nil {
		defer sent.release()
		return then(ctx, j, w.send(ctx, j, sent.found, j.rec, sent.err))
	}
	if j.rec.Version > refund.RecordVersion {
		j.log.Warn("record from a newer refundq; leaving it for an upgraded worker", zap.Int("version", j.rec.Version))
		return wait(time.Minute, fmt.Sprintf("record version %d is newer than this worker's %d", j.rec.Version, refund.RecordVersion))
	}
	if j.rec.State.Settled() {
		// A run that died between settling and scheduling the callback
		// left that to the next run of its task.
		return w.settler.ScheduleCallback(ctx, j.rec)
	}
	if j.token == "" {
		return wait(time.Second, "another worker holds this refund")
	}
	// Only the lock holder applies the deadline: a second run must never
	// park a refund whose holder is in the middle of a provider call.
	if reason, late := lifecycle.PastDeadline(j.rec, w.cfg.Now(), w.cfg.Deadline); late {
		return then(ctx, j, w.park(ctx, j, refund.AttentionDeadline, reason))
	}
	return then(ctx, j, w.advance(ctx, j))
}

func (w *Worker) lockAndLoad(ctx context.Context, id string) (*job, error) {
	token, rec, err := w.store.LockAndGet(ctx, id, w.cfg.lockTTL())
	if err != nil {
		return nil, w.loadFailed(id, err)
	}
	j := w.newJob(rec, token)
	if p, ok := w.cfg.Providers.lookup(rec.Merchant); ok {
		j.p = w.protection.wrap(rec.Merchant, instrumented{p: p, m: w.m})
	}
	return j, nil
}

// claimed is a send that load recorded along with the lock.
type claimed struct {
	found   *refund.Record // the record before the send was recorded
	release func()         // gives the rate-limit permit back if unused
	err     error          // ErrNotReplicated, or nil
}

// load takes the refund's lock and reads its record. A never-sent refund's
// submit task does more in the same round trip: with the send admitted past
// the merchant's rate limit and breaker first, it also records submitting
// (store.Claim), and load returns that as claimed. Any other refund, or a
// send held back, is left for run's usual steps, which decide it.
func (w *Worker) load(ctx context.Context, typ string, p tasks.Payload) (*job, *claimed, error) {
	prov, ok := w.cfg.Providers.lookup(p.Merchant)
	if typ != tasks.TypeSubmit || p.Merchant == "" || !ok {
		j, err := w.lockAndLoad(ctx, p.RequestID)
		return j, nil, err
	}
	g := w.protection.wrap(p.Merchant, instrumented{p: prov, m: w.m})
	release, err := g.admit(ctx)
	if err != nil {
		// Held back: the usual path applies the deadline, then holds the
		// send back itself.
		j, err := w.lockAndLoad(ctx, p.RequestID)
		return j, nil, err
	}
	c, err := w.store.Claim(ctx, p.RequestID, w.cfg.lockTTL(), p.Merchant, sendChange(nil))
	if err != nil && !errors.Is(err, store.ErrNotReplicated) {
		release()
		return nil, nil, w.loadFailed(p.RequestID, err)
	}
	j := w.newJob(c.Found, c.Token)
	if c.Sent == nil {
		release()
		if prov, ok := w.cfg.Providers.lookup(c.Found.Merchant); ok {
			j.p = w.protection.wrap(c.Found.Merchant, instrumented{p: prov, m: w.m})
		}
		return j, nil, nil
	}
	j.rec, j.p = c.Sent, g
	return j, &claimed{found: c.Found, release: release, err: err}, nil
}

func (w *Worker) newJob(rec *refund.Record, token string) *job {
	return &job{rec: rec, token: token, log: w.log.With(zap.String("request_id", rec.RequestID),
		zap.String("order_id", rec.OrderID), zap.String("merchant", rec.Merchant))}
}

func (w *Worker) loadFailed(id string, err error) error {
	if errors.Is(err, store.ErrNotFound) {
		w.log.Error("task without a refund record", zap.String("request_id", id))
		return fmt.Errorf("%w: %w: %s", asynq.SkipRetry, errNoRecord, id)
	}
	return err
}

// unlock releases the lock if no change has released it yet.
func (w *Worker) unlock(ctx context.Context, j *job) {
	if j.token == "" {
		return
	}
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
	defer cancel()
	if err := w.store.Unlock(ctx, j.rec.RequestID, j.token); err != nil {
		w.log.Warn("unlock failed; the lock will expire", zap.String("request_id", j.rec.RequestID), zap.Error(err))
	}
}

// failed handles a transient submit failure: asynq retries it with backoff
// until the budget is spent, then the refund goes to needs_attention.
func (w *Worker) failed(ctx context.Context, j *job, err error) error {
	n, _ := asynq.GetRetryCount(ctx)
	if n+1 < w.cfg.FailureBudget {
		j.log.Warn("submit failed, will retry", zap.Int("attempt", n+1), zap.Error(err))
		return err
	}
	reason := fmt.Sprintf("gave up after %d failed attempts: %v", n+1, err)
	w.park(ctx, j, refund.AttentionBudget, reason)
	return nil
}

func (w *Worker) enqueuePoll(ctx context.Context, j *job, after time.Duration) error {
	t, opts := tasks.Poll(j.rec.RequestID, after)
	_, err := tasks.Ensure(ctx, w.client, w.insp, tasks.QueuePoll, tasks.PollID(j.rec.RequestID), t, opts)
	return err
}
