package fpsim

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"

	"github.com/refundq/refundq/internal/freedompay"
	"go.uber.org/zap"
)

// maxBody bounds a Card API request body; real ones are a few hundred bytes.
const maxBody = 1 << 20

// codeUnavailable is the error_code of the 503 a Down simulator sends. The
// client classifies by HTTP status (5xx is ambiguous), not by this code.
const codeUnavailable = "SERVICE_UNAVAILABLE"

// endpoint is one Card API path with its short metric/script name.
type endpoint struct {
	name, path string
	// parse validates the signed body and returns the request_id and the
	// call's business logic, not yet run, so faults can decide whether (and
	// when) it executes.
	parse func(s *Sim, body []byte) (requestID string, exec func() reply, err error)
}

func (s *Sim) routes() http.Handler {
	mux := http.NewServeMux()
	refund := endpoint{name: "refund", path: freedompay.PathRefund,
		parse: func(s *Sim, body []byte) (string, func() reply, error) {
			in, err := parseRefund(body)
			if err != nil {
				return "", nil, err
			}
			return in.RequestID, func() reply { return s.refund(in) }, nil
		}}
	status := endpoint{name: "status", path: freedompay.PathStatus,
		parse: func(s *Sim, body []byte) (string, func() reply, error) {
			id, err := parseStatus(body)
			if err != nil {
				return "", nil, err
			}
			return id, func() reply { return s.status(id) }, nil
		}}
	for _, ep := range []endpoint{refund, status} {
		mux.Handle("POST "+ep.path, s.cardAPI(ep))
	}
	s.adminRoutes(mux)
	return mux
}

// cardAPI is the pipeline every Card API call goes through, in the order a
// real deployment would apply it: network latency, outage, body limit,
// signature, validation, then injected faults around the business logic.
// Nothing before the business logic touches the ledger.
func (s *Sim) cardAPI(ep endpoint) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		ctx := r.Context()
		// Read the body first: net/http only notices a client hanging up
		// (and cancels ctx) once the body has been read to EOF, and the
		// latency and timeout waits rely on that cancellation.
		body, readErr := io.ReadAll(http.MaxBytesReader(w, r.Body, maxBody))
		if err := s.latency(ctx); err != nil {
			s.count(ep, "client_gone")
			abort(w)
			return
		}
		if s.Faults().Down {
			s.injected(ep, faultDown, "")
			s.write(w, ep, "fault", reply{http.StatusServiceUnavailable, freedompay.Response{
				Status: "error", ErrorCode: codeUnavailable, Message: "provider unavailable"}})
			return
		}
		if readErr != nil {
			s.reply(w, ep, errorReply(freedompay.CodeValidation, fmt.Sprintf("unreadable body: %v", readErr)))
			return
		}
		if err := s.verify(r, body); err != nil {
			s.log.Debug("fpsim: signature refused", zap.String("endpoint", ep.name), zap.Error(err))
			s.reply(w, ep, reply{http.StatusUnauthorized, freedompay.Response{
				Status: "error", ErrorCode: freedompay.CodeInvalidSignature, Message: err.Error()}})
			return
		}
		requestID, exec, err := ep.parse(s, body)
		if err != nil {
			s.reply(w, ep, errorReply(freedompay.CodeValidation, err.Error()))
			return
		}

		f := s.nextFault(ep.path, requestID)
		if f == faultNone {
			s.reply(w, ep, exec())
			return
		}
		s.injected(ep, f, requestID)
		if f.commits() {
			rep := exec()
			s.log.Debug("fpsim: executed before fault", zap.String("request_id", requestID),
				zap.String("fault", string(f)), zap.String("hidden_status", rep.body.Status),
				zap.String("hidden_code", rep.body.ErrorCode))
		}
		switch f {
		case fault5xx, fault5xxCommit:
			s.write(w, ep, "fault", reply{http.StatusInternalServerError, freedompay.Response{
				Status: "error", ErrorCode: freedompay.CodeInternal, Message: "internal error"}})
		case fault429:
			s.write(w, ep, "fault", reply{http.StatusTooManyRequests, freedompay.Response{
				Status: "error", ErrorCode: freedompay.CodeRateLimited, Message: "too many requests"}})
		case faultDown:
			s.write(w, ep, "fault", reply{http.StatusServiceUnavailable, freedompay.Response{
				Status: "error", ErrorCode: codeUnavailable, Message: "provider unavailable"}})
		case faultTimeout, faultTimeoutCommit:
			s.hang(ctx)
			s.count(ep, "fault")
			abort(w)
		case faultDrop:
			s.count(ep, "fault")
			abort(w)
		}
	})
}

var errNoSignature = errors.New("missing " + freedompay.SignatureHeader + " header")

// verify checks the detached JWS over the exact body bytes, and that it was
// made for this path: a signature for request/status must not authorise a
// refund.
func (s *Sim) verify(r *http.Request, body []byte) error {
	sig := strings.TrimSpace(r.Header.Get(freedompay.SignatureHeader))
	if sig == "" {
		return errNoSignature
	}
	v, err := freedompay.Verify(sig, body, func(id string) ([]byte, bool) {
		secret, ok := s.creds[id]
		return secret, ok
	})
	if err != nil {
		return fmt.Errorf("verify signature: %w", err)
	}
	if v.URI != r.URL.Path {
		return fmt.Errorf("signature is for uri %q, not %q", v.URI, r.URL.Path)
	}
	return nil
}

// reply writes a business reply, counting it as ok or by its error code.
func (s *Sim) reply(w http.ResponseWriter, ep endpoint, rep reply) {
	result := "ok"
	if rep.body.Status != "ok" {
		result = strings.ToLower(rep.body.ErrorCode)
	}
	s.write(w, ep, result, rep)
}

// write sends rep as JSON. Every reply carries dt, like the provider's.
func (s *Sim) write(w http.ResponseWriter, ep endpoint, result string, rep reply) {
	s.count(ep, result)
	if rep.body.DT == "" {
		rep.body.DT = s.nowDT()
	}
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(rep.code)
	if err := json.NewEncoder(w).Encode(rep.body); err != nil {
		s.log.Debug("fpsim: write reply", zap.String("endpoint", ep.name), zap.Error(err))
	}
}

func (s *Sim) count(ep endpoint, result string) {
	s.metrics.requests.WithLabelValues(ep.name, result).Inc()
}

func (s *Sim) injected(ep endpoint, f fault, requestID string) {
	s.metrics.faults.WithLabelValues(string(f)).Inc()
	s.log.Debug("fpsim: fault", zap.String("endpoint", ep.name), zap.String("fault", string(f)),
		zap.String("request_id", requestID))
}
