package api

import (
	"errors"
	"net/http"
	"net/url"
	"sort"

	"go.uber.org/zap"

	"github.com/refundq/refundq/internal/refund"
	"github.com/refundq/refundq/internal/store"
	"github.com/refundq/refundq/producer"
)

// createRefund is POST /v1/refunds: 202 for a new refund, 200 with the
// existing one for a repeat with the same parameters, 409 for a request_id
// reused with other parameters.
func (s *Server) createRefund(w http.ResponseWriter, r *http.Request) error {
	if err := requireMediaType(r, "application/json"); err != nil {
		return err
	}
	body, err := readBody(w, r, s.bodyLimit)
	if err != nil {
		return err
	}
	req, err := decodeRefund(body)
	if err != nil {
		return err
	}
	rcpt, err := s.producer.Enqueue(r.Context(), producer.Refund(req), producer.EnqueueHold(s.policy.Single(actor(r))))
	var invalid *producer.ValidationError
	if errors.Is(err, producer.ErrConflict) {
		s.log.Info("refund refused: request_id reused with other parameters", refundFields(rcpt.RequestID, req)...)
		return err
	}
	if errors.Is(err, producer.ErrNotReplicated) {
		s.log.Warn("refund not acknowledged: the Redis replicas did not confirm it", append(refundFields(rcpt.RequestID, req), zap.Error(err))...)
		return err
	}
	if err != nil && !errors.As(err, &invalid) {
		// Redis or the queue failed; the request_id makes a retry safe. The
		// request is valid here, so its request_id is known.
		s.log.Warn("refund not accepted", append(refundFields(req.Normalize().RequestID, req), zap.Error(err))...)
		return newError(http.StatusServiceUnavailable, codeUnavailable,
			"the refund could not be stored right now; send the same request again")
	}
	if err != nil {
		return err
	}
	rec, err := s.store.Get(r.Context(), rcpt.RequestID)
	if err != nil {
		return err
	}
	status := http.StatusAccepted
	if rcpt.Duplicate {
		status = http.StatusOK
	}
	s.log.Info("refund accepted", append(refundFields(rec.RequestID, rec.Request), zap.Bool("duplicate", rcpt.Duplicate))...)
	w.Header().Set("Location", refundPath(rec.RequestID))
	writeJSON(w, status, viewRefund(rec))
	return nil
}

// getRefund is GET /v1/refunds/{request_id}: the record and its event log.
func (s *Server) getRefund(w http.ResponseWriter, r *http.Request) error {
	id := r.PathValue("request_id")
	rec, err := s.store.Get(r.Context(), id)
	if err != nil {
		return err
	}
	events, err := s.store.Events(r.Context(), id)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, withEvents(viewRefund(rec), events))
	return nil
}

// listRefunds is GET /v1/refunds?order_id=&merchant=: every refund of one
// order, oldest first.
func (s *Server) listRefunds(w http.ResponseWriter, r *http.Request) error {
	q := r.URL.Query()
	order, merchant := q.Get("order_id"), q.Get("merchant")
	if order == "" {
		return validationError([]refund.FieldError{{Field: "order_id", Reason: "is required"}})
	}
	if merchant == "" {
		merchant = refund.DefaultMerchant
	}
	ids, err := s.store.ByOrder(r.Context(), merchant, order)
	if err != nil {
		return err
	}
	views := make([]refundView, 0, len(ids))
	for _, id := range ids {
		rec, err := s.store.Get(r.Context(), id)
		if errors.Is(err, store.ErrNotFound) { // expired; the index outlived it
			continue
		}
		if err != nil {
			return err
		}
		views = append(views, viewRefund(rec))
	}
	sort.Slice(views, func(i, j int) bool {
		if !views[i].CreatedAt.Equal(views[j].CreatedAt) {
			return views[i].CreatedAt.Before(views[j].CreatedAt)
		}
		return views[i].RequestID < views[j].RequestID
	})
	writeJSON(w, http.StatusOK, struct {
		Refunds []refundView `json:"refunds"`
	}{views})
	return nil
}

func refundPath(id string) string { return "/v1/refunds/" + url.PathEscape(id) }

// refundFields are the log fields that find a refund again.
func refundFields(id string, req refund.Request) []zap.Field {
	merchant := req.Merchant
	if merchant == "" {
		merchant = refund.DefaultMerchant
	}
	return []zap.Field{zap.String("request_id", id), zap.String("order_id", req.OrderID), zap.String("merchant", merchant)}
}
