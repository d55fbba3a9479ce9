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
	args := s.transitionArgs(now, c)
	res, err := transitionScript.Run(ctx, s.rdb, []string{recordKey(id), eventsKey(id)}, args...).Slice()
	if err != nil {
		return nil, "", fmt.Errorf("store: transition %s to %s: %w", id, c.To, err)
	}
	switch res[0].(int64) {
	case -1:
		return nil, "", ErrNotFound
	case 0:
		return nil, "", &refund.TransitionError{From: refund.State(res[1].(string)), To: c.To}
	}
	from := refund.State(res[1].(string))
	rec := decode(pairs(res[2:]))
	s.reindex(ctx, id, from, c.To, now)
	return rec, from, nil
}

func (s *Redis) transitionArgs(now time.Time, c Change) []any {
	ev := eventJSON(refund.Event{At: now, Type: c.Event, To: c.To, Detail: c.Detail})
	args := []any{joinStates(c.From), string(c.To), s.retention.Milliseconds(), s.maxEvents, ev}
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

// reindex moves id between state indexes. It runs after the script, outside
// it, because the indexes live in other cluster slots. The indexes are a
// listing aid: readers check each record's real state.
//
// The score is the time of the last change, even without a state change, so
// a sweep can find refunds that stopped moving.
func (s *Redis) reindex(ctx context.Context, id string, from, to refund.State, now time.Time) {
	pipe := s.rdb.Pipeline()
	if indexed(from) && from != to {
		pipe.ZRem(ctx, stateKey(from), id)
	}
	if indexed(to) {
		pipe.ZAdd(ctx, stateKey(to), redis.Z{Score: float64(now.UnixMilli()), Member: id})
	}
	_, _ = pipe.Exec(ctx)
}

// AddEvent appends an event without changing the state, e.g. a poll that
// found the refund still processing.
func (s *Redis) AddEvent(ctx context.Context, id string, e refund.Event) error {
	if e.At.IsZero() {
		e.At = s.now()
	}
	pipe := s.rdb.Pipeline()
	pipe.RPush(ctx, eventsKey(id), eventJSON(e))
	pipe.LTrim(ctx, eventsKey(id), int64(-s.maxEvents), -1)
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
