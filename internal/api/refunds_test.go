package api

import (
	"encoding/json"
	"net/http"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/hibiken/asynq"

	"github.com/refundq/refundq/internal/refund"
	"github.com/refundq/refundq/internal/store"
	"github.com/refundq/refundq/internal/tasks"
	"github.com/refundq/refundq/internal/testenv"
)

func TestCreateRefundAcceptsThenAnswersRepeats(t *testing.T) {
	h := newHarness(t)
	body := []byte(`{"idempotency_key":"order-1-r1","order_id":"order-1","amount":10.5,"description":"Damaged"}`)

	first := h.do(req{method: http.MethodPost, path: "/v1/refunds", body: body}).mustStatus(t, http.StatusAccepted)
	got := first.refund(t)
	want := refund.DeriveRequestID(refund.DefaultMerchant, "order-1-r1")
	if got.RequestID != want || got.State != refund.Queued || got.Amount == nil || *got.Amount != "10.50" || got.Source != "api" {
		t.Fatalf("accepted refund = %+v, want %s queued 10.50 from api", got, want)
	}
	if loc := first.header.Get("Location"); loc != "/v1/refunds/"+want {
		t.Fatalf("Location = %q", loc)
	}
	info, err := asynq.NewInspectorFromRedisClient(h.rdb).GetTaskInfo(tasks.QueueInteractive, tasks.SubmitID(want))
	if err != nil || info.State != asynq.TaskStatePending {
		t.Fatalf("submit task: %v %v, want a pending task in %s", info, err, tasks.QueueInteractive)
	}

	// The same refund again, amount now as a string: same parameters.
	again := []byte(`{"idempotency_key":"order-1-r1","order_id":"order-1","amount":"10.50","description":"Damaged"}`)
	second := h.do(req{method: http.MethodPost, path: "/v1/refunds", body: again}).mustStatus(t, http.StatusOK).refund(t)
	if second.RequestID != want || !second.CreatedAt.Equal(got.CreatedAt) {
		t.Fatalf("repeat answered %+v, want the existing refund %+v", second, got)
	}
	if n := h.metric(`refundq_enqueued_total{source="api"}`); n != "1" {
		t.Fatalf(`refundq_enqueued_total{source="api"} = %s, want 1 (a repeat is not a new refund)`, n)
	}
}

func TestCreateRefundConflict(t *testing.T) {
	h := newHarness(t)
	h.do(req{method: http.MethodPost, path: "/v1/refunds",
		body: []byte(`{"idempotency_key":"k-1","order_id":"order-2","amount":"5.00"}`)}).mustStatus(t, http.StatusAccepted)
	ex := h.do(req{method: http.MethodPost, path: "/v1/refunds",
		body: []byte(`{"idempotency_key":"k-1","order_id":"order-2","amount":"6.00"}`)}).mustStatus(t, http.StatusConflict)
	if e := ex.apiErr(t); e.Error.Code != codeConflict {
		t.Fatalf("code %q, want %q", e.Error.Code, codeConflict)
	}
	stored := h.do(req{method: http.MethodGet, path: "/v1/refunds/" + refund.DeriveRequestID("default", "k-1")}).
		mustStatus(t, http.StatusOK).refund(t)
	if *stored.Amount != "5.00" {
		t.Fatalf("the conflicting request changed the refund: amount %s", *stored.Amount)
	}
}

