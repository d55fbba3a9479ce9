package store_test

import (
	"errors"
	"testing"

	"github.com/refundq/refundq/internal/store"
	"github.com/refundq/refundq/internal/testenv"
)

// A batch an earlier refundq began (its metadata has no ids field) is
// reported as such and never restarted; one this version began is not,
// however often it runs.
func TestStartBatchRefusesABatchAnEarlierVersionBegan(t *testing.T) {
	s, rdb, ctx := started(t)
	testenv.Must(t, rdb.HSet(ctx, "refundq:batchmeta:old", "created_at", 1, "runs", 1).Err())
	for _, c := range []struct {
		id      string
		earlier bool
	}{{"old", true}, {"new", false}, {"never", false}} {
		if c.id == "new" {
			testenv.Must(t, s.StartBatch(ctx, "new", "a.csv"))
		}
		got, err := s.EarlierBatch(ctx, c.id)
		if err != nil || got != c.earlier {
			t.Errorf("EarlierBatch(%s) = %v, %v; want %v", c.id, got, err, c.earlier)
		}
	}
	if err := s.StartBatch(ctx, "old", "b.csv"); !errors.Is(err, store.ErrEarlierBatch) {
		t.Fatalf("StartBatch of the earlier batch: %v", err)
	}
	if runs, _ := rdb.HGet(ctx, "refundq:batchmeta:old", "runs").Int(); runs != 1 {
		t.Fatalf("the earlier batch was changed: runs %d", runs)
	}
	testenv.Must(t, s.StartBatch(ctx, "new", "a.csv"))
	if m, err := s.Batch(ctx, "new"); err != nil || m.Runs != 2 {
		t.Fatalf("second run of a new batch: %+v %v", m, err)
	}
}
