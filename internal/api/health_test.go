package api

import (
	"net/http"
	"strings"
	"testing"
)

func TestReadyzFollowsRedis(t *testing.T) {
	h := newHarness(t)
	h.do(req{method: http.MethodGet, path: "/readyz", noAuth: true}).mustStatus(t, http.StatusOK)
	h.redis.Kill()
	ex := h.do(req{method: http.MethodGet, path: "/readyz", noAuth: true}).mustStatus(t, http.StatusServiceUnavailable)
	if e := ex.apiErr(t); e.Error.Code != codeUnavailable {
		t.Fatalf("code %q", e.Error.Code)
	}
	// Liveness does not depend on Redis: restarting the API would not help.
	h.do(req{method: http.MethodGet, path: "/healthz", noAuth: true}).mustStatus(t, http.StatusOK)

	// Intake says "try again" rather than "bug", since a retry is safe.
	for _, r := range []req{
		{method: http.MethodPost, path: "/v1/refunds", body: []byte(`{"idempotency_key":"k","order_id":"o-1"}`)},
		csvReq("/v1/batches", "order_id,amount\no-1,1\n"),
	} {
		ex := h.do(r).mustStatus(t, http.StatusServiceUnavailable)
		if e := ex.apiErr(t); e.Error.Code != codeUnavailable || !strings.Contains(e.Error.Message, "again") {
			t.Fatalf("%s with Redis down: %s", r.path, ex.body)
		}
	}
}

func TestMetricsCountRequestsByRoute(t *testing.T) {
	h := newHarness(t)
	h.do(req{method: http.MethodGet, path: "/v1/refunds/828cf71d-a447-4a67-a149-c1df8bc197ca"}).mustStatus(t, http.StatusNotFound)
	got := h.metric(`refundq_api_requests_total{code="404",route="GET /v1/refunds/{request_id}"}`)
	if got != "1" {
		t.Fatalf("404s counted on the route pattern: %s, want 1", got)
	}
	ex := h.do(req{method: http.MethodGet, path: "/metrics", noAuth: true})
	if strings.Contains(string(ex.body), "828cf71d") {
		t.Fatal("a request_id leaked into a metric label")
	}
}
