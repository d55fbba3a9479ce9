package tasks

import (
	"context"
	"errors"
	"maps"
	"slices"
	"testing"
	"time"

	"github.com/hibiken/asynq"

	"github.com/refundq/refundq/internal/testenv"
)

const id = "828cf71d-a447-4a67-a149-c1df8bc197ca"

func TestDecode(t *testing.T) {
	for _, tc := range []struct {
		name    string
		payload string
		want    Payload
		err     error // nil: decodes; errAny: any error
	}{
		{"current", `{"v":1,"request_id":"` + id + `","merchant":"shop"}`, Payload{V: 1, RequestID: id, Merchant: "shop"}, nil},
		{"before versions", `{"request_id":"` + id + `"}`, Payload{RequestID: id}, nil},
		{"unknown field", `{"v":1,"request_id":"` + id + `","later":true}`, Payload{V: 1, RequestID: id}, nil},
		{"newer", `{"v":2,"request_id":"` + id + `"}`, Payload{}, ErrNewerPayload},
		{"no request_id", `{"v":1}`, Payload{}, errAny},
		{"not JSON", `refund please`, Payload{}, errAny},
		{"empty", ``, Payload{}, errAny},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, err := Decode([]byte(tc.payload))
			switch {
			case tc.err == nil && err != nil:
				t.Fatalf("Decode: %v", err)
			case tc.err == nil && got != tc.want:
				t.Fatalf("Decode = %+v, want %+v", got, tc.want)
			case tc.err == errAny && err == nil, tc.err != nil && tc.err != errAny && !errors.Is(err, tc.err):
				t.Fatalf("Decode = %+v, %v; want error %v", got, err, tc.err)
			}
		})
	}
}

var errAny = errors.New("any error")

// Every task carries the current version and only the request_id (and a
// submit, its merchant), and gets the id, queue and limits its kind needs.
func TestTasksCarryTheirIdentity(t *testing.T) {
	r := testenv.StartRedis(t)
	c := asynq.NewClientFromRedisClient(r.Client())
	insp := asynq.NewInspectorFromRedisClient(r.Client())
	for _, tc := range []struct {
		name, typ, queue, taskID, merchant string
		make                               func() (*asynq.Task, []asynq.Option)
		retention                          time.Duration
		scheduled                          bool
	}{
		{"submit", TypeSubmit, QueueBulk, id, "shop",
			func() (*asynq.Task, []asynq.Option) { return Submit(id, "shop", QueueBulk) }, 0, false},
		{"poll", TypePoll, QueuePoll, id + ":poll", "",
			func() (*asynq.Task, []asynq.Option) { return Poll(id, time.Hour) }, 0, true},
		{"callback", TypeCallback, QueueCallback, id + ":callback", "",
			func() (*asynq.Task, []asynq.Option) { return Callback(id) }, CallbackRetention, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			task, opts := tc.make()
			p, err := Decode(task.Payload())
			if err != nil || p != (Payload{V: Version, RequestID: id, Merchant: tc.merchant}) || task.Type() != tc.typ {
				t.Fatalf("%s task %s: payload %+v, %v", tc.name, task.Type(), p, err)
			}
			testenv.Must(t, Enqueue(context.Background(), c, task, opts))
			info, err := insp.GetTaskInfo(tc.queue, tc.taskID)
			testenv.Must(t, err)
			if info.MaxRetry != MaxRetry || info.Timeout != Timeout || info.Retention != tc.retention {
				t.Errorf("max retry %d, timeout %s, retention %s", info.MaxRetry, info.Timeout, info.Retention)
			}
			if got := info.State == asynq.TaskStateScheduled; got != tc.scheduled {
				t.Errorf("state %s, scheduled %v", info.State, tc.scheduled)
			}
			if n := r.Client().Exists(context.Background(), Key(tc.queue, tc.taskID)).Val(); n != 1 {
				t.Errorf("Key(%q, %q) = %q is not the task's key in Redis", tc.queue, tc.taskID, Key(tc.queue, tc.taskID))
			}
			// A second copy is the same work: Enqueue treats it as done.
			again, opts := tc.make()
			testenv.Must(t, Enqueue(context.Background(), c, again, opts))
		})
	}
}

