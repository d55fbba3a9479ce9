package store

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
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
	cluster   bool // scripts may not write the indexes (see the package doc)
	retention time.Duration
	maxEvents int
	now       func() time.Time
	// acks and ackTimeout: see WithReplicaAcks.
	acks       int
	ackTimeout time.Duration
}

// Option configures a Redis store.
type Option func(*Redis)

// WithRetention sets how long a record outlives becoming terminal.
func WithRetention(d time.Duration) Option { return func(s *Redis) { s.retention = d } }

// WithMaxEvents bounds the stored per-refund event log; the acceptance,
// read off the record, leads it whatever the bound.
func WithMaxEvents(n int) Option { return func(s *Redis) { s.maxEvents = n } }

// WithClock replaces time.Now (see ServerClock).
func WithClock(now func() time.Time) Option { return func(s *Redis) { s.now = now } }

// WithReplicaAcks makes the writes whose loss in a failover could cost
// money wait until n replicas hold them, for at most timeout: Replicate,
// and a change that records a send (Change.Sent), which must survive a
// failover before the provider is called. Zero n waits for nothing.
func WithReplicaAcks(n int, timeout time.Duration) Option {
	if timeout <= 0 {
		timeout = DefaultReplicaAckTimeout
	}
	timeout = min(max(timeout, MinReplicaAckTimeout), MaxReplicaAckTimeout)
	return func(s *Redis) { s.acks, s.ackTimeout = n, timeout }
}

// New returns a store over rdb.
func New(rdb redis.UniversalClient, opts ...Option) *Redis {
	_, cluster := rdb.(*redis.ClusterClient)
	s := &Redis{rdb: rdb, cluster: cluster, retention: DefaultRetention, maxEvents: DefaultMaxEvents, now: time.Now}
	for _, o := range opts {
		o(s)
	}
	return s
}

// Client exposes the underlying client for health checks.
func (s *Redis) Client() redis.UniversalClient { return s.rdb }

// Now is the store's clock.
func (s *Redis) Now() time.Time { return s.now() }

// Retention is how long a terminal record is kept.
func (s *Redis) Retention() time.Duration { return s.retention }

// Create writes rec unless a record with its request_id exists. It returns
// the stored record and whether this call created it.
func (s *Redis) Create(ctx context.Context, rec *refund.Record) (*refund.Record, bool, error) {
	now := time.UnixMilli(s.now().UnixMilli()) // as stored, so callers see what a read would
	rec.CreatedAt, rec.UpdatedAt, rec.Version = now, now, refund.RecordVersion
	id := rec.RequestID
	args := append([]any{now.UnixMilli(), s.indexMode(), statePrefix, orderPrefix, batchPrefix, metaPrefix,
		id, rec.ParamHash, string(rec.State), rec.Merchant, rec.OrderID, rec.BatchID}, encode(rec)...)
	res, err := s.runScript(ctx, createScript, []string{recordKey(id)}, args...)
	if err != nil {
		return nil, false, fmt.Errorf("store: create %s: %w", id, err)
	}
	flat, ok := res.([]any)
	if !ok || len(flat) == 0 {
		return nil, false, fmt.Errorf("store: create %s: unexpected script reply %v", id, res)
	}
	created := flat[0] == int64(1)
	stored := rec
	if !created {
		if stored, err = decode(pairs(flat[1:])); err != nil {
			return nil, false, err
		}
	}
	if s.cluster && (created || stored.ParamHash == rec.ParamHash) {
		s.indexNew(ctx, stored, now)
	}
	return stored, created, nil
}

// expireMembers sets when rec's entries in its order, transaction and
// batch indexes expire, on Redis Cluster, where the record's script cannot
// reach them; nx adds missing entries. A failure is left to the sweep.
func (s *Redis) expireMembers(ctx context.Context, rec *refund.Record, at string, now time.Time, nx bool) {
	if rec.OrderID != "" {
		_, _ = s.setMemberExpiry(ctx, orderKey(rec.Merchant, rec.OrderID), rec.RequestID, at, now, nx)
	}
	if rec.TransactionID != "" {
		_, _ = s.setMemberExpiry(ctx, txnKey(rec.Merchant, rec.TransactionID), rec.RequestID, at, now, nx)
	}
	if rec.BatchID != "" {
		_ = s.setBatchMemberExpiry(ctx, rec.BatchID, rec.RequestID, at, now, nx)
	}
}

