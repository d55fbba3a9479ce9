package store

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/google/uuid"
	"github.com/redis/go-redis/v9"

	"github.com/refundq/refundq/internal/refund"
)

// ErrNotFound is returned for a request_id with no record.
var ErrNotFound = errors.New("store: refund not found")

// Defaults for Options left at zero.
const (
	DefaultRetention = 90 * 24 * time.Hour
	DefaultMaxEvents = 64
)

// Redis keeps refund records in Redis. It is safe for concurrent use.
type Redis struct {
	rdb       redis.UniversalClient
	retention time.Duration
	maxEvents int
	now       func() time.Time
}

// Option configures a Redis store.
type Option func(*Redis)

// WithRetention sets how long a record outlives its last change.
func WithRetention(d time.Duration) Option { return func(s *Redis) { s.retention = d } }

// WithMaxEvents bounds the stored per-refund event log; the acceptance,
// read off the record, leads it whatever the bound.
func WithMaxEvents(n int) Option { return func(s *Redis) { s.maxEvents = n } }

// WithClock replaces time.Now, for tests.
func WithClock(now func() time.Time) Option { return func(s *Redis) { s.now = now } }

// New returns a store over rdb.
func New(rdb redis.UniversalClient, opts ...Option) *Redis {
	s := &Redis{rdb: rdb, retention: DefaultRetention, maxEvents: DefaultMaxEvents, now: time.Now}
	for _, o := range opts {
		o(s)
	}
	return s
}

// Client exposes the underlying client for health checks.
func (s *Redis) Client() redis.UniversalClient { return s.rdb }

// Now is the store's clock.
func (s *Redis) Now() time.Time { return s.now() }

// Create writes rec unless a record with its request_id exists. It returns
// the stored record and whether this call created it.
func (s *Redis) Create(ctx context.Context, rec *refund.Record) (*refund.Record, bool, error) {
	now := s.now()
	rec.CreatedAt, rec.UpdatedAt = now, now
	args := append([]any{s.retention.Milliseconds()}, encode(rec)...)
	id := rec.RequestID

	pipe := s.rdb.Pipeline()
	created := createScript.EvalSha(ctx, pipe, []string{recordKey(id)}, args...)
	s.indexNew(ctx, pipe, rec)
	_, err := pipe.Exec(ctx)
	if isNoScript(created.Err()) {
		// A fresh or restarted Redis has no script cache: load and retry once.
		if err := createScript.Load(ctx, s.rdb).Err(); err != nil {
			return nil, false, fmt.Errorf("store: load script: %w", err)
		}
		return s.Create(ctx, rec)
	}
	if err != nil {
		return nil, false, fmt.Errorf("store: create %s: %w", id, err)
	}
	if created.Val() == int64(1) {
		return rec, true, nil
	}
	existing, err := s.Get(ctx, id)
	if err == nil && existing.State != rec.State && indexed(rec.State) {
		// indexNew listed the repeat under the state it would have started
		// in, but the stored refund has moved on and never comes back:
		// take the entry out, or it stays listed (and counted) forever.
		_ = s.rdb.ZRem(ctx, stateKey(rec.State), id).Err()
	}
	return existing, false, err
}

// indexNew adds the secondary index entries of a new record. Set adds are
// idempotent, so writing them for a repeat is harmless.
func (s *Redis) indexNew(ctx context.Context, pipe redis.Pipeliner, rec *refund.Record) {
	ttl := s.retention
	if rec.OrderID != "" {
		k := orderKey(rec.Merchant, rec.OrderID)
		pipe.HSet(ctx, k, rec.RequestID, "")
		pipe.Expire(ctx, k, ttl)
	}
	if rec.BatchID != "" {
		k := batchKey(rec.BatchID)
		pipe.SAdd(ctx, k, rec.RequestID)
		pipe.Expire(ctx, k, ttl)
	}
	if indexed(rec.State) {
		pipe.ZAdd(ctx, stateKey(rec.State), redis.Z{Score: float64(rec.CreatedAt.UnixMilli()), Member: rec.RequestID})
	}
}

// Get returns the record for id, or ErrNotFound.
func (s *Redis) Get(ctx context.Context, id string) (*refund.Record, error) {
	h, err := s.rdb.HGetAll(ctx, recordKey(id)).Result()
	if err != nil {
		return nil, fmt.Errorf("store: get %s: %w", id, err)
	}
	if len(h) == 0 {
		return nil, ErrNotFound
	}
	return decode(h), nil
}

