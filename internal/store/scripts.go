package store

import "github.com/redis/go-redis/v9"

// Every Lua script of the store is in this file. The scripts share luaLib,
// which holds the rules on states, expiry and indexes, so each rule is
// written once.

// luaLib is prepended to the scripts that write records or indexes.
//
// expire_member sets when member id of an order or batch index expires
// (its record's expiry, or +inf while the record is unsettled), prunes
// members whose records have expired, and keeps the key alive exactly as
// long as its longest-lived member.
const luaLib = `
local function indexed(s) return s ~= 'succeeded' and s ~= 'canceled' end
local function terminal(s) return s == 'succeeded' or s == 'failed' or s == 'canceled' end
local function record_expiry(rec, now)
  local ttl = redis.call('PTTL', rec)
  if ttl > 0 then return now + ttl end
  return '+inf'
end
local function expire_like(key, last)
  if last == nil then return end
  if last == 'inf' then redis.call('PERSIST', key) else redis.call('PEXPIREAT', key, last) end
end
local function expire_member(key, id, at, now, nx)
  if nx then
    -- Prune as members come, not as they go: entries past their score are
    -- already invisible, and a key's expiry removes the rest.
    redis.call('ZADD', key, 'NX', at, id)
    redis.call('ZREMRANGEBYSCORE', key, '-inf', '(' .. now)
    if at == '+inf' then
      redis.call('PERSIST', key)
      return 'inf'
    end
  else
    redis.call('ZADD', key, 'XX', at, id)
  end
  local last = redis.call('ZRANGE', key, -1, -1, 'WITHSCORES')[2]
  expire_like(key, last)
  return last
end
-- A batch's metadata lives as long as the batch's longest-lived refund.
local function expire_batch_member(p, batch, id, at, now, nx)
  expire_like(p.meta .. batch, expire_member(p.batch .. batch, id, at, now, nx))
end
-- A batch started by this version counts its refunds by state in its
-- metadata (n:<state>), so its progress is read without visiting every
-- refund. A record counted there carries bc, and only such a record moves
-- the counts, so a batch begun before counting existed is never
-- half-counted: its readers count the slow way.
local function counting(p, batch)
  return batch ~= '' and redis.call('HGET', p.meta .. batch, 'counted') == '1'
end
-- The transaction index is the order index's twin, keyed by the record's
-- own transaction_id; its prefix is keys.go's, built into the script.
local txn_prefix = '` + txnPrefix + `'
local function index_txn(rec, id, merchant, at, now, nx)
  local txn = redis.call('HGET', rec, 'transaction_id')
  if txn then expire_member(txn_prefix .. merchant .. ':' .. txn, id, at, now, nx) end
end
local function index_new(p, id, state, merchant, order, batch, now, at)
  if order ~= '' then expire_member(p.order .. merchant .. ':' .. order, id, at, now, true) end
  if batch ~= '' then expire_batch_member(p, batch, id, at, now, true) end
  if indexed(state) then redis.call('ZADD', p.state .. state, 'NX', now, id) end
end
`

