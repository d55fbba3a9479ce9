package main

import (
	"context"
	"errors"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/shopspring/decimal"

	"github.com/refundq/refundq/internal/fpsim"
	"github.com/refundq/refundq/internal/refund"
	"github.com/refundq/refundq/internal/store"
	"github.com/refundq/refundq/internal/testenv"
	"github.com/refundq/refundq/producer"
)

var buildOnce struct {
	sync.Once
	path string
	err  error
}

// binary builds refundq once per test run, so process tests exercise the
// real command, signals and all.
func binary(t *testing.T) string {
	t.Helper()
	buildOnce.Do(func() {
		dir, err := os.MkdirTemp("", "refundq-bin-")
		if err != nil {
			buildOnce.err = err
			return
		}
		buildOnce.path = filepath.Join(dir, "refundq")
		out, err := exec.Command("go", "build", "-race", "-o", buildOnce.path, ".").CombinedOutput()
		if err != nil {
			buildOnce.err = errors.New(string(out))
		}
	})
	if buildOnce.err != nil {
		t.Fatalf("build refundq: %v", buildOnce.err)
	}
	return buildOnce.path
}

type procStack struct {
	t      *testing.T
	redis  *testenv.Redis
	sim    *fpsim.Sim
	simURL string
	store  *store.Redis
	prod   *producer.Producer
}

func newProcStack(t *testing.T, faults fpsim.Faults) *procStack {
	r := testenv.StartRedis(t, testenv.WithAOF())
	sim := fpsim.New(fpsim.Config{
		Credentials: map[string]string{"proc-merchant": "proc-secret"}, StatusDelay: 100 * time.Millisecond,
		Transactions: fpsim.GenerateTransactions(20, decimal.NewFromInt(1000)), Faults: faults,
	})
	srv := httptest.NewServer(sim.Handler())
	t.Cleanup(srv.Close)
	rdb := r.Client()
	return &procStack{t: t, redis: r, sim: sim, simURL: srv.URL, store: store.New(rdb), prod: producer.NewFromClient(rdb)}
}

// startWorker runs `refundq worker` as a child process.
func (s *procStack) startWorker() *exec.Cmd {
	s.t.Helper()
	cmd := exec.Command(binary(s.t), "worker")
	cmd.Env = append(os.Environ(),
		"REFUNDQ_REDIS_URL="+s.redis.URL(), "REFUNDQ_PROVIDER_URL="+s.simURL,
		"REFUNDQ_AUTH_ID=proc-merchant", "REFUNDQ_SECRET=proc-secret",
		"REFUNDQ_PROVIDER_TIMEOUT=2s", "REFUNDQ_SHUTDOWN_TIMEOUT=5s", "REFUNDQ_POLL_SCHEDULE=100ms,200ms", "REFUNDQ_SETTLE_WINDOW=1s",
		"REFUNDQ_METRICS_ADDR=127.0.0.1:0", "REFUNDQ_LOG_LEVEL=warn")
	cmd.Stdout, cmd.Stderr = os.Stderr, os.Stderr
	if err := cmd.Start(); err != nil {
		s.t.Fatal(err)
	}
	s.t.Cleanup(func() { _ = cmd.Process.Kill(); _ = cmd.Wait() })
	return cmd
}

func (s *procStack) get(id string) *refund.Record {
	rec, err := s.store.Get(context.Background(), id)
	if err != nil {
		return &refund.Record{}
	}
	return rec
}

func (s *procStack) ledger(id string) fpsim.LedgerRequest {
	r, _ := s.sim.Ledger().Request(id)
	return r
}

// A worker killed while its refund call is in flight, after the provider
// executed it: the restarted worker reconciles and finishes it, and the
// provider executed it once. asynq only recovers the task after its lease
// (30s) and recoverer cycle (60s), so this test takes up to two minutes.
func TestSIGKILLMidSubmitThenRestart(t *testing.T) {
	if testing.Short() {
		t.Skip("takes up to two minutes")
	}
	s := newProcStack(t, fpsim.Faults{})
	r := producer.Refund{IdempotencyKey: "kill-1", OrderID: "order-000001", Amount: "40.00"}
	id := refund.DeriveRequestID(refund.DefaultMerchant, r.IdempotencyKey)
	s.sim.Script("refund", id, "timeout_commit") // executes, then never answers
	a := s.startWorker()
	if _, err := s.prod.Enqueue(context.Background(), r); err != nil {
		t.Fatal(err)
	}
	testenv.WaitFor(t, 30*time.Second, "the provider to execute the refund", func() bool { return s.ledger(id).Executions == 1 })
	if err := a.Process.Signal(syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	_ = a.Wait()
	if st := s.get(id).State; st != refund.Submitting {
		t.Fatalf("after the kill the record is %s, want submitting", st)
	}
	s.startWorker()
	testenv.WaitFor(t, 180*time.Second, "the refund to settle after restart", func() bool { return s.get(id).State.Settled() })
	rec := s.get(id)
	if rec.State != refund.Succeeded {
		t.Fatalf("state %s (%s), want succeeded", rec.State, rec.Reason)
	}
	if l := s.ledger(id); l.Executions != 1 || l.Submissions != 1 {
		t.Fatalf("ledger %+v: want one execution and no resubmit", l)
	}
}

// SIGTERM lets the in-flight provider call finish and record its outcome,
// then the process exits 0.
func TestSIGTERMFinishesInFlightCall(t *testing.T) {
	s := newProcStack(t, fpsim.Faults{Latency: 1500 * time.Millisecond})
	a := s.startWorker()
	rc, err := s.prod.Enqueue(context.Background(), producer.Refund{IdempotencyKey: "term-1", OrderID: "order-000002", Amount: "1.00"})
	if err != nil {
		t.Fatal(err)
	}
	testenv.WaitFor(t, 30*time.Second, "the refund call to start", func() bool { return s.get(rc.RequestID).State == refund.Submitting })
	if err := a.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	if err := a.Wait(); err != nil {
		t.Fatalf("worker exit after SIGTERM: %v", err)
	}
	if st := s.get(rc.RequestID).State; st != refund.Processing && st != refund.Succeeded {
		t.Fatalf("after graceful shutdown the refund is %s; the in-flight call's answer was lost", st)
	}
	s.startWorker()
	testenv.WaitFor(t, 30*time.Second, "the refund to settle", func() bool { return s.get(rc.RequestID).State.Settled() })
	if st := s.get(rc.RequestID).State; st != refund.Succeeded {
		t.Fatalf("state %s", st)
	}
	if l := s.ledger(rc.RequestID); l.Executions != 1 {
		t.Fatalf("ledger %+v", l)
	}
}