// indexNew lists a record by order, batch and state on Redis Cluster, where
// the create script cannot. Adds only fill what is missing, so repeating
// them for a repeat is harmless and repairs a crash between the two.
func (s *Redis) indexNew(ctx context.Context, rec *refund.Record, now time.Time) {
	at := "+inf"
	if rec.State.Terminal() {
		at = strconv.FormatInt(rec.UpdatedAt.Add(s.retention).UnixMilli(), 10)
	}
	s.expireMembers(ctx, rec, at, now, true)
	if indexed(rec.State) {
		_ = s.rdb.ZAddNX(ctx, stateKey(rec.State), redis.Z{Score: float64(rec.UpdatedAt.UnixMilli()), Member: rec.RequestID}).Err()
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
	return decode(h)
}

// Events returns the refund's event log, oldest first. It opens with the
// refund's acceptance into queued, which is read off the record (created_at
// and source), not stored: the stored log starts with the first change.
func (s *Redis) Events(ctx context.Context, id string) ([]refund.Event, error) {
	pipe := s.rdb.Pipeline()
	accepted := pipe.HMGet(ctx, recordKey(id), fCreatedAt, fSource, fHeldBy)
	logged := pipe.LRange(ctx, eventsKey(id), 0, -1)
	if _, err := pipe.Exec(ctx); err != nil {
		return nil, fmt.Errorf("store: events %s: %w", id, err)
	}
	raw := logged.Val()
	out := make([]refund.Event, 0, len(raw)+1)
	if v := accepted.Val(); len(v) == 3 && v[0] != nil {
		source, _ := v[1].(string)
		at, _ := v[0].(string)
		e := refund.Event{At: parseMS(at), Type: "accepted", To: refund.Queued, Detail: source}
		// Only a refund accepted held has a held_by.
		if by, _ := v[2].(string); by != "" {
			e.To, e.Detail = refund.Held, source+": held for approval, created by "+by
		}
		out = append(out, e)
	}
	for i, r := range raw {
		var e refund.Event
		if err := json.Unmarshal([]byte(r), &e); err != nil {
			return out, fmt.Errorf("store: events %s: entry %d: %w: %w", id, i, ErrCorrupt, err)
		}
		out = append(out, e)
	}
	return out, nil
}

// ByOrder returns the request_ids recorded for a merchant's order whose
// records have not expired.
func (s *Redis) ByOrder(ctx context.Context, merchant, orderID string) ([]string, error) {
	ids, err := s.members(ctx, orderKey(merchant, orderID))
	if err != nil {
		return nil, fmt.Errorf("store: by order: %w", err)
	}
	return ids, nil
}

// ByTransaction returns the request_ids recorded for a merchant's
// transaction whose records have not expired. Refunds created before this
// index existed are not in it.
func (s *Redis) ByTransaction(ctx context.Context, merchant, txnID string) ([]string, error) {
	ids, err := s.members(ctx, txnKey(merchant, txnID))
	if err != nil {
		return nil, fmt.Errorf("store: by transaction: %w", err)
	}
	return ids, nil
}

// ByBatch returns the request_ids of a batch whose records have not
// expired.
func (s *Redis) ByBatch(ctx context.Context, batchID string) ([]string, error) {
	ids, err := s.members(ctx, batchKey(batchID))
	if err != nil {
		return nil, fmt.Errorf("store: by batch: %w", err)
	}
	return ids, nil
}

// members reads an order or batch index, leaving out members whose
// records have expired (their score has passed).
func (s *Redis) members(ctx context.Context, key string) ([]string, error) {
	return s.rdb.ZRangeByScore(ctx, key, &redis.ZRangeBy{Min: "(" + strconv.FormatInt(s.now().UnixMilli(), 10), Max: "+inf"}).Result()
}

// countMembers is len(members) without reading them.
func (s *Redis) countMembers(ctx context.Context, c redis.Cmdable, key string) *redis.IntCmd {
	return c.ZCount(ctx, key, "("+strconv.FormatInt(s.now().UnixMilli(), 10), "+inf")
}

// Lock takes the per-refund lock for ttl. It returns a token for Unlock and
// false when another holder has it.
func (s *Redis) Lock(ctx context.Context, id string, ttl time.Duration) (string, bool, error) {
	token := uuid.NewString()
	ok, err := s.rdb.SetNX(ctx, lockKey(id), token, ttl).Result()
	if err != nil {
		return "", false, fmt.Errorf("store: lock %s: %w", id, err)
	}
	return token, ok, nil
}

// LockAndGet tries to take the per-refund lock for ttl and reads the
// record in the same round trip, after the attempt: when the token is not
// empty the record is as the new holder finds it. An empty token means
// another holder has the lock; the record is returned all the same.
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
	rec, err := decode(h.Val())
	if err != nil && token != "" {
		_ = s.Unlock(ctx, id, token)
	}
	return token, rec, err
}

// Unlock releases the lock if token still holds it.
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