// createScript writes a new record unless one exists, with no expiry: a
// queued refund is unsettled. Returning the stored hash for an existing
// record lets the producer tell a repeat from a first enqueue, and see the
// repeat, in the round trip that creates it. It writes no event: the
// record's created_at and source are its "accepted" event (see Events).
//
// With indexes on (a single Redis or Sentinel) it also lists a new record
// by order, batch and state, and re-lists a repeat with the same
// parameters whose entries a Cluster-era crash left unwritten.
//
// KEYS: record. ARGV: now ms, indexes ("1"/"0"), state prefix, order
// prefix, batch prefix, batch meta prefix, request_id, param hash, state,
// merchant, order_id, batch_id, field/value pairs... Returns {1} or
// {0, HGETALL...}.
var createScript = redis.NewScript(luaLib + `
local now, p = tonumber(ARGV[1]), {state = ARGV[3], order = ARGV[4], batch = ARGV[5], meta = ARGV[6]}
local id, ph, state, merchant, order, batch = ARGV[7], ARGV[8], ARGV[9], ARGV[10], ARGV[11], ARGV[12]
if redis.call('EXISTS', KEYS[1]) == 1 then
  local h = redis.call('HGETALL', KEYS[1])
  local st = redis.call('HMGET', KEYS[1], 'param_hash', 'state', 'batch_id')
  if ARGV[2] == '1' and st[1] == ph then
    -- A repeat lists the stored refund under its own batch only.
    if st[3] ~= batch then batch = '' end
    index_new(p, id, st[2], merchant, order, batch, now, record_expiry(KEYS[1], now))
    index_txn(KEYS[1], id, merchant, record_expiry(KEYS[1], now), now, true)
  end
  local out = {0}
  for j = 1, #h do out[#out + 1] = h[j] end
  return out
end
redis.call('HSET', KEYS[1], unpack(ARGV, 13))
if ARGV[2] == '1' then
  index_new(p, id, state, merchant, order, batch, now, '+inf')
  index_txn(KEYS[1], id, merchant, '+inf', now, true)
  if counting(p, batch) then
    redis.call('HSET', KEYS[1], 'bc', '1')
    redis.call('HINCRBY', p.meta .. batch, 'n:' .. state, 1)
  end
end
return {1}
`)

// createManyScript creates the records of one import group as createScript
// would each, with their indexes. For a repeat with the same parameters it
// re-lists what an interrupted run left unlisted, under the batch only when
// the stored record belongs to it.
//
// KEYS: any key of the group (for Cluster routing it is the first record).
// ARGV: now ms, state prefix, order prefix, batch prefix, batch meta
// prefix, batch id, then per record: request_id, param hash, state,
// merchant, order_id, n, n field/value strings. Returns per record {1} when
// created, else {0, param_hash, state, queue, batch_id} as stored.
var createManyScript = redis.NewScript(luaLib + `
local now, bid = tonumber(ARGV[1]), ARGV[6]
local p = {state = ARGV[2], order = ARGV[3], batch = ARGV[4], meta = ARGV[5]}
local rp = '` + prefix + `{'
local out, a = {}, 7
local counted, new = counting(p, bid), {}
while a <= #ARGV do
  local id, ph, state, merchant, order, n = ARGV[a], ARGV[a + 1], ARGV[a + 2], ARGV[a + 3], ARGV[a + 4], tonumber(ARGV[a + 5])
  local rec = rp .. id .. '}'
  if redis.call('EXISTS', rec) == 0 then
    if counted then
      redis.call('HSET', rec, 'bc', '1', unpack(ARGV, a + 6, a + 5 + n))
      new[state] = (new[state] or 0) + 1
    else
      redis.call('HSET', rec, unpack(ARGV, a + 6, a + 5 + n))
    end
    index_new(p, id, state, merchant, order, bid, now, '+inf')
    index_txn(rec, id, merchant, '+inf', now, true)
    out[#out + 1] = {1}
  else
    local st = redis.call('HMGET', rec, 'param_hash', 'state', 'queue', 'batch_id')
    if st[1] == ph then
      local b = ''
      if bid ~= '' and st[4] == bid then b = bid end
      index_new(p, id, st[2], merchant, order, b, now, record_expiry(rec, now))
      index_txn(rec, id, merchant, record_expiry(rec, now), now, true)
    end
    out[#out + 1] = {0, st[1], st[2], st[3], st[4]}
  end
  a = a + 6 + n
end
for state, k in pairs(new) do redis.call('HINCRBY', p.meta .. bid, 'n:' .. state, k) end
return out
`)

