package main

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"time"

	"github.com/hibiken/asynq"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"
	"github.com/redis/go-redis/v9"
	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"

	"github.com/refundq/refundq/internal/config"
	"github.com/refundq/refundq/internal/freedompay"
	"github.com/refundq/refundq/worker"
)

func newLogger(cfg *config.Config) (*zap.Logger, error) {
	var zc zap.Config
	if cfg.LogFormat == "console" {
		zc = zap.NewDevelopmentConfig()
		zc.EncoderConfig.EncodeTime = zapcore.TimeEncoderOfLayout("15:04:05.000")
	} else {
		zc = zap.NewProductionConfig()
	}
	lvl, err := zapcore.ParseLevel(cfg.LogLevel)
	if err != nil {
		return nil, err
	}
	zc.Level = zap.NewAtomicLevelAt(lvl)
	zc.DisableStacktrace = true
	return zc.Build()
}

// redisClient opens the Redis the config names. asynq's URI parser covers
// redis://, rediss:// and redis-sentinel://.
func redisClient(cfg *config.Config) (redis.UniversalClient, error) {
	opt, err := asynq.ParseRedisURI(cfg.RedisURL)
	if err != nil {
		return nil, fmt.Errorf("redis url: %w", err)
	}
	rdb, ok := opt.MakeRedisClient().(redis.UniversalClient)
	if !ok {
		return nil, errors.New("redis url: unsupported client type")
	}
	return rdb, nil
}

func providerBaseURL(cfg *config.Config) string {
	switch {
	case cfg.ProviderURL != "":
		return cfg.ProviderURL
	case cfg.ProviderEnv == "prod":
		return freedompay.BaseURLProd
	}
	return freedompay.BaseURLTest
}

// providers builds the Card API client of the default merchant.
func providers(cfg *config.Config) (worker.ProviderSet, error) {
	if cfg.AuthID == "" || cfg.Secret == "" {
		return nil, errors.New("set REFUNDQ_AUTH_ID and REFUNDQ_SECRET (or REFUNDQ_SECRET_FILE)")
	}
	c, err := freedompay.New(freedompay.Credential{AuthID: cfg.AuthID, Secret: freedompay.Secret(cfg.Secret)},
		freedompay.WithBaseURL(providerBaseURL(cfg)))
	if err != nil {
		return nil, err
	}
	return worker.SingleProvider(c), nil
}

func workerConfig(cfg *config.Config, rdb redis.UniversalClient, ps worker.ProviderSet, log *zap.Logger, reg prometheus.Registerer) worker.Config {
	return worker.Config{
		Redis: rdb, Providers: ps, Logger: log, Registerer: reg,
		Concurrency: cfg.Concurrency, ProviderTimeout: cfg.ProviderTimeout, PollSchedule: cfg.PollSchedule,
		Deadline: cfg.Deadline, FailureBudget: cfg.FailureBudget, ShutdownTimeout: cfg.ShutdownTimeout,
	}
}

// serveOps serves /metrics and /healthz until ctx ends.
func serveOps(ctx context.Context, addr string, reg *prometheus.Registry, ready func(context.Context) error, log *zap.Logger) {
	mux := http.NewServeMux()
	mux.Handle("/metrics", promhttp.HandlerFor(reg, promhttp.HandlerOpts{}))
	mux.HandleFunc("/healthz", func(w http.ResponseWriter, r *http.Request) {
		if err := ready(r.Context()); err != nil {
			http.Error(w, "redis unreachable", http.StatusServiceUnavailable)
			return
		}
		_, _ = w.Write([]byte("ok\n"))
	})
	srv := &http.Server{Addr: addr, Handler: mux, ReadHeaderTimeout: 5 * time.Second}
	go func() {
		<-ctx.Done()
		sctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		_ = srv.Shutdown(sctx)
	}()
	if err := srv.ListenAndServe(); err != nil && !errors.Is(err, http.ErrServerClosed) {
		log.Error("ops server failed", zap.Error(err))
	}
}
