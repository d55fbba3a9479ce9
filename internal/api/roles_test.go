package api

import (
	"context"
	"encoding/json"
	"net/http"
	"strings"
	"testing"

	"github.com/refundq/refundq/internal/access"
	"github.com/refundq/refundq/internal/hold"
	"github.com/refundq/refundq/internal/refund"
	"github.com/refundq/refundq/internal/testenv"
)

// Tokens of every role, as a token file would give them.
var (
	viewerTok   = access.Token{Secret: "viewer-token-0123456789", Identity: access.Identity{Name: "vera", Role: access.Viewer}}
	operatorTok = access.Token{Secret: "operator-token-0123456789", Identity: access.Identity{Name: "olga", Role: access.Operator}}
	aliceTok    = access.Token{Secret: "alice-token-0123456789", Identity: access.Identity{Name: "alice", Role: access.Approver}}
	bobTok      = access.Token{Secret: "bob-token-0123456789", Identity: access.Identity{Name: "bob", Role: access.Approver}}
)

func newRolesHarness(t *testing.T) *harness {
	return newHarness(t, WithIdentities(viewerTok, operatorTok, aliceTok, bobTok))
}

// as sends r with tok's bearer token.
func as(tok access.Token, r req) req {
	if r.header == nil {
		r.header = map[string]string{}
	}
	r.header["Authorization"] = "Bearer " + tok.Secret
	return r
}

func post(path string, body []byte) req { return req{method: http.MethodPost, path: path, body: body} }

// Each role may do what it and the roles below it may, and nothing else;
// a refused request is refused before it writes anything.
func TestRolesGateEveryEndpoint(t *testing.T) {
	h := newRolesHarness(t)
	body := []byte(`{"idempotency_key":"k-1","order_id":"o-1","amount":"10.00"}`)
	id := h.do(as(operatorTok, post("/v1/refunds", body))).mustStatus(t, http.StatusAccepted).refund(t).RequestID
	before := h.keyCount()

	type call struct {
		name string
		r    req
	}
	writes := []call{
		{"create refund", post("/v1/refunds", []byte(`{"idempotency_key":"k-2","order_id":"o-2"}`))},
		{"cancel", post("/v1/refunds/"+id+"/cancel", nil)},
		{"retry", post("/v1/refunds/"+id+"/retry", nil)},
		{"reconcile", post("/v1/refunds/"+id+"/reconcile", nil)},
		{"upload", csvReq("/v1/batches", "order_id,amount\no-9,1.00\n")},
	}
	approvals := []call{
		{"approve refund", post("/v1/refunds/"+id+"/approve", nil)},
		{"reject refund", post("/v1/refunds/"+id+"/reject", nil)},
		{"approve batch", post("/v1/batches/b-1/approve", nil)},
		{"reject batch", post("/v1/batches/b-1/reject", nil)},
	}
	forbidden := func(tok access.Token, calls []call) {
		t.Helper()
		for _, c := range calls {
			ex := h.do(as(tok, c.r)).mustStatus(t, http.StatusForbidden)
			if e := ex.apiErr(t); e.Error.Code != codeForbidden || !strings.Contains(e.Error.Message, tok.Role.String()) {
				t.Errorf("%s as %s: %s", c.name, tok.Name, ex.body)
			}
		}
	}
	forbidden(viewerTok, append(writes, approvals...))
	forbidden(operatorTok, approvals)
	if n := h.keyCount(); n != before {
		t.Fatalf("refused requests wrote %d keys", n-before)
	}
	// A viewer reads everything.
	h.do(as(viewerTok, req{method: http.MethodGet, path: "/v1/refunds/" + id})).mustStatus(t, http.StatusOK)
	h.do(as(viewerTok, req{method: http.MethodGet, path: "/v1/refunds?order_id=o-1"})).mustStatus(t, http.StatusOK)
	// An approver can also operate, and every action names who took it.
	h.do(as(aliceTok, post("/v1/refunds/"+id+"/cancel", nil))).mustStatus(t, http.StatusOK)
	ev := h.events(id)
	if last := ev[len(ev)-1]; last.Type != "operator_cancel" || !strings.Contains(last.Detail, "operator alice") {
		t.Fatalf("last event %+v, want an operator_cancel by alice", last)
	}
	h.noSecretsIn(ev)
}

