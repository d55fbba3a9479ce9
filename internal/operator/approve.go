package operator

import (
	"context"
	"errors"
	"fmt"
	"sync"

	"go.uber.org/zap"

	"github.com/refundq/refundq/internal/access"
	"github.com/refundq/refundq/internal/refund"
	"github.com/refundq/refundq/internal/store"
	"github.com/refundq/refundq/internal/tasks"
)

// Maker-checker: a refund accepted held (refund.Held) has no task and
// waits for an approver. Approval moves it to queued and gives it its
// submit task; rejection cancels it. The approver must be another name
// than the one that created it, and each decision is written to the
// refund's event log and, for a batch, to the batch's metadata.

// ErrSameIdentity refuses a decision by the name that created the refund.
var ErrSameIdentity = errors.New("ops: the refund was created by the same name; another approver must decide it")

// ErrNoIdentity refuses a decision without a name to record.
var ErrNoIdentity = errors.New("ops: an approval needs the approver's name (REFUNDQ_IDENTITY, --identity, or a named token)")

// decideConcurrency is how many held refunds one decision moves at once:
// each move is a round trip or two, so a 100k-row batch is decided in
// seconds, not minutes.
const decideConcurrency = 16

// BatchDecision is what ApproveBatch or RejectBatch did.
type BatchDecision struct {
	Decision store.Decision
	// Again is set when the same decision already stood: this call
	// resumed it (a decision cut short by a crash is finished by making
	// it again).
	Again bool
	// Moved counts the held refunds this call approved or rejected.
	Moved int
	// Own counts held refunds left held because by created them (rows a
	// batch gained from by's own run); another approver must decide them.
	Own int
	// Repaired counts queued refunds of an approved batch whose submit
	// task was missing when the approval was resumed.
	Repaired int
}

// ApproveBatch approves every held refund of batch id as by: each moves to
// queued with its submit task, and workers send it. Approving again
// resumes an approval that stopped part way, and repairs the submit task
// of any refund it had already queued.
func (o *Operator) ApproveBatch(ctx context.Context, id, by string) (*BatchDecision, error) {
	return o.decideBatch(ctx, id, by, store.Approved)
}

// RejectBatch rejects every held refund of batch id as by: each is
// canceled, and was never sent.
func (o *Operator) RejectBatch(ctx context.Context, id, by string) (*BatchDecision, error) {
	return o.decideBatch(ctx, id, by, store.Rejected)
}

func (o *Operator) decideBatch(ctx context.Context, id, by string, d store.Decision) (*BatchDecision, error) {
	if !access.ValidName(by) {
		return nil, ErrNoIdentity
	}
	again, err := o.store.DecideBatch(ctx, id, d, by)
	if err != nil {
		return nil, err
	}
	out := &BatchDecision{Decision: d, Again: again}
	ids, err := o.store.ByBatch(ctx, id)
	if err != nil {
		return nil, err
	}
	log := o.log.With(zap.String("batch_id", id), zap.String("by", by), zap.String("decision", string(d)))
	var mu sync.Mutex
	err = o.eachRecord(ctx, ids, func(rec *refund.Record) error {
		moved, own, repaired, err := o.decideOne(ctx, rec, by, d, again, "batch "+id)
		mu.Lock()
		defer mu.Unlock()
		out.Moved, out.Own, out.Repaired = out.Moved+moved, out.Own+own, out.Repaired+repaired
		return err
	})
	log.Info("batch decision", zap.Int("moved", out.Moved), zap.Int("own", out.Own), zap.Int("repaired", out.Repaired), zap.Error(err))
	if err != nil {
		return out, fmt.Errorf("ops: the %s decision on batch %s stopped after %d refunds; make it again to finish: %w",
			d, id, out.Moved, err)
	}
	return out, nil
}

// decideOne applies decision d to one refund of a batch; its counts are
// 0 or 1 each.
func (o *Operator) decideOne(ctx context.Context, rec *refund.Record, by string, d store.Decision, again bool, what string) (moved, own, repaired int, err error) {
	switch {
	case rec.State == refund.Held && access.SameName(rec.HeldBy, by):
		return 0, 1, 0, nil
	case rec.State == refund.Held:
		_, err := o.decide(ctx, rec, by, d, what)
		if errors.Is(err, errMoved) {
			return 0, 0, 0, nil // another approver's call took it first
		}
		return 1, 0, 0, err
	case again && d == store.Approved && rec.State == refund.Queued:
		// Approved by an earlier call that stopped before its task was
		// written, or any queued refund of the batch: Ensure finds the
		// live task of the others in one round trip.
		found, err := o.ensure(ctx, rec)
		if err == nil && found != tasks.Alive {
			return 0, 0, 1, nil
		}
		return 0, 0, 0, err
	}
	return 0, 0, 0, nil
}

