package api

import (
	"context"
	"errors"
	"testing"

	"github.com/refundq/refundq/internal/testenv"
)

// A batch id has one run at a time here, its prepare (the report reset)
// included; a failed prepare frees the id; nothing starts once the server
// drains, and drain stops what runs.
func TestBatchRunsOneAtATime(t *testing.T) {
	b := newBatchRuns()
	release := make(chan struct{})
	stopped := make(chan error, 1)
	testenv.Must(t, b.start("b-1", "c", func() error { return nil }, func(ctx context.Context) {
		<-release
		<-ctx.Done()
		stopped <- ctx.Err()
	}))
	if err := b.start("b-1", "other", func() error { t.Error("prepare of a run of other content"); return nil }, nil); !errors.Is(err, errBusy) {
		t.Fatalf("a run of other content under a running batch id: %v", err)
	}
	if err := b.start("b-1", "c", func() error { t.Error("prepare of a second run"); return nil }, nil); !errors.Is(err, errRunning) {
		t.Fatalf("second run of b-1: %v", err)
	}
	boom := errors.New("redis down")
	if err := b.start("b-2", "c", func() error { return boom }, nil); !errors.Is(err, boom) {
		t.Fatalf("failed prepare: %v", err)
	}
	done := make(chan struct{})
	testenv.Must(t, b.start("b-2", "c", func() error { return nil }, func(context.Context) { close(done) }))
	<-done
	close(release)
	b.drain(nil)
	if err := <-stopped; !errors.Is(err, context.Canceled) {
		t.Errorf("the run was not stopped by drain: %v", err)
	}
	if err := b.start("b-3", "c", func() error { return nil }, nil); !errors.Is(err, errClosed) {
		t.Errorf("start after drain: %v", err)
	}
}
