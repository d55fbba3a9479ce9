package store

import (
	"context"
	"fmt"
	"sort"
	"strconv"
	"time"

	"github.com/redis/go-redis/v9"
)

// Circuit breakers live in each worker process (see worker.Protection),
// so no one process knows them all. Each worker reports its own, every
// few seconds, into a hash of its own that expires soon after it stops
// reporting; the console reads them all. A worker that died drops out
// within the expiry instead of leaving an old "open" behind.
const breakersKey = prefix + "breakers" // worker id → when its report expires (ms)

func breakerKey(worker string) string { return prefix + "breakers:" + worker }

// BreakerReport is one worker's breaker for one merchant.
type BreakerReport struct {
	Worker, Merchant, State string
	// At is when the worker reported it.
	At time.Time
}

// ReportBreakers records worker's breaker states (merchant → closed,
// half-open or open), to expire after ttl unless reported again.
func (s *Redis) ReportBreakers(ctx context.Context, worker string, states map[string]string, ttl time.Duration) error {
	now := s.now()
	k := breakerKey(worker)
	// Not a transaction: on Redis Cluster the two keys live in different
	// slots. A reader between the commands sees an empty report at worst.
	pipe := s.rdb.Pipeline()
	pipe.Del(ctx, k)
	fields := []any{"@at", now.UnixMilli()}
	for m, st := range states {
		fields = append(fields, m, st)
	}
	pipe.HSet(ctx, k, fields...)
	pipe.PExpire(ctx, k, ttl)
	pipe.ZAdd(ctx, breakersKey, redis.Z{Score: float64(now.Add(ttl).UnixMilli()), Member: worker})
	pipe.ZRemRangeByScore(ctx, breakersKey, "-inf", "("+strconv.FormatInt(now.UnixMilli(), 10))
	if _, err := pipe.Exec(ctx); err != nil {
		return fmt.Errorf("store: report breakers: %w", err)
	}
	return nil
}

// Breakers returns every live worker's breaker report, by merchant and
// worker.
func (s *Redis) Breakers(ctx context.Context) ([]BreakerReport, error) {
	workers, err := s.rdb.ZRangeByScore(ctx, breakersKey, &redis.ZRangeBy{
		Min: "(" + strconv.FormatInt(s.now().UnixMilli(), 10), Max: "+inf"}).Result()
	if err != nil {
		return nil, fmt.Errorf("store: breakers: %w", err)
	}
	var out []BreakerReport
	for _, w := range workers {
		h, err := s.rdb.HGetAll(ctx, breakerKey(w)).Result()
		if err != nil {
			return nil, fmt.Errorf("store: breakers of %s: %w", w, err)
		}
		at := parseMS(h["@at"])
		for m, st := range h {
			if m != "@at" {
				out = append(out, BreakerReport{Worker: w, Merchant: m, State: st, At: at})
			}
		}
	}
	sort.Slice(out, func(i, j int) bool {
		if out[i].Merchant != out[j].Merchant {
			return out[i].Merchant < out[j].Merchant
		}
		return out[i].Worker < out[j].Worker
	})
	return out, nil
}
