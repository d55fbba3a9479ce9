package worker

import (
	"context"
	"errors"
	"fmt"
	"sync"

	"github.com/hibiken/asynq"
	"go.uber.org/zap"

	"github.com/refundq/refundq/internal/lifecycle"
	"github.com/refundq/refundq/internal/metrics"
	"github.com/refundq/refundq/internal/store"
	"github.com/refundq/refundq/internal/tasks"
)

// Worker processes refund tasks. Create it with New and start it with Run.
type Worker struct {
	cfg        Config
	store      *store.Redis
	client     *asynq.Client
	insp       *asynq.Inspector
	srv        *asynq.Server
	m          *metrics.Metrics
	log        *zap.Logger
	protection *protector
	settler    *lifecycle.Settler
}

// New validates cfg and builds a Worker. It does not connect yet.
func New(cfg Config) (*Worker, error) {
	if err := cfg.setDefaults(); err != nil {
		return nil, err
	}
	w := &Worker{
		cfg: cfg,
		store: store.New(cfg.Redis, store.WithClock(cfg.Now), store.WithRetention(cfg.Retention),
			store.WithReplicaAcks(cfg.ReplicaAcks, cfg.ReplicaAckTimeout)),
		client: asynq.NewClientFromRedisClient(cfg.Redis),
		insp:   asynq.NewInspectorFromRedisClient(cfg.Redis),
		log:    cfg.Logger,
	}
	if cfg.Registerer != nil {
		w.m = metrics.New(cfg.Registerer)
		cfg.Registerer.MustRegister(newStateCollector(w.store, cfg.Now),
			metrics.NewQueueCollector(w.insp, tasks.QueueNames()...))
	}
	w.settler = lifecycle.NewSettler(w.store, w.client, w.insp, w.m)
	w.protection = newProtector(cfg.Redis, cfg.Protection, w.m, cfg.Logger)
	queues := cfg.Queues
	if len(queues) == 0 {
		queues = tasks.DefaultQueues()
	}
	w.srv = asynq.NewServerFromRedisClient(cfg.Redis, asynq.Config{
		Concurrency:              cfg.Concurrency,
		Queues:                   queues,
		IsFailure:                isFailure,
		RetryDelayFunc:           retryDelay,
		ShutdownTimeout:          cfg.ShutdownTimeout,
		DelayedTaskCheckInterval: cfg.DelayedTaskCheckInterval,
		TaskCheckInterval:        cfg.TaskCheckInterval,
		Logger:                   asynqLogger{cfg.Logger.Sugar()},
		ErrorHandler:             asynq.ErrorHandlerFunc(w.logTaskError),
	})
	return w, nil
}

// Run processes refunds until ctx is canceled, then shuts down gracefully:
// in-flight provider calls get ShutdownTimeout to finish and anything
// unfinished goes back to the queue.
func (w *Worker) Run(ctx context.Context) error {
	mux := asynq.NewServeMux()
	mux.HandleFunc(tasks.TypeSubmit, w.handleSubmit)
	mux.HandleFunc(tasks.TypePoll, w.handlePoll)
	mux.HandleFunc(tasks.TypeCallback, w.handleCallback)
	if err := w.srv.Start(mux); err != nil {
		return fmt.Errorf("worker: start: %w", err)
	}
	w.log.Info("worker started", zap.Int("concurrency", w.cfg.Concurrency))
	var wg sync.WaitGroup
	if w.cfg.SweepInterval > 0 {
		wg.Go(func() { w.sweepLoop(ctx) })
	}
	wg.Go(func() { w.reportBreakers(ctx) })
	<-ctx.Done()
	w.log.Info("worker shutting down", zap.Duration("timeout", w.cfg.ShutdownTimeout))
	w.srv.Shutdown()
	wg.Wait()
	_ = w.client.Close()
	return nil
}

func (w *Worker) logTaskError(ctx context.Context, t *asynq.Task, err error) {
	if !isFailure(err) {
		return
	}
	p, _ := tasks.Decode(t.Payload())
	n, _ := asynq.GetRetryCount(ctx)
	w.log.Warn("task failed", zap.String("type", t.Type()), zap.String("request_id", p.RequestID),
		zap.Int("retried", n), zap.Error(err))
}

// asynqLogger routes asynq's own logs into zap.
type asynqLogger struct{ s *zap.SugaredLogger }

func (l asynqLogger) Debug(args ...any) { l.s.Debug(args...) }
func (l asynqLogger) Info(args ...any)  { l.s.Info(args...) }
func (l asynqLogger) Warn(args ...any)  { l.s.Warn(args...) }
func (l asynqLogger) Error(args ...any) { l.s.Error(args...) }
func (l asynqLogger) Fatal(args ...any) { l.s.Fatal(args...) }

var errNoRecord = errors.New("worker: task has no refund record")
