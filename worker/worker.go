package worker

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/hibiken/asynq"
	"go.uber.org/zap"

	"github.com/refundq/refundq/internal/lifecycle"
	"github.com/refundq/refundq/internal/metrics"
	"github.com/refundq/refundq/internal/store"
	"github.com/refundq/refundq/internal/tasks"
)

// Worker processes refund tasks. Create it with New and start it with Run.
type Worker struct {
	cfg    Config
	store  *store.Redis
	client *asynq.Client
	insp   *asynq.Inspector
	// servers are the asynq servers of the send slots and of the
	// follow-up slots, each left out when Queues has none of its queues
	// (asynq would serve its "default" queue instead).
	servers    []*asynq.Server
	m          *metrics.Metrics
	log        *zap.Logger
	protection *protector
	settler    *lifecycle.Settler
	cursor     *sweepCursor // the sweep's own: one goroutine uses it
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
		cursor: newSweepCursor(),
	}
	if err := w.store.CheckReplication(); err != nil {
		return nil, fmt.Errorf("worker: %w", err)
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
	sends, followUps := splitQueues(queues)
	if len(sends) > 0 {
		w.servers = append(w.servers, w.newServer(sends, cfg.Concurrency, cfg.TaskCheckInterval))
	}
	if len(followUps) > 0 {
		w.servers = append(w.servers, w.newServer(followUps, cfg.FollowUpConcurrency, cfg.FollowUpCheckInterval))
	}
	return w, nil
}

// splitQueues parts queues into those served with the send slots and those
// of the follow-up slots (see Config.FollowUpConcurrency).
func splitQueues(queues map[string]int) (sends, followUps map[string]int) {
	sends, followUps = map[string]int{}, map[string]int{}
	for q, weight := range queues {
		if q == tasks.QueuePoll || q == tasks.QueueCallback {
			followUps[q] = weight
		} else {
			sends[q] = weight
		}
	}
	return sends, followUps
}

func (w *Worker) newServer(queues map[string]int, concurrency int, checkInterval time.Duration) *asynq.Server {
	return asynq.NewServerFromRedisClient(w.cfg.Redis, asynq.Config{
		Concurrency:              concurrency,
		Queues:                   queues,
		IsFailure:                isFailure,
		RetryDelayFunc:           retryDelay,
		ShutdownTimeout:          w.cfg.ShutdownTimeout,
		DelayedTaskCheckInterval: w.cfg.DelayedTaskCheckInterval,
		TaskCheckInterval:        checkInterval,
		Logger:                   asynqLogger{w.cfg.Logger.Sugar()},
		ErrorHandler:             asynq.ErrorHandlerFunc(w.logTaskError),
	})
}

// Run processes refunds until ctx is canceled, then shuts down gracefully:
// in-flight provider calls get ShutdownTimeout to finish and anything
// unfinished goes back to the queue.
func (w *Worker) Run(ctx context.Context) error {
	mux := asynq.NewServeMux()
	mux.HandleFunc(tasks.TypeSubmit, w.handleSubmit)
	mux.HandleFunc(tasks.TypePoll, w.handlePoll)
	mux.HandleFunc(tasks.TypeCallback, w.handleCallback)
	for i, srv := range w.servers {
		if err := srv.Start(mux); err != nil {
			w.shutdown(w.servers[:i])
			return fmt.Errorf("worker: start: %w", err)
		}
	}
	w.log.Info("worker started", zap.Int("concurrency", w.cfg.Concurrency), zap.Int("follow_up_concurrency", w.cfg.FollowUpConcurrency))
	var wg sync.WaitGroup
	if w.cfg.SweepInterval > 0 {
		wg.Go(func() { w.sweepLoop(ctx) })
	}
	wg.Go(func() { w.reportBreakers(ctx) })
	<-ctx.Done()
	w.log.Info("worker shutting down", zap.Duration("timeout", w.cfg.ShutdownTimeout))
	w.shutdown(w.servers)
	wg.Wait()
	_ = w.client.Close()
	return nil
}

// shutdown stops servers at once, so their in-flight work shares one
// ShutdownTimeout.
func (w *Worker) shutdown(servers []*asynq.Server) {
	var wg sync.WaitGroup
	for _, srv := range servers {
		wg.Go(srv.Shutdown)
	}
	wg.Wait()
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
