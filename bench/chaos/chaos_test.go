package main

import (
	"context"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/refundq/refundq/internal/testenv"
)

// TestChaosReduced is the reduced chaos run `make test` includes: about 1k
// refunds through three worker processes, with SIGKILLs, a graceful stop,
// a Redis crash and a provider outage, audited against the simulator's
// ledger. A failure prints the seed; `go run ./bench/chaos -profile
// reduced -seed N` replays the same plan and kill choices.
func TestChaosReduced(t *testing.T) {
	runChaos(t, smallProfile())
}

// The same run against the simulator's other dialect: read through the
// shipped profile, which does not know that vocabulary, nothing may be
// paid twice or failed after money moved, and every refund ends visibly;
// read through the profile provider-check wrote for it, the audit holds as
// in the native dialect. Half the refunds each, for time.
func TestChaosReducedInTheAltDialect(t *testing.T) {
	for name, file := range map[string]string{"shipped profile": "", "drafted profile": testenv.AltProfile()} {
		t.Run(name, func(t *testing.T) { runChaos(t, inDialect(smallProfile(), "alt", file, 500)) })
	}
}

func runChaos(t *testing.T, p profile) {
	if testing.Short() {
		t.Skip("runs redis-server, the simulator and three workers for a few minutes")
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute)
	defer cancel()
	w := &testWriter{t: t}
	seed := uint64(time.Now().UnixNano())
	sum, err := run(ctx, p, options{seed: seed, out: w})
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