// An operator's retry is recorded with the token's name, never its
// secret; an unnamed token is "api".
func TestActionsRecordTheTokensName(t *testing.T) {
	h := newRolesHarness(t)
	body := []byte(`{"idempotency_key":"k-1","order_id":"o-1","amount":"10.00"}`)
	id := h.do(post("/v1/refunds", body)).mustStatus(t, http.StatusAccepted).refund(t).RequestID
	h.move(id, refund.Queued, refund.Submitting, refund.NeedsAttention)
	v := h.do(as(operatorTok, post("/v1/refunds/"+id+"/retry", nil))).mustStatus(t, http.StatusOK).refund(t)
	if v.State != refund.Queued { // it was never sent
		t.Fatalf("after retry: %s, want queued", v.State)
	}
	// reconcile without merchant credentials on the server says so.
	ex := h.do(as(operatorTok, post("/v1/refunds/"+id+"/reconcile", nil))).mustStatus(t, http.StatusServiceUnavailable)
	if ex.apiErr(t).Error.Code != codeNoCredential {
		t.Fatalf("reconcile without credentials: %s", ex.body)
	}
	// A queued refund whose task will run is not retried; the unnamed
	// token cancels it.
	if ex := h.do(post("/v1/refunds/"+id+"/retry", nil)).mustStatus(t, http.StatusConflict); ex.apiErr(t).Error.Code != codeWrongState {
		t.Fatalf("retry of a queued refund: %s", ex.body)
	}
	h.do(post("/v1/refunds/"+id+"/cancel", nil)).mustStatus(t, http.StatusOK)
	var acts []string
	for _, e := range h.events(id) {
		if strings.HasPrefix(e.Type, "operator_") {
			acts = append(acts, e.Type+" "+e.Detail)
		}
	}
	if len(acts) != 2 || !strings.HasPrefix(acts[0], "operator_retry operator olga:") || !strings.HasPrefix(acts[1], "operator_cancel operator api:") {
		t.Fatalf("actions %q, want a retry by olga and a cancel by api", acts)
	}
	h.noSecretsIn(h.events(id))
}

// A batch uploaded with hold=true is accepted held, with no task; its
// importer cannot approve it, another approver can, and the approval is
// on the batch and on every refund's event log. The opposite decision is
// then refused.
func TestHeldUploadNeedsAnotherApprover(t *testing.T) {
	h := newRolesHarness(t)
	up := h.upload(as(aliceTok, csvReq("/v1/batches?hold=true&batch_id=held-upload", "order_id,amount\no-1,1.00\no-2,2.00\n")))
	b := h.settled(up.BatchID)
	if b.Counts[refund.Held] != 2 || b.Hold == nil || !b.Hold.Held || len(b.Hold.Makers) != 1 || b.Hold.Makers[0] != "alice" {
		t.Fatalf("held batch: counts %v, hold %+v", b.Counts, b.Hold)
	}
	if n := h.queueSize(); n != 0 {
		t.Fatalf("a held batch queued %d tasks", n)
	}
	ex := h.do(as(aliceTok, post("/v1/batches/held-upload/approve", nil))).mustStatus(t, http.StatusForbidden)
	if ex.apiErr(t).Error.Code != codeSameIdentity {
		t.Fatalf("approval by the importer: %s", ex.body)
	}
	ex = h.do(as(bobTok, post("/v1/batches/held-upload/approve", nil))).mustStatus(t, http.StatusOK)
	var d batchDecisionView
	testenv.Must(t, json.Unmarshal(ex.body, &d))
	if d.Moved != 2 || d.By != "bob" || d.Decision != "approved" {
		t.Fatalf("approval: %+v", d)
	}
	if n := h.queueSize(); n != 2 {
		t.Fatalf("approval queued %d tasks, want 2", n)
	}
	b = h.batch(up.BatchID)
	if b.Counts[refund.Queued] != 2 || b.Hold.ApprovedBy != "bob" || b.Hold.ApprovedAt == nil {
		t.Fatalf("approved batch: counts %v, hold %+v", b.Counts, b.Hold)
	}
	ids, err := h.server.store.ByBatch(context.Background(), up.BatchID)
	testenv.Must(t, err)
	for _, id := range ids {
		ev := h.events(id)
		if ev[0].To != refund.Held || !strings.Contains(ev[0].Detail, "created by alice") ||
			ev[len(ev)-1].Type != "approved" || !strings.Contains(ev[len(ev)-1].Detail, "approved by bob") {
			t.Fatalf("events of %s: %+v", id, ev)
		}
		h.noSecretsIn(ev)
	}
	ex = h.do(as(bobTok, post("/v1/batches/held-upload/reject", nil))).mustStatus(t, http.StatusConflict)
	if ex.apiErr(t).Error.Code != codeDecided {
		t.Fatalf("rejection after approval: %s", ex.body)
	}
	h.do(as(bobTok, post("/v1/batches/no-such/approve", nil))).mustStatus(t, http.StatusNotFound)
}

