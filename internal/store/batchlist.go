package store

import (
	"context"
	"errors"
	"fmt"
	"strconv"

	"github.com/redis/go-redis/v9"
)

// batchesKey lists batch ids by when they were first started, for the
// console's list of recent batches. It is a listing aid only: a batch is
// found by id whatever it says, and entries older than the retention, or
// past the newest maxListedBatches, are dropped as batches are added.
const batchesKey = prefix + "batches"

const maxListedBatches = 10000

// listBatch adds batch id to the recent batches, once.
func (s *Redis) listBatch(ctx context.Context, id string) error {
	now := s.now()
	pipe := s.rdb.Pipeline()
	pipe.ZAddNX(ctx, batchesKey, redis.Z{Score: float64(now.UnixMilli()), Member: id})
	pipe.ZRemRangeByScore(ctx, batchesKey, "-inf", "("+strconv.FormatInt(now.Add(-s.retention).UnixMilli(), 10))
	pipe.ZRemRangeByRank(ctx, batchesKey, 0, -maxListedBatches-1)
	if _, err := pipe.Exec(ctx); err != nil {
		return fmt.Errorf("store: list batch %s: %w", id, err)
	}
	return nil
}

// RecentBatches returns the metadata of up to n batches, newest first,
// leaving out those whose metadata has expired.
func (s *Redis) RecentBatches(ctx context.Context, n int64) ([]*BatchMeta, error) {
	ids, err := s.rdb.ZRevRange(ctx, batchesKey, 0, n-1).Result()
	if err != nil {
		return nil, fmt.Errorf("store: recent batches: %w", err)
	}
	out := make([]*BatchMeta, 0, len(ids))
	for _, id := range ids {
		m, err := s.Batch(ctx, id)
		if errors.Is(err, ErrNotFound) {
			continue
		}
		if err != nil {
			return nil, err
		}
		out = append(out, m)
	}
	return out, nil
}
