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

// ErrReplicaAcksOnCluster refuses WithReplicaAcks on Redis Cluster. WAIT
// confirms what one shard's replicas hold, and a refund's record and its
// task live on different shards, so no single WAIT covers both.
var ErrReplicaAcksOnCluster = errors.New("store: replica acks are not supported on Redis Cluster: WAIT confirms one shard, " +
	"and a refund's record and its task are on different shards; use Sentinel for acknowledged writes, or no replica acks")

// CheckReplication says whether the store can keep the promise
// WithReplicaAcks makes; callers check before their first write.
func (s *Redis) CheckReplication() error {
	if s.acks > 0 && s.cluster {
		return ErrReplicaAcksOnCluster
	}
	return nil
}

// Replicate waits until the replicas WithReplicaAcks names hold refund id
// and every write made before it, through any connection: replication is
// one ordered stream, so a replica that has a write made now has
// everything before it. That write is a stamp (replicatedKey), made on the
// connection WAIT then runs on, and only once the refund's record and the
// keys in also (its task's) are seen on the server that takes it. A refund
// missing there, after a restart or a failover since it was written, is
// not confirmed: ErrNotReplicated, and the caller's retry writes it again.
// It does nothing without WithReplicaAcks.
func (s *Redis) Replicate(ctx context.Context, id string, also ...string) error {
	keys := append([]string{replicatedKey, recordKey(id)}, also...)
	args := []any{ms(s.now())}
	for range keys[1:] {
		args = append(args, "", "")
	}
	return s.stamp(ctx, "refund "+id, keys, args)
}

// ReplicateBatch is Replicate for batch id's run that FinishBatch recorded
// at finishedAt: the run's end is its last write, and the batch's metadata
// must still say so.
func (s *Redis) ReplicateBatch(ctx context.Context, id, finishedAt string) error {
	return s.stamp(ctx, "batch "+id, []string{replicatedKey, batchMetaKey(id)}, []any{ms(s.now()), bUpdatedAt, finishedAt})
}

func (s *Redis) stamp(ctx context.Context, what string, keys []string, args []any) error {
	if s.acks <= 0 {
		return nil
	}
	res, err := s.runReplicated(ctx, stampScript, keys, args...)
	if err != nil {
		return fmt.Errorf("store: replicate: %w", err)
	}
	if res != int64(1) {
		return fmt.Errorf("%w: %s is not on the Redis primary any more (a restart or a failover since it was written)", ErrNotReplicated, what)
	}
	return nil
}

// runReplicated is runScript followed, on the same connection, by WAIT.
func (s *Redis) runReplicated(ctx context.Context, sc *redis.Script, keys []string, args ...any) (any, error) {
	if err := s.CheckReplication(); err != nil {
		return nil, err
	}
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

// MinReplicaAckTimeout and MaxReplicaAckTimeout bound the wait: WAIT with
// 0 ms waits forever, and a wait as long as go-redis's read timeout (3s by
// default) ends in a read error that the client answers by sending the
// write and WAIT again, three more times.
const (
	MinReplicaAckTimeout = time.Millisecond
	MaxReplicaAckTimeout = 2 * time.Second
)
