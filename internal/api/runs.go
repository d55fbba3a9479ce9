package api

import (
	"context"
	"errors"
	"sync"
)

// batchRuns are the batch uploads being enqueued after their request was
// answered. They outlive the request, not the server: drain waits for
// them at shutdown and then stops them.
type batchRuns struct {
	ctx    context.Context
	cancel context.CancelFunc
	wg     sync.WaitGroup

	mu sync.Mutex
	// running maps the batch ids being run to their content's id.
	running map[string]string
	closed  bool
}

func newBatchRuns() *batchRuns {
	ctx, cancel := context.WithCancel(context.Background())
	return &batchRuns{ctx: ctx, cancel: cancel, running: map[string]string{}}
}

// Why start did not start a run.
var (
	errRunning = errors.New("api: a run of this batch is going")
	errBusy    = errors.New("api: a run of this batch id with other content is going")
	errClosed  = errors.New("api: the server is shutting down")
)

// start claims batch id for content, calls prepare, and then runs run in
// the background. A run of id already going here is errRunning when it has
// the same content (a client re-sending an upload that is still being
// enqueued gets the same batch, not a second run racing the first, nor a
// prepare that resets its report) and errBusy when its content differs:
// that upload must wait, not be dropped. A failed prepare releases the
// claim.
func (b *batchRuns) start(id, content string, prepare func() error, run func(ctx context.Context)) error {
	b.mu.Lock()
	other, going := b.running[id]
	switch {
	case b.closed:
		b.mu.Unlock()
		return errClosed
	case going && other == content:
		b.mu.Unlock()
		return errRunning
	case going:
		b.mu.Unlock()
		return errBusy
	}
	b.running[id] = content
	b.mu.Unlock()
	if err := prepare(); err != nil {
		b.mu.Lock()
		delete(b.running, id)
		b.mu.Unlock()
		return err
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.closed { // drain began while prepare ran: Wait may have started
		delete(b.running, id)
		return errClosed
	}
	b.wg.Go(func() {
		defer func() {
			b.mu.Lock()
			delete(b.running, id)
			b.mu.Unlock()
		}()
		run(b.ctx)
	})
	return nil
}

// drain lets the runs finish until ctx ends (nil: not at all), then stops
// the rest and waits for them to record where they stopped.
func (b *batchRuns) drain(ctx context.Context) {
	b.mu.Lock()
	b.closed = true // no run starts after this, so Wait is safe
	b.mu.Unlock()
	done := make(chan struct{})
	go func() { b.wg.Wait(); close(done) }()
	if ctx != nil {
		select {
		case <-done:
		case <-ctx.Done():
		}
	}
	b.cancel()
	<-done
}
