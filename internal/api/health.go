package api

import (
	"context"
	"net/http"
	"time"

	"go.uber.org/zap"
)

// readyTimeout bounds the Redis ping of /readyz, well inside a probe's
// own timeout.
const readyTimeout = 2 * time.Second

type status struct {
	Status string `json:"status"`
}

// healthz is GET /healthz: the process is up and serving. It does not
// touch Redis, so a Redis outage does not make an orchestrator restart
// every API replica.
func (s *Server) healthz(w http.ResponseWriter, _ *http.Request) error {
	writeJSON(w, http.StatusOK, status{"ok"})
	return nil
}

// readyz is GET /readyz: Redis answers, so refunds can be accepted.
func (s *Server) readyz(w http.ResponseWriter, r *http.Request) error {
	ctx, cancel := context.WithTimeout(r.Context(), readyTimeout)
	defer cancel()
	if err := s.rdb.Ping(ctx).Err(); err != nil {
		s.log.Warn("not ready: redis unreachable", zap.Error(err))
		return newError(http.StatusServiceUnavailable, codeUnavailable, "redis is unreachable")
	}
	writeJSON(w, http.StatusOK, status{"ok"})
	return nil
}