func TestCreateRefundValidation(t *testing.T) {
	h := newHarness(t)
	cases := []struct {
		name, body string
		code       string
		fields     []string
		specAgrees bool // the spec alone can tell the request is invalid
	}{
		{"nothing", `{}`, codeValidation, []string{"request_id", "order_id"}, false},
		{"bad amount and uuid", `{"request_id":"nope","order_id":"o-1","amount":"1,50"}`, codeValidation,
			[]string{"request_id", "amount"}, true},
		{"exponent amount", `{"idempotency_key":"k","order_id":"o-1","amount":1e3}`, codeValidation, []string{"amount"}, false},
		{"negative amount", `{"idempotency_key":"k","order_id":"o-1","amount":-5}`, codeValidation, []string{"amount"}, true},
		{"null amount", `{"idempotency_key":"k","order_id":"o-1","amount":null}`, codeValidation, []string{"amount"}, true},
		{"empty amount", `{"idempotency_key":"k","order_id":"o-1","amount":""}`, codeValidation, []string{"amount"}, true},
		{"blank amount", `{"idempotency_key":"k","order_id":"o-1","amount":"   "}`, codeValidation, []string{"amount"}, true},
		{"no-break space amount", `{"idempotency_key":"k","order_id":"o-1","amount":"\u00a0"}`, codeValidation, []string{"amount"}, true},
		{"padded amount", `{"idempotency_key":"k","order_id":"o-1","amount":" 10.00"}`, codeValidation, []string{"amount"}, true},
		{"the word full", `{"idempotency_key":"k","order_id":"o-1","amount":"full"}`, codeValidation, []string{"amount"}, true},
		{"blank amount and unknown key", `{"idempotency_key":"k","order_id":"o 1","amount":"","amout":"5"}`, codeValidation,
			[]string{"amount", "amout", "order_id"}, true},
		{"unknown key", `{"idempotency_key":"k","order_id":"o-1","amout":"5.00"}`, codeValidation, []string{"amout"}, true},
		{"unknown key and missing order", `{"idempotency_key":"k","orderid":"o-1"}`, codeValidation,
			[]string{"orderid", "order_id"}, true},
		{"repeated key", `{"idempotency_key":"k","order_id":"o-1","order_id":"o-2"}`, codeValidation, []string{"order_id"}, false},
		{"wrong type", `{"idempotency_key":7,"order_id":"o-1","metadata":{"a":1}}`, codeValidation,
			[]string{"idempotency_key", "metadata", "request_id"}, true},
		{"bad merchant", `{"idempotency_key":"k","order_id":"o-1","merchant":"Shop One"}`, codeValidation, []string{"merchant"}, true},
		{"plain http callback", `{"idempotency_key":"k","order_id":"o-1","callback_url":"http://example.com/cb"}`, codeValidation,
			[]string{"callback_url"}, false},
		{"not json", `order_id=o-1`, codeInvalidJSON, nil, true},
		{"array", `[{"order_id":"o-1"}]`, codeInvalidJSON, nil, true},
		{"trailing data", `{"idempotency_key":"k","order_id":"o-1"} {}`, codeInvalidJSON, nil, false},
		{"cut short", `{"idempotency_key":"k",`, codeInvalidJSON, nil, true},
		{"empty", ``, codeInvalidJSON, nil, true},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			ex := h.do(req{method: http.MethodPost, path: "/v1/refunds", body: []byte(c.body)}).mustStatus(t, http.StatusBadRequest)
			e := ex.apiErr(t)
			if e.Error.Code != c.code || !reflect.DeepEqual(e.fieldNames(), c.fields) {
				t.Fatalf("got %s %v, want %s %v\n%s", e.Error.Code, e.fieldNames(), c.code, c.fields, ex.body)
			}
			for _, f := range e.Error.Fields {
				if f.Reason == "" {
					t.Fatalf("field %s has no reason", f.Field)
				}
			}
			if c.specAgrees && ex.requestErr == nil {
				t.Fatalf("docs/openapi.yaml accepts a request the server refuses")
			}
		})
	}
	if n := h.keyCount(); n != 0 {
		t.Fatalf("refused requests wrote %d keys to Redis", n)
	}
}

// Query strings are strict everywhere: a parameter an endpoint does not
// take, a repeated one and a ';' are 400s that name them.
func TestQueryParametersAreStrict(t *testing.T) {
	h := newHarness(t)
	id := "828cf71d-a447-4a67-a149-c1df8bc197ca"
	for _, c := range []struct {
		method, path string
		fields       []string
	}{
		{http.MethodGet, "/v1/refunds/" + id + "?verbose=1", []string{"verbose"}},
		{http.MethodGet, "/v1/refunds?order_id=o-1&orderid=o-2", []string{"orderid"}},
		{http.MethodGet, "/v1/refunds?order_id=o-1&order_id=o-2", []string{"order_id"}},
		{http.MethodGet, "/v1/refunds?order_id=o-1;merchant=m", []string{"order_id"}},
		{http.MethodGet, "/v1/refunds?order_id=%zz", []string{"order_id"}},
		{http.MethodPost, "/v1/refunds/" + id + "/cancel?force=true", []string{"force"}},
		{http.MethodGet, "/v1/batches/b-1?x=1&y", []string{"x", "y"}},
		{http.MethodGet, "/v1/batches/b-1/errors?offset=-1", []string{"offset"}},
		{http.MethodGet, "/v1/batches/b-1/errors?limit=100000&page=2", []string{"page"}},
	} {
		ex := h.do(req{method: c.method, path: c.path}).mustStatus(t, http.StatusBadRequest)
		if e := ex.apiErr(t); e.Error.Code != codeValidation || !reflect.DeepEqual(e.fieldNames(), c.fields) {
			t.Errorf("%s %s: %s, want fields %v", c.method, c.path, ex.body, c.fields)
		}
	}
	h.do(req{method: http.MethodGet, path: "/v1/refunds?order_id=o-1&"}).mustStatus(t, http.StatusOK) // an empty pair is nothing
}

