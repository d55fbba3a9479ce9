package store

import (
	"context"
	"fmt"
	"strconv"

	"github.com/redis/go-redis/v9"

	"github.com/refundq/refundq/internal/refund"
)

// Callback delivery fields of the refund hash.
const (
	fCallbackState    = "callback_state"
	fCallbackAttempts = "callback_attempts"
	fCallbackError    = "callback_last_error"
)

func decodeCallback(h map[string]string) refund.CallbackDelivery {
	d := refund.CallbackDelivery{State: refund.CallbackState(h[fCallbackState]), LastError: h[fCallbackError]}
	d.Attempts, _ = strconv.Atoi(h[fCallbackAttempts])
	return d
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
	n, err := callbackScript.Run(ctx, s.rdb, []string{recordKey(id), eventsKey(id)},
		string(u.State), attempted, u.LastError, ev, s.maxEvents).Int()
	if err != nil {
		return false, fmt.Errorf("store: callback %s: %w", id, err)
	}
	if n < 0 {
		return false, ErrNotFound
	}
	return n == 1, nil
}

// callbackScript updates the delivery fields atomically, so a late run of
// a duplicate task cannot turn delivered back into pending, and a record
// that expired is not brought back as a stub.
//
// KEYS: record, events. ARGV: state, attempt increment, last error, event
// (empty for none), max events. Returns -1 (no record), 0 (ended) or 1.
var callbackScript = redis.NewScript(`
if redis.call('EXISTS', KEYS[1]) == 0 then return -1 end
local cur = redis.call('HGET', KEYS[1], 'callback_state')
if cur == 'delivered' or cur == 'failed' then return 0 end
redis.call('HSET', KEYS[1], 'callback_state', ARGV[1])
if ARGV[2] ~= '0' then redis.call('HINCRBY', KEYS[1], 'callback_attempts', ARGV[2]) end
if ARGV[3] == '' then
  redis.call('HDEL', KEYS[1], 'callback_last_error')
else
  redis.call('HSET', KEYS[1], 'callback_last_error', ARGV[3])
end
if ARGV[4] ~= '' then
  redis.call('RPUSH', KEYS[2], ARGV[4])
  redis.call('LTRIM', KEYS[2], -tonumber(ARGV[5]), -1)
  local ttl = redis.call('PTTL', KEYS[1])
  if ttl > 0 then redis.call('PEXPIRE', KEYS[2], ttl) end
end
return 1
`)
