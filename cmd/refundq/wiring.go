package main

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"
	"github.com/redis/go-redis/v9"
	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"

	"github.com/refundq/refundq/internal/config"
	"github.com/refundq/refundq/internal/freedompay"
	"github.com/refundq/refundq/internal/hold"
	"github.com/refundq/refundq/internal/merchants"
	"github.com/refundq/refundq/internal/operator"
	"github.com/refundq/refundq/internal/redisconn"
	"github.com/refundq/refundq/internal/refund"
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

// logRedisTo routes go-redis's own messages (failed dials, pool trouble)
// to log, at most one a second: while Redis is down every connection
// attempt makes one, and /readyz and the metrics already say so.
func logRedisTo(log *zap.Logger) {
	sampled := log.WithOptions(zap.WrapCore(func(c zapcore.Core) zapcore.Core {
		return zapcore.NewSamplerWithOptions(c, time.Second, 1, 0)
	}))
	redis.SetLogger(redisLog{sampled})
}

type redisLog struct{ log *zap.Logger }

func (l redisLog) Printf(_ context.Context, format string, v ...any) {
	l.log.Warn("redis client", zap.String("detail", fmt.Sprintf(format, v...)))
}

// redisConn is the config's one Redis setting: standalone, TLS, Sentinel
// or Cluster.
func redisConn(cfg *config.Config) (*redisconn.Conn, error) {
	return redisconn.Parse(cfg.RedisURL,
		redisconn.WithCAFile(cfg.RedisCAFile), redisconn.WithClientCert(cfg.RedisCertFile, cfg.RedisKeyFile),
		redisconn.WithSentinelMaster(cfg.RedisSentinelMaster), redisconn.WithSentinelPassword(cfg.RedisSentinelPassword),
		redisconn.WithPassword(cfg.RedisPassword), redisconn.WithCluster(cfg.RedisCluster))
}

// redisClient opens the Redis the config names. asynq and the store share
// the client, and so its pool.
func redisClient(cfg *config.Config) (redis.UniversalClient, error) {
	c, err := redisConn(cfg)
	if err != nil {
		return nil, err
	}
	return c.Client(), nil
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

// merchantSet loads the merchant credentials: REFUNDQ_MERCHANTS_FILE, or
// else REFUNDQ_AUTH_ID and REFUNDQ_SECRET as the merchant "default".
func merchantSet(e *env) (*merchants.Set, error) {
	cfg := e.cfg
	if cfg.MerchantsFile != "" {
		return merchants.Load(cfg.MerchantsFile, e.getenv)
	}
	if cfg.AuthID == "" || cfg.Secret == "" {
		return nil, errors.New("set REFUNDQ_MERCHANTS_FILE, or REFUNDQ_AUTH_ID and REFUNDQ_SECRET (or REFUNDQ_SECRET_FILE)")
	}
	return merchants.New(merchants.Merchant{Name: refund.DefaultMerchant, AuthID: cfg.AuthID, Secret: freedompay.Secret(cfg.Secret)})
}

// operatorProviders is the Card API client of every configured merchant,
// for the operator actions.
func operatorProviders(e *env) (operator.Providers, error) {
	set, err := merchantSet(e)
	if err != nil {
		return nil, err
	}
	clients, err := set.Clients(providerBaseURL(e.cfg), freedompay.NewHTTPClient(), e.cfg.ProviderProfile)
	if err != nil {
		return nil, err
	}
	return func(merchant string) (freedompay.API, bool) {
		c, ok := clients[merchant]
		return c, ok
	}, nil
}

// providerSet serves each merchant with its own credential and provider
// profile (merchants.Set.ProfileFile), over one shared connection pool.
func providerSet(cfg *config.Config, set *merchants.Set) (worker.ProviderSet, error) {
	hc := freedompay.NewHTTPClient()
	byName := map[string]*worker.Provider{}
	for _, name := range set.Names() {
		m, _ := set.Get(name)
		opts := []worker.CardAPIOption{worker.WithHTTPClient(hc)}
		if f := set.ProfileFile(name, cfg.ProviderProfile); f != "" {
			opts = append(opts, worker.WithProfileFile(f))
		}
		p, err := worker.CardAPI(m.AuthID, string(m.Secret), providerBaseURL(cfg), opts...)
		if err != nil {
			return nil, fmt.Errorf("merchant %q: %w", name, err)
		}
		byName[name] = p
	}
	return func(merchant string) (*worker.Provider, bool) {
		p, ok := byName[merchant]
		return p, ok
	}, nil
}

func workerConfig(cfg *config.Config, rdb redis.UniversalClient, set *merchants.Set, ps worker.ProviderSet, log *zap.Logger, reg prometheus.Registerer) worker.Config {
	breakerFailures := cfg.BreakerFailures
	if breakerFailures == 0 {
		breakerFailures = -1 // worker.Protection's "off"
	}
	return worker.Config{
		Redis: rdb, Providers: ps, Logger: log, Registerer: reg,
		Concurrency: cfg.Concurrency, ProviderTimeout: cfg.ProviderTimeout, PollSchedule: cfg.PollSchedule,
		Deadline: cfg.Deadline, SettleWindow: cfg.SettleWindow, FailureBudget: cfg.FailureBudget, ShutdownTimeout: cfg.ShutdownTimeout,
		TaskCheckInterval: cfg.TaskCheckInterval, FollowUpCheckInterval: cfg.FollowUpCheckInterval, Retention: cfg.Retention,
		FollowUpConcurrency: cfg.FollowUpConcurrency,
		ReplicaAcks:         cfg.RedisReplicaAcks, ReplicaAckTimeout: cfg.RedisReplicaAckTimeout,
		Protection: worker.Protection{
			RateLimit:       func(m string) int { return set.RateLimit(m, cfg.RateLimit) },
			BreakerFailures: breakerFailures, BreakerOpen: cfg.BreakerOpen,
		},
		Callbacks: worker.Callbacks{Secret: set.CallbackSecret, MaxAttempts: cfg.CallbackAttempts},
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

// holdPolicy is the configured maker-checker policy.
func holdPolicy(cfg *config.Config) hold.Policy {
	return hold.Policy{BatchRows: cfg.HoldBatchRows, BatchAmount: cfg.HoldBatchAmount, RefundAmount: cfg.HoldRefundAmount}
}
