package main

import (
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"path/filepath"
	"sync"
	"syscall"
	"time"
)

// credential is the run's merchant credential, made up per run.
type credential struct{ authID, secret string }

func newCredential() credential {
	b := make([]byte, 32)
	_, _ = rand.Read(b) // crypto/rand.Read never fails on Linux
	return credential{authID: "chaos-merchant", secret: hex.EncodeToString(b)}
}

// env passes the credential the way operators do, never as a flag that
// would show in ps.
func (c credential) env() []string {
	return []string{"REFUNDQ_AUTH_ID=" + c.authID, "REFUNDQ_SECRET=" + c.secret}
}

// workerSettings are what the run changes from the worker defaults, and why.
type workerSettings struct {
	// providerTimeout is short because the refund lock lives 2×timeout+40s:
	// with the 30s default a killed worker's refunds would sit locked for
	// 100s on top of asynq's lease recovery.
	providerTimeout time.Duration
	shutdownTimeout time.Duration
	pollSchedule    string
	// breakerOpen is short so that with a 35% fault rate the breaker,
	// which opens on five failures in a row, holds calls back for seconds
	// rather than half a minute each time.
	breakerOpen time.Duration
	// settleWindow is how long "not found" must last before a resend. It
	// must outlast the provider's faults (see providerFaults); production's
	// 15 minutes would make a run wait a quarter hour per forgotten request.
	settleWindow time.Duration
	// profileFile is the provider profile the workers read replies by.
	profileFile string
}

// fleet is the worker processes, one slot each. A slot's mutex keeps the
// killer and the graceful stop off the same process.
type fleet struct {
	rec   *recorder
	dir   string
	bin   string
	env   []string
	slots []*slot
	// shutdownTimeout bounds how long a SIGTERMed worker may take.
	shutdownTimeout time.Duration
}

type slot struct {
	mu      sync.Mutex
	n       int
	p       *proc
	starts  int
	started time.Time
}

func newFleet(rec *recorder, dir, bin, redisURL, providerURL string, cred credential, ws workerSettings) *fleet {
	env := append(cred.env(),
		"REFUNDQ_REDIS_URL="+redisURL, "REFUNDQ_PROVIDER_URL="+providerURL,
		"REFUNDQ_PROVIDER_TIMEOUT="+ws.providerTimeout.String(), "REFUNDQ_SHUTDOWN_TIMEOUT="+ws.shutdownTimeout.String(),
		"REFUNDQ_POLL_SCHEDULE="+ws.pollSchedule, "REFUNDQ_BREAKER_OPEN="+ws.breakerOpen.String(),
		"REFUNDQ_SETTLE_WINDOW="+ws.settleWindow.String(), "REFUNDQ_PROVIDER_PROFILE="+ws.profileFile,
		"REFUNDQ_METRICS_ADDR=127.0.0.1:0", "REFUNDQ_LOG_LEVEL=warn")
	return &fleet{rec: rec, dir: dir, bin: bin, env: env, shutdownTimeout: ws.shutdownTimeout}
}

// grow starts n more workers. The slots are added before the chaos starts
// and never change after, so reading f.slots needs no lock.
func (f *fleet) grow(n int) error {
	for range n {
		s := &slot{n: len(f.slots) + 1}
		if err := f.start(s); err != nil {
			return err
		}
		f.slots = append(f.slots, s)
	}
	return nil
}

// start runs a worker in s; the caller holds s.mu or owns s exclusively.
func (f *fleet) start(s *slot) error {
	s.starts++
	name := fmt.Sprintf("worker-%d (start %d)", s.n, s.starts)
	log := filepath.Join(f.dir, fmt.Sprintf("worker-%d.log", s.n))
	p, err := launch(f.rec, name, log, f.bin, []string{"worker"}, f.env)
	if err != nil {
		return err
	}
	s.p, s.started = p, time.Now()
	return nil
}

// longestRunning is the slot whose worker started first: the one most
// likely to hold refunds in flight, which is what a graceful stop is for.
func (f *fleet) longestRunning() int {
	best, since := 0, time.Now()
	for i, s := range f.slots {
		s.mu.Lock()
		if s.started.Before(since) {
			best, since = i, s.started
		}
		s.mu.Unlock()
	}
	return best
}

// crash SIGKILLs the worker in slot i and starts a new one in its place.
func (f *fleet) crash(i int) error {
	s := f.slots[i]
	s.mu.Lock()
	defer s.mu.Unlock()
	if err := s.p.Kill(); err != nil {
		return err
	}
	return f.start(s)
}

// stopGracefully SIGTERMs the worker in slot i, waits for it to finish its
// in-flight refunds, and starts a new one. It returns the exit code and how
// long the shutdown took.
func (f *fleet) stopGracefully(i int) (int, time.Duration, error) {
	s := f.slots[i]
	s.mu.Lock()
	defer s.mu.Unlock()
	began := time.Now()
	// Past the worker's own shutdown timeout plus process teardown, the
	// shutdown is stuck; signal kills it and says so.
	err := s.p.Signal(syscall.SIGTERM, f.shutdownTimeout+15*time.Second)
	took := time.Since(began)
	code := s.p.ExitCode()
	if serr := f.start(s); serr != nil && err == nil {
		err = serr
	}
	return code, took, err
}

// stop ends every worker gracefully at the end of the run.
func (f *fleet) stop() {
	var wg sync.WaitGroup
	for _, s := range f.slots {
		wg.Go(func() {
			s.mu.Lock()
			defer s.mu.Unlock()
			_ = s.p.Signal(syscall.SIGTERM, f.shutdownTimeout+15*time.Second)
		})
	}
	wg.Wait()
}

// restarts is how many times workers were started after the first.
func (f *fleet) restarts() int {
	n := 0
	for _, s := range f.slots {
		s.mu.Lock()
		n += s.starts - 1
		s.mu.Unlock()
	}
	return n
}
