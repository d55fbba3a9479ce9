package fpsim

import (
	"fmt"
	"io"
	"net/http"

	"go.uber.org/zap"
)

// maxBody bounds a Card API request body; real ones are a few hundred bytes.
const maxBody = 1 << 20

// endpoint is one Card API path with its short metric/script name.
type endpoint struct {
	name, path string
	// parse validates the signed body of merchant authID and returns the
	// call, not yet run, so faults can decide whether (and when) it
	// executes.
	parse func(s *Sim, authID string, body []byte) (call, *invalid)
}

// call is a validated Card API call.
type call struct {
	requestID string
	// exec runs the business logic under the plan's request faults.
	exec func(p plan) answer
	// hold registers a late commit (refund calls only) and returns it, or
	// nil when the call was a duplicate.
	hold func(p plan) *lateCall
}

func (s *Sim) routes() http.Handler {
	mux := http.NewServeMux()
	refund := endpoint{name: "refund", path: PathRefund,
		parse: func(s *Sim, authID string, body []byte) (call, *invalid) {
			in, err := parseRefund(body)
			if err != nil {
				return call{}, err
			}
			return call{requestID: in.RequestID,
				exec: func(p plan) answer { return s.refund(authID, in, p) },
				hold: func(p plan) *lateCall { return s.holdLate(authID, in, p) }}, nil
		}}
	status := endpoint{name: "status", path: PathStatus,
		parse: func(s *Sim, authID string, body []byte) (call, *invalid) {
			id, err := parseStatus(body)
			if err != nil {
				return call{}, err
			}
			return call{requestID: id, exec: func(plan) answer { return s.status(authID, id) }}, nil
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
		// Read the body first: net/http only notices a client hanging up
		// (and cancels ctx) once the body has been read to EOF, and the
		// latency and timeout waits rely on that cancellation.
		body, readErr := io.ReadAll(http.MaxBytesReader(w, r.Body, maxBody))
		if err := s.latency(r.Context()); err != nil {
			s.count(ep, "client_gone")
			abort(w)
			return
		}
		if s.Faults().Down {
			s.injected(ep, faultDown, "")
			s.write(w, ep, "fault", failure(sitUnavailable, "provider unavailable"))
			return
		}
		if readErr != nil {
			s.reply(w, ep, validation(invalidf("body", "unreadable body: %v", readErr)))
			return
		}
		who, err := s.verify(r, body)
		if err != nil {
			s.log.Debug("fpsim: signature refused", zap.String("endpoint", ep.name), zap.Error(err))
			s.reply(w, ep, failure(sitBadSignature, "%v", err))
			return
		}
		if bad := checkContentType(r); bad != nil {
			s.reply(w, ep, validation(bad))
			return
		}
		c, bad := ep.parse(s, who.authID, body)
		if bad != nil {
			s.reply(w, ep, validation(bad))
			return
		}
		s.run(w, r, ep, c, s.nextPlan(ep.path, c.requestID))
	})
}

// run carries out one valid call under its plan.
func (s *Sim) run(w http.ResponseWriter, r *http.Request, ep endpoint, c call, p plan) {
	if p.fault == faultNone {
		s.reply(w, ep, c.exec(p))
		return
	}
	s.injected(ep, p.fault, c.requestID)
	switch {
	case p.fault.late():
		lc := c.hold(p)
		s.hang(r.Context())
		if lc != nil {
			s.scheduleLate(lc)
		}
		s.count(ep, "fault")
		abort(w)
		return
	case p.fault.commits():
		a := c.exec(p)
		s.log.Debug("fpsim: executed before fault", zap.String("request_id", c.requestID),
			zap.String("fault", string(p.fault)), zap.String("hidden_result", a.metricResult()))
	}
	switch p.fault {
	case fault5xx, fault5xxCommit:
		s.write(w, ep, "fault", failure(sitInternal, "internal error"))
	case fault429:
		s.write(w, ep, "fault", failure(sitRateLimited, "too many requests"))
	case faultDown:
		s.write(w, ep, "fault", failure(sitUnavailable, "provider unavailable"))
	case faultTimeout, faultTimeoutCommit:
		s.hang(r.Context())
		s.count(ep, "fault")
		abort(w)
	case faultDrop:
		s.count(ep, "fault")
		abort(w)
	}
}

var errNoSignature = fmt.Errorf("%w: missing %s header", errSignature, SignatureHeader)

// verify checks the detached JWS over the exact body bytes, and that it was
// made for this path: a signature for request/status must not authorise a
// refund.
func (s *Sim) verify(r *http.Request, body []byte) (signer, error) {
	sig := r.Header.Get(SignatureHeader)
	if sig == "" {
		return signer{}, errNoSignature
	}
	who, err := verifyJWS(sig, body, func(id string) ([]byte, bool) {
		secret, ok := s.creds[id]
		return secret, ok
	})
	if err != nil {
		return signer{}, err
	}
	if who.uri != r.URL.Path {
		return signer{}, fmt.Errorf("%w: signed for uri %q, not %q", errSignature, who.uri, r.URL.Path)
	}
	return who, nil
}

// reply writes a business reply, counting it as ok or by its code.
func (s *Sim) reply(w http.ResponseWriter, ep endpoint, a answer) {
	s.write(w, ep, a.metricResult(), a)
}

// write renders a in the current dialect and sends it.
func (s *Sim) write(w http.ResponseWriter, ep endpoint, result string, a answer) {
	s.count(ep, result)
	s.mu.Lock()
	d, proxied := s.dialect, false
	if a.sit == sitInternal && d == DialectAlt {
		s.internalErrors++
		proxied = s.internalErrors%2 == 0
	}
	s.mu.Unlock()
	out := render(d, a, s.nowDT(), proxied)
	for k, v := range out.header {
		w.Header().Set(k, v)
	}
	w.Header().Set("Content-Type", out.contentType)
	w.WriteHeader(out.code)
	if _, err := w.Write(out.body); err != nil {
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
