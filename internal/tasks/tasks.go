// Package tasks defines the asynq tasks refundq enqueues. A task only points
// at a refund record by request_id: the record in Redis is the store of
// record, and the payload never carries amounts, callback URLs or secrets.
package tasks

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/hibiken/asynq"
)

// Task types.
const (
	TypeSubmit   = "refund:submit"
	TypePoll     = "refund:poll"
	TypeCallback = "refund:callback"
)

// Queues. Interactive and bulk submits are separate so a large batch cannot
// starve a checkout backend's refund; polls have their own queue so waiting
// refunds never crowd out new ones.
const (
	QueueInteractive = "refundq.interactive"
	QueueBulk        = "refundq.bulk"
	QueuePoll        = "refundq.poll"
	QueueCallback    = "refundq.callback"
)

// DefaultQueues are the weights workers use unless configured otherwise.
func DefaultQueues() map[string]int {
	return map[string]int{QueueInteractive: 6, QueuePoll: 3, QueueCallback: 1, QueueBulk: 1}
}

// QueueNames lists every refundq queue, for metrics and operator commands.
func QueueNames() []string {
	return []string{QueueInteractive, QueueBulk, QueuePoll, QueueCallback}
}

// Version is the payload version this build writes and understands. A
// worker that receives a newer version leaves the task for a newer worker
// (see ErrNewerPayload) instead of guessing at its meaning.
const Version = 1

// Payload is the body of every refundq task.
type Payload struct {
	V         int    `json:"v"`
	RequestID string `json:"request_id"`
	// Merchant, on a submit task, names the refund's merchant so that a
	// worker can pass its rate limit and breaker before it touches Redis,
	// and then take the lock, read the record and record the send in one
	// round trip. The record's merchant still decides: a hint that does
	// not match it only costs that round trip.
	Merchant string `json:"merchant,omitempty"`
}

// ErrNewerPayload marks a task written by a newer refundq.
var ErrNewerPayload = errors.New("tasks: payload version is newer than this worker")

// Decode parses a payload.
func Decode(b []byte) (Payload, error) {
	var p Payload
	if err := json.Unmarshal(b, &p); err != nil {
		return p, fmt.Errorf("tasks: decode payload: %w", err)
	}
	if p.V > Version {
		return p, fmt.Errorf("%w: v%d > v%d", ErrNewerPayload, p.V, Version)
	}
	if p.RequestID == "" {
		return p, errors.New("tasks: payload without request_id")
	}
	return p, nil
}

func newTask(typ string, p Payload) *asynq.Task {
	p.V = Version
	b, _ := json.Marshal(p)
	return asynq.NewTask(typ, b)
}

// MaxRetry is asynq's retry cap for refundq tasks. It is deliberately far
// above the worker's own failure budget: asynq archives a task that reaches
// it, even from the lease recoverer, and an archived task would strand its
// refund. The worker moves a refund to needs_attention well before.
const MaxRetry = 1000

// Timeout bounds one handler run. The worker enforces a shorter deadline of
// its own; this only stops asynq's 30 minute default from applying.
const Timeout = 10 * time.Minute

// SubmitID is the task id of a refund's submit task: the request_id itself,
// so asynq refuses a second live submit task for the same refund.
func SubmitID(requestID string) string { return requestID }

// Key is the Redis key of task id in queue, in asynq's layout, for a check
// that a task exists in the same script as other writes (see
// store.Redis.Replicate). TestTasksCarryTheirIdentity keeps it in step with asynq.
func Key(queue, id string) string { return "asynq:{" + queue + "}:t:" + id }

// PollID is the task id of a refund's poll chain.
func PollID(requestID string) string { return requestID + ":poll" }

// CallbackID is the task id of a refund's callback delivery.
func CallbackID(requestID string) string { return requestID + ":callback" }

// CallbackRetention keeps a finished callback task's id reserved for a day,
// so a late duplicate schedule conflicts instead of delivering again.
const CallbackRetention = 24 * time.Hour

// Submit builds the submit task of merchant's refund for queue. It keeps no
// retention: the refund record, not a finished task's id, is what stops a
// repeat enqueue from submitting again, and asynq deletes a finished task
// with fewer writes than it archives one as completed.
func Submit(requestID, merchant, queue string) (*asynq.Task, []asynq.Option) {
	return newTask(TypeSubmit, Payload{RequestID: requestID, Merchant: merchant}), []asynq.Option{
		asynq.Queue(queue), asynq.TaskID(SubmitID(requestID)), asynq.MaxRetry(MaxRetry), asynq.Timeout(Timeout),
	}
}

// Poll builds the poll task of a refund, due after delay.
func Poll(requestID string, delay time.Duration) (*asynq.Task, []asynq.Option) {
	return newTask(TypePoll, Payload{RequestID: requestID}), []asynq.Option{
		asynq.Queue(QueuePoll), asynq.TaskID(PollID(requestID)), asynq.ProcessIn(delay),
		asynq.MaxRetry(MaxRetry), asynq.Timeout(Timeout),
	}
}

// Callback builds the callback delivery task of a refund.
func Callback(requestID string) (*asynq.Task, []asynq.Option) {
	return newTask(TypeCallback, Payload{RequestID: requestID}), []asynq.Option{
		asynq.Queue(QueueCallback), asynq.TaskID(CallbackID(requestID)), asynq.Retention(CallbackRetention),
		asynq.MaxRetry(MaxRetry), asynq.Timeout(Timeout),
	}
}

