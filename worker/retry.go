package worker

import (
	"errors"
	"math/rand/v2"
	"time"

	"github.com/hibiken/asynq"
)

// waitError asks asynq to run the task again after a delay without counting
// a failure. Polls, rate limits and a busy refund lock all wait this way, so
// waiting never holds a worker slot and never spends the retry budget.
type waitError struct {
	after  time.Duration
	reason string
}

func (e *waitError) Error() string { return "waiting " + e.after.String() + ": " + e.reason }

func wait(after time.Duration, reason string) error { return &waitError{after: after, reason: reason} }

// isFailure is asynq's Config.IsFailure: only real failures count.
func isFailure(err error) bool {
	var w *waitError
	return !errors.As(err, &w)
}

// maxBackoff caps the exponential backoff between failed submit attempts.
const maxBackoff = 5 * time.Minute

// retryDelay is asynq's Config.RetryDelayFunc.
func retryDelay(n int, err error, _ *asynq.Task) time.Duration {
	var w *waitError
	switch {
	case errors.As(err, &w):
		return w.after
	case errors.Is(err, asynq.ErrLeaseExpired):
		// A crashed worker's task: the lease already cost 30-120s.
		return time.Second
	}
	return backoff(n)
}

// backoff is exponential with full jitter on the upper half, so workers
// that failed together do not retry together.
func backoff(n int) time.Duration {
	d := maxBackoff
	if n < 20 {
		d = min(time.Second<<n, maxBackoff)
	}
	return d/2 + rand.N(d/2+1)
}

// jitter spreads d by up to +50%.
func jitter(d time.Duration) time.Duration { return d + rand.N(d/2+1) }
