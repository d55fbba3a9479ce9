package main

import (
	"errors"
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
	"github.com/refundq/refundq/internal/testenv"
	"github.com/refundq/refundq/internal/teststack"
	"github.com/refundq/refundq/producer"
)

var buildOnce struct {
	sync.Once
	path string
	err  error
}

// binary builds refundq once per test run, so process tests exercise the
// real command, signals and all.
func binary(t testing.TB) string {
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

// procStack is the test stack with a Redis that writes every change to its
// AOF; its workers are `refundq worker` child processes.
type procStack struct{ *teststack.Stack }

func newProcStack(t *testing.T, faults fpsim.Faults) *procStack {
	return &procStack{teststack.New(t, teststack.WithRedis(testenv.WithAOF()), teststack.WithSim(func(c *fpsim.Config) {
		c.StatusDelay, c.Faults, c.Seed = 100*time.Millisecond, faults, 0
		c.Transactions = fpsim.GenerateTransactions(20, decimal.NewFromInt(1000))
	}))}
}

// startWorker runs `refundq worker` as a child process.
func (s *procStack) startWorker() *exec.Cmd {
	s.T.Helper()
	cmd := exec.Command(binary(s.T), "worker")
	cmd.Env = append(append(os.Environ(), s.WorkerEnv("")...),
		"REFUNDQ_PROVIDER_TIMEOUT=2s", "REFUNDQ_SHUTDOWN_TIMEOUT=5s", "REFUNDQ_POLL_SCHEDULE=100ms,200ms", "REFUNDQ_SETTLE_WINDOW=1s",
		"REFUNDQ_METRICS_ADDR=127.0.0.1:0", "REFUNDQ_LOG_LEVEL=warn")
	cmd.Stdout, cmd.Stderr = os.Stderr, os.Stderr
	if err := cmd.Start(); err != nil {
		s.T.Fatal(err)
	}
	s.T.Cleanup(func() { _ = cmd.Process.Kill(); _ = cmd.Wait() })
	return cmd
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
	id := s.ScriptRefund(r, "timeout_commit") // executes, then never answers
	a := s.startWorker()
	s.Enqueue(r)
	testenv.WaitFor(t, 30*time.Second, "the provider to execute the refund", func() bool { return s.Ledger(id).Executions == 1 })
	if err := a.Process.Signal(syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	_ = a.Wait()
	if st := s.Get(id).State; st != refund.Submitting {
		t.Fatalf("after the kill the record is %s, want submitting", st)
	}
	s.startWorker()
	if rec := s.WaitSettled(id, 180*time.Second); rec.State != refund.Succeeded {
		t.Fatalf("state %s (%s), want succeeded", rec.State, rec.Reason)
	}
	if l := s.Ledger(id); l.Executions != 1 || l.Submissions != 1 {
		t.Fatalf("ledger %+v: want one execution and no resubmit", l)
	}
}

// SIGTERM lets the in-flight provider call finish and record its outcome,
// then the process exits 0.
func TestSIGTERMFinishesInFlightCall(t *testing.T) {
	s := newProcStack(t, fpsim.Faults{Latency: 1500 * time.Millisecond})
	a := s.startWorker()
	id := s.Enqueue(producer.Refund{IdempotencyKey: "term-1", OrderID: "order-000002", Amount: "1.00"})
	s.WaitState(id, refund.Submitting, 30*time.Second)
	if err := a.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	if err := a.Wait(); err != nil {
		t.Fatalf("worker exit after SIGTERM: %v", err)
	}
	if st := s.Get(id).State; st != refund.Processing && st != refund.Succeeded {
		t.Fatalf("after graceful shutdown the refund is %s; the in-flight call's answer was lost", st)
	}
	s.startWorker()
	if st := s.WaitSettled(id, 30*time.Second).State; st != refund.Succeeded {
		t.Fatalf("state %s", st)
	}
	if l := s.Ledger(id); l.Executions != 1 {
		t.Fatalf("ledger %+v", l)
	}
}