func TestCreateRefundMediaType(t *testing.T) {
	h := newHarness(t)
	ex := h.do(req{method: http.MethodPost, path: "/v1/refunds", body: []byte(`{"idempotency_key":"k","order_id":"o"}`),
		header: map[string]string{"Content-Type": "text/plain"}}).mustStatus(t, http.StatusUnsupportedMediaType)
	if e := ex.apiErr(t); e.Error.Code != codeMediaType {
		t.Fatalf("code %q", e.Error.Code)
	}
	h.do(req{method: http.MethodPost, path: "/v1/refunds", body: []byte(`{"idempotency_key":"k","order_id":"o"}`),
		header: map[string]string{"Content-Type": "application/json; charset=utf-8"}}).mustStatus(t, http.StatusAccepted)
}

func TestGetRefundShowsEventsAndRedactsCallback(t *testing.T) {
	h := newHarness(t)
	body := []byte(`{"request_id":"828cf71d-a447-4a67-a149-c1df8bc197ca","transaction_id":"txn-9",
		"callback_url":"https://user:pw@shop.example/cb?sig=secret","metadata":{"ticket":"T-1"}}`)
	h.do(req{method: http.MethodPost, path: "/v1/refunds", body: body}).mustStatus(t, http.StatusAccepted)

	got := h.do(req{method: http.MethodGet, path: "/v1/refunds/828cf71d-a447-4a67-a149-c1df8bc197ca"}).
		mustStatus(t, http.StatusOK).refund(t)
	if got.Amount != nil || got.TransactionID != "txn-9" || got.Metadata["ticket"] != "T-1" {
		t.Fatalf("refund = %+v, want a full refund of txn-9 with metadata", got)
	}
	if got.CallbackURL != "https://shop.example/cb" {
		t.Fatalf("callback_url shown as %q, want it without credentials and query", got.CallbackURL)
	}
	if len(got.Events) == 0 || got.Events[0].Type != "accepted" || got.Events[0].To != refund.Queued {
		t.Fatalf("events = %+v, want an accepted event first", got.Events)
	}
}

func TestListRefundsByOrder(t *testing.T) {
	h := newHarness(t)
	post := func(body string) refundView {
		return h.do(req{method: http.MethodPost, path: "/v1/refunds", body: []byte(body)}).mustStatus(t, http.StatusAccepted).refund(t)
	}
	a := post(`{"idempotency_key":"a","order_id":"order-7","amount":"1.00"}`)
	b := post(`{"idempotency_key":"b","order_id":"order-7","amount":"2.00"}`)
	post(`{"idempotency_key":"c","order_id":"order-8","amount":"3.00"}`)
	other := post(`{"idempotency_key":"d","order_id":"order-7","merchant":"shop2","amount":"4.00"}`)

	list := func(query string) []string {
		var out struct{ Refunds []refundView }
		ex := h.do(req{method: http.MethodGet, path: "/v1/refunds?" + query}).mustStatus(t, http.StatusOK)
		testenv.Must(t, json.Unmarshal(ex.body, &out))
		ids := make([]string, len(out.Refunds))
		for i, r := range out.Refunds {
			ids[i] = r.RequestID
		}
		return ids
	}
	wantDefault := []string{a.RequestID, b.RequestID}
	if a.CreatedAt.Equal(b.CreatedAt) && b.RequestID < a.RequestID {
		wantDefault = []string{b.RequestID, a.RequestID}
	}
	if got := list("order_id=order-7"); !reflect.DeepEqual(got, wantDefault) {
		t.Fatalf("order-7 of the default merchant: %v, want %v", got, wantDefault)
	}
	if got := list("order_id=order-7&merchant=shop2"); !reflect.DeepEqual(got, []string{other.RequestID}) {
		t.Fatalf("order-7 of shop2: %v, want %v", got, other.RequestID)
	}
	if got := list("order_id=no-such-order"); len(got) != 0 {
		t.Fatalf("unknown order listed %v", got)
	}
	ex := h.do(req{method: http.MethodGet, path: "/v1/refunds"}).mustStatus(t, http.StatusBadRequest)
	if e := ex.apiErr(t); !reflect.DeepEqual(e.fieldNames(), []string{"order_id"}) {
		t.Fatalf("missing order_id: %s", ex.body)
	}
}

