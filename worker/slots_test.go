package worker_test

import (
	"context"
	"net/http"
	"sync/atomic"
	"testing"
	"time"

	"github.com/refundq/refundq/internal/fpsim"
	"github.com/refundq/refundq/internal/freedompay"
	"github.com/refundq/refundq/internal/refund"
	"github.com/refundq/refundq/internal/testenv"
	"github.com/refundq/refundq/internal/teststack"
	"github.com/refundq/refundq/producer"
)

// Polls have slots of their own: with one send slot and one follow-up
// slot, a status call that hangs does not hold up the next refund's send.
func TestAHangingPollDoesNotHoldUpSends(t *testing.T) {
	release := make(chan struct{})
	var hanging atomic.Int32
	hangStatus := func(next http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if r.URL.Path == freedompay.PathStatus {
				hanging.Add(1)
				select {
				case <-release:
				case <-r.Context().Done():
				}
			}
			next.ServeHTTP(w, r)
		})
	}
	s := &stack{teststack.New(t, teststack.WithMiddleware(hangStatus),
		teststack.WithSim(func(c *fpsim.Config) { c.StatusDelay = time.Hour }))}
	defer close(release)
	cfg := s.WorkerConfig()
	cfg.Concurrency, cfg.FollowUpConcurrency = 1, 1
	cfg.ProviderTimeout = time.Minute // the hang outlasts the test unless released
	s.RunWorker(cfg)
	ctx := context.Background()

	first := s.Enqueue(producer.Refund{IdempotencyKey: "polled", OrderID: "order-000001", Amount: "1.00"})
	testenv.WaitFor(t, 10*time.Second, "the first refund's poll to hang in its status call", func() bool {
		rec, err := s.Store.Get(ctx, first)
		return err == nil && rec.State == refund.Processing && hanging.Load() > 0
	})
	second := s.Enqueue(producer.Refund{IdempotencyKey: "sent", OrderID: "order-000002", Amount: "1.00"})
	testenv.WaitFor(t, 5*time.Second, "the second refund to be sent while the poll hangs", func() bool {
		rec, err := s.Store.Get(ctx, second)
		return err == nil && rec.State == refund.Processing
	})
}
