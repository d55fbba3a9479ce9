package store

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/refundq/refundq/internal/refund"
)

// Change is one compare-and-set on a record: move it from one of From to
// To, bump counters, set and clear fields and log an event, all atomically.
type Change struct {
	From []refund.State
	To   refund.State
	// Event type and detail for the log; the state change itself is implied.
	Event  string
	Detail string
	// Attempts and Polls are added to the record's counters.
	Attempts, Polls int
	// Fields with a non-empty value are written to the record.
	RequestStatus, ProviderCode, ProviderMessage, FinDocumentID, Reason string
	ReasonCode                                                          refund.Attention
	DoubtedRejection                                                    string
	// Sent records that the refund is being sent now: its last send is now,
	// its first send too unless it has one, and a not-found streak ends.
	Sent bool
	// LastSentAt, when not zero, puts the last send back to an earlier
	// time, for a call that provably reached nobody.
	LastSentAt time.Time
	// NotFoundSince and UnrecognizedSince, when not zero, start a streak
	// of not-found or of unrecognized answers.
	NotFoundSince, UnrecognizedSince time.Time
	// Acknowledged and Ambiguous record those facts; nothing unsets them.
	Acknowledged, Ambiguous bool
	// Clear deletes facts from the record.
	Clear []Fact
	// Unlock is the token of the refund's lock (see Lock) to release in the
	// same round trip when the change applies; empty keeps the lock.
	Unlock string
	// Resume records that an operator sent the refund back to work now,
	// which restarts its deadline (refund.Record.ResumedAt).
	Resume bool
	// Base, when set, is the record as the caller read it under the
	// refund's lock: Transition then works out the record it writes
	// instead of reading it back, a command and a few hundred bytes less
	// per change.
	Base *refund.Record

	id string
}

// presentFacts leaves out of c.Clear the facts c.Base shows absent: an
// HDEL of nothing is still a command.
func (c Change) presentFacts() []Fact {
	if c.Base == nil {
		return c.Clear
	}
	b := c.Base
	present := map[Fact]bool{FactFirstSent: !b.FirstSentAt.IsZero(), FactLastSent: !b.LastSentAt.IsZero(),
		FactNotFoundSince: !b.NotFoundSince.IsZero(), FactDoubtedRejection: b.DoubtedRejection != "",
		FactReason: b.Reason != "", FactUnrecognized: !b.UnrecognizedSince.IsZero()}
	out := c.Clear[:0:0]
	for _, f := range c.Clear {
		if present[f] {
			out = append(out, f)
		}
	}
	return out
}

// apply is what the transition script writes, worked out from c.Base. It
// must stay the script's mirror; a test compares the two.
func (c Change) apply(now time.Time) *refund.Record {
	r := *c.Base
	for _, f := range c.Clear {
		switch f {
		case FactFirstSent:
			r.FirstSentAt = time.Time{}
		case FactLastSent:
			r.LastSentAt = time.Time{}
		case FactNotFoundSince:
			r.NotFoundSince = time.Time{}
		case FactDoubtedRejection:
			r.DoubtedRejection = ""
		case FactReason:
			r.Reason = ""
		case FactUnrecognized:
			r.UnrecognizedSince = time.Time{}
		}
	}
	now = time.UnixMilli(now.UnixMilli())
	r.State, r.UpdatedAt = c.To, now
	if c.Sent {
		r.LastSentAt, r.NotFoundSince = now, time.Time{}
		if r.FirstSentAt.IsZero() {
			r.FirstSentAt = now
		}
	}
	r.Attempts += c.Attempts
	r.Polls += c.Polls
	if c.Resume {
		r.ResumedAt = now
	}
	set := func(dst *string, v string) {
		if v != "" {
			*dst = v
		}
	}
	set(&r.RequestStatus, c.RequestStatus)
	set(&r.ProviderCode, c.ProviderCode)
	set(&r.ProviderMessage, c.ProviderMessage)
	set(&r.FinDocumentID, c.FinDocumentID)
	set(&r.Reason, c.Reason)
	set(&r.DoubtedRejection, c.DoubtedRejection)
	if c.ReasonCode != "" {
		r.ReasonCode = c.ReasonCode
	}
	r.Acknowledged = r.Acknowledged || c.Acknowledged
	r.Ambiguous = r.Ambiguous || c.Ambiguous
	for dst, v := range map[*time.Time]time.Time{&r.NotFoundSince: c.NotFoundSince, &r.UnrecognizedSince: c.UnrecognizedSince,
		&r.LastSentAt: c.LastSentAt} {
		if !v.IsZero() {
			*dst = time.UnixMilli(v.UnixMilli())
		}
	}
	return &r
}

