package store

import (
	"context"
	"fmt"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/refundq/refundq/internal/refund"
)

// Callback delivery fields of the refund hash.
const (
	fCallbackState    = "callback_state"
	fCallbackAttempts = "callback_attempts"
	fCallbackError    = "callback_last_error"
)

func decodeCallback(f *fieldReader) refund.CallbackDelivery {
	return refund.CallbackDelivery{State: refund.CallbackState(f.h[fCallbackState]), LastError: f.h[fCallbackError],
		Attempts: f.int(fCallbackAttempts)}
}

// CallbackUpdate is one change to a refund's callback delivery.
type CallbackUpdate struct {
	State refund.CallbackState
	// Attempted counts one more delivery attempt.
	Attempted bool
	// LastError replaces the last error; empty clears it. It must not hold
	// the callback URL's query or credentials (see refund.RedactURL).
	LastError string
	// Detail, when set, is logged as a "callback" event.
	Detail string
}

// UpdateCallback applies u to the refund's callback delivery unless the
// delivery already ended. It reports whether u was applied, and returns
// ErrNotFound for a refund with no record (which it does not create).
func (s *Redis) UpdateCallback(ctx context.Context, id string, u CallbackUpdate) (bool, error) {
	attempted := 0
	if u.Attempted {
		attempted = 1
	}
	var ev string
	if u.Detail != "" {
		ev = eventJSON(refund.Event{At: s.now(), Type: "callback", Detail: u.Detail})
	}
	now := s.now().UnixMilli()
	n, err := callbackScript.Run(ctx, s.rdb, []string{recordKey(id), eventsKey(id)},
		string(u.State), attempted, u.LastError, ev, s.maxEvents, s.indexMode(), callbacksKey, id, now).Int()
	if err != nil {
		return false, fmt.Errorf("store: callback %s: %w", id, err)
	}
	if n < 0 {
		return false, ErrNotFound
	}
	if n == 1 && s.cluster {
		s.indexCallback(ctx, id, u.State, now)
	}
	return n == 1, nil
}

// indexCallback lists or unlists a pending delivery on Redis Cluster,
// where the callback script cannot reach the index.
func (s *Redis) indexCallback(ctx context.Context, id string, st refund.CallbackState, now int64) {
	if st == refund.CallbackPending {
		_ = s.rdb.ZAdd(ctx, callbacksKey, redis.Z{Score: float64(now), Member: id}).Err()
		return
	}
	_ = s.rdb.ZRem(ctx, callbacksKey, id).Err()
}

// ListStaleCallbacks returns up to limit pending deliveries that have not
// changed since cutoff, oldest first after skipping offset: the sweep makes
// sure each still has a task that will run.
func (s *Redis) ListStaleCallbacks(ctx context.Context, cutoff time.Time, offset, limit int64) ([]IndexEntry, error) {
	return s.listStale(ctx, callbacksKey, cutoff, offset, limit)
}

// DropStaleCallback unlists a pending delivery whose record is gone or
// whose delivery has ended, unless it changed since it was read.
func (s *Redis) DropStaleCallback(ctx context.Context, e IndexEntry) error {
	return s.dropStale(ctx, callbacksKey, e)
}
