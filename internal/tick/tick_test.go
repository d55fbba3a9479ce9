package tick

import (
	"context"
	"testing"
)

func TestEveryCallsUntilCanceled(t *testing.T) {
	ctx, cancel := context.WithCancel(t.Context())
	calls := make(chan struct{})
	returned := make(chan struct{})
	go func() {
		defer close(returned)
		Every(ctx, 1, func() { calls <- struct{}{} })
	}()
	for range 3 {
		<-calls
	}
	cancel()
	// A tick that raced the cancel may still be calling f.
	for {
		select {
		case <-calls:
		case <-returned:
			return
		}
	}
}
