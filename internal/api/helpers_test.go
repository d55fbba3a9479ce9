package api

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/getkin/kin-openapi/openapi3"
	"github.com/getkin/kin-openapi/openapi3filter"
	"github.com/getkin/kin-openapi/routers"
	"github.com/getkin/kin-openapi/routers/gorillamux"
	"github.com/redis/go-redis/v9"
	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"
	"go.uber.org/zap/zaptest/observer"

	"github.com/refundq/refundq/internal/refund"
	"github.com/refundq/refundq/internal/testenv"
)

const testToken = "test-token-0123456789abcdef"

var (
	specOnce sync.Once
	specDoc  *openapi3.T
	specErr  error
)

// loadSpec parses and validates docs/openapi.yaml once per test binary.
func loadSpec(t *testing.T) *openapi3.T {
	t.Helper()
	specOnce.Do(func() {
		// The spec types batch bodies as strings; the server parses them.
		// kin-openapi's own text/csv decoder knows only ',' and would
		// refuse the ';' files European spreadsheets write.
		for _, ct := range []string{"text/csv", "application/x-ndjson", "application/jsonl"} {
			openapi3filter.RegisterBodyDecoder(ct, openapi3filter.PlainBodyDecoder)
		}
		loader := openapi3.NewLoader()
		specDoc, specErr = loader.LoadFromFile("../../docs/openapi.yaml")
		if specErr == nil {
			specErr = specDoc.Validate(loader.Context)
		}
	})
	if specErr != nil {
		t.Fatalf("docs/openapi.yaml: %v", specErr)
	}
	return specDoc
}

// harness runs a real Server on a loopback port over a real redis-server,
// and checks every exchange against docs/openapi.yaml.
type harness struct {
	t      *testing.T
	redis  *testenv.Redis
	rdb    *redis.Client
	server *Server
	base   string
	router routers.Router
	spec   *openapi3.T
	logs   *observer.ObservedLogs
	// stop shuts the server down and waits for it, once.
	stop func()
}

func newHarness(t *testing.T, opts ...Option) *harness {
	t.Helper()
	spec := loadSpec(t)
	r := testenv.StartRedis(t)
	core, logs := observer.New(zapcore.DebugLevel)
	// No retries: the tests that stop Redis want the outage reported at
	// once, not after go-redis's backoff.
	rdb := redis.NewClient(&redis.Options{Addr: r.Addr(), MaxRetries: -1, DialerRetries: 1, DialerRetryTimeout: time.Millisecond})
	t.Cleanup(func() { _ = rdb.Close() })
	h := &harness{t: t, redis: r, rdb: rdb, spec: spec, logs: logs}
	srv, err := New(h.rdb, append([]Option{WithTokens(testToken), WithLogger(zap.New(core))}, opts...)...)
	testenv.Must(t, err)
	h.server = srv
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	testenv.Must(t, err)
	h.base = "http://" + ln.Addr().String()
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- srv.Serve(ctx, ln) }()
	h.stop = sync.OnceFunc(func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("Serve returned %v after a clean shutdown", err)
		}
	})
	t.Cleanup(h.stop)
	// Route against a copy of the spec whose server is this test's.
	local := *spec
	local.Servers = openapi3.Servers{{URL: h.base}}
	h.router, err = gorillamux.NewRouter(&local)
	testenv.Must(t, err)
	return h
}

// exchange is one request and its response as the client saw them.
type exchange struct {
	method, path string
	status       int
	header       http.Header
	body         []byte
	// requestErr is the spec's verdict on the request (nil: valid).
	requestErr error
}

// req describes a request; headers default to a JSON body and the token.
type req struct {
	method, path string
	body         []byte
	header       map[string]string
	noAuth       bool
	// stream sends the body without a Content-Length (chunked).
	stream bool
}

func (h *harness) do(r req) *exchange {
	h.t.Helper()
	hr := h.newRequest(r)
	res, err := http.DefaultClient.Do(hr)
	if err != nil {
		h.t.Fatalf("%s %s: %v", r.method, r.path, err)
	}
	defer res.Body.Close()
	body, err := io.ReadAll(res.Body)
	testenv.Must(h.t, err)
	ex := &exchange{method: r.method, path: r.path, status: res.StatusCode, header: res.Header, body: body}
	h.checkSpec(r, ex)
	return ex
}

func (h *harness) newRequest(r req) *http.Request {
	h.t.Helper()
	var body io.Reader = http.NoBody
	if r.body != nil {
		body = bytes.NewReader(r.body)
		if r.stream {
			body = io.MultiReader(bytes.NewReader(r.body)) // hides the length
		}
	}
	hr, err := http.NewRequest(r.method, h.base+r.path, body)
	testenv.Must(h.t, err)
	if r.body != nil {
		hr.Header.Set("Content-Type", "application/json")
	}
	if !r.noAuth {
		hr.Header.Set("Authorization", "Bearer "+testToken)
	}
	for k, v := range r.header {
		hr.Header.Set(k, v)
	}
	return hr
}

