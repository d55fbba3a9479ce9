package api

import (
	"context"
	"sync"
)

// batchRuns are the batch uploads being enqueued after their request was
// answered. They outlive the request, not the server: drain waits for
// them at shutdown and then stops them.
type batchRuns struct {
	ctx    context.Context
	cancel context.CancelFunc
	wg     sync.WaitGroup

	mu      sync.Mutex
	running map[string]bool
	closed  bool
}

func newBatchRuns() *batchRuns {
	ctx, cancel := context.WithCancel(context.Background())
	return &batchRuns{ctx: ctx, cancel: cancel, running: map[string]bool{}}
}

// start runs run for batch id in the background, unless a run of id is
// already going here: a client re-sending an upload that is still being
// enqueued gets the same batch, not a second run racing the first.
func (b *batchRuns) start(id string, run func(ctx context.Context)) bool {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.running[id] || b.closed {
		return false
	}
	b.running[id] = true
	b.wg.Go(func() {
		defer func() {
			b.mu.Lock()
			delete(b.running, id)
			b.mu.Unlock()
		}()
		run(b.ctx)
	})
	return true
}

// isRunning reports whether a run of batch id is going here.
func (b *batchRuns) isRunning(id string) bool {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.running[id]
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
