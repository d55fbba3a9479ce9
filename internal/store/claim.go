package store

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/google/uuid"

	"github.com/refundq/refundq/internal/refund"
)

// Claimed is what Claim found and did.
type Claimed struct {
	// Token holds the refund's lock; empty when another holder has it.
	Token string
	// Found is the record as the claim found it.
	Found *refund.Record
	// Sent is the record after the change, nil when the change did not
	// apply: the refund was not a never-sent queued refund of the merchant,
	// or the lock was held elsewhere.
	Sent *refund.Record
}

// Claim is a worker's first step on a refund in one round trip: it takes
// the lock for ttl and reads the record, as LockAndGet does, and applies
// send (a Sent change from queued to submitting) when the record is a
// queued refund that was never sent, belongs to merchant and is not from a
// newer refundq. The caller must already have admitted the send past
// merchant's rate limit and breaker, since the change records a send
// before the call is made.
//
// It returns ErrNotFound when there is no record. An applied change under
// WithReplicaAcks that the replicas did not confirm returns the claim with
// ErrNotReplicated.
func (s *Redis) Claim(ctx context.Context, id string, ttl time.Duration, merchant string, send Change) (Claimed, error) {
	if !send.Sent || send.To != refund.Submitting || len(send.From) != 1 || send.From[0] != refund.Queued {
		return Claimed{}, fmt.Errorf("store: claim %s: only a send from queued to submitting can be claimed", id)
	}
	now := s.now()
	token := uuid.NewString()
	// The script applies the change only to a record with no facts to
	// clear; an empty base keeps transitionArgs from asking it to.
	send.id, send.Base = id, &refund.Record{}
	args := append([]any{token, ttl.Milliseconds(), merchant, refund.RecordVersion}, s.transitionArgs(now, send)...)
	keys := []string{recordKey(id), eventsKey(id), lockKey(id)}
	var res any
	var err error
	var unreplicated error
	if s.acks > 0 {
		res, err = s.runReplicated(ctx, claimScript, keys, args...)
		if errors.Is(err, ErrNotReplicated) {
			unreplicated, err = err, nil
		}
	} else {
		res, err = s.runScript(ctx, claimScript, keys, args...)
	}
	if err != nil {
		return Claimed{}, fmt.Errorf("store: claim %s: %w", id, err)
	}
	return s.claimed(ctx, id, token, now, send, res, unreplicated)
}

func (s *Redis) claimed(ctx context.Context, id, token string, now time.Time, send Change, res any, unreplicated error) (Claimed, error) {
	flat, err := replySlice(res)
	if err != nil {
		return Claimed{}, fmt.Errorf("store: claim %s: %w", id, err)
	}
	if flat[0] == int64(-1) {
		return Claimed{}, ErrNotFound
	}
	applied, ok := flat[1].(int64)
	if !ok {
		return Claimed{}, fmt.Errorf("store: claim %s: script reply without the applied flag: %v", id, flat)
	}
	c := Claimed{}
	if flat[0] == int64(1) {
		c.Token = token
	}
	if c.Found, err = decode(pairs(flat[2:])); err != nil {
		if c.Token != "" {
			_ = s.Unlock(ctx, id, c.Token)
		}
		return Claimed{}, err
	}
	if applied != 1 {
		return c, nil
	}
	send.Base = c.Found
	c.Sent = send.apply(now)
	if s.cluster {
		s.indexAfter(ctx, c.Sent, refund.Queued, now)
	}
	return c, unreplicated
}
