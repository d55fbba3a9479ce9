package api

import (
	"net/http"
	"strconv"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"
	"go.uber.org/zap"

	"github.com/refundq/refundq/internal/metrics"
)

// httpMetrics count API requests by route pattern, never by raw path:
// a path holds request_ids, and a label per id would grow without bound.
type httpMetrics struct {
	requests *prometheus.CounterVec
	duration *prometheus.HistogramVec
}

func newHTTPMetrics(reg prometheus.Registerer) *httpMetrics {
	m := &httpMetrics{
		requests: metrics.CounterVec("refundq_api_requests_total", "HTTP API requests, by route and status code.", "route", "code"),
		duration: metrics.HistogramVec("refundq_api_request_duration_seconds", "HTTP API request latency, by route.", []float64{.001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10, 30, 60}, "route"),
	}
	reg.MustRegister(m.requests, m.duration)
	return m
}

// statusWriter remembers the status a handler wrote, for the log and the
// metrics.
type statusWriter struct {
	http.ResponseWriter
	status int
}

func (w *statusWriter) WriteHeader(status int) {
	if w.status == 0 {
		w.status = status
	}
	w.ResponseWriter.WriteHeader(status)
}

func (w *statusWriter) Write(b []byte) (int, error) {
	if w.status == 0 {
		w.status = http.StatusOK
	}
	return w.ResponseWriter.Write(b)
}

// Unwrap lets http.ResponseController reach the connection.
func (w *statusWriter) Unwrap() http.ResponseWriter { return w.ResponseWriter }

// observe logs and counts every request. It logs the method, route and
// status only: headers (the token) and bodies never reach the log.
func (s *Server) observe(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		start := time.Now()
		sw := &statusWriter{ResponseWriter: w}
		next.ServeHTTP(sw, r)
		// ServeMux sets r.Pattern on the request it routed; unmatched and
		// unauthenticated requests share one label.
		route := r.Pattern
		if route == "" {
			route = "unmatched"
		}
		if sw.status == 0 { // nothing written: net/http sends 200
			sw.status = http.StatusOK
		}
		elapsed := time.Since(start)
		s.http.requests.WithLabelValues(route, strconv.Itoa(sw.status)).Inc()
		s.http.duration.WithLabelValues(route).Observe(elapsed.Seconds())
		s.log.Debug("http request", zap.String("method", r.Method), zap.String("route", route),
			zap.String("path", r.URL.Path), zap.Int("status", sw.status), zap.Duration("duration", elapsed))
	})
}

func (s *Server) metricsHandler() http.Handler {
	return promhttp.HandlerFor(s.reg, promhttp.HandlerOpts{ErrorLog: zap.NewStdLog(s.log.Named("metrics"))})
}
