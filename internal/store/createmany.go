package store

import (
	"context"
	"errors"
	"fmt"

	"github.com/redis/go-redis/v9"

	"github.com/refundq/refundq/internal/refund"
)

// Existing is what CreateMany or Peek found stored under a request_id.
type Existing struct {
	// Created is true when this CreateMany call wrote the record.
	Created bool
	// Found is false when Peek found no record.
	Found     bool
	ParamHash string
	State     refund.State
	Queue     string
	BatchID   string
}

// CreateMany is Create for many records in one round trip, for bulk
// imports, where a round trip per record would cap the rate. Each record
// is created exactly as Create would; the result says, per record, whether
// it was new and what is stored (for a repeat, the earlier record's
// parameters and state). Indexes go by what is stored: see indexMany.
//
// On a single Redis (or Sentinel) one script call writes every record of a
// batch: Lua work is cheap, command round trips are not, and this halves
// Redis's cost per imported row. Redis Cluster refuses scripts whose keys
// live in different slots, so there each record gets its own script call,
// pipelined.
func (s *Redis) CreateMany(ctx context.Context, recs []*refund.Record) ([]Existing, error) {
	if _, cluster := s.rdb.(*redis.ClusterClient); cluster {
		return s.createEach(ctx, recs)
	}
	return s.createScripted(ctx, recs)
}

func (s *Redis) createEach(ctx context.Context, recs []*refund.Record) ([]Existing, error) {
	out := make([]Existing, len(recs))
	todo := make([]int, len(recs))
	for i := range recs {
		todo[i] = i
	}
	// One retry: a restarted Redis has an empty script cache, and
	// EVALSHA inside a pipeline cannot fall back to EVAL by itself.
	for attempt := 0; ; attempt++ {
		retry, err := s.createMany(ctx, recs, todo, out)
		if err != nil || len(retry) == 0 {
			return out, err
		}
		if attempt > 0 {
			return nil, fmt.Errorf("store: create: %w", errors.New("script still missing after load"))
		}
		if err := createScript.Load(ctx, s.rdb).Err(); err != nil {
			return nil, fmt.Errorf("store: load script: %w", err)
		}
		todo = retry
	}
}

// createMany runs the records at positions todo and returns the positions
// that hit NOSCRIPT.
func (s *Redis) createMany(ctx context.Context, recs []*refund.Record, todo []int, out []Existing) ([]int, error) {
	now := s.now()
	pipe := s.rdb.Pipeline()
	created := make([]*redis.Cmd, len(todo))
	stored := make([]*redis.SliceCmd, len(todo))
	for j, i := range todo {
		rec := recs[i]
		rec.CreatedAt, rec.UpdatedAt = now, now
		args := append([]any{s.retention.Milliseconds()}, encode(rec)...)
		created[j] = createScript.EvalSha(ctx, pipe, []string{recordKey(rec.RequestID)}, args...)
		// Read back after the script, so a repeat reports the stored
		// record without a second round trip.
		stored[j] = pipe.HMGet(ctx, recordKey(rec.RequestID), existingFields...)
	}
	_, err := pipe.Exec(ctx)
	var retry, done []int
	for j, i := range todo {
		if isNoScript(created[j].Err()) {
			retry = append(retry, i)
			continue
		}
		if created[j].Err() != nil || stored[j].Err() != nil {
			return nil, fmt.Errorf("store: create %s: %w", recs[i].RequestID, errors.Join(created[j].Err(), stored[j].Err()))
		}
		out[i] = existing(stored[j].Val())
		out[i].Created = created[j].Val() == int64(1)
		done = append(done, i)
	}
	if err != nil && len(retry) == 0 {
		return nil, fmt.Errorf("store: create: %w", err)
	}
	return retry, s.indexMany(ctx, recs, done, out)
}

// existingFields are what CreateMany and Peek read of a stored record.
var existingFields = []string{fParamHash, fState, fQueue, fBatchID}

// indexMany writes the indexes of the records at positions done, in one
// round trip after the records. Unlike Create it goes by what is stored:
// a row that reuses a request_id with other parameters must not list the
// stored refund under its order or batch, and a repeat of a refund that
// has moved on must not be listed as queued again. Since it covers
// repeats of the same batch too, re-running a batch repairs indexes an
// interrupted run left unwritten.
func (s *Redis) indexMany(ctx context.Context, recs []*refund.Record, done []int, out []Existing) error {
	pipe := s.rdb.Pipeline()
	batches := map[string][]any{}
	var queued []redis.Z
	for _, i := range done {
		rec, e := recs[i], out[i]
		if e.ParamHash != rec.ParamHash {
			continue
		}
		if rec.OrderID != "" {
			k := orderKey(rec.Merchant, rec.OrderID)
			pipe.HSet(ctx, k, rec.RequestID, "")
			pipe.Expire(ctx, k, s.retention)
		}
		if rec.BatchID != "" && e.BatchID == rec.BatchID {
			batches[rec.BatchID] = append(batches[rec.BatchID], rec.RequestID)
		}
		if e.State == refund.Queued {
			// NX keeps the first score, which a sweep reads as queued-since.
			queued = append(queued, redis.Z{Score: float64(rec.CreatedAt.UnixMilli()), Member: rec.RequestID})
		}
	}
	for id, m := range batches {
		pipe.SAdd(ctx, batchKey(id), m...)
		pipe.Expire(ctx, batchKey(id), s.retention)
	}
	if len(queued) > 0 {
		pipe.ZAddNX(ctx, stateKey(refund.Queued), queued...)
	}
	if pipe.Len() == 0 {
		return nil
	}
	if _, err := pipe.Exec(ctx); err != nil {
		return fmt.Errorf("store: index: %w", err)
	}
	return nil
}