// transitionScript is the compare-and-set every state change goes through.
// It only moves a record whose current state is one of the allowed ones, so
// two workers racing on one refund cannot both win, and a late writer cannot
// move a terminal refund back. A terminal record (and its events) expires
// its retention from now; any other never had an expiry. With indexes on,
// the state index moves with the record, the failed index drops entries
// older than the retention, and a terminal record's order and batch
// entries get its expiry. Every field is written by one HSET, and the
// counters are read with the state, so a change costs as few commands as
// it can: each one is Redis CPU that every worker of the fleet shares.
//
// KEYS: record, events, lock.
// ARGV: 1 allowed states (comma separated), 2 new state, 3 retention ms,
// 4 max events, 5 event, 6 lock token to release (empty for none), 7 now
// ms, 8 indexes ("1"/"0"), 9 state prefix, 10 order prefix, 11 batch
// prefix, 12 batch meta prefix, 13 sent ("1": the refund is being sent
// now), 14 request_id, 15 "1" to return the record, 16 number of fields to
// delete d, d names, number of counters n, n × (field, increment),
// field/value pairs...
// Returns {-1} when the record is missing, {0, state} when refused, and
// {1, previous state[, HGETALL...]} when applied.
var transitionScript = redis.NewScript(luaLib + luaChange + `
local h = redis.call('HMGET', KEYS[1], 'state', 'first_sent_at', 'merchant', 'order_id', 'batch_id', 'attempts', 'polls', 'bc', 'transaction_id')
if not h[1] then return {-1} end
local ok, cur = change(KEYS, ARGV, h)
if not ok then return {0, cur} end
if ARGV[15] ~= '1' then return {1, cur} end
local out = {1, cur}
local all = redis.call('HGETALL', KEYS[1])
for j = 1, #all do out[#out + 1] = all[j] end
return out
`)

// luaChange is the body of transitionScript, shared with claimScript.
// change(keys, args, h) applies the change args describes to the record
// whose fields state, first_sent_at, merchant, order_id, batch_id,
// attempts, polls, bc and transaction_id are h, and returns whether it applied and the
// state it found.
const luaChange = `
local function change(KEYS, ARGV, h)
  local rec, new, now, id = KEYS[1], ARGV[2], tonumber(ARGV[7]), ARGV[14]
  local cur = h[1]
  local allowed = false
  for s in string.gmatch(ARGV[1], '[^,]+') do
    if s == cur then allowed = true end
  end
  if not allowed then return false, cur end
  local i = 16
  local d = tonumber(ARGV[i])
  if d > 0 then redis.call('HDEL', rec, unpack(ARGV, i + 1, i + d)) end
  for j = i + 1, i + d do
    if ARGV[j] == 'first_sent_at' then h[2] = false end
  end
  i = i + d + 1
  local sets = {'state', new}
  if ARGV[13] == '1' then
    sets[#sets + 1], sets[#sets + 2] = 'last_sent_at', ARGV[7]
    if not h[2] then sets[#sets + 1], sets[#sets + 2] = 'first_sent_at', ARGV[7] end
  end
  local counts = {attempts = tonumber(h[6]) or 0, polls = tonumber(h[7]) or 0}
  local n = tonumber(ARGV[i])
  for j = 1, n do
    local f = ARGV[i + 2 * j - 1]
    sets[#sets + 1], sets[#sets + 2] = f, tostring(counts[f] + tonumber(ARGV[i + 2 * j]))
  end
  for j = i + 2 * n + 1, #ARGV do sets[#sets + 1] = ARGV[j] end
  redis.call('HSET', rec, unpack(sets))
  if ARGV[6] ~= '' and redis.call('GET', KEYS[3]) == ARGV[6] then redis.call('DEL', KEYS[3]) end
  local max = tonumber(ARGV[4])
  if redis.call('RPUSH', KEYS[2], ARGV[5]) > max then redis.call('LTRIM', KEYS[2], -max, -1) end
  local ttl = tonumber(ARGV[3])
  if terminal(new) then
    redis.call('PEXPIRE', rec, ttl)
    redis.call('PEXPIRE', KEYS[2], ttl)
  end
  if ARGV[8] == '1' then
    if h[8] == '1' and h[5] and cur ~= new then
      redis.call('HINCRBY', ARGV[12] .. h[5], 'n:' .. cur, -1)
      redis.call('HINCRBY', ARGV[12] .. h[5], 'n:' .. new, 1)
    end
    if cur ~= new and indexed(cur) then redis.call('ZREM', ARGV[9] .. cur, id) end
    if indexed(new) then redis.call('ZADD', ARGV[9] .. new, now, id) end
    if new == 'failed' then redis.call('ZREMRANGEBYSCORE', ARGV[9] .. 'failed', '-inf', '(' .. (now - ttl)) end
    if terminal(new) then
      local p = {order = ARGV[10], batch = ARGV[11], meta = ARGV[12]}
      if h[4] then expire_member(p.order .. h[3] .. ':' .. h[4], id, now + ttl, now, false) end
      if h[9] then expire_member(txn_prefix .. h[3] .. ':' .. h[9], id, now + ttl, now, false) end
      if h[5] then expire_batch_member(p, h[5], id, now + ttl, now, false) end
    end
  end
  return true, cur
end
`

