package worker_test

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/refundq/refundq/internal/fpsim"
	"github.com/refundq/refundq/internal/refund"
	"github.com/refundq/refundq/internal/testenv"
	"github.com/refundq/refundq/producer"
	"github.com/refundq/refundq/worker"
	"github.com/refundq/refundq/worker/callback"
)

var callbackSecret = []byte("callback-secret-for-tests")

// receiver is a merchant's callback endpoint that fails its first
// `failures` deliveries with a 500.
type receiver struct {
	*httptest.Server
	failures int

	mu   sync.Mutex
	hits []delivery
}

type delivery struct {
	header http.Header
	body   []byte
}

func newReceiver(t *testing.T, failures int) *receiver {
	r := &receiver{failures: failures}
	r.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		body, _ := io.ReadAll(req.Body)
		r.mu.Lock()
		r.hits = append(r.hits, delivery{req.Header.Clone(), body})
		n := len(r.hits)
		r.mu.Unlock()
		if n <= r.failures {
			http.Error(w, "not yet", http.StatusInternalServerError)
			return
		}
		w.WriteHeader(http.StatusNoContent)
	}))
	t.Cleanup(r.Close)
	return r
}

func (r *receiver) deliveries() []delivery {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]delivery(nil), r.hits...)
}

// callbackWorker runs a worker that signs the default merchant's callbacks.
func callbackWorker(s *stack, attempts int) *prometheus.Registry {
	cfg := s.WorkerConfig()
	cfg.Callbacks = worker.Callbacks{MaxAttempts: attempts, Secret: func(m string) ([]byte, bool) {
		return callbackSecret, m == refund.DefaultMerchant
	}}
	s.RunWorker(cfg)
	return cfg.Registerer.(*prometheus.Registry)
}

func (s *stack) waitCallbackDone(id string) *refund.Record {
	s.T.Helper()
	var rec *refund.Record
	testenv.WaitFor(s.T, 30*time.Second, "callback of "+id+" to end", func() bool {
		var err error
		rec, err = s.Store.Get(context.Background(), id)
		return err == nil && rec.Callback.State.Done()
	})
	return rec
}

func TestCallbackIsRetriedUntilDelivered(t *testing.T) {
	s := newStack(t, func(c *fpsim.Config) { c.StatusDelay = 0 })
	reg := callbackWorker(s, 5)
	recv := newReceiver(t, 2)
	id := s.Enqueue(producer.Refund{IdempotencyKey: "cb-ok", OrderID: "order-000001", Amount: "10.00",
		CallbackURL: recv.URL + "/hooks/refunds?token=merchant-token"})

	rec := s.waitCallbackDone(id)
	if rec.Callback.State != refund.CallbackDelivered || rec.Callback.Attempts != 3 || rec.Callback.LastError != "" {
		t.Fatalf("callback %+v, want delivered on attempt 3 with no error left", rec.Callback)
	}
	hits := recv.deliveries()
	if len(hits) != 3 {
		t.Fatalf("receiver got %d deliveries, want 3", len(hits))
	}
	last := hits[2]
	ts, err := strconv.ParseInt(last.header.Get(callback.TimestampHeader), 10, 64)
	if err != nil || time.Since(time.Unix(ts, 0)).Abs() > time.Minute {
		t.Errorf("timestamp header %q: want the current unix time", last.header.Get(callback.TimestampHeader))
	}
	if err := callback.Verify(callbackSecret, last.header, last.body, time.Now(), 5*time.Minute); err != nil {
		t.Errorf("delivered callback does not verify: %v", err)
	}
	tampered := bytes.Replace(last.body, []byte(`"10.00"`), []byte(`"99.00"`), 1)
	if callback.Verify(callbackSecret, last.header, tampered, time.Now(), 5*time.Minute) == nil {
		t.Error("a callback with an altered amount verifies")
	}
	var ev callback.Event
	testenv.Must(t, json.Unmarshal(last.body, &ev))
	want := callback.Event{RequestID: id, OrderID: "order-000001", Merchant: refund.DefaultMerchant,
		Amount: "10.00", State: "succeeded", RequestStatus: "success", OccurredAt: rec.UpdatedAt.UTC()}
	if ev != want {
		t.Errorf("event\n got %+v\nwant %+v", ev, want)
	}
	// The count follows the stored outcome, so it may trail it briefly.
	testenv.WaitFor(t, 5*time.Second, "refundq_callbacks_total{outcome=delivered} = 1", func() bool {
		return metricValue(t, reg, "refundq_callbacks_total", "delivered") == 1
	})
	if got := metricValue(t, reg, "refundq_callbacks_total", "error"); got != 2 {
		t.Errorf("refundq_callbacks_total{outcome=error} = %v, want 2", got)
	}
	if got := s.EventTypes(id)["callback"]; got != 3 {
		t.Errorf("%d callback events in the refund's log, want 3", got)
	}
}