// Events returns the refund's event log, oldest first. It opens with the
// refund's acceptance into queued, which is read off the record (created_at
// and source), not stored: the stored log starts with the first change.
func (s *Redis) Events(ctx context.Context, id string) ([]refund.Event, error) {
	pipe := s.rdb.Pipeline()
	accepted := pipe.HMGet(ctx, recordKey(id), fCreatedAt, fSource)
	logged := pipe.LRange(ctx, eventsKey(id), 0, -1)
	if _, err := pipe.Exec(ctx); err != nil {
		return nil, fmt.Errorf("store: events %s: %w", id, err)
	}
	raw := logged.Val()
	out := make([]refund.Event, 0, len(raw)+1)
	if v := accepted.Val(); len(v) == 2 && v[0] != nil {
		source, _ := v[1].(string)
		out = append(out, refund.Event{At: parseMS(v[0].(string)), Type: "accepted", To: refund.Queued, Detail: source})
	}
	for _, r := range raw {
		var e refund.Event
		if json.Unmarshal([]byte(r), &e) == nil {
			out = append(out, e)
		}
	}
	return out, nil
}

// ByOrder returns the request_ids recorded for a merchant's order.
func (s *Redis) ByOrder(ctx context.Context, merchant, orderID string) ([]string, error) {
	ids, err := s.rdb.HKeys(ctx, orderKey(merchant, orderID)).Result()
	if err != nil {
		return nil, fmt.Errorf("store: by order: %w", err)
	}
	return ids, nil
}

// ByBatch returns the request_ids of a batch.
func (s *Redis) ByBatch(ctx context.Context, batchID string) ([]string, error) {
	ids, err := s.rdb.SMembers(ctx, batchKey(batchID)).Result()
	if err != nil {
		return nil, fmt.Errorf("store: by batch: %w", err)
	}
	return ids, nil
}

// Lock takes the per-refund guard for ttl. It returns a token for Unlock and
// false when another holder has it.
func (s *Redis) Lock(ctx context.Context, id string, ttl time.Duration) (string, bool, error) {
	token := uuid.NewString()
	ok, err := s.rdb.SetNX(ctx, lockKey(id), token, ttl).Result()
	if err != nil {
		return "", false, fmt.Errorf("store: lock %s: %w", id, err)
	}
	return token, ok, nil
}

// LockAndGet tries to take the per-refund guard for ttl and reads the
// record in the same round trip, after the attempt: when the token is not
// empty the record is as the new holder finds it. An empty token means
// another holder has the guard; the record is returned all the same.
func (s *Redis) LockAndGet(ctx context.Context, id string, ttl time.Duration) (string, *refund.Record, error) {
	token := uuid.NewString()
	pipe := s.rdb.Pipeline()
	locked := pipe.SetNX(ctx, lockKey(id), token, ttl)
	h := pipe.HGetAll(ctx, recordKey(id))
	if _, err := pipe.Exec(ctx); err != nil {
		return "", nil, fmt.Errorf("store: lock and get %s: %w", id, err)
	}
	if !locked.Val() {
		token = ""
	}
	if len(h.Val()) == 0 {
		if token != "" {
			_ = s.Unlock(ctx, id, token)
		}
		return "", nil, ErrNotFound
	}
	return token, decode(h.Val()), nil
}

// Unlock releases the guard if token still holds it.
func (s *Redis) Unlock(ctx context.Context, id, token string) error {
	if err := unlockScript.Run(ctx, s.rdb, []string{lockKey(id)}, token).Err(); err != nil {
		return fmt.Errorf("store: unlock %s: %w", id, err)
	}
	return nil
}

// isNoScript spots the reply of EVALSHA for a script Redis has not cached;
// inside a pipeline go-redis cannot fall back to EVAL by itself.
func isNoScript(err error) bool {
	return err != nil && strings.HasPrefix(err.Error(), "NOSCRIPT")
}

func eventJSON(e refund.Event) string {
	b, _ := json.Marshal(e)
	return string(b)
}

func joinStates(ss []refund.State) string {
	parts := make([]string, len(ss))
	for i, s := range ss {
		parts[i] = string(s)
	}
	return strings.Join(parts, ",")
}