// errMoved: the refund left held between the read and the write.
var errMoved = errors.New("ops: the refund is no longer held")

// decide moves one held refund by compare-and-set, and then gives an
// approved one its submit task. A crash in between leaves a queued refund
// without a task, which approving again (or the workers' sweep) repairs.
func (o *Operator) decide(ctx context.Context, rec *refund.Record, by string, d store.Decision, what string) (*refund.Record, error) {
	c := store.Change{From: []refund.State{refund.Held}, Base: rec, Clear: []store.Fact{store.FactReason}}
	if d == store.Approved {
		c.To, c.Event, c.Detail = refund.Queued, "approved", "approved by "+by+" ("+what+"); queued for sending"
	} else {
		c.To, c.Event, c.Detail = refund.Canceled, "rejected", "rejected by "+by+" ("+what+"); canceled, never sent"
		c.Clear, c.Reason = nil, "rejected by "+by
	}
	next, err := o.store.Transition(ctx, rec.RequestID, c)
	var te *refund.TransitionError
	if errors.As(err, &te) {
		return nil, errMoved
	}
	if err != nil {
		return nil, err
	}
	o.logger(next, by).Info("held refund " + string(d))
	if d == store.Rejected {
		return next, o.settler.Settled(ctx, next)
	}
	_, err = o.ensure(ctx, next)
	return next, err
}

// ApproveRefund approves one held refund as by, such as one held on its
// own for its amount.
func (o *Operator) ApproveRefund(ctx context.Context, id, by string) (*refund.Record, error) {
	return o.decideRefund(ctx, id, by, store.Approved)
}

// RejectRefund rejects one held refund as by: it is canceled.
func (o *Operator) RejectRefund(ctx context.Context, id, by string) (*refund.Record, error) {
	return o.decideRefund(ctx, id, by, store.Rejected)
}

func (o *Operator) decideRefund(ctx context.Context, id, by string, d store.Decision) (*refund.Record, error) {
	if !access.ValidName(by) {
		return nil, ErrNoIdentity
	}
	rec, err := o.store.Get(ctx, id)
	if err != nil {
		return nil, err
	}
	action := map[store.Decision]string{store.Approved: "approve", store.Rejected: "reject"}[d]
	switch {
	case rec.State != refund.Held:
		return nil, &StateError{Action: action, State: rec.State, Hint: "only a held refund waits for a decision"}
	case access.SameName(rec.HeldBy, by):
		return nil, ErrSameIdentity
	}
	if err := o.refuseWholeBatch(ctx, rec, action); err != nil {
		return nil, err
	}
	next, err := o.decide(ctx, rec, by, d, "this refund")
	if errors.Is(err, errMoved) {
		cur, gerr := o.store.Get(ctx, id)
		if gerr != nil {
			return nil, gerr
		}
		return nil, &StateError{Action: action, State: cur.State, Hint: "someone decided it a moment ago"}
	}
	return next, err
}

// refuseWholeBatch refuses to decide one refund of a batch held as a
// whole: approving it alone and then rejecting the batch would send part
// of a rejected batch. Such a batch is decided as one.
func (o *Operator) refuseWholeBatch(ctx context.Context, rec *refund.Record, action string) error {
	if rec.BatchID == "" {
		return nil
	}
	meta, err := o.store.Batch(ctx, rec.BatchID)
	if errors.Is(err, store.ErrNotFound) {
		return nil
	}
	if err != nil {
		return err
	}
	if meta.Held {
		return &StateError{Action: action, State: rec.State,
			Hint: "its batch " + rec.BatchID + " is held as a whole: decide the batch (refundq batch " + rec.BatchID + " --approve or --reject)"}
	}
	return nil
}

// eachRecord calls f with the record of each of ids that exists, a few at
// once, and stops at the first error.
func (o *Operator) eachRecord(ctx context.Context, ids []string, f func(*refund.Record) error) error {
	const chunk = 1000
	for i := 0; i < len(ids); i += chunk {
		recs, err := o.store.GetMany(ctx, ids[i:min(i+chunk, len(ids))])
		if err != nil {
			return err
		}
		work := make(chan *refund.Record)
		errs := make(chan error, decideConcurrency)
		var wg sync.WaitGroup
		for range decideConcurrency {
			wg.Go(func() {
				for rec := range work {
					if err := f(rec); err != nil {
						errs <- err
						return
					}
				}
			})
		}
		var ferr error
	feed:
		for _, rec := range recs {
			if rec == nil {
				continue
			}
			select {
			case work <- rec:
			case ferr = <-errs:
				break feed
			case <-ctx.Done():
				ferr = ctx.Err()
				break feed
			}
		}
		close(work)
		wg.Wait()
		close(errs)
		if ferr == nil {
			ferr = <-errs
		}
		if ferr != nil {
			return ferr
		}
	}
	return nil
}