// Enqueue adds a task and treats "already there" as success: every refundq
// task id is deterministic, so a conflict means the work is already queued.
func Enqueue(ctx context.Context, c *asynq.Client, t *asynq.Task, opts []asynq.Option) error {
	_, err := c.EnqueueContext(ctx, t, opts...)
	if err != nil && !errors.Is(err, asynq.ErrTaskIDConflict) {
		return fmt.Errorf("enqueue %s: %w", t.Type(), err)
	}
	return nil
}

// Found is what Ensure found under a task id.
type Found int

const (
	// Enqueued: there was no task; a new one is queued.
	Enqueued Found = iota + 1
	// Alive: a task is pending, active, scheduled or waiting to retry.
	Alive
	// Revived: the task was archived (by asynq, or by an operator's tool);
	// it is queued to run now.
	Revived
	// Replaced: the task had completed and kept its id; it is deleted and
	// queued again.
	Replaced
)

func (f Found) String() string {
	return [...]string{"", "enqueued", "alive", "revived", "replaced"}[f]
}

// Ensure makes sure a runnable task with t's id exists in queue. Every
// refundq task id is deterministic, so an enqueue that conflicts may have
// hit an archived or completed task, which would never run: Ensure runs the
// first and replaces the second. Third-party tools (asynq's CLI, asynqmon)
// archive and delete tasks freely; this is what undoes it.
func Ensure(ctx context.Context, c *asynq.Client, insp *asynq.Inspector, queue, id string, t *asynq.Task, opts []asynq.Option) (Found, error) {
	return ensure(ctx, c, insp, queue, id, t, opts, false)
}

// EnsureNow is Ensure for an operator who wants the task to run now: a task
// that is scheduled for later, or waiting to retry, is made due as well.
func EnsureNow(ctx context.Context, c *asynq.Client, insp *asynq.Inspector, queue, id string, t *asynq.Task, opts []asynq.Option) (Found, error) {
	return ensure(ctx, c, insp, queue, id, t, opts, true)
}

func ensure(ctx context.Context, c *asynq.Client, insp *asynq.Inspector, queue, id string, t *asynq.Task, opts []asynq.Option, now bool) (Found, error) {
	for range 3 { // a task may finish or move between our calls
		_, err := c.EnqueueContext(ctx, t, opts...)
		if err == nil {
			return Enqueued, nil
		}
		if !errors.Is(err, asynq.ErrTaskIDConflict) {
			return 0, fmt.Errorf("enqueue %s %s: %w", t.Type(), id, err)
		}
		info, err := insp.GetTaskInfo(queue, id)
		if errors.Is(err, asynq.ErrTaskNotFound) || errors.Is(err, asynq.ErrQueueNotFound) {
			continue
		}
		if err != nil {
			return 0, fmt.Errorf("inspect task %s: %w", id, err)
		}
		switch info.State {
		case asynq.TaskStateArchived:
			if err := insp.RunTask(queue, id); err == nil {
				return Revived, nil
			} else if !errors.Is(err, asynq.ErrTaskNotFound) {
				return 0, fmt.Errorf("run archived task %s: %w", id, err)
			}
		case asynq.TaskStateCompleted:
			if err := insp.DeleteTask(queue, id); err != nil && !errors.Is(err, asynq.ErrTaskNotFound) {
				return 0, fmt.Errorf("delete completed task %s: %w", id, err)
			}
			if _, err := c.EnqueueContext(ctx, t, opts...); err == nil {
				return Replaced, nil
			}
		case asynq.TaskStateScheduled, asynq.TaskStateRetry:
			if now {
				if err := insp.RunTask(queue, id); err != nil && !errors.Is(err, asynq.ErrTaskNotFound) {
					return 0, fmt.Errorf("run task %s now: %w", id, err)
				}
			}
			return Alive, nil
		default:
			return Alive, nil
		}
	}
	return 0, fmt.Errorf("task %s: still changing after three tries", id)
}

// Runnable reports whether a task with id exists in queue and will run
// without help: pending, active, scheduled or waiting to retry. An
// archived or completed task, or none, will not.
func Runnable(insp *asynq.Inspector, queue, id string) (bool, error) {
	info, err := insp.GetTaskInfo(queue, id)
	if errors.Is(err, asynq.ErrTaskNotFound) || errors.Is(err, asynq.ErrQueueNotFound) {
		return false, nil
	}
	if err != nil {
		return false, fmt.Errorf("inspect task %s: %w", id, err)
	}
	return info.State != asynq.TaskStateArchived && info.State != asynq.TaskStateCompleted, nil
}

// EnsureRefund gives a refund a task that will run: its submit task while
// it was never sent (queued), its poll chain after. now is EnsureNow's:
// make a scheduled or retrying task due as well. The worker's sweep and the
// operator actions both repair a refund this way.
func EnsureRefund(ctx context.Context, c *asynq.Client, insp *asynq.Inspector, requestID, merchant, queue string, queued, now bool) (Found, error) {
	if queued {
		t, opts := Submit(requestID, merchant, queue)
		return ensure(ctx, c, insp, queue, SubmitID(requestID), t, opts, now)
	}
	t, opts := Poll(requestID, 0)
	return ensure(ctx, c, insp, QueuePoll, PollID(requestID), t, opts, now)
}

// RefundRunnable reports whether a refund's submit or poll task will run
// without help.
func RefundRunnable(insp *asynq.Inspector, requestID, queue string) (bool, error) {
	if ok, err := Runnable(insp, queue, SubmitID(requestID)); err != nil || ok {
		return ok, err
	}
	return Runnable(insp, QueuePoll, PollID(requestID))
}
