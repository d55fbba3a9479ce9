package api

import (
	"errors"
	"net/http"

	"github.com/refundq/refundq/internal/operator"
)

// cancelRefund is POST /v1/refunds/{request_id}/cancel. Only a queued
// refund can be canceled; operator.Cancel, shared with `refundq cancel`, moves
// the record by compare-and-set (which decides any race with a worker) and
// then deletes the pending task.
func (s *Server) cancelRefund(w http.ResponseWriter, r *http.Request) error {
	rec, err := s.ops.Cancel(r.Context(), r.PathValue("request_id"), actor(r))
	var se *operator.StateError
	if errors.As(err, &se) {
		return newError(http.StatusConflict, codeNotCancelable, se.Error())
	}
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, viewRefund(rec))
	return nil
}
