package main

import (
	"context"
	"errors"
	"math/rand/v2"
	"sync/atomic"
	"time"

	"github.com/refundq/refundq/internal/operator"
	"github.com/refundq/refundq/internal/refund"
	"github.com/refundq/refundq/internal/store"
	"github.com/refundq/refundq/producer"
)

// The maker-checker part of the run: a share of the planned refunds is not
// enqueued one by one but imported at the start as one held batch by one
// name, while workers are killed, Redis restarts and the provider goes
// away. Until another name approves it, none of it may reach the provider;
// the importer's own approval must be refused. Once approved, its refunds
// settle and are audited like every other.
const (
	heldBatchID = "chaos-held"
	heldMaker   = "chaos-importer"
	heldChecker = "chaos-approver"
	shareHeld   = 0.05
)

// markHeld picks the held share of the plan, from a draw of its own so the
// rest of the plan is what the seed always made.
func (pl *plan) markHeld(seed uint64) {
	rng := rand.New(rand.NewPCG(seed, 0x4e1d))
	for _, r := range pl.refunds {
		r.held = rng.Float64() < shareHeld
	}
}

func (pl *plan) held() []*plannedRefund {
	var out []*plannedRefund
	for _, r := range pl.refunds {
		if r.held {
			out = append(out, r)
		}
	}
	return out
}

// heldRun imports the held batch, waits, checks that nothing of it moved,
// and approves it.
type heldRun struct {
	rec     *recorder
	prod    *producer.Producer
	ops     *operator.Operator
	st      *store.Redis
	sim     *simProc
	refunds []*plannedRefund
	// approveAt counts from the start of the intake, like the faults.
	approveAt time.Duration

	began                            time.Time
	imported, makerRefused, approved atomic.Bool
	sentBefore                       atomic.Int64 // refund calls for held refunds before approval
}

// waitAndApprove waits until approveAt after the import, checks that
// nothing of the batch moved, has the importer's approval refused, and
// approves it as the checker.
func (h *heldRun) waitAndApprove(ctx context.Context) {
	if !h.imported.Load() {
		return
	}
	select {
	case <-ctx.Done():
		return
	case <-time.After(time.Until(h.began.Add(h.approveAt))):
	}
	h.checkUntouched(ctx)
	_, err := h.ops.ApproveBatch(ctx, heldBatchID, heldMaker)
	var me *store.MakerError
	if errors.As(err, &me) {
		h.makerRefused.Store(true)
	} else {
		h.rec.violate("approval of the held batch by its importer: %v, want a refusal", err)
	}
	if h.approve(ctx) {
		h.rec.logf("held batch %s approved by %s after %s: %d refunds queued", heldBatchID, heldChecker,
			time.Since(h.began).Round(time.Second), len(h.refunds))
	}
}

// importBatch imports the held refunds as one batch, again after a
// failure (the same rows are duplicates of what got through).
func (h *heldRun) importBatch(ctx context.Context) bool {
	h.began = time.Now()
	if len(h.refunds) == 0 {
		return false
	}
	rows := make([]producer.Refund, len(h.refunds))
	for i, r := range h.refunds {
		rows[i] = r.refund
	}
	giveUp := time.Now().Add(enqueueGiveUp)
	for {
		rep, err := h.prod.EnqueueBatch(ctx, heldBatchID, producer.Rows(rows),
			producer.BatchHold(producer.Hold{All: true, By: heldMaker, Reason: "held on import by " + heldMaker}))
		if err == nil && rep.Rejected == 0 && rep.Accepted+rep.Duplicates == len(rows) {
			for _, r := range h.refunds {
				r.accepted.Store(true)
			}
			h.imported.Store(true)
			h.rec.logf("held batch %s: %d refunds imported held by %s", heldBatchID, len(rows), heldMaker)
			return true
		}
		if err == nil {
			h.rec.violate("held batch import: %d accepted, %d duplicates, %d rejected of %d rows", rep.Accepted, rep.Duplicates, rep.Rejected, len(rows))
			return false
		}
		if ctx.Err() != nil || time.Now().After(giveUp) {
			h.rec.violate("held batch import failed for good: %v", err)
			return false
		}
		time.Sleep(200 * time.Millisecond)
	}
}

// checkUntouched asks the provider's ledger and the records, just before
// the approval, whether anything of the held batch moved.
func (h *heldRun) checkUntouched(ctx context.Context) {
	l, err := h.sim.ledger(ctx)
	if err != nil {
		h.rec.violate("ledger before the approval: %v", err)
		return
	}
	held := map[string]bool{}
	for _, r := range h.refunds {
		held[r.id] = true
	}
	for _, lr := range l.Requests {
		if held[lr.RequestID] && lr.Submissions > 0 {
			h.sentBefore.Add(int64(lr.Submissions))
			h.rec.violate("held refund %s reached the provider before its batch was approved (%s)", lr.RequestID, lr.Summary())
		}
	}
	states, err := h.st.States(ctx, ids(h.refunds))
	if err != nil {
		h.rec.violate("states before the approval: %v", err)
		return
	}
	for i, st := range states {
		if st != refund.Held {
			h.rec.violate("held refund %s is %s before its batch was approved", h.refunds[i].id, st)
		}
	}
}

// approve approves the batch as the checker, again after a failure: the
// first decision stands and approving again finishes it.
func (h *heldRun) approve(ctx context.Context) bool {
	giveUp := time.Now().Add(enqueueGiveUp)
	for {
		_, err := h.ops.ApproveBatch(ctx, heldBatchID, heldChecker)
		if err == nil {
			h.approved.Store(true)
			return true
		}
		if ctx.Err() != nil || time.Now().After(giveUp) {
			h.rec.violate("approval of the held batch failed for good: %v", err)
			return false
		}
		time.Sleep(200 * time.Millisecond)
	}
}