func TestNotFoundAndMethodNotAllowedAreJSON(t *testing.T) {
	h := newHarness(t)
	for _, c := range []struct {
		method, path string
		noAuth       bool
		status       int
		code         string
	}{
		{http.MethodGet, "/v1/refunds/828cf71d-a447-4a67-a149-c1df8bc197ca", false, http.StatusNotFound, codeNotFound},
		{http.MethodGet, "/v1/batches/no-such-batch", false, http.StatusNotFound, codeNotFound},
		{http.MethodGet, "/v1/nothing-here", false, http.StatusNotFound, codeNotFound},
		{http.MethodGet, "/nothing-here", true, http.StatusNotFound, codeNotFound},
		{http.MethodDelete, "/v1/refunds", false, http.StatusMethodNotAllowed, codeMethodNotAllowed},
		{http.MethodGet, "/v1/refunds/828cf71d-a447-4a67-a149-c1df8bc197ca/cancel", false, http.StatusMethodNotAllowed, codeMethodNotAllowed},
		{http.MethodPost, "/healthz", true, http.StatusMethodNotAllowed, codeMethodNotAllowed},
	} {
		ex := h.do(req{method: c.method, path: c.path, noAuth: c.noAuth}).mustStatus(t, c.status)
		if e := ex.apiErr(t); e.Error.Code != c.code {
			t.Fatalf("%s %s: code %q, want %q", c.method, c.path, e.Error.Code, c.code)
		}
		if c.status == http.StatusMethodNotAllowed && ex.header.Get("Allow") == "" {
			t.Fatalf("%s %s: 405 without an Allow header", c.method, c.path)
		}
	}
}

func TestCancelOnlyWhileQueued(t *testing.T) {
	h := newHarness(t)
	post := func(key string) refundView {
		return h.do(req{method: http.MethodPost, path: "/v1/refunds",
			body: []byte(`{"idempotency_key":"` + key + `","order_id":"order-c"}`)}).mustStatus(t, http.StatusAccepted).refund(t)
	}
	r := post("cancel-me")
	got := h.do(req{method: http.MethodPost, path: "/v1/refunds/" + r.RequestID + "/cancel"}).mustStatus(t, http.StatusOK).refund(t)
	if got.State != refund.Canceled {
		t.Fatalf("state after cancel: %s", got.State)
	}
	_, err := asynq.NewInspectorFromRedisClient(h.rdb).GetTaskInfo(tasks.QueueInteractive, tasks.SubmitID(r.RequestID))
	if err == nil {
		t.Fatalf("the submit task of a canceled refund is still queued")
	}
	again := h.do(req{method: http.MethodPost, path: "/v1/refunds/" + r.RequestID + "/cancel"}).mustStatus(t, http.StatusConflict)
	if e := again.apiErr(t); e.Error.Code != codeNotCancelable || !strings.Contains(e.Error.Message, "canceled") {
		t.Fatalf("second cancel: %s", again.body)
	}

	// A worker has taken this one: it can no longer be canceled.
	busy := post("in-flight")
	_, err = h.server.store.Transition(t.Context(), busy.RequestID, store.Change{From: []refund.State{refund.Queued}, To: refund.Submitting, Event: "submit"})
	testenv.Must(t, err)
	ex := h.do(req{method: http.MethodPost, path: "/v1/refunds/" + busy.RequestID + "/cancel"}).mustStatus(t, http.StatusConflict)
	if e := ex.apiErr(t); e.Error.Code != codeNotCancelable || !strings.Contains(e.Error.Message, "submitting") {
		t.Fatalf("cancel while submitting: %s", ex.body)
	}
	h.do(req{method: http.MethodPost, path: "/v1/refunds/828cf71d-a447-4a67-a149-c1df8bc197ca/cancel"}).mustStatus(t, http.StatusNotFound)
}

// Under replica acknowledgements a refund no replica confirmed is not
// acknowledged: the client gets a retryable 503. The refund exists on the
// primary all the same, and the retry the message invites adds nothing.
func TestCreateRefundWaitsForTheReplicas(t *testing.T) {
	h := newHarness(t, WithReplicaAcks(1, 50*time.Millisecond)) // Redis has no replica
	body := []byte(`{"idempotency_key":"order-9-r1","order_id":"order-9","amount":"1.00"}`)
	ex := h.do(req{method: http.MethodPost, path: "/v1/refunds", body: body}).mustStatus(t, http.StatusServiceUnavailable)
	if e := ex.apiErr(t); e.Error.Code != codeUnavailable || !strings.Contains(e.Error.Message, "sending the same request again is safe") {
		t.Fatalf("error %+v", e.Error)
	}
	if ex.header.Get("Retry-After") == "" {
		t.Fatal("no Retry-After")
	}
	keys := h.keyCount()
	h.do(req{method: http.MethodPost, path: "/v1/refunds", body: body}).mustStatus(t, http.StatusServiceUnavailable)
	if n := h.keyCount(); n != keys {
		t.Fatalf("the retry changed the key count from %d to %d", keys, n)
	}
	id := refund.DeriveRequestID(refund.DefaultMerchant, "order-9-r1")
	h.do(req{method: http.MethodGet, path: "/v1/refunds/" + id}).mustStatus(t, http.StatusOK)
}