// Fact is a record field a Change can clear.
type Fact string

// Facts a Change can clear.
const (
	FactFirstSent        Fact = fFirstSent
	FactLastSent         Fact = fLastSent
	FactNotFoundSince    Fact = fNotFound
	FactDoubtedRejection Fact = fDoubted
	FactReason           Fact = fReason
	FactUnrecognized     Fact = fUnknownRep
)

// Transition applies c to the refund id. It returns the record as written. It returns a *refund.TransitionError when the
// record is in a state outside c.From, and ErrNotFound when there is none.
// A change that records a send (Sent) under WithReplicaAcks that the
// replicas did not confirm returns the record with ErrNotReplicated.
func (s *Redis) Transition(ctx context.Context, id string, c Change) (*refund.Record, error) {
	for _, f := range c.From {
		if !refund.CanTransition(f, c.To) {
			return nil, fmt.Errorf("store: %w", &refund.TransitionError{From: f, To: c.To})
		}
	}
	now := s.now()
	c.id = id
	keys, args := []string{recordKey(id), eventsKey(id), lockKey(id)}, s.transitionArgs(now, c)
	var res any
	var err error
	var unreplicated error
	if c.Sent && s.acks > 0 {
		res, err = s.runReplicated(ctx, transitionScript, keys, args...)
		if errors.Is(err, ErrNotReplicated) {
			unreplicated, err = err, nil
		}
	} else {
		res, err = s.runScript(ctx, transitionScript, keys, args...)
	}
	if err != nil {
		return nil, fmt.Errorf("store: transition %s to %s: %w", id, c.To, err)
	}
	flat, err := replySlice(res)
	if err != nil {
		return nil, fmt.Errorf("store: transition %s: %w", id, err)
	}
	switch flat[0] {
	case int64(-1):
		return nil, ErrNotFound
	case int64(0):
		cur, _ := flat[1].(string)
		return nil, &refund.TransitionError{From: refund.State(cur), To: c.To}
	}
	from, ok := flat[1].(string)
	if !ok {
		return nil, fmt.Errorf("store: transition %s: script reply without the previous state: %v", id, flat)
	}
	var rec *refund.Record
	if c.Base != nil {
		rec = c.apply(now)
	} else if rec, err = decode(pairs(flat[2:])); err != nil {
		return nil, err
	}
	if s.cluster {
		s.indexAfter(ctx, rec, refund.State(from), now)
	}
	// Applied on the primary, not confirmed by its replicas: the caller
	// gets the record and ErrNotReplicated, and must not act on it as if
	// it would survive a failover.
	return rec, unreplicated
}

// runScript runs sc by its hash, loading it on a fresh or restarted Redis.
func (s *Redis) runScript(ctx context.Context, sc *redis.Script, keys []string, args ...any) (any, error) {
	return sc.Run(ctx, s.rdb, keys, args...).Result()
}

// replySlice checks the shape every record script answers with: a
// non-empty array whose first element is an integer.
func replySlice(res any) ([]any, error) {
	flat, ok := res.([]any)
	if !ok || len(flat) == 0 {
		return nil, fmt.Errorf("unexpected script reply %T", res)
	}
	if _, ok := flat[0].(int64); !ok {
		return nil, fmt.Errorf("unexpected script reply status %v", flat[0])
	}
	if flat[0] != int64(-1) && len(flat) < 2 {
		return nil, fmt.Errorf("script reply too short: %v", flat)
	}
	return flat, nil
}

// indexAfter writes, on Redis Cluster, the index changes the script could
// not make because the indexes live in other slots. A crash before it
// leaves entries that the worker's sweep repairs, and readers re-check
// each record's real state.
func (s *Redis) indexAfter(ctx context.Context, rec *refund.Record, from refund.State, now time.Time) {
	pipe := s.rdb.Pipeline()
	if from != rec.State && indexed(from) {
		pipe.ZRem(ctx, stateKey(from), rec.RequestID)
	}
	if indexed(rec.State) {
		pipe.ZAdd(ctx, stateKey(rec.State), redis.Z{Score: float64(now.UnixMilli()), Member: rec.RequestID})
	}
	_, _ = pipe.Exec(ctx) // the change applied; the sweep repairs an index that did not
	if !rec.State.Terminal() {
		return
	}
	at := strconv.FormatInt(now.Add(s.retention).UnixMilli(), 10)
	s.expireMembers(ctx, rec, at, now, false)
}

