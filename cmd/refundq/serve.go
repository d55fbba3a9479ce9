package main

import (
	"context"
	"fmt"
	"net"

	"github.com/prometheus/client_golang/prometheus"
	"go.uber.org/zap"

	"github.com/refundq/refundq/internal/api"
	"github.com/refundq/refundq/internal/console"
	"github.com/refundq/refundq/internal/operator"
)

// serveOperator configures the operator actions of the API and the
// console like the CLI's: the settle window and provider timeout, and the
// merchants' credentials when serve has them, for reconcile. Without
// credentials serve still runs; reconcile then says it cannot ask.
func serveOperator(e *env) ([]operator.Option, error) {
	cfg := e.cfg
	opts := []operator.Option{operator.WithSettleWindow(cfg.SettleWindow), operator.WithProviderTimeout(cfg.ProviderTimeout)}
	if cfg.MerchantsFile == "" && (cfg.AuthID == "" || cfg.Secret == "") {
		return opts, nil
	}
	ps, err := operatorProviders(e)
	if err != nil {
		return nil, err
	}
	return append(opts, operator.WithProviders(ps)), nil
}

// runServe runs the HTTP intake and status API until ctx ends.
func runServe(ctx context.Context, e *env, _ []string) error {
	cfg := e.cfg
	if len(cfg.APITokens) == 0 {
		return fmt.Errorf("set REFUNDQ_API_TOKENS or REFUNDQ_API_TOKENS_FILE: the API refuses to run without authentication")
	}
	log, err := newLogger(cfg)
	if err != nil {
		return err
	}
	defer func() { _ = log.Sync() }()
	logRedisTo(log)
	rdb, err := redisClient(cfg)
	if err != nil {
		return err
	}
	defer rdb.Close()
	opOpts, err := serveOperator(e)
	if err != nil {
		return err
	}
	srv, err := api.New(rdb,
		api.WithHoldPolicy(holdPolicy(cfg)), api.WithOperator(opOpts...),
		api.WithConsole(console.Mount(console.WithLogger(log.Named("console")))),
		api.WithIdentities(cfg.APITokens...), api.WithLogger(log), api.WithRegistry(prometheus.NewRegistry()),
		api.WithBodyLimits(int64(cfg.APIBodyLimit), int64(cfg.APIBatchBodyLimit)), api.WithBatchMemory(int64(cfg.APIBatchMemory)),
		api.WithTimeouts(api.Timeouts{Read: cfg.APIReadTimeout, Write: cfg.APIWriteTimeout}),
		api.WithRetention(cfg.Retention), api.WithReplicaAcks(cfg.RedisReplicaAcks, cfg.RedisReplicaAckTimeout))
	if err != nil {
		return err
	}
	ln, err := net.Listen("tcp", cfg.APIAddr)
	if err != nil {
		return err
	}
	// The count of tokens, never the tokens.
	log.Info("refundq serve", zap.String("addr", ln.Addr().String()), zap.Int("tokens", len(cfg.APITokens)),
		zap.String("console", "/console/"), zap.Bool("reconcile", len(opOpts) > 2))
	if err := srv.Serve(ctx, ln); err != nil {
		return err
	}
	log.Info("refundq serve stopped")
	return nil
}