// claimScript is a worker's first step on a refund, in one round trip: it
// takes the refund's lock and reads the record, as LockAndGet does, and
// when the lock is taken and the record is a queued refund that was never
// sent, belongs to the merchant the caller has admitted, and is not from a
// newer refundq, it also records the send (submitting) as
// transitionScript would. The record it returns is the one it found, so
// the caller can tell what the change started from. Anything else, such as
// a refund that is already submitting or one sent before, is left to the
// caller, which then holds the lock and the record as LockAndGet gives
// them. A record with a field that does not decode is never changed.
//
// KEYS: record, events, lock. ARGV: 1 lock token, 2 lock ttl ms, 3
// merchant, 4 newest record version, then transitionScript's ARGV.
// Returns {-1} when the record is missing, else {locked (1/0), applied
// (1/0), HGETALL as found...}.
var claimScript = redis.NewScript(luaLib + luaChange + `
-- decodes refuses what the store's decode refuses (codec.go: every
-- integer field, the metadata JSON; the state is checked by the caller), so
-- a corrupt record is left exactly as it is, for its decode error to
-- surface, never counted as 0 and sent.
local function decodes(f)
  for _, k in ipairs({'v', 'attempts', 'polls', 'created_at', 'updated_at', 'resumed_at', 'first_sent_at', 'last_sent_at',
      'not_found_since', 'unrecognized_since', 'callback_attempts'}) do
    if f[k] and f[k] ~= '' and not string.match(f[k], '^-?%d+$') then return false end
  end
  return not f.metadata or f.metadata == '' or pcall(cjson.decode, f.metadata)
end
local got = redis.call('SET', KEYS[3], ARGV[1], 'NX', 'PX', ARGV[2])
local all = redis.call('HGETALL', KEYS[1])
if #all == 0 then
  if got then redis.call('DEL', KEYS[3]) end
  return {-1}
end
local out = {0, 0}
if got then
  out[1] = 1
  local f = {}
  for j = 1, #all, 2 do f[all[j]] = all[j + 1] end
  if f.state == 'queued' and not f.first_sent_at and not f.not_found_since and f.merchant == ARGV[3]
    and decodes(f) and (tonumber(f.v) or 0) <= tonumber(ARGV[4]) then
    local h = {f.state, false, f.merchant, f.order_id or false, f.batch_id or false, f.attempts or false, f.polls or false, f.bc or false,
      f.transaction_id or false}
    if change(KEYS, {unpack(ARGV, 5)}, h) then out[2] = 1 end
  end
end
for j = 1, #all do out[#out + 1] = all[j] end
return out
`)

// memberExpiryScript is expire_member alone, for Redis Cluster, where an
// order or batch index cannot be written by the record's script. It
// returns the index's last score, for the batch metadata.
//
// KEYS: index. ARGV: request_id, expiry ms ("+inf" while unsettled), now
// ms, "1" to add the member only if absent.
var memberExpiryScript = redis.NewScript(luaLib + `
return expire_member(KEYS[1], ARGV[1], ARGV[2], tonumber(ARGV[3]), ARGV[4] == '1') or ''
`)

