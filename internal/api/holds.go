package api

import (
	"context"
	"errors"
	"net/http"
	"time"

	"github.com/refundq/refundq/internal/operator"
	"github.com/refundq/refundq/internal/store"
)

// decisionTimeout bounds one batch decision; about 4k refunds a second
// move, so it covers batches of a million. A decision cut short is
// finished by making it again.
const decisionTimeout = 10 * time.Minute

// batchDecisionView is schema BatchDecision in docs/openapi.yaml.
type batchDecisionView struct {
	BatchID  string `json:"batch_id"`
	Decision string `json:"decision"`
	By       string `json:"by"`
	// Again: the same decision already stood, and this call finished it.
	Again    bool `json:"again"`
	Moved    int  `json:"moved"`
	Own      int  `json:"own"`
	Repaired int  `json:"repaired"`
}

// decideBatch is POST /v1/batches/{batch_id}/approve and /reject: an
// approver, not one of the batch's importers, approves every held refund
// of the batch (each is queued and sent) or rejects them (each is
// canceled). The first decision stands; the same one again finishes a
// decision that stopped part way.
func (s *Server) decideBatch(approve bool) handlerFunc {
	return func(w http.ResponseWriter, r *http.Request) error {
		id, by := r.PathValue("batch_id"), actor(r)
		decide := s.ops.RejectBatch
		if approve {
			decide = s.ops.ApproveBatch
		}
		// Once recorded, a decision runs to its end if the client goes
		// away: half an approval is resumable, but confusing.
		ctx, cancel := context.WithTimeout(context.WithoutCancel(r.Context()), decisionTimeout)
		defer cancel()
		d, err := decide(ctx, id, by)
		if errors.Is(err, store.ErrNotFound) {
			return newError(http.StatusNotFound, codeNotFound, "no batch has this id")
		}
		if err != nil {
			return decisionError(err)
		}
		writeJSON(w, http.StatusOK, batchDecisionView{BatchID: id, Decision: string(d.Decision), By: by, Again: d.Again,
			Moved: d.Moved, Own: d.Own, Repaired: d.Repaired})
		return nil
	}
}

// decideRefund is POST /v1/refunds/{request_id}/approve and /reject, for
// a refund held on its own (over the single-refund threshold) or any held
// refund.
func (s *Server) decideRefund(approve bool) handlerFunc {
	return func(w http.ResponseWriter, r *http.Request) error {
		decide := s.ops.RejectRefund
		if approve {
			decide = s.ops.ApproveRefund
		}
		rec, err := decide(r.Context(), r.PathValue("request_id"), actor(r))
		if err != nil {
			return decisionError(err)
		}
		writeJSON(w, http.StatusOK, viewRefund(rec))
		return nil
	}
}

// decisionError maps why a decision was refused.
func decisionError(err error) error {
	var (
		me *store.MakerError
		de *store.DecidedError
		se *operator.StateError
	)
	switch {
	case errors.As(err, &me):
		return newError(http.StatusForbidden, codeSameIdentity, me.Error())
	case errors.Is(err, operator.ErrSameIdentity), errors.Is(err, operator.ErrNoIdentity):
		return newError(http.StatusForbidden, codeSameIdentity, err.Error())
	case errors.As(err, &de):
		return newError(http.StatusConflict, codeDecided, de.Error())
	case errors.Is(err, store.ErrNothingHeld):
		return newError(http.StatusConflict, codeNotHeld, "the batch was not held and holds no refund for approval")
	case errors.As(err, &se):
		return newError(http.StatusConflict, codeWrongState, se.Error())
	}
	return err
}

// retryRefund is POST /v1/refunds/{request_id}/retry: `refundq retry`.
func (s *Server) retryRefund(w http.ResponseWriter, r *http.Request) error {
	res, err := s.ops.Retry(r.Context(), r.PathValue("request_id"), actor(r))
	if err != nil {
		return actionError(err)
	}
	writeJSON(w, http.StatusOK, viewRefund(res.Record))
	return nil
}

// reconcileView is schema Reconciliation.
type reconcileView struct {
	Before   string     `json:"before"`
	Applied  bool       `json:"applied"`
	NotFound bool       `json:"not_found"`
	Verdict  string     `json:"verdict"`
	Refund   refundView `json:"refund"`
}

// reconcileRefund is POST /v1/refunds/{request_id}/reconcile: `refundq
// reconcile`, which asks the provider once, now, about the refund's own
// request_id. It needs the merchants' credentials (serve's
// REFUNDQ_MERCHANTS_FILE or REFUNDQ_AUTH_ID and REFUNDQ_SECRET).
func (s *Server) reconcileRefund(w http.ResponseWriter, r *http.Request) error {
	res, err := s.ops.Reconcile(r.Context(), r.PathValue("request_id"), actor(r))
	if err != nil {
		return actionError(err)
	}
	writeJSON(w, http.StatusOK, reconcileView{Before: string(res.Before), Applied: res.Applied, NotFound: res.NotFound,
		Verdict: res.Verdict, Refund: viewRefund(res.Record)})
	return nil
}

// actionError maps the refusals of retry and reconcile.
func actionError(err error) error {
	var se *operator.StateError
	switch {
	case errors.As(err, &se):
		return newError(http.StatusConflict, codeWrongState, se.Error())
	case errors.Is(err, operator.ErrBusy):
		e := newError(http.StatusConflict, codeBusy, err.Error())
		e.retryAfter = 5
		return e
	case errors.Is(err, operator.ErrNoProvider):
		return newError(http.StatusServiceUnavailable, codeNoCredential,
			"this server has no credential for the refund's merchant; start serve with REFUNDQ_MERCHANTS_FILE (or REFUNDQ_AUTH_ID and REFUNDQ_SECRET) to reconcile, or use refundq reconcile")
	}
	return err
}
