package main

import (
	"context"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/redis/go-redis/v9"
	"go.uber.org/zap"

	"github.com/refundq/refundq/worker"
)

func runWorker(ctx context.Context, e *env, _ []string) error {
	log, err := newLogger(e.cfg)
	if err != nil {
		return err
	}
	defer func() { _ = log.Sync() }()
	logRedisTo(log)
	set, err := merchantSet(e)
	if err != nil {
		return err
	}
	ps, err := providerSet(e.cfg, set)
	if err != nil {
		return err
	}
	rdb, err := redisClient(e.cfg)
	if err != nil {
		return err
	}
	defer rdb.Close()
	reg := prometheus.NewRegistry()
	w, err := worker.New(workerConfig(e.cfg, rdb, set, ps, log, reg))
	if err != nil {
		return err
	}
	go serveOps(ctx, e.cfg.MetricsAddr, reg, pinger(rdb), log)
	log.Info("refundq worker", zap.String("provider", providerBaseURL(e.cfg)), zap.Strings("merchants", set.Names()))
	return w.Run(ctx)
}

func pinger(rdb redis.UniversalClient) func(context.Context) error {
	return func(ctx context.Context) error { return rdb.Ping(ctx).Err() }
}