// stampScript writes Replicate's stamp, the write its WAIT then waits for,
// only when the writes the stamp vouches for are on this server: a primary
// that restarted empty, or a replica promoted in between, must not confirm
// a refund it does not hold.
//
// KEYS: stamp, then each key to check. ARGV: now ms, then per checked key
// a hash field and the value it must hold, or two empty strings for "the
// key exists". Returns 1 when stamped, 0 when a check failed.
var stampScript = redis.NewScript(`
for i = 2, #KEYS do
  local f, v = ARGV[2 * i - 2], ARGV[2 * i - 1]
  if f == '' then
    if redis.call('EXISTS', KEYS[i]) == 0 then return 0 end
  elseif redis.call('HGET', KEYS[i], f) ~= v then
    return 0
  end
end
redis.call('SET', KEYS[1], ARGV[1])
return 1
`)

// unlockScript deletes the lock only if this holder still owns it, so a
// worker whose lock expired cannot free another worker's lock.
var unlockScript = redis.NewScript(`
if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) end
return 0
`)

// unindexScript removes a refund from a state index only if its score is
// still the one the caller read, so a repair cannot remove an entry another
// writer has made since.
//
// KEYS: state index. ARGV: request_id, score.
var unindexScript = redis.NewScript(`
local score = redis.call('ZSCORE', KEYS[1], ARGV[1])
if score and tonumber(score) == tonumber(ARGV[2]) then return redis.call('ZREM', KEYS[1], ARGV[1]) end
return 0
`)

// callbackScript updates the delivery fields atomically, so a late run of
// a duplicate task cannot turn delivered back into pending, and a record
// that expired is not brought back as a stub.
//
// With indexes on, it also lists a pending delivery in the callbacks index
// and unlists an ended one.
//
// KEYS: record, events. ARGV: state, attempt increment, last error, event
// (empty for none), max events, indexes ("1"/"0"), callbacks index,
// request_id, now ms. Returns -1 (no record), 0 (ended) or 1.
var callbackScript = redis.NewScript(`
if redis.call('EXISTS', KEYS[1]) == 0 then return -1 end
local cur = redis.call('HGET', KEYS[1], 'callback_state')
if cur == 'delivered' or cur == 'failed' then return 0 end
redis.call('HSET', KEYS[1], 'callback_state', ARGV[1])
if ARGV[2] ~= '0' then redis.call('HINCRBY', KEYS[1], 'callback_attempts', ARGV[2]) end
if ARGV[3] == '' then
  redis.call('HDEL', KEYS[1], 'callback_last_error')
else
  redis.call('HSET', KEYS[1], 'callback_last_error', ARGV[3])
end
if ARGV[4] ~= '' then
  redis.call('RPUSH', KEYS[2], ARGV[4])
  redis.call('LTRIM', KEYS[2], -tonumber(ARGV[5]), -1)
  local ttl = redis.call('PTTL', KEYS[1])
  if ttl > 0 then redis.call('PEXPIRE', KEYS[2], ttl) end
end
if ARGV[6] == '1' then
  if ARGV[1] == 'pending' then redis.call('ZADD', ARGV[7], ARGV[9], ARGV[8]) else redis.call('ZREM', ARGV[7], ARGV[8]) end
end
return 1
`)

// addEventScript appends an event that changes no state. The log lives
// exactly as long as its record: kept for good while the record is, and
// never created for a record that is gone.
//
// KEYS: record, events. ARGV: event, max events.
var addEventScript = redis.NewScript(`
local ttl = redis.call('PTTL', KEYS[1])
if ttl == -2 then return 0 end
redis.call('RPUSH', KEYS[2], ARGV[1])
redis.call('LTRIM', KEYS[2], -tonumber(ARGV[2]), -1)
if ttl > 0 then redis.call('PEXPIRE', KEYS[2], ttl) else redis.call('PERSIST', KEYS[2]) end
return 1
`)

