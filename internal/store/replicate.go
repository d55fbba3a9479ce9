package store

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/redis/go-redis/v9"
)

// ErrNotReplicated is returned when fewer replicas than WithReplicaAcks
// asked for confirmed a write in time. The write may exist on the primary
// and be lost in a failover; repeating the same operation is safe.
var ErrNotReplicated = errors.New("store: Redis replicas did not confirm the write in time")

// Replicate waits until the replicas WithReplicaAcks names hold every write
// made so far through any connection: replication is one ordered stream,
// so a replica that has a write made now has everything before it. The
// write is a stamp on refund id's record, on the connection WAIT then runs
// on. It does nothing without WithReplicaAcks.
func (s *Redis) Replicate(ctx context.Context, id string) error {
	return s.replicate(ctx, recordKey(id))
}

// ReplicateBatch is Replicate for a batch: its stamp is on the batch's
// metadata, the last thing a batch run writes.
func (s *Redis) ReplicateBatch(ctx context.Context, id string) error {
	return s.replicate(ctx, batchMetaKey(id))
}

func (s *Redis) replicate(ctx context.Context, key string) error {
	if s.acks <= 0 {
		return nil
	}
	pipe := s.rdb.Pipeline()
	pipe.HSet(ctx, key, fReplicated, ms(s.now()))
	wait := pipe.Do(ctx, "WAIT", s.acks, s.ackTimeout.Milliseconds())
	if _, err := pipe.Exec(ctx); err != nil {
		return fmt.Errorf("store: replicate: %w", err)
	}
	return s.confirmed(wait)
}

// runReplicated is runScript followed, on the same connection, by WAIT.
func (s *Redis) runReplicated(ctx context.Context, sc *redis.Script, keys []string, args ...any) (any, error) {
	for attempt := 0; ; attempt++ {
		pipe := s.rdb.Pipeline()
		res := sc.EvalSha(ctx, pipe, keys, args...)
		wait := pipe.Do(ctx, "WAIT", s.acks, s.ackTimeout.Milliseconds())
		_, _ = pipe.Exec(ctx)
		if isNoScript(res.Err()) && attempt == 0 {
			// A fresh or restarted Redis has no script cache; inside a
			// pipeline go-redis cannot fall back to EVAL by itself.
			if err := sc.Load(ctx, s.rdb).Err(); err != nil {
				return nil, err
			}
			continue
		}
		if err := res.Err(); err != nil {
			return nil, err
		}
		return res.Val(), s.confirmed(wait)
	}
}

func (s *Redis) confirmed(wait *redis.Cmd) error {
	n, err := wait.Int()
	if err != nil {
		return fmt.Errorf("store: WAIT: %w", err)
	}
	if n < s.acks {
		return fmt.Errorf("%w: %d of %d replicas within %s", ErrNotReplicated, n, s.acks, s.ackTimeout)
	}
	return nil
}

// DefaultReplicaAckTimeout is how long a write waits for its replicas when
// WithReplicaAcks gives no timeout.
const DefaultReplicaAckTimeout = time.Second
