package worker_test

import (
	"net/http"
	"net/http/httptest"
	"sync/atomic"
	"testing"
	"time"

	"github.com/refundq/refundq/internal/fpsim"
	"github.com/refundq/refundq/internal/freedompay"
	"github.com/refundq/refundq/internal/refund"
	"github.com/refundq/refundq/producer"
	"github.com/refundq/refundq/worker"
)

// strangeProvider is a Card API host that speaks a vocabulary refundq has
// never seen: refund answers what refund calls get, status what status
// calls get. It counts the refund calls.
type strangeProvider struct {
	refunds atomic.Int32
	refund  func(n int32) (int, string)
	status  func() (int, string)
}

func (p *strangeProvider) serve(t *testing.T) string {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		code, body := p.status()
		if r.URL.Path == freedompay.PathRefund {
			code, body = p.refund(p.refunds.Add(1))
		}
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(code)
		_, _ = w.Write([]byte(body))
	}))
	t.Cleanup(srv.Close)
	return srv.URL
}

func (s *stack) workerOn(url string) worker.Config {
	s.T.Helper()
	cfg := s.WorkerConfig()
	cfg.Providers, cfg.SettleWindow = worker.SingleProvider(s.CardAPI(url)), time.Second
	return cfg
}

const notFoundReply = `{"status":"error","error_code":"REQUEST_NOT_FOUND","message":"unknown"}`

// A reply to a refund call that the profile does not know may have been an
// acceptance: however long status then says "not found", the refund is
// never sent again, and it parks in bounded time with the reply.
func TestAnUnknownRefundReplyIsNeverFollowedByAResend(t *testing.T) {
	s := newStack(t, nil)
	p := &strangeProvider{refund: func(int32) (int, string) { return 400, `<html><body>Bad Request</body></html>` },
		status: func() (int, string) { return 200, notFoundReply }}
	s.RunWorker(s.workerOn(p.serve(t)))
	id := s.Enqueue(producer.Refund{IdempotencyKey: "strange-1", OrderID: "order-000080", Amount: "5.00"})
	rec := s.WaitSettled(id, 20*time.Second)
	if rec.State != refund.NeedsAttention || rec.ReasonCode != refund.AttentionUnknownReplies || p.refunds.Load() != 1 {
		t.Fatalf("%s %s after %d refund calls, want needs_attention unknown_replies after one", rec.State, rec.ReasonCode, p.refunds.Load())
	}
}

// A provider that answers an unknown request_id with a documented-looking
// request_status error would fail a refund whose call commits a moment
// later; an error right after a send nobody answered waits out the window.
func TestAnErrorRightAfterAnUnansweredSendIsNotBelieved(t *testing.T) {
	s := newStack(t, nil)
	var committed atomic.Int64 // unix nanos when status catches up
	committed.Store(time.Now().Add(time.Hour).UnixNano())
	var done atomic.Bool
	p := &strangeProvider{
		refund: func(int32) (int, string) { // the call executes, the reply is lost
			done.Store(true)
			return 504, `gateway timeout`
		},
		status: func() (int, string) {
			if done.Load() && time.Now().UnixNano() > committed.Load() {
				return 200, `{"status":"ok","request_status":"success"}`
			}
			return 200, `{"status":"ok","request_status":"error"}`
		},
	}
	cfg := s.workerOn(p.serve(t))
	cfg.SettleWindow = 3 * time.Second
	s.RunWorker(cfg)
	committed.Store(time.Now().Add(1500 * time.Millisecond).UnixNano()) // status catches up inside the window
	id := s.Enqueue(producer.Refund{IdempotencyKey: "strange-2", OrderID: "order-000081", Amount: "5.00"})
	wantState(t, s.WaitSettled(id, 20*time.Second), refund.Succeeded)
}

// A provider that throttles a refund for ever does not keep it queued for
// ever: a 429 is an answer, so the refund has been sent and meets its
// deadline.
func TestARefundThrottledForEverMeetsItsDeadline(t *testing.T) {
	s := newStack(t, func(c *fpsim.Config) { c.Faults = fpsim.Faults{Rate429: 1} })
	cfg := s.WorkerConfig()
	cfg.Deadline = 2 * time.Second
	s.RunWorker(cfg)
	id := s.Enqueue(producer.Refund{IdempotencyKey: "throttled", OrderID: "order-000082", Amount: "5.00"})
	rec := s.WaitSettled(id, 30*time.Second)
	if rec.State != refund.NeedsAttention || rec.ReasonCode != refund.AttentionDeadline {
		t.Fatalf("%s %s, want needs_attention at the deadline", rec.State, rec.ReasonCode)
	}
}
