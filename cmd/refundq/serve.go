package main

import (
	"context"
	"fmt"
	"net"

	"github.com/prometheus/client_golang/prometheus"
	"go.uber.org/zap"

	"github.com/refundq/refundq/internal/api"
)

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
	srv, err := api.New(rdb,
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
	log.Info("refundq serve", zap.String("addr", ln.Addr().String()), zap.Int("tokens", len(cfg.APITokens)))
	if err := srv.Serve(ctx, ln); err != nil {
		return err
	}
	log.Info("refundq serve stopped")
	return nil
}
