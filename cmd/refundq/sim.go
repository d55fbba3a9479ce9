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
	faults := fpsim.Faults{Latency: cfg.SimLatency, Rate5xx: cfg.SimRate5xx, RateTimeout: cfg.SimRateTimeout,
		Rate429: cfg.SimRate429, RateDrop: cfg.SimRateDrop}
	if err := faults.Validate(); err != nil {
		return nil, fmt.Errorf("simulator faults: %w", err)
	}
	return fpsim.New(fpsim.Config{
		Credentials: creds, StatusDelay: cfg.SimStatusDelay,
		Faults: faults, Transactions: txns, Logger: log, Seed: time.Now().UnixNano(),
	}), nil
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