// The hold policy holds a refund over its threshold on its own, and its
// creator cannot approve it.
func TestPolicyHoldsABigRefund(t *testing.T) {
	h := newHarness(t, WithIdentities(operatorTok, aliceTok, bobTok), WithHoldPolicy(holdOver(t, "100.00")))
	big := h.do(as(aliceTok, post("/v1/refunds", []byte(`{"idempotency_key":"big","order_id":"o-1","amount":"100.01"}`)))).
		mustStatus(t, http.StatusAccepted).refund(t)
	small := h.do(as(aliceTok, post("/v1/refunds", []byte(`{"idempotency_key":"small","order_id":"o-2","amount":"100.00"}`)))).
		mustStatus(t, http.StatusAccepted).refund(t)
	if big.State != refund.Held || big.HeldBy != "alice" || small.State != refund.Queued {
		t.Fatalf("big %s by %q, small %s", big.State, big.HeldBy, small.State)
	}
	h.do(as(aliceTok, post("/v1/refunds/"+big.RequestID+"/approve", nil))).mustStatus(t, http.StatusForbidden)
	ex := h.do(as(bobTok, post("/v1/refunds/"+small.RequestID+"/approve", nil))).mustStatus(t, http.StatusConflict)
	if ex.apiErr(t).Error.Code != codeWrongState {
		t.Fatalf("approval of a queued refund: %s", ex.body)
	}
	v := h.do(as(bobTok, post("/v1/refunds/"+big.RequestID+"/reject", nil))).mustStatus(t, http.StatusOK).refund(t)
	if v.State != refund.Canceled || !strings.Contains(v.Reason, "rejected by bob") {
		t.Fatalf("rejected: %s %q", v.State, v.Reason)
	}
}

func (h *harness) events(id string) []eventView {
	h.t.Helper()
	ex := h.do(req{method: http.MethodGet, path: "/v1/refunds/" + id}).mustStatus(h.t, http.StatusOK)
	return ex.refund(h.t).Events
}

func (h *harness) noSecretsIn(ev []eventView) {
	h.t.Helper()
	b, _ := json.Marshal(ev)
	for _, tok := range []access.Token{viewerTok, operatorTok, aliceTok, bobTok} {
		if strings.Contains(string(b), tok.Secret) || strings.Contains(string(b), "token-0123456789") {
			h.t.Fatalf("an event log shows a token: %s", b)
		}
	}
}

// queueSize counts refundq's submit tasks in every queue.
func (h *harness) queueSize() int {
	h.t.Helper()
	n := 0
	for _, q := range []string{"refundq.interactive", "refundq.bulk"} {
		size, err := h.rdb.LLen(context.Background(), "asynq:{"+q+"}:pending").Result()
		testenv.Must(h.t, err)
		n += int(size)
	}
	return n
}

func holdOver(t *testing.T, amount string) hold.Policy {
	t.Helper()
	d, err := refund.ParseAmount(amount)
	testenv.Must(t, err)
	return hold.Policy{RefundAmount: d}
}