// setMemberExpiry sets when member id of an order or batch index expires
// and returns the index's last score ("" when the index is empty).
func (s *Redis) setMemberExpiry(ctx context.Context, key, id, at string, now time.Time, onlyNew bool) (string, error) {
	nx := "0"
	if onlyNew {
		nx = "1"
	}
	last, err := memberExpiryScript.Run(ctx, s.rdb, []string{key}, id, at, now.UnixMilli(), nx).Text()
	if err != nil {
		return "", fmt.Errorf("store: index %s: %w", key, err)
	}
	return last, nil
}

// setBatchMemberExpiry is setMemberExpiry for a batch, whose metadata then
// lives as long as the batch's longest-lived refund.
func (s *Redis) setBatchMemberExpiry(ctx context.Context, batch, id, at string, now time.Time, onlyNew bool) error {
	last, err := s.setMemberExpiry(ctx, batchKey(batch), id, at, now, onlyNew)
	switch {
	case err != nil || last == "":
		return err
	case last == "inf":
		return s.rdb.Persist(ctx, batchMetaKey(batch)).Err()
	}
	n, err := strconv.ParseFloat(last, 64)
	if err != nil {
		return fmt.Errorf("store: batch %s expiry %q: %w", batch, last, err)
	}
	return s.rdb.PExpireAt(ctx, batchMetaKey(batch), time.UnixMilli(int64(n))).Err()
}

func (s *Redis) transitionArgs(now time.Time, c Change) []any {
	ev := eventJSON(refund.Event{At: now, Type: c.Event, To: c.To, Detail: c.Detail})
	sent := "0"
	if c.Sent {
		sent = "1"
		c.Clear = append(c.Clear, FactNotFoundSince)
	}
	c.Clear = c.presentFacts()
	id, back := c.id, "1"
	if c.Base != nil {
		back = ""
	}
	args := []any{joinStates(c.From), string(c.To), s.retention.Milliseconds(), s.maxEvents, ev, c.Unlock,
		now.UnixMilli(), s.indexMode(), statePrefix, orderPrefix, batchPrefix, metaPrefix, sent, id, back, len(c.Clear)}
	for _, f := range c.Clear {
		args = append(args, string(f))
	}
	var counters []any
	if c.Attempts != 0 {
		counters = append(counters, fAttempts, c.Attempts)
	}
	if c.Polls != 0 {
		counters = append(counters, fPolls, c.Polls)
	}
	args = append(args, len(counters)/2)
	args = append(args, counters...)
	args = append(args, fUpdatedAt, ms(now))
	if c.Resume {
		args = append(args, fResumedAt, ms(now))
	}
	for _, f := range [][2]string{
		{fReqStatus, c.RequestStatus}, {fCode, c.ProviderCode}, {fMessage, c.ProviderMessage},
		{fFinDoc, c.FinDocumentID}, {fReason, c.Reason}, {fReasonCode, string(c.ReasonCode)},
		{fDoubted, c.DoubtedRejection}, {fAcked, flag(c.Acknowledged)}, {fAmbiguous, flag(c.Ambiguous)},
		{fNotFound, stamp(c.NotFoundSince)}, {fUnknownRep, stamp(c.UnrecognizedSince)}, {fLastSent, stamp(c.LastSentAt)},
	} {
		if f[1] != "" {
			args = append(args, f[0], f[1])
		}
	}
	return args
}

// indexMode tells the scripts whether they may write the indexes.
func (s *Redis) indexMode() string {
	if s.cluster {
		return "0"
	}
	return "1"
}

func flag(b bool) string {
	if b {
		return "1"
	}
	return ""
}

func stamp(t time.Time) string {
	if t.IsZero() {
		return ""
	}
	return ms(t)
}

// AddEvent appends an event without changing the state, e.g. a poll that
// found the refund still processing. It may be the refund's first stored
// event (see Events); the log expires with its record, and a record that
// is still unsettled is kept for good.
func (s *Redis) AddEvent(ctx context.Context, id string, e refund.Event) error {
	if e.At.IsZero() {
		e.At = s.now()
	}
	if err := addEventScript.Run(ctx, s.rdb, []string{recordKey(id), eventsKey(id)}, eventJSON(e), s.maxEvents).Err(); err != nil {
		return fmt.Errorf("store: event %s: %w", id, err)
	}
	return nil
}

func pairs(flat []any) map[string]string {
	h := make(map[string]string, len(flat)/2)
	for i := 0; i+1 < len(flat); i += 2 {
		k, _ := flat[i].(string)
		v, _ := flat[i+1].(string)
		h[k] = v
	}
	return h
}
