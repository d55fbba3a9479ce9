package operator_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/hibiken/asynq"

	"github.com/refundq/refundq/internal/operator"
	"github.com/refundq/refundq/internal/refund"
	"github.com/refundq/refundq/internal/tasks"
	"github.com/refundq/refundq/internal/testenv"
)

// A refund whose task a tool archived, and one whose task was deleted,
// are listed as stranded and repaired with one action each, which a worker
// then takes up; a refund whose task is alive is neither listed nor
// changed, and a settled one is refused.
func TestStrandedRefundsAreFoundAndRepaired(t *testing.T) {
	f := newFixture(t, 0)
	insp := asynq.NewInspectorFromRedisClient(f.RDB)
	archived, deleted, alive := f.enqueue(1), f.enqueue(2), f.enqueue(3)
	testenv.Must(t, insp.ArchiveTask(tasks.QueueInteractive, tasks.SubmitID(archived)))
	testenv.Must(t, insp.DeleteTask(tasks.QueueInteractive, tasks.SubmitID(deleted)))

	f.clock.Advance(2 * time.Minute) // the deleted one has been still for a while
	list, err := f.op.FindStranded(context.Background(), 100)
	testenv.Must(t, err)
	found := map[string]string{}
	for _, s := range list {
		found[s.Record.RequestID] = s.Why
	}
	if len(found) != 2 || found[archived] == "" || found[deleted] == "" {
		t.Fatalf("stranded: %v, want %s (archived) and %s (deleted)", found, archived, deleted)
	}
	for id, want := range map[string]tasks.Found{archived: tasks.Revived, deleted: tasks.Enqueued, alive: tasks.Alive} {
		r, err := f.op.Repair(context.Background(), id, "olga")
		testenv.Must(t, err)
		if r.Task != want {
			t.Errorf("repair of %s found %s, want %s", id, r.Task, want)
		}
	}
	if n := f.EventTypes(alive)["operator_repair"]; n != 0 {
		t.Errorf("a refund with a live task got %d repair events", n)
	}
	if n := f.EventTypes(archived)["operator_repair"]; n != 1 {
		t.Errorf("%d repair events on the archived one, want 1", n)
	}
	f.startWorker(time.Hour)
	for _, id := range []string{archived, deleted, alive} {
		f.waitState(id, refund.Succeeded)
	}
	var se *operator.StateError
	if _, err := f.op.Repair(context.Background(), archived, "olga"); !errors.As(err, &se) {
		t.Fatalf("repair of a succeeded refund: %v, want a StateError", err)
	}
	f.AuditClean()
}
