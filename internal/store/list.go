package store

import (
	"context"
	"fmt"
	"strconv"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/refundq/refundq/internal/refund"
)

// ListState returns up to limit request_ids in state s, oldest first.
// Succeeded and canceled refunds are not indexed.
func (s *Redis) ListState(ctx context.Context, st refund.State, limit int64) ([]string, error) {
	if !indexed(st) {
		return nil, fmt.Errorf("store: state %s is not indexed", st)
	}
	ids, err := s.rdb.ZRange(ctx, stateKey(st), 0, limit-1).Result()
	if err != nil {
		return nil, fmt.Errorf("store: list %s: %w", st, err)
	}
	return ids, nil
}

// StateCounts returns how many refunds each indexed state holds, and when
// the oldest of each entered it.
func (s *Redis) StateCounts(ctx context.Context) (map[refund.State]int64, map[refund.State]time.Time, error) {
	pipe := s.rdb.Pipeline()
	counts := map[refund.State]*redis.IntCmd{}
	oldest := map[refund.State]*redis.ZSliceCmd{}
	for _, st := range refund.States() {
		if indexed(st) {
			counts[st] = pipe.ZCard(ctx, stateKey(st))
			oldest[st] = pipe.ZRangeWithScores(ctx, stateKey(st), 0, 0)
		}
	}
	if _, err := pipe.Exec(ctx); err != nil {
		return nil, nil, fmt.Errorf("store: state counts: %w", err)
	}
	n := map[refund.State]int64{}
	since := map[refund.State]time.Time{}
	for st, c := range counts {
		n[st] = c.Val()
		if z := oldest[st].Val(); len(z) > 0 {
			since[st] = time.UnixMilli(int64(z[0].Score))
		}
	}
	return n, since, nil
}

// IndexEntry is one refund listed in a state index, with when it entered
// or last changed within the state.
type IndexEntry struct {
	ID    string
	Since time.Time
	score float64
}

// ListStale returns up to limit entries of state st's index that have not
// changed since cutoff, oldest first.
func (s *Redis) ListStale(ctx context.Context, st refund.State, cutoff time.Time, limit int64) ([]IndexEntry, error) {
	return s.ListStaleFrom(ctx, st, cutoff, 0, limit)
}

// ListStaleFrom is ListStale after skipping the oldest offset entries, for
// a reader that pages through more stale refunds than one call returns.
func (s *Redis) ListStaleFrom(ctx context.Context, st refund.State, cutoff time.Time, offset, limit int64) ([]IndexEntry, error) {
	return s.listStale(ctx, stateKey(st), cutoff, offset, limit)
}

func (s *Redis) listStale(ctx context.Context, key string, cutoff time.Time, offset, limit int64) ([]IndexEntry, error) {
	zs, err := s.rdb.ZRangeByScoreWithScores(ctx, key, &redis.ZRangeBy{
		Min: "-inf", Max: strconv.FormatInt(cutoff.UnixMilli(), 10), Offset: offset, Count: limit,
	}).Result()
	if err != nil {
		return nil, fmt.Errorf("store: stale %s: %w", key, err)
	}
	out := make([]IndexEntry, len(zs))
	for i, z := range zs {
		id, _ := z.Member.(string)
		out[i] = IndexEntry{ID: id, Since: time.UnixMilli(int64(z.Score)), score: z.Score}
	}
	return out, nil
}

// CountStateSince returns how many refunds last changed into or within
// state st at or after since. For a terminal state that is how many reached
// it since then.
func (s *Redis) CountStateSince(ctx context.Context, st refund.State, since time.Time) (int64, error) {
	if !indexed(st) {
		return 0, fmt.Errorf("store: state %s is not indexed", st)
	}
	n, err := s.rdb.ZCount(ctx, stateKey(st), strconv.FormatInt(since.UnixMilli(), 10), "+inf").Result()
	if err != nil {
		return 0, fmt.Errorf("store: count %s: %w", st, err)
	}
	return n, nil
}

// DropStale removes entry e from state st's index unless the entry has
// changed since it was read, so a repair never removes an entry that a
// writer has just made. The sweep uses it for entries whose record is gone
// or in another state: a crash between a transition and its index update
// on Redis Cluster, or a record deleted by hand.
func (s *Redis) DropStale(ctx context.Context, st refund.State, e IndexEntry) error {
	return s.dropStale(ctx, stateKey(st), e)
}

func (s *Redis) dropStale(ctx context.Context, key string, e IndexEntry) error {
	if err := unindexScript.Run(ctx, s.rdb, []string{key}, e.ID, e.score).Err(); err != nil {
		return fmt.Errorf("store: unindex %s: %w", e.ID, err)
	}
	return nil
}

// PruneFailed drops failed-index entries older than the retention: their
// records have expired. Transitions to failed prune too; this covers a
// quiet deployment.
func (s *Redis) PruneFailed(ctx context.Context) error {
	cutoff := strconv.FormatInt(s.now().Add(-s.retention).UnixMilli(), 10)
	if err := s.rdb.ZRemRangeByScore(ctx, stateKey(refund.Failed), "-inf", "("+cutoff).Err(); err != nil {
		return fmt.Errorf("store: prune failed index: %w", err)
	}
	return nil
}