// Ensure leaves a live task alone and brings back one that would never
// run; EnsureNow also makes a waiting task due.
func TestEnsure(t *testing.T) {
	r := testenv.StartRedis(t)
	c := asynq.NewClientFromRedisClient(r.Client())
	insp := asynq.NewInspectorFromRedisClient(r.Client())
	ctx := context.Background()
	for _, tc := range []struct {
		name      string
		prepare   func(t *testing.T, id string) // leaves the task of id as the case needs
		now       bool
		want      Found
		wantState asynq.TaskState
	}{
		{"none", func(*testing.T, string) {}, false, Enqueued, asynq.TaskStatePending},
		{"pending", enqueued(c, 0), false, Alive, asynq.TaskStatePending},
		{"scheduled", enqueued(c, time.Hour), false, Alive, asynq.TaskStateScheduled},
		{"scheduled, now", enqueued(c, time.Hour), true, Alive, asynq.TaskStatePending},
		{"archived", func(t *testing.T, id string) {
			enqueued(c, 0)(t, id)
			testenv.Must(t, insp.ArchiveTask(QueueInteractive, id))
		}, false, Revived, asynq.TaskStatePending},
		{"completed", func(t *testing.T, id string) { completed(t, r, id) }, false, Replaced, asynq.TaskStatePending},
	} {
		t.Run(tc.name, func(t *testing.T) {
			tid := "ensure-" + tc.name
			tc.prepare(t, tid)
			runnable, err := Runnable(insp, QueueInteractive, tid)
			testenv.Must(t, err)
			ensure := Ensure
			if tc.now {
				ensure = EnsureNow
			}
			task, opts := testTask(tid, 0)
			got, err := ensure(ctx, c, insp, QueueInteractive, tid, task, opts)
			if err != nil || got != tc.want {
				t.Fatalf("ensure: %s, %v; want %s", got, err, tc.want)
			}
			info, err := insp.GetTaskInfo(QueueInteractive, tid)
			testenv.Must(t, err)
			if info.State != tc.wantState {
				t.Errorf("task is %s after ensure, want %s", info.State, tc.wantState)
			}
			if wantRunnable := tc.want == Alive; runnable != wantRunnable {
				t.Errorf("Runnable before ensure = %v, want %v", runnable, wantRunnable)
			}
		})
	}
}

func testTask(taskID string, delay time.Duration) (*asynq.Task, []asynq.Option) {
	return newTask(TypeSubmit, Payload{RequestID: id}), []asynq.Option{asynq.Queue(QueueInteractive), asynq.TaskID(taskID),
		asynq.ProcessIn(delay), asynq.Retention(time.Hour)}
}

func enqueued(c *asynq.Client, delay time.Duration) func(*testing.T, string) {
	return func(t *testing.T, tid string) {
		task, opts := testTask(tid, delay)
		testenv.Must(t, Enqueue(context.Background(), c, task, opts))
	}
}

// completed runs the task of tid to completion on a real asynq server, so
// that it keeps its id for its retention.
func completed(t *testing.T, r *testenv.Redis, tid string) {
	enqueued(asynq.NewClientFromRedisClient(r.Client()), 0)(t, tid)
	srv := asynq.NewServerFromRedisClient(r.Client(), asynq.Config{Concurrency: 1, Queues: map[string]int{QueueInteractive: 1},
		LogLevel: asynq.FatalLevel})
	testenv.Must(t, srv.Start(asynq.HandlerFunc(func(context.Context, *asynq.Task) error { return nil })))
	defer srv.Shutdown()
	insp := asynq.NewInspectorFromRedisClient(r.Client())
	testenv.WaitFor(t, 10*time.Second, "the task to complete", func() bool {
		info, err := insp.GetTaskInfo(QueueInteractive, tid)
		return err == nil && info.State == asynq.TaskStateCompleted
	})
}

func TestQueues(t *testing.T) {
	q := DefaultQueues()
	if names := slices.Sorted(maps.Keys(q)); !slices.Equal(names, slices.Sorted(slices.Values(QueueNames()))) {
		t.Fatalf("DefaultQueues %v and QueueNames %v differ", names, QueueNames())
	}
	if q[QueueInteractive] <= q[QueueBulk] {
		t.Errorf("interactive weight %d is not above bulk %d: a batch could delay a checkout refund", q[QueueInteractive], q[QueueBulk])
	}
	q[QueueInteractive] = 0
	if DefaultQueues()[QueueInteractive] == 0 {
		t.Error("DefaultQueues returns a shared map")
	}
}

func TestFoundNames(t *testing.T) {
	for f, want := range map[Found]string{Enqueued: "enqueued", Alive: "alive", Revived: "revived", Replaced: "replaced"} {
		if f.String() != want {
			t.Errorf("%d is %q, want %q", f, f, want)
		}
	}
}
