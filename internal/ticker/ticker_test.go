package ticker_test

import (
	"context"
	"sync/atomic"
	"testing"
	"time"

	"github.com/refundq/refundq/internal/testenv"
	"github.com/refundq/refundq/internal/ticker"
)

// Run calls its chore repeatedly and returns once its context ends.
func TestRunRepeatsUntilCanceled(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	var calls atomic.Int64
	done := make(chan struct{})
	go func() { defer close(done); ticker.Run(ctx, time.Millisecond, func(context.Context) { calls.Add(1) }) }()
	testenv.WaitFor(t, 10*time.Second, "three calls", func() bool { return calls.Load() >= 3 })
	cancel()
	select {
	case <-done:
	case <-time.After(10 * time.Second):
		t.Fatal("Run did not return after its context ended")
	}
}
