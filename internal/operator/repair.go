package operator

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/hibiken/asynq"
	"go.uber.org/zap"

	"github.com/refundq/refundq/internal/refund"
	"github.com/refundq/refundq/internal/store"
	"github.com/refundq/refundq/internal/tasks"
)

// Repaired is what Repair did.
type Repaired struct {
	Record *refund.Record
	// Task is what Repair found of the refund's task before it made sure
	// one runs: enqueued (there was none), revived (archived), replaced
	// (completed), or alive (nothing was wrong).
	Task tasks.Found
}

// Repair gives a refund a worker is still driving (queued, submitting,
// unknown, processing) a task that will run, when a tool archived or
// deleted it: its submit task while it was never sent, its poll chain
// after. It changes nothing else, and nothing for a refund whose task is
// alive. The workers' sweep does the same after a while; this is the
// one-click version, under the refund's lock like every action.
func (o *Operator) Repair(ctx context.Context, id, by string) (*Repaired, error) {
	// A settled refund is refused without its lock, which a worker may
	// leave behind to expire.
	if rec, err := o.store.Get(ctx, id); err != nil {
		return nil, err
	} else if !pendingState(rec.State) {
		return nil, notRepairable(rec.State)
	}
	var out *Repaired
	err := o.locked(ctx, id, func(rec *refund.Record, _ string) error {
		out = &Repaired{Record: rec, Task: tasks.Alive}
		if !pendingState(rec.State) {
			return notRepairable(rec.State)
		}
		alive, err := o.hasRunnableTask(rec)
		if err != nil || alive {
			return err
		}
		if out.Task, err = o.ensure(ctx, rec); err != nil {
			return err
		}
		o.logger(rec, by).Info("operator repair", zap.Stringer("found", out.Task))
		return o.store.AddEvent(ctx, rec.RequestID, refund.Event{Type: "operator_repair",
			Detail: actor(by) + ": its task would never have run (" + out.Task.String() + "); a worker takes it up now"})
	})
	return out, err
}

func notRepairable(st refund.State) error {
	return &StateError{Action: "repair", State: st, Hint: "only a refund a worker is still driving has a task to repair"}
}

// TaskState says whether a refund's task will run, for pages that show
// refunds a tool may have stranded: runnable is false for a pending
// refund whose submit and poll tasks are both archived, completed or gone.
func (o *Operator) TaskState(rec *refund.Record) (runnable bool, err error) {
	return o.hasRunnableTask(rec)
}

func pendingState(st refund.State) bool {
	for _, p := range refund.Pending() {
		if st == p {
			return true
		}
	}
	return false
}

// Stranded is a refund a worker should be driving whose task will not run.
type Stranded struct {
	Record *refund.Record
	// Why says what became of its task, in words.
	Why string
}

// strandedAfter is how long a refund must have been still before it is
// called stranded: between two steps a refund may be without a task for
// a moment, never for this long.
const strandedAfter = time.Minute

// FindStranded lists pending refunds whose task will not run: those whose
// task sits in an archive (asynqmon's "archive all", `asynq task archive`,
// asynq's own retry cap), and those that have not changed for a minute
// and have no runnable task at all. It looks at up to limit of each kind.
func (o *Operator) FindStranded(ctx context.Context, limit int) ([]Stranded, error) {
	var out []Stranded
	seen := map[string]bool{}
	add := func(rec *refund.Record, why string) {
		if !seen[rec.RequestID] && pendingState(rec.State) {
			seen[rec.RequestID] = true
			out = append(out, Stranded{Record: rec, Why: why})
		}
	}
	for _, q := range []string{tasks.QueueInteractive, tasks.QueueBulk, tasks.QueuePoll} {
		archived, err := o.insp.ListArchivedTasks(q, asynq.PageSize(limit))
		if err != nil && !errors.Is(err, asynq.ErrQueueNotFound) {
			return nil, fmt.Errorf("ops: archive of %s: %w", q, err)
		}
		for _, t := range archived {
			p, err := tasks.Decode(t.Payload)
			if err != nil {
				continue // not a refundq task
			}
			rec, err := o.store.Get(ctx, p.RequestID)
			if errors.Is(err, store.ErrNotFound) {
				continue
			}
			if err != nil {
				return nil, err
			}
			if alive, err := o.hasRunnableTask(rec); err != nil || !alive {
				add(rec, "its "+t.Type+" task is archived in "+q)
			}
		}
	}
	cutoff := o.now().Add(-strandedAfter)
	for _, st := range refund.Pending() {
		stale, err := o.store.ListStale(ctx, st, cutoff, int64(limit))
		if err != nil {
			return nil, err
		}
		for _, e := range stale {
			rec, err := o.store.Get(ctx, e.ID)
			if errors.Is(err, store.ErrNotFound) {
				continue
			}
			if err != nil {
				return nil, err
			}
			alive, err := o.hasRunnableTask(rec)
			if err != nil {
				return nil, err
			}
			if !alive && rec.UpdatedAt.Before(cutoff) {
				add(rec, "it has no task that will run (deleted, or completed without settling it)")
			}
		}
	}
	return out, nil
}