func TestCallbackGivesUpWithoutLeakingTheURLsSecrets(t *testing.T) {
	s := newStack(t, func(c *fpsim.Config) { c.StatusDelay = 0 })
	reg := callbackWorker(s, 2)
	gone := httptest.NewServer(http.NotFoundHandler())
	gone.Close() // connection refused: an error that quotes the URL
	const token = "tok-3f7a9c"
	id := s.Enqueue(producer.Refund{IdempotencyKey: "cb-gone", OrderID: "order-000002", Amount: "5.00",
		CallbackURL: strings.Replace(gone.URL, "http://", "http://user:pw-"+token+"@", 1) + "/hook?token=" + token})

	rec := s.waitCallbackDone(id)
	if rec.Callback.State != refund.CallbackFailed || rec.Callback.Attempts != 2 {
		t.Fatalf("callback %+v, want failed after 2 attempts", rec.Callback)
	}
	if !strings.Contains(rec.Callback.LastError, "/hook") || strings.Contains(rec.Callback.LastError, token) {
		t.Errorf("last error %q: want the redacted URL, without its token", rec.Callback.LastError)
	}
	events, err := s.Store.Events(context.Background(), id)
	testenv.Must(t, err)
	for _, e := range events {
		if strings.Contains(e.Detail, token) {
			t.Errorf("event %q leaks the callback URL's token", e.Detail)
		}
	}
	for _, e := range s.Logs.All() {
		if b, _ := json.Marshal(e.ContextMap()); strings.Contains(e.Message+string(b), token) {
			t.Errorf("log %q %s leaks the callback URL's token", e.Message, b)
		}
	}
	if got := metricValue(t, reg, "refundq_callbacks_total", "failed"); got != 1 {
		t.Errorf("refundq_callbacks_total{outcome=failed} = %v, want 1", got)
	}
}

func TestCallbackDoesNotFollowRedirectsToOtherHosts(t *testing.T) {
	s := newStack(t, func(c *fpsim.Config) { c.StatusDelay = 0 })
	callbackWorker(s, 1)
	elsewhere := newReceiver(t, 0)
	redirect := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		// Same port, other host name: only the host differs.
		http.Redirect(w, r, strings.Replace(elsewhere.URL, "127.0.0.1", "localhost", 1)+"/steal", http.StatusTemporaryRedirect)
	}))
	t.Cleanup(redirect.Close)
	id := s.Enqueue(producer.Refund{IdempotencyKey: "cb-redirect", OrderID: "order-000003", Amount: "1.00",
		CallbackURL: redirect.URL + "/hook"})

	rec := s.waitCallbackDone(id)
	if rec.Callback.State != refund.CallbackFailed || !strings.Contains(rec.Callback.LastError, "another host") {
		t.Errorf("callback %+v, want failed: redirect to another host refused", rec.Callback)
	}
	if n := len(elsewhere.deliveries()); n != 0 {
		t.Errorf("the other host received %d deliveries", n)
	}
}
