package api

import (
	"fmt"
	"net/http"
	"strings"
	"testing"

	"github.com/refundq/refundq/internal/access"
)

func TestBearerTokens(t *testing.T) {
	h := newHarness(t, WithTokens("second-token-0123456789"))
	body := []byte(`{"idempotency_key":"k","order_id":"o-1"}`)
	for _, c := range []struct {
		name   string
		header map[string]string
		noAuth bool
		path   string
	}{
		{"no header", nil, true, "/v1/refunds"},
		{"wrong token", map[string]string{"Authorization": "Bearer wrong-token-0123456789abcdef"}, false, "/v1/refunds"},
		{"token prefix", map[string]string{"Authorization": "Bearer " + testToken[:len(testToken)-1]}, false, "/v1/refunds"},
		{"basic scheme", map[string]string{"Authorization": "Basic " + testToken}, false, "/v1/refunds"},
		{"empty bearer", map[string]string{"Authorization": "Bearer "}, false, "/v1/refunds"},
		// An unauthenticated client cannot probe which paths exist.
		{"unknown path", nil, true, "/v1/no-such-endpoint"},
	} {
		t.Run(c.name, func(t *testing.T) {
			ex := h.do(req{method: http.MethodPost, path: c.path, body: body, header: c.header, noAuth: c.noAuth}).
				mustStatus(t, http.StatusUnauthorized)
			if e := ex.apiErr(t); e.Error.Code != codeUnauthorized {
				t.Fatalf("code %q", e.Error.Code)
			}
			if !strings.HasPrefix(ex.header.Get("WWW-Authenticate"), "Bearer") {
				t.Fatalf("WWW-Authenticate = %q", ex.header.Get("WWW-Authenticate"))
			}
		})
	}
	if n := h.keyCount(); n != 0 {
		t.Fatalf("unauthenticated requests wrote %d keys", n)
	}

	// Every configured token works, and the scheme is case-insensitive.
	h.do(req{method: http.MethodPost, path: "/v1/refunds", body: body,
		header: map[string]string{"Authorization": "Bearer second-token-0123456789"}}).mustStatus(t, http.StatusAccepted)
	h.do(req{method: http.MethodPost, path: "/v1/refunds", body: body,
		header: map[string]string{"Authorization": "bearer " + testToken}}).mustStatus(t, http.StatusOK)

	for _, p := range []string{"/healthz", "/readyz", "/metrics"} {
		h.do(req{method: http.MethodGet, path: p, noAuth: true}).mustStatus(t, http.StatusOK)
	}
	for _, e := range h.logs.All() {
		line := e.Message
		for k, v := range e.ContextMap() {
			line += " " + k + "=" + fmt.Sprint(v)
		}
		if strings.Contains(line, "token-0123456789") {
			t.Fatalf("a log line contains a token: %s", line)
		}
	}
	if h.logs.Len() == 0 {
		t.Fatalf("no logs were observed, so the token check above proves nothing")
	}
}

func TestNewRefusesToRunOpen(t *testing.T) {
	for _, opts := range [][]Option{nil, {WithTokens()}, {WithTokens("")}} {
		if _, err := New(nil, opts...); err == nil {
			t.Fatalf("New(%d options) without a usable token succeeded", len(opts))
		}
	}
}

func TestTokenSet(t *testing.T) {
	ts := newTokenSet([]access.Token{{Secret: "alpha-token-0123456789"}, {Secret: "beta-token-0123456789"}})
	for tok, want := range map[string]bool{
		"alpha-token-0123456789": true, "beta-token-0123456789": true,
		"alpha-token-012345678": false, "alpha-token-01234567890": false, "": false,
	} {
		if got := ts.allows(tok); got != want {
			t.Errorf("allows(%q) = %v, want %v", tok, got, want)
		}
	}
}

// A session signed in with a token ends when that token is rotated, even
// though the new token has the same name and role: rotation is the answer
// to a leak, and the thief's session must not outlive it.
func TestRotatedTokenEndsItsSessions(t *testing.T) {
	who := access.Identity{Name: "alice", Role: access.Approver}
	before := newTokenSet([]access.Token{{Secret: "leaked-token-0123456789", Identity: who}})
	after := newTokenSet([]access.Token{{Secret: "rotated-token-0123456789", Identity: who}})
	id, ok := before.lookup("leaked-token-0123456789")
	if !ok || !before.has(id) {
		t.Fatalf("the session's own token does not keep it: %v %v", ok, before.has(id))
	}
	if after.has(id) {
		t.Fatal("a session of the leaked token survives its rotation")
	}
	if strings.Contains(id.Key, "leaked") || len(id.Key) != 32 {
		t.Fatalf("key %q", id.Key)
	}
}
