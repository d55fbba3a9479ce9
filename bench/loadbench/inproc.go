package main

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/redis/go-redis/v9"
	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"

	"github.com/refundq/refundq/worker"
)

// runner is a running refundq worker: a child process, or (-inproc, for
// profiling) a worker.Worker in this process.
type runner interface {
	exited() error
	memory() (rss, peak int64, err error)
	// cpu is the worker's CPU time so far; zero when it is not its own
	// process.
	cpu() time.Duration
	stop()
	logFile() string
}

func (w *workerProc) logFile() string { return w.logPath }

// startRunner starts the worker of a phase the way the flags say.
func (b *bench) startRunner(ctx context.Context, providerURL string, o workerOpts) (runner, error) {
	if b.cfg.inproc {
		return startInproc(b.redis.Addr(), providerURL, b.tmp, o)
	}
	return startWorker(ctx, b.cfg.refundqBin, b.redis.URL(), providerURL, b.tmp, o)
}

// inprocWorker mirrors `refundq worker`'s wiring (cmd/refundq/wiring.go)
// inside this process, so one CPU profile covers the worker too. Its
// memory figures are this whole process's, simulator included.
type inprocWorker struct {
	cancel  context.CancelFunc
	done    chan error
	rdb     *redis.Client
	logPath string
	log     *zap.Logger
}

func startInproc(redisAddr, providerURL, dir string, o workerOpts) (*inprocWorker, error) {
	logPath := filepath.Join(dir, fmt.Sprintf("inproc-%d.log", time.Now().UnixNano()))
	lvl, err := zapcore.ParseLevel(o.logLevel)
	if err != nil {
		return nil, err
	}
	zc := zap.NewProductionConfig()
	zc.Level = zap.NewAtomicLevelAt(lvl)
	zc.DisableStacktrace = true
	zc.OutputPaths, zc.ErrorOutputPaths = []string{logPath}, []string{logPath}
	log, err := zc.Build()
	if err != nil {
		return nil, err
	}
	card, err := worker.CardAPI(benchAuthID, benchSecret, providerURL)
	if err != nil {
		return nil, err
	}
	schedule, err := time.ParseDuration(o.pollSchedule)
	if err != nil {
		return nil, err
	}
	rdb := redis.NewClient(&redis.Options{Addr: redisAddr})
	w, err := worker.New(worker.Config{
		Redis: rdb, Providers: worker.SingleProvider(card), Logger: log, Registerer: prometheus.NewRegistry(),
		Concurrency: o.concurrency, PollSchedule: []time.Duration{schedule}, TaskCheckInterval: o.taskCheck,
		Protection: worker.Protection{BreakerFailures: 5},
	})
	if err != nil {
		return nil, err
	}
	ctx, cancel := context.WithCancel(context.Background())
	iw := &inprocWorker{cancel: cancel, done: make(chan error, 1), rdb: rdb, logPath: logPath, log: log}
	go func() { iw.done <- w.Run(ctx) }()
	return iw, nil
}

func (w *inprocWorker) exited() error {
	select {
	case err := <-w.done:
		w.done <- err
		return fmt.Errorf("in-process worker stopped early: %v", err)
	default:
		return nil
	}
}

func (w *inprocWorker) memory() (int64, int64, error) { return procMemory(os.Getpid()) }

func (w *inprocWorker) cpu() time.Duration { return 0 }

func (w *inprocWorker) stop() {
	w.cancel()
	<-w.done
	_ = w.log.Sync()
	_ = w.rdb.Close()
}

func (w *inprocWorker) logFile() string { return w.logPath }
