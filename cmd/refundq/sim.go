package main

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"time"

	"github.com/shopspring/decimal"
	"go.uber.org/zap"

	"github.com/refundq/refundq/internal/config"
	"github.com/refundq/refundq/internal/fpsim"
)

func runSim(ctx context.Context, e *env, _ []string) error {
	log, err := newLogger(e.cfg)
	if err != nil {
		return err
	}
	sim, err := newSim(e, log)
	if err != nil {
		return err
	}
	l, err := net.Listen("tcp", e.cfg.SimAddr)
	if err != nil {
		return err
	}
	log.Info("fpsim listening", zap.String("addr", l.Addr().String()))
	return serveUntil(ctx, l, sim.Handler())
}

func newSim(e *env, log *zap.Logger) (*fpsim.Sim, error) {
	cfg := e.cfg
	creds, err := simCredentials(e)
	if err != nil {
		return nil, err
	}
	txns := fpsim.GenerateTransactions(cfg.SimGenerate, decimal.NewFromInt(1000))
	if cfg.SimTransactions != "" {
		loaded, err := fpsim.LoadTransactions(cfg.SimTransactions)
		if err != nil {
			return nil, err
		}
		txns = append(txns, loaded...)
	}
	seed := int64(cfg.SimSeed)
	if seed == 0 {
		seed = time.Now().UnixNano()
	}
	sc := fpsim.Config{
		Credentials: creds, StatusDelay: cfg.SimStatusDelay, Faults: simFaults(cfg),
		Dialect: fpsim.Dialect(cfg.SimDialect), Transactions: txns, Logger: log, Seed: seed,
	}
	if err := sc.Validate(); err != nil {
		return nil, fmt.Errorf("simulator: %w", err)
	}
	log.Info("fpsim configured", zap.String("dialect", cfg.SimDialect), zap.Int64("seed", seed), zap.Any("faults", sc.Faults))
	return fpsim.New(sc), nil
}

func simFaults(cfg *config.Config) fpsim.Faults {
	return fpsim.Faults{
		Latency: cfg.SimLatency, LatencyJitter: cfg.SimLatencyJitter,
		Rate5xx: cfg.SimRate5xx, RateTimeout: cfg.SimRateTimeout, Rate429: cfg.SimRate429, RateDrop: cfg.SimRateDrop,
		CommitOnFault: cfg.SimCommitOnFault, DeclineRate: cfg.SimDeclineRate, HangMax: cfg.SimHangMax,
		StatusLagRate: cfg.SimStatusLagRate, StatusLagMax: cfg.SimStatusLagMax,
		LateCommitRate: cfg.SimLateCommitRate, LateCommitRaceRate: cfg.SimLateCommitRaceRate,
		LateCommitMin: cfg.SimLateCommitMin, LateCommitMax: cfg.SimLateCommitMax, ForgetRate: cfg.SimForgetRate,
	}
}

// simCredentials accepts the credentials the workers sign with: the same
// merchants file, or REFUNDQ_AUTH_ID and REFUNDQ_SECRET.
func simCredentials(e *env) (map[string]string, error) {
	set, err := merchantSet(e)
	if err != nil {
		return nil, fmt.Errorf("the simulator checks signatures with the merchant credentials: %w", err)
	}
	creds := map[string]string{}
	for _, name := range set.Names() {
		m, _ := set.Get(name)
		if s, ok := creds[m.AuthID]; ok && s != string(m.Secret) {
			return nil, fmt.Errorf("merchants sharing auth_id %q have different secrets; the simulator can accept only one", m.AuthID)
		}
		creds[m.AuthID] = string(m.Secret)
	}
	return creds, nil
}

// serveUntil serves h on l until ctx ends, then shuts down gracefully.
func serveUntil(ctx context.Context, l net.Listener, h http.Handler) error {
	srv := &http.Server{Handler: h, ReadHeaderTimeout: 5 * time.Second}
	errc := make(chan error, 1)
	go func() { errc <- srv.Serve(l) }()
	select {
	case err := <-errc:
		return err
	case <-ctx.Done():
	}
	sctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := srv.Shutdown(sctx); err != nil {
		return err
	}
	if err := <-errc; !errors.Is(err, http.ErrServerClosed) {
		return err
	}
	return nil
}
