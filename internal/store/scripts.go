package store

import "github.com/redis/go-redis/v9"

// createScript writes a new record unless one exists. Returning 0 for an
// existing record lets the producer tell a repeat from a first enqueue in
// the same round trip that creates it. It writes no event: the record's
// created_at and source are its "accepted" event (see Events), and a
// queued refund then costs one key less.
//
// KEYS: record. ARGV: ttl ms, field/value pairs...
var createScript = redis.NewScript(`
if redis.call('EXISTS', KEYS[1]) == 1 then return 0 end
redis.call('HSET', KEYS[1], unpack(ARGV, 2))
redis.call('PEXPIRE', KEYS[1], ARGV[1])
return 1
`)

// transitionScript is the compare-and-set every state change goes through.
// It only moves a record whose current state is one of the allowed ones, so
// two workers racing on one refund cannot both win, and a late writer cannot
// move a terminal refund back.
//
// KEYS: record, events, lock.
// ARGV: allowed states (comma separated), new state, ttl ms, max events,
// event, lock token to release (empty for none), number of counters n,
// n × (field, increment), field/value pairs...
// Returns {-1} when the record is missing, {0, state} when refused, and
// {1, previous state, HGETALL...} when applied.
var transitionScript = redis.NewScript(`
local cur = redis.call('HGET', KEYS[1], 'state')
if not cur then return {-1} end
local allowed = false
for s in string.gmatch(ARGV[1], '[^,]+') do
  if s == cur then allowed = true end
end
if not allowed then return {0, cur} end
redis.call('HSET', KEYS[1], 'state', ARGV[2])
if ARGV[6] ~= '' and redis.call('GET', KEYS[3]) == ARGV[6] then redis.call('DEL', KEYS[3]) end
local n = tonumber(ARGV[7])
local i = 8
for _ = 1, n do
  redis.call('HINCRBY', KEYS[1], ARGV[i], ARGV[i + 1])
  i = i + 2
end
if i <= #ARGV then
  local fields = {}
  for j = i, #ARGV do fields[#fields + 1] = ARGV[j] end
  redis.call('HSET', KEYS[1], unpack(fields))
end
redis.call('RPUSH', KEYS[2], ARGV[5])
redis.call('LTRIM', KEYS[2], -tonumber(ARGV[4]), -1)
redis.call('PEXPIRE', KEYS[1], ARGV[3])
redis.call('PEXPIRE', KEYS[2], ARGV[3])
local out = {1, cur}
local h = redis.call('HGETALL', KEYS[1])
for j = 1, #h do out[#out + 1] = h[j] end
return out
`)

// unlockScript deletes the lock only if this holder still owns it, so a
// worker whose lock expired cannot free another worker's lock.
var unlockScript = redis.NewScript(`
if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) end
return 0
`)

// unindexScript removes a refund from a state index only if its score is
// still the one the caller wrote, so undoing a change that did not apply
// cannot remove an entry another writer has made since.
//
// KEYS: state index. ARGV: request_id, score.
var unindexScript = redis.NewScript(`
local score = redis.call('ZSCORE', KEYS[1], ARGV[1])
if score and tonumber(score) == tonumber(ARGV[2]) then return redis.call('ZREM', KEYS[1], ARGV[1]) end
return 0
`)
