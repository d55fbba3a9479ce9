package store

import (
	"context"
	"fmt"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/refundq/refundq/internal/refund"
)

// Change is one compare-and-set on a record: move it from one of From to
// To, bump counters, set fields and log an event, all atomically.
type Change struct {
	From []refund.State
	To   refund.State
	// Event type and detail for the log; the state change itself is implied.
	Event  string
	Detail string
	// Attempts and Polls are added to the record's counters.
	Attempts, Polls int
	// Fields with a non-empty value are written to the record.
	RequestStatus, ProviderCode, ProviderMessage, FinDocumentID, Reason string
	// Unlock is the token of the refund's lock (see Lock) to release in the
	// same round trip when the change applies; empty keeps the lock.
	Unlock string
	// Resume records that an operator sent the refund back to work now,
	// which restarts its deadline (refund.Record.ResumedAt).
	Resume bool
}

// Transition applies c to the refund id. It returns the record as written
// and the state it left. It returns a *refund.TransitionError when the
// record is in a state outside c.From, and ErrNotFound when there is none.
func (s *Redis) Transition(ctx context.Context, id string, c Change) (*refund.Record, refund.State, error) {
	for _, f := range c.From {
		if !refund.CanTransition(f, c.To) {
			return nil, "", fmt.Errorf("store: %w", &refund.TransitionError{From: f, To: c.To})
		}
	}
	now := s.now()
	res, err := s.transition(ctx, id, c, now)
	if isNoScript(err) {
		// A fresh or restarted Redis has no script cache: load and retry once.
		if err = transitionScript.Load(ctx, s.rdb).Err(); err == nil {
			res, err = s.transition(ctx, id, c, now)
		}
	}
	if err != nil {
		return nil, "", fmt.Errorf("store: transition %s to %s: %w", id, c.To, err)
	}
	switch res[0].(int64) {
	case -1:
		s.unindex(ctx, id, c.To, now)
		return nil, "", ErrNotFound
	case 0:
		cur := refund.State(res[1].(string))
		if cur != c.To {
			s.unindex(ctx, id, c.To, now)
		}
		return nil, "", &refund.TransitionError{From: cur, To: c.To}
	}
	return decode(pairs(res[2:])), refund.State(res[1].(string)), nil
}

// transition sends the compare-and-set and, in the same round trip, the
// index update for when it applies, as it almost always does: a state
// change costs one round trip, not two. The indexes live in other cluster
// slots, so they cannot go inside the script; they are a listing aid, and
// readers check each record's real state. Transition undoes the index
// entry of a change that did not apply.
//
// The score is the time of the last change, even without a state change, so
// a sweep can find refunds that stopped moving.
func (s *Redis) transition(ctx context.Context, id string, c Change, now time.Time) ([]any, error) {
	pipe := s.rdb.Pipeline()
	cmd := transitionScript.EvalSha(ctx, pipe, []string{recordKey(id), eventsKey(id), lockKey(id)}, s.transitionArgs(now, c)...)
	for _, f := range c.From {
		if indexed(f) && f != c.To {
			pipe.ZRem(ctx, stateKey(f), id)
		}
	}
	if indexed(c.To) {
		pipe.ZAdd(ctx, stateKey(c.To), redis.Z{Score: float64(now.UnixMilli()), Member: id})
	}
	_, _ = pipe.Exec(ctx) // an index error alone is not the change's; the script's error is
	return cmd.Slice()
}

// unindex takes back the index entry transition wrote for a change that did
// not apply, unless someone has rewritten it since.
func (s *Redis) unindex(ctx context.Context, id string, to refund.State, now time.Time) {
	if indexed(to) {
		_ = unindexScript.Run(ctx, s.rdb, []string{stateKey(to)}, id, now.UnixMilli()).Err()
	}
}

func (s *Redis) transitionArgs(now time.Time, c Change) []any {
	ev := eventJSON(refund.Event{At: now, Type: c.Event, To: c.To, Detail: c.Detail})
	args := []any{joinStates(c.From), string(c.To), s.retention.Milliseconds(), s.maxEvents, ev, c.Unlock}
	var counters []any
	if c.Attempts != 0 {
		counters = append(counters, fAttempts, c.Attempts)
	}
	if c.Polls != 0 {
		counters = append(counters, fPolls, c.Polls)
	}
	args = append(args, len(counters)/2)
	args = append(args, counters...)
	args = append(args, fUpdatedAt, ms(now))
	if c.Resume {
		args = append(args, fResumedAt, ms(now))
	}
	for _, f := range [][2]string{
		{fReqStatus, c.RequestStatus}, {fCode, c.ProviderCode}, {fMessage, c.ProviderMessage},
		{fFinDoc, c.FinDocumentID}, {fReason, c.Reason},
	} {
		if f[1] != "" {
			args = append(args, f[0], f[1])
		}
	}
	return args
}

// AddEvent appends an event without changing the state, e.g. a poll that
// found the refund still processing. It may be the refund's first stored
// event (see Events), so it sets the log's expiry too.
func (s *Redis) AddEvent(ctx context.Context, id string, e refund.Event) error {
	if e.At.IsZero() {
		e.At = s.now()
	}
	pipe := s.rdb.Pipeline()
	pipe.RPush(ctx, eventsKey(id), eventJSON(e))
	pipe.LTrim(ctx, eventsKey(id), int64(-s.maxEvents), -1)
	pipe.PExpire(ctx, eventsKey(id), s.retention)
	if _, err := pipe.Exec(ctx); err != nil {
		return fmt.Errorf("store: event %s: %w", id, err)
	}
	return nil
}

func pairs(flat []any) map[string]string {
	h := make(map[string]string, len(flat)/2)
	for i := 0; i+1 < len(flat); i += 2 {
		k, _ := flat[i].(string)
		v, _ := flat[i+1].(string)
		h[k] = v
	}
	return h
}
