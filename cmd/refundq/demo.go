package main

import (
	"context"
	"errors"
	"fmt"
	"net"
	"time"

	"github.com/alicebob/miniredis/v2"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/redis/go-redis/v9"
	"github.com/shopspring/decimal"
	"go.uber.org/zap"

	"github.com/refundq/refundq/internal/config"
	"github.com/refundq/refundq/internal/fpsim"
	"github.com/refundq/refundq/internal/store"
	"github.com/refundq/refundq/internal/ticker"
	"github.com/refundq/refundq/worker"
)

// Demo credentials exist only between the demo's own simulator and worker.
const (
	demoAuthID = "demo-merchant"
	demoSecret = "demo-only-secret"
)

// demoStack is everything the demo runs in one process.
type demoStack struct {
	mr    *miniredis.Miniredis
	rdb   *redis.Client
	sim   *fpsim.Sim
	store *store.Redis
}

// runDemo runs an embedded Redis, the simulator and a worker, pushes a
// realistic sample through them and audits the outcome against the
// simulator's ledger. It exits non-zero if any refund is left unsettled or
// the audit finds a double execution.
func runDemo(ctx context.Context, e *env, _ []string) error {
	ctx, cancel := context.WithTimeout(ctx, 2*time.Minute)
	defer cancel()
	st, err := startDemoStack(ctx)
	if err != nil {
		return err
	}
	defer st.close()
	simURL, err := serveSim(ctx, st.sim)
	if err != nil {
		return err
	}
	card, err := worker.CardAPI(demoAuthID, demoSecret, simURL)
	if err != nil {
		return err
	}
	log, err := newLogger(&config.Config{LogLevel: "error", LogFormat: "console"})
	if err != nil {
		return err
	}
	w, err := worker.New(demoWorkerConfig(st.rdb, card, log))
	if err != nil {
		return err
	}
	wctx, stopWorker := context.WithCancel(ctx)
	done := make(chan error, 1)
	go func() { done <- w.Run(wctx) }()

	fmt.Fprintf(e.stdout, "refundq demo: embedded Redis %s, Card API simulator %s, 1 worker\n\n", st.mr.Addr(), simURL)
	ids, err := enqueueSample(ctx, e, st)
	if err != nil {
		stopWorker()
		return errors.Join(err, <-done)
	}
	settled := followProgress(ctx, e, st.store, ids)
	stopWorker()
	if err := <-done; err != nil {
		return err
	}
	return report(ctx, e, st, ids, settled)
}

func startDemoStack(ctx context.Context) (*demoStack, error) {
	mr, err := miniredis.Run()
	if err != nil {
		return nil, fmt.Errorf("embedded redis: %w", err)
	}
	// miniredis only expires keys when told to; advance it with real time
	// so lock TTLs behave as on a real Redis.
	go ticker.Run(ctx, 100*time.Millisecond, func(context.Context) { mr.FastForward(100 * time.Millisecond) })
	rdb := redis.NewClient(&redis.Options{Addr: mr.Addr()})
	sim := fpsim.New(fpsim.Config{
		Credentials:  map[string]string{demoAuthID: demoSecret},
		StatusDelay:  1500 * time.Millisecond,
		Transactions: demoTransactions(),
		Seed:         1,
	})
	return &demoStack{mr: mr, rdb: rdb, sim: sim, store: store.New(rdb)}, nil
}

func (s *demoStack) close() {
	_ = s.rdb.Close()
	s.mr.Close()
}

func demoTransactions() []fpsim.Transaction {
	return fpsim.GenerateTransactions(10, decimal.NewFromInt(1000))
}

func serveSim(ctx context.Context, sim *fpsim.Sim) (string, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return "", err
	}
	go func() { _ = serveUntil(ctx, l, sim.Handler()) }()
	return "http://" + l.Addr().String(), nil
}

// demoWorkerConfig polls fast so the demo ends in seconds; everything else
// is the production code path.
func demoWorkerConfig(rdb redis.UniversalClient, p *worker.Provider, log *zap.Logger) worker.Config {
	return worker.Config{
		Redis: rdb, Providers: worker.SingleProvider(p), Logger: log, Registerer: prometheus.NewRegistry(),
		Concurrency: 4, ProviderTimeout: 2 * time.Second, ShutdownTimeout: 3 * time.Second,
		PollSchedule:             []time.Duration{500 * time.Millisecond, time.Second},
		DelayedTaskCheckInterval: 100 * time.Millisecond, TaskCheckInterval: 50 * time.Millisecond, FollowUpCheckInterval: 50 * time.Millisecond, Deadline: time.Minute, SweepInterval: -1,
	}
}