// createManyScript creates the records of one batch, as createScript
// would each, and writes their indexes as indexMany does.
//
// KEYS: queued index, batch set (any key when ARGV[2] is empty), then per
// record: record, order index (any key when it has no order).
// ARGV: ttl ms, batch id, queued score, then per record: request_id,
// param hash, state, has order ("1"/"0"), n, n field/value strings. Returns per record {1} when created, else {0, param_hash,
// state, queue, batch_id} as stored.
var createManyScript = redis.NewScript(`
local ttl, bid, score = ARGV[1], ARGV[2], ARGV[3]
local out, members, queued = {}, {}, {}
local a, k = 4, 3
while k <= #KEYS do
  local rec, order = KEYS[k], KEYS[k + 1]
  local rid, ph, state, hasOrder, n = ARGV[a], ARGV[a + 1], ARGV[a + 2], ARGV[a + 3], tonumber(ARGV[a + 4])
  local st
  if redis.call('EXISTS', rec) == 0 then
    redis.call('HSET', rec, unpack(ARGV, a + 5, a + 4 + n))
    redis.call('PEXPIRE', rec, ttl)
    out[#out + 1] = {1}
    st = {ph, state, false, bid}
  else
    st = redis.call('HMGET', rec, 'param_hash', 'state', 'queue', 'batch_id')
    out[#out + 1] = {0, st[1], st[2], st[3], st[4]}
  end
  if st[1] == ph then
    if hasOrder == '1' then
      redis.call('HSET', order, rid, '')
      redis.call('PEXPIRE', order, ttl)
    end
    if bid ~= '' and st[4] == bid then members[#members + 1] = rid end
    if st[2] == 'queued' then
      queued[#queued + 1] = score
      queued[#queued + 1] = rid
    end
  end
  a, k = a + 5 + n, k + 2
end
if #members > 0 then
  redis.call('SADD', KEYS[2], unpack(members))
  redis.call('PEXPIRE', KEYS[2], ttl)
end
if #queued > 0 then redis.call('ZADD', KEYS[1], 'NX', unpack(queued)) end
return out
`)

func (s *Redis) createScripted(ctx context.Context, recs []*refund.Record) ([]Existing, error) {
	out := make([]Existing, len(recs))
	byBatch := map[string][]int{}
	for i, r := range recs {
		byBatch[r.BatchID] = append(byBatch[r.BatchID], i)
	}
	for batchID, idx := range byBatch {
		if err := s.createBatch(ctx, batchID, recs, idx, out); err != nil {
			return nil, err
		}
	}
	return out, nil
}

func (s *Redis) createBatch(ctx context.Context, batchID string, recs []*refund.Record, idx []int, out []Existing) error {
	now := s.now()
	ttl := s.retention.Milliseconds()
	keys := make([]string, 2, 2+2*len(idx))
	keys[0], keys[1] = stateKey(refund.Queued), stateKey(refund.Queued)
	if batchID != "" {
		keys[1] = batchKey(batchID)
	}
	args := make([]any, 3, 3+40*len(idx))
	args[0], args[1], args[2] = ttl, batchID, now.UnixMilli()
	for _, i := range idx {
		rec := recs[i]
		rec.CreatedAt, rec.UpdatedAt = now, now
		order, hasOrder := recordKey(rec.RequestID), "0"
		if rec.OrderID != "" {
			order, hasOrder = orderKey(rec.Merchant, rec.OrderID), "1"
		}
		keys = append(keys, recordKey(rec.RequestID), order)
		fields := encode(rec)
		args = append(args, rec.RequestID, rec.ParamHash, string(rec.State), hasOrder, len(fields))
		args = append(args, fields...)
	}
	res, err := createManyScript.Run(ctx, s.rdb, keys, args...).Slice()
	if err != nil {
		return fmt.Errorf("store: create: %w", err)
	}
	if len(res) != len(idx) {
		return fmt.Errorf("store: create: %d results for %d records", len(res), len(idx))
	}
	for j, i := range idx {
		row, _ := res[j].([]any)
		if len(row) == 1 {
			r := recs[i]
			out[i] = Existing{Created: true, Found: true, ParamHash: r.ParamHash, State: r.State, Queue: r.Queue, BatchID: r.BatchID}
			continue
		}
		if len(row) > 0 {
			out[i] = existing(row[1:])
		}
	}
	return nil
}
