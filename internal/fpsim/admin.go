package fpsim

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"

	"github.com/prometheus/client_golang/prometheus/promhttp"
	"go.uber.org/zap"
)

// maxAdminBody bounds admin uploads; a transaction seed list can be large
// for benchmarks, but not unbounded.
const maxAdminBody = 64 << 20

// adminRoutes registers the control plane used by the demo, docker-compose
// and black-box tests. It is unsigned on purpose: the simulator is a
// loopback test tool and must never face a real network.
func (s *Sim) adminRoutes(mux *http.ServeMux) {
	mux.HandleFunc("POST /sim/transactions", s.postTransactions)
	mux.HandleFunc("GET /sim/faults", s.getFaults)
	mux.HandleFunc("PUT /sim/faults", s.putFaults)
	mux.HandleFunc("GET /sim/dialect", s.getDialect)
	mux.HandleFunc("PUT /sim/dialect", s.putDialect)
	mux.HandleFunc("POST /sim/script", s.postScript)
	mux.HandleFunc("GET /sim/ledger", s.getLedger)
	mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, _ *http.Request) {
		writeJSON(w, http.StatusOK, map[string]string{"status": "ok"})
	})
	mux.Handle("GET /metrics", promhttp.HandlerFor(s.reg, promhttp.HandlerOpts{}))
}

// postTransactions accepts a JSON array or a CSV body (see ParseTransactions).
// A transaction naming an auth_id without a credential is refused: nobody
// could refund it.
func (s *Sim) postTransactions(w http.ResponseWriter, r *http.Request) {
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, maxAdminBody))
	if err != nil {
		adminError(w, http.StatusBadRequest, fmt.Errorf("read body: %w", err))
		return
	}
	txns, err := ParseTransactions(body)
	if err != nil {
		adminError(w, http.StatusBadRequest, err)
		return
	}
	if err := checkOwners(txns, func(id string) bool { _, ok := s.creds[id]; return ok }); err != nil {
		adminError(w, http.StatusBadRequest, err)
		return
	}
	s.AddTransactions(txns...)
	s.log.Debug("fpsim: transactions added", zap.Int("count", len(txns)))
	writeJSON(w, http.StatusOK, map[string]int{"added": len(txns)})
}

func (s *Sim) getFaults(w http.ResponseWriter, _ *http.Request) {
	writeJSON(w, http.StatusOK, s.Faults())
}

// putFaults replaces the whole fault mix; absent keys become zero.
func (s *Sim) putFaults(w http.ResponseWriter, r *http.Request) {
	var f Faults
	if err := decodeJSON(w, r, &f); err != nil {
		adminError(w, http.StatusBadRequest, err)
		return
	}
	if err := f.Validate(); err != nil {
		adminError(w, http.StatusBadRequest, err)
		return
	}
	s.SetFaults(f)
	s.log.Debug("fpsim: faults set", zap.Any("faults", f))
	writeJSON(w, http.StatusOK, f)
}

// dialectBody is the body of GET and PUT /sim/dialect.
type dialectBody struct {
	Dialect Dialect `json:"dialect"`
}

func (s *Sim) getDialect(w http.ResponseWriter, _ *http.Request) {
	writeJSON(w, http.StatusOK, dialectBody{s.Dialect()})
}

func (s *Sim) putDialect(w http.ResponseWriter, r *http.Request) {
	var b dialectBody
	if err := decodeJSON(w, r, &b); err != nil {
		adminError(w, http.StatusBadRequest, err)
		return
	}
	if err := s.SetDialect(b.Dialect); err != nil {
		adminError(w, http.StatusBadRequest, err)
		return
	}
	s.log.Debug("fpsim: dialect set", zap.String("dialect", string(s.Dialect())))
	writeJSON(w, http.StatusOK, dialectBody{s.Dialect()})
}

// scriptRequest is the body of POST /sim/script.
type scriptRequest struct {
	Endpoint  string   `json:"endpoint"`
	RequestID string   `json:"request_id"`
	Faults    []string `json:"faults"`
}

func (s *Sim) postScript(w http.ResponseWriter, r *http.Request) {
	var req scriptRequest
	if err := decodeJSON(w, r, &req); err != nil {
		adminError(w, http.StatusBadRequest, err)
		return
	}
	if req.RequestID == "" || len(req.Faults) == 0 {
		adminError(w, http.StatusBadRequest, fmt.Errorf("request_id and at least one fault are required"))
		return
	}
	path, fs, err := parseScript(req.Endpoint, req.Faults)
	if err != nil {
		adminError(w, http.StatusBadRequest, err)
		return
	}
	s.script(path, req.RequestID, fs)
	writeJSON(w, http.StatusOK, map[string]int{"queued": len(fs)})
}

func (s *Sim) getLedger(w http.ResponseWriter, _ *http.Request) {
	writeJSON(w, http.StatusOK, s.Ledger())
}

func decodeJSON(w http.ResponseWriter, r *http.Request, v any) error {
	dec := json.NewDecoder(http.MaxBytesReader(w, r.Body, maxAdminBody))
	dec.DisallowUnknownFields() // a typo in a fault name must not be silently ignored
	if err := dec.Decode(v); err != nil {
		return fmt.Errorf("decode body: %w", err)
	}
	return nil
}

func adminError(w http.ResponseWriter, code int, err error) {
	writeJSON(w, code, map[string]string{"error": err.Error()})
}

func writeJSON(w http.ResponseWriter, code int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(code)
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	_ = enc.Encode(v) // the client hung up; nothing useful to do
}