// checkSpec validates the exchange against docs/openapi.yaml. A response
// must always match. A request must match whenever the server accepted it
// (2xx); for a refused one the verdict is kept so a test can check that
// the spec refuses it too.
func (h *harness) checkSpec(r req, ex *exchange) {
	h.t.Helper()
	vr := h.newRequest(r) // a fresh body: the validator reads it
	route, params, err := h.router.FindRoute(vr)
	if err != nil {
		// Unrouted paths and methods still answer with an Error body.
		if ex.status != http.StatusNotFound && ex.status != http.StatusMethodNotAllowed && ex.status != http.StatusUnauthorized {
			h.t.Fatalf("%s %s: no route in the spec (%v) but status %d", r.method, r.path, err, ex.status)
		}
		h.checkErrorSchema(ex)
		return
	}
	in := &openapi3filter.RequestValidationInput{Request: vr, PathParams: params, Route: route,
		Options: &openapi3filter.Options{AuthenticationFunc: bearerPresent, MultiError: true}}
	ex.requestErr = openapi3filter.ValidateRequest(context.Background(), in)
	if ex.requestErr != nil && ex.status < 300 {
		h.t.Fatalf("%s %s answered %d, but the spec rejects the request: %v", r.method, r.path, ex.status, ex.requestErr)
	}
	out := &openapi3filter.ResponseValidationInput{RequestValidationInput: in, Status: ex.status, Header: ex.header,
		Options: &openapi3filter.Options{IncludeResponseStatus: true, MultiError: true}}
	out.SetBodyBytes(ex.body)
	if err := openapi3filter.ValidateResponse(context.Background(), out); err != nil {
		h.t.Fatalf("%s %s: response %d does not match the spec: %v\nbody: %s", r.method, r.path, ex.status, err, ex.body)
	}
}

func (h *harness) checkErrorSchema(ex *exchange) {
	h.t.Helper()
	if ct := ex.header.Get("Content-Type"); ct != "application/json" {
		h.t.Fatalf("%s %s: Content-Type %q, want application/json", ex.method, ex.path, ct)
	}
	var v any
	testenv.Must(h.t, json.Unmarshal(ex.body, &v))
	schema := h.spec.Components.Schemas["Error"].Value
	if err := schema.VisitJSON(v); err != nil {
		h.t.Fatalf("%s %s: body does not match schema Error: %v\n%s", ex.method, ex.path, err, ex.body)
	}
}

func bearerPresent(_ context.Context, in *openapi3filter.AuthenticationInput) error {
	if _, ok := bearer(in.RequestValidationInput.Request); !ok {
		return errors.New("no bearer token")
	}
	return nil
}

// mustStatus fails unless the exchange has status want.
func (ex *exchange) mustStatus(t *testing.T, want int) *exchange {
	t.Helper()
	if ex.status != want {
		t.Fatalf("%s %s: status %d, want %d; body %s", ex.method, ex.path, ex.status, want, ex.body)
	}
	return ex
}

func (ex *exchange) refund(t *testing.T) refundView {
	t.Helper()
	var v refundView
	testenv.Must(t, json.Unmarshal(ex.body, &v))
	return v
}

type errorBody struct {
	Error struct {
		Code    string              `json:"code"`
		Message string              `json:"message"`
		Fields  []refund.FieldError `json:"fields"`
	} `json:"error"`
}

func (ex *exchange) apiErr(t *testing.T) errorBody {
	t.Helper()
	var e errorBody
	testenv.Must(t, json.Unmarshal(ex.body, &e))
	return e
}

// fieldNames lists the fields of a validation error, in order.
func (e errorBody) fieldNames() []string {
	var out []string
	for _, f := range e.Error.Fields {
		out = append(out, f.Field)
	}
	return out
}

// refundqKeys counts refundq's own keys and asynq's, to prove a refused
// request wrote nothing.
func (h *harness) keyCount() int {
	h.t.Helper()
	keys, err := h.rdb.Keys(context.Background(), "*").Result()
	testenv.Must(h.t, err)
	return len(keys)
}

func (h *harness) metric(name string) string {
	h.t.Helper()
	ex := h.do(req{method: http.MethodGet, path: "/metrics", noAuth: true}).mustStatus(h.t, http.StatusOK)
	for _, line := range strings.Split(string(ex.body), "\n") {
		if strings.HasPrefix(line, name+" ") {
			return strings.TrimPrefix(line, name+" ")
		}
	}
	return fmt.Sprintf("<%s absent>", name)
}
