package main

import (
	"context"
	"strings"
	"sync"
	"testing"
	"time"
)

// TestChaosReduced is the reduced chaos run `make test` includes: about 1k
// refunds through three worker processes, with SIGKILLs, a graceful stop,
// a Redis crash and a provider outage, audited against the simulator's
// ledger. A failure prints the seed; `go run ./bench/chaos -profile
// reduced -seed N` replays the same plan and kill choices.
func TestChaosReduced(t *testing.T) {
	if testing.Short() {
		t.Skip("runs redis-server, the simulator and three workers for a few minutes")
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute)
	defer cancel()
	w := &testWriter{t: t}
	seed := uint64(time.Now().UnixNano())
	sum, err := run(ctx, smallProfile(), options{seed: seed, out: w})
	if err != nil {
		t.Fatalf("seed %d: %v", seed, err)
	}
	sum.print(w)
	for _, v := range sum.violations {
		t.Errorf("seed %d: %s", seed, v)
	}
}

// testWriter sends the run's progress lines to t.Log, shown with -v or on
// failure.
type testWriter struct {
	t  *testing.T
	mu sync.Mutex
}

func (w *testWriter) Write(b []byte) (int, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.t.Log(strings.TrimRight(string(b), "\n"))
	return len(b), nil
}
