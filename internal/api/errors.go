package api

import (
	"encoding/json"
	"errors"
	"net/http"
	"strconv"

	"go.uber.org/zap"

	"github.com/refundq/refundq/internal/refund"
	"github.com/refundq/refundq/internal/store"
	"github.com/refundq/refundq/producer"
)

// Error codes. Clients branch on the code, never on the message.
const (
	codeValidation       = "validation_failed"
	codeInvalidJSON      = "invalid_json"
	codeBadRequest       = "bad_request"
	codeUnauthorized     = "unauthorized"
	codeForbidden        = "forbidden"
	codeNotFound         = "not_found"
	codeMethodNotAllowed = "method_not_allowed"
	codeConflict         = "conflict"
	codeBatchBusy        = "batch_busy"
	codeNotCancelable    = "not_cancelable"
	codeWrongState       = "wrong_state"
	codeBusy             = "busy"
	codeNoCredential     = "no_credential"
	codeSameIdentity     = "same_identity"
	codeDecided          = "already_decided"
	codeNotHeld          = "not_held"
	codeTooLarge         = "body_too_large"
	codeMediaType        = "unsupported_media_type"
	codeInvalidFile      = "invalid_file"
	codeUnavailable      = "unavailable"
	codeInternal         = "internal"
)

// apiError is an error with an HTTP status and the body the client sees.
type apiError struct {
	status  int
	Code    string              `json:"code"`
	Message string              `json:"message"`
	Fields  []refund.FieldError `json:"fields,omitempty"`
	// retryAfter, in seconds, is sent as Retry-After when set.
	retryAfter int
}

func (e *apiError) Error() string { return e.Code + ": " + e.Message }

func newError(status int, code, message string) *apiError {
	return &apiError{status: status, Code: code, Message: message}
}

func validationError(fields []refund.FieldError) *apiError {
	return &apiError{status: http.StatusBadRequest, Code: codeValidation,
		Message: "the request has invalid fields; see fields", Fields: fields}
}

// toAPIError maps what handlers and the packages below them return to the
// client's view. Anything unrecognised is a 500 whose detail stays in the
// log: internal errors can carry Redis addresses and key names.
func toAPIError(err error) *apiError {
	var (
		ae *apiError
		ve *refund.ValidationError
		pe *producer.ValidationError
		me *http.MaxBytesError
	)
	switch {
	case errors.As(err, &ae):
		return ae
	case errors.As(err, &ve):
		return validationError(ve.Fields)
	case errors.As(err, &pe):
		fields := make([]refund.FieldError, len(pe.Fields))
		for i, f := range pe.Fields {
			fields[i] = refund.FieldError(f)
		}
		return validationError(fields)
	case errors.Is(err, producer.ErrConflict):
		return newError(http.StatusConflict, codeConflict,
			"this request_id is already used by a refund with different parameters")
	case errors.Is(err, producer.ErrNotReplicated):
		e := newError(http.StatusServiceUnavailable, codeUnavailable, "the Redis replicas did not confirm the refund in time; "+
			"it may exist all the same, and sending the same request again is safe")
		e.retryAfter = 1
		return e
	case errors.Is(err, store.ErrNotFound):
		return newError(http.StatusNotFound, codeNotFound, "no refund has this request_id")
	case errors.As(err, &me):
		return newError(http.StatusRequestEntityTooLarge, codeTooLarge, "the body is larger than the limit of this endpoint")
	}
	return newError(http.StatusInternalServerError, codeInternal, "internal error; the server log has the details")
}

// writeError sends err as a JSON error body.
func (s *Server) writeError(w http.ResponseWriter, r *http.Request, err error) {
	ae := toAPIError(err)
	if ae.status >= 500 {
		s.log.Error("request failed", zap.String("method", r.Method), zap.String("path", r.URL.Path), zap.Error(err))
	}
	if ae.status == http.StatusUnauthorized {
		w.Header().Set("WWW-Authenticate", `Bearer realm="refundq"`)
	}
	if ae.retryAfter > 0 {
		w.Header().Set("Retry-After", strconv.Itoa(ae.retryAfter))
	}
	writeJSON(w, ae.status, struct {
		Error *apiError `json:"error"`
	}{ae})
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	h := w.Header()
	h.Set("Content-Type", "application/json")
	h.Set("X-Content-Type-Options", "nosniff")
	h.Del("Content-Length")
	w.WriteHeader(status)
	enc := json.NewEncoder(w)
	enc.SetEscapeHTML(false) // "<token>" reads better than "\u003ctoken\u003e"
	_ = enc.Encode(v)
}

// muxErrorWriter captures the status ServeMux chooses for a request no
// pattern matches (404, or 405 with its Allow header) and drops ServeMux's
// plain-text body, so the client gets the same JSON error body as anywhere
// else.
type muxErrorWriter struct {
	http.ResponseWriter
	status int
}

func (m *muxErrorWriter) WriteHeader(status int) { m.status = status }

func (m *muxErrorWriter) Write(b []byte) (int, error) { return len(b), nil }

func (s *Server) serveUnmatched(w http.ResponseWriter, r *http.Request) {
	cw := &muxErrorWriter{ResponseWriter: w, status: http.StatusNotFound}
	s.mux.ServeHTTP(cw, r)
	if cw.status == http.StatusMethodNotAllowed {
		s.writeError(w, r, newError(http.StatusMethodNotAllowed, codeMethodNotAllowed,
			r.Method+" is not allowed here; allowed: "+w.Header().Get("Allow")))
		return
	}
	s.writeError(w, r, newError(http.StatusNotFound, codeNotFound, "no such endpoint"))
}