// startBatchScript records the start of a run over a batch. The creation
// time stays the first run's, and only a batch this version creates counts
// its refunds by state (see counting in luaLib). A batch an earlier
// version began (no ids field) is left as it is, and the reply is 0.
//
// KEYS: batch metadata. ARGV: now ms, name, counting ("1"/"0").
var startBatchScript = redis.NewScript(`
if redis.call('HSETNX', KEYS[1], 'created_at', ARGV[1]) == 1 then
  redis.call('HSET', KEYS[1], 'ids', 'content')
  if ARGV[3] == '1' then redis.call('HSET', KEYS[1], 'counted', '1') end
elseif redis.call('HEXISTS', KEYS[1], 'ids') == 0 then
  return 0
end
redis.call('HSET', KEYS[1], 'name', ARGV[2], 'updated_at', ARGV[1])
redis.call('HINCRBY', KEYS[1], 'runs', 1)
redis.call('HDEL', KEYS[1], 'completed_at')
return 1
`)

// startReportScript begins a batch run's report unless a live run holds
// it: one whose report is running and was updated after the cut-off.
//
// KEYS: report hash, its rows list. ARGV: now ms, cut-off ms, rows,
// retention ms, content id. Replies 1 when started, 0 when a live run of
// the same content holds it, 2 when one of other content does.
var startReportScript = redis.NewScript(`
local h = redis.call('HMGET', KEYS[1], 'state', 'updated_at', 'content')
if h[1] == 'running' and tonumber(h[2] or 0) > tonumber(ARGV[2]) then
  if h[3] == ARGV[5] then return 0 end
  return 2
end
redis.call('DEL', KEYS[1], KEYS[2])
redis.call('HSET', KEYS[1], 'state', 'running', 'started_at', ARGV[1], 'updated_at', ARGV[1], 'rows', ARGV[3], 'content', ARGV[5])
redis.call('PEXPIRE', KEYS[1], ARGV[4])
return 1
`)

// holdBatchScript records that a run holds rows of a batch for approval:
// the batch is held when the whole run is (ARGV[2] = "1"), and its maker
// joins the batch's makers, whom no approval of it may come from. Names
// compare without case. The latest reason is kept.
//
// KEYS: batch metadata. ARGV: maker, whole ("1"/"0"), reason.
var holdBatchScript = redis.NewScript(`
if ARGV[2] == '1' then
  redis.call('HSET', KEYS[1], 'hold', '1', 'hold_reason', ARGV[3])
end
local makers = redis.call('HGET', KEYS[1], 'makers') or ''
for m in string.gmatch(makers, '[^,]+') do
  if string.lower(m) == string.lower(ARGV[1]) then return 1 end
end
if makers == '' then makers = ARGV[1] else makers = makers .. ',' .. ARGV[1] end
redis.call('HSET', KEYS[1], 'makers', makers)
return 1
`)

// decideBatchScript records an approver's decision on a batch's held
// refunds, once: the first decision stands, the same one again resumes
// it, and the opposite one is refused, so a batch cannot be half approved
// and half rejected. A maker of the batch may not decide it.
//
// KEYS: batch metadata. ARGV: decision ("approved"/"rejected"), by, now
// ms. Returns {-1} no batch, {-2} nothing held, {-3, maker} by is a
// maker, {-4, decision, by, at} the opposite decision stands, {1} decided
// now, {2, by, at} the same decision stood.
var decideBatchScript = redis.NewScript(`
if redis.call('EXISTS', KEYS[1]) == 0 then return {-1} end
local f = redis.call('HMGET', KEYS[1], 'hold', 'n:held', 'makers', 'approved_by', 'approved_at', 'rejected_by', 'rejected_at')
if f[1] ~= '1' and (tonumber(f[2]) or 0) <= 0 then return {-2} end
for m in string.gmatch(f[3] or '', '[^,]+') do
  if string.lower(m) == string.lower(ARGV[2]) then return {-3, m} end
end
local same, other = {f[4], f[5]}, {f[6], f[7]}
local other_name = 'rejected'
if ARGV[1] == 'rejected' then same, other, other_name = {f[6], f[7]}, {f[4], f[5]}, 'approved' end
if other[1] then return {-4, other_name, other[1], other[2]} end
if same[1] then return {2, same[1], same[2]} end
redis.call('HSET', KEYS[1], ARGV[1] .. '_by', ARGV[2], ARGV[1] .. '_at', ARGV[3])
return {1}
`)
