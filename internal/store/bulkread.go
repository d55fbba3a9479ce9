package store

import (
	"context"
	"errors"
	"fmt"

	"github.com/redis/go-redis/v9"

	"github.com/refundq/refundq/internal/refund"
)

// Peek reports what is stored under each id without writing anything.
func (s *Redis) Peek(ctx context.Context, ids []string) ([]Existing, error) {
	pipe := s.rdb.Pipeline()
	cmds := make([]*redis.SliceCmd, len(ids))
	for i, id := range ids {
		cmds[i] = pipe.HMGet(ctx, recordKey(id), existingFields...)
	}
	if _, err := pipe.Exec(ctx); err != nil {
		return nil, fmt.Errorf("store: peek: %w", err)
	}
	out := make([]Existing, len(ids))
	for i, c := range cmds {
		out[i] = existing(c.Val())
	}
	return out, nil
}

func existing(v []any) Existing {
	str := func(i int) string {
		if i < len(v) {
			s, _ := v[i].(string)
			return s
		}
		return ""
	}
	e := Existing{ParamHash: str(0), State: refund.State(str(1)), Queue: str(2), BatchID: str(3)}
	e.Found = e.State != ""
	return e
}

// GetMany returns the records of ids in one round trip; a missing record
// is nil.
func (s *Redis) GetMany(ctx context.Context, ids []string) ([]*refund.Record, error) {
	pipe := s.rdb.Pipeline()
	cmds := make([]*redis.MapStringStringCmd, len(ids))
	for i, id := range ids {
		cmds[i] = pipe.HGetAll(ctx, recordKey(id))
	}
	if _, err := pipe.Exec(ctx); err != nil {
		return nil, fmt.Errorf("store: get many: %w", err)
	}
	out := make([]*refund.Record, len(ids))
	for i, c := range cmds {
		if h := c.Val(); len(h) > 0 {
			rec, err := decode(h)
			if err != nil {
				return nil, err
			}
			out[i] = rec
		}
	}
	return out, nil
}

// States returns the state of each id in one round trip; a missing record
// has the empty state.
func (s *Redis) States(ctx context.Context, ids []string) ([]refund.State, error) {
	pipe := s.rdb.Pipeline()
	cmds := make([]*redis.StringCmd, len(ids))
	for i, id := range ids {
		cmds[i] = pipe.HGet(ctx, recordKey(id), fState)
	}
	if _, err := pipe.Exec(ctx); err != nil && !errors.Is(err, redis.Nil) {
		return nil, fmt.Errorf("store: states: %w", err)
	}
	out := make([]refund.State, len(ids))
	for i, c := range cmds {
		out[i] = refund.State(c.Val())
	}
	return out, nil
}
