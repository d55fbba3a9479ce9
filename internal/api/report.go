package api

import (
	"context"
	"fmt"
	"sync"
	"time"

	"github.com/refundq/refundq/internal/store"
	"github.com/refundq/refundq/internal/tick"
	"github.com/refundq/refundq/producer"
)

// Report timing: a run alive writes its report at least every
// heartbeatEvery, and one silent for staleAfter is dead (its server
// stopped without recording the end).
const (
	heartbeatEvery = 5 * time.Second
	staleAfter     = 30 * time.Second
	// reportChunk row problems are written to Redis in one round trip.
	reportChunk = 500
	// maxStoredProblems bounds what one run stores in Redis: a body of
	// millions of bad lines would otherwise keep hundreds of megabytes
	// there for the whole retention. The first ones are enough to fix
	// the file; the rest are counted.
	maxStoredProblems = 100_000
)

// reportSink stores a run's row problems in Redis as they are found, a
// chunk at a time, so the full report survives the request and memory
// stays flat however many rows are bad.
type reportSink struct {
	ctx   context.Context
	store *store.Redis
	id    string
	limit int // maxStoredProblems, smaller in tests

	mu  sync.Mutex
	buf []store.ReportRow
	// kept counts the problems stored or buffered; omitted those past
	// maxStoredProblems.
	kept, omitted int
}

func newReportSink(ctx context.Context, s *store.Redis, id string, limit int) *reportSink {
	return &reportSink{ctx: ctx, store: s, id: id, limit: limit}
}

// add is an intake.RunOptions.OnReject; an error stops the run.
func (r *reportSink) add(e producer.RowError) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.kept >= r.limit {
		r.omitted++
		return nil
	}
	r.kept++
	r.buf = append(r.buf, store.ReportRow{Line: e.Line, Field: e.Field, Reason: e.Reason})
	if len(r.buf) < reportChunk {
		return nil
	}
	return r.flushLocked(r.ctx)
}

// flush writes what is buffered, and marks the run alive.
func (r *reportSink) flush(ctx context.Context) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.flushLocked(ctx)
}

func (r *reportSink) flushLocked(ctx context.Context) error {
	if err := r.store.AppendReport(ctx, r.id, r.buf); err != nil {
		return err
	}
	r.buf = r.buf[:0]
	return nil
}

// heartbeat flushes every heartbeatEvery until stop is called, so a
// reader can tell a slow run from a dead one.
func (r *reportSink) heartbeat(ctx context.Context) (stop func()) {
	ctx, cancel := context.WithCancel(ctx)
	done := make(chan struct{})
	go func() {
		defer close(done)
		tick.Every(ctx, heartbeatEvery, func() {
			_ = r.flush(ctx) // a failed beat is retried; the run reports its own errors
		})
	}()
	return func() { cancel(); <-done }
}

// omittedNote says how many problems were not stored, or "" when none.
func (r *reportSink) omittedNote() string {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.omitted == 0 {
		return ""
	}
	return fmt.Sprintf("the first %d row problems are stored; %d more were counted but not stored: fix these and send the upload again to see the rest",
		r.kept, r.omitted)
}
