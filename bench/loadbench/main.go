// Command loadbench measures refundq against the raw ceiling of its own
// stack, asynq on Redis, in one run on one redis-server, and writes the
// figures to a JSON file. See docs/performance.md.
//
// Raw asynq and the producer run in this process; refunds are processed by
// `refundq worker` child processes (the production binary and wiring),
// against the provider simulator served from this process.
package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"runtime/pprof"
	"strings"
	"syscall"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/refundq/refundq/internal/store"
	"github.com/refundq/refundq/internal/testenv"
	"github.com/refundq/refundq/producer"
	"github.com/refundq/refundq/worker"
)

// config is the benchmark's flags.
type config struct {
	refundqBin   string
	out          string
	aof          bool
	quick        bool
	concurrency  int
	enqueuers    int
	logLevel     string
	phaseTimeout time.Duration
	inproc       bool
	cpuProfile   string
	only         string
	halfRate     float64
	taskCheck    time.Duration
	idleTable    []time.Duration
	sizes        sizes
}

// sizes are the task or refund counts of each phase.
type sizes struct {
	raw1, raw32, rawProcess, imports, e2e, e2ePoll, littles int
	half                                                    time.Duration
}

func defaultSizes(quick bool) sizes {
	s := sizes{raw1: 20000, raw32: 100000, rawProcess: 50000, imports: 50000, e2e: 20000, e2ePoll: 20000,
		littles: 8000, half: 10 * time.Second}
	if quick {
		s = sizes{raw1: 4000, raw32: 20000, rawProcess: 10000, imports: 10000, e2e: 4000, e2ePoll: 4000,
			littles: 3000, half: 4 * time.Second}
	}
	return s
}

// defaultIdleTable is what the idle-worker table measures: the figures the
// default task check interval is chosen from (docs/performance.md).
const defaultIdleTable = "5ms,25ms,50ms,75ms,100ms"

func parseDurations(v string) ([]time.Duration, error) {
	var out []time.Duration
	for _, f := range strings.Split(v, ",") {
		d, err := time.ParseDuration(strings.TrimSpace(f))
		if err != nil {
			return nil, err
		}
		out = append(out, d)
	}
	return out, nil
}

func main() {
	var cfg config
	flag.StringVar(&cfg.refundqBin, "refundq", "", "refundq binary to run as the worker (default: go build ./cmd/refundq)")
	flag.StringVar(&cfg.out, "out", "bench/results/latest.json", "where to write the JSON figures")
	flag.BoolVar(&cfg.aof, "aof", false, "run redis-server with AOF, appendfsync everysec (default: no persistence)")
	flag.BoolVar(&cfg.quick, "quick", false, "smaller phases, for checking the harness")
	flag.IntVar(&cfg.concurrency, "concurrency", 20, "worker concurrency for the e2e phases and the raw no-op server")
	flag.IntVar(&cfg.enqueuers, "enqueuers", 32, "goroutines enqueueing refunds before the e2e phases")
	flag.StringVar(&cfg.logLevel, "worker-log-level", "info", "log level of the refundq worker (its logs go to a temp file)")
	flag.DurationVar(&cfg.phaseTimeout, "phase-timeout", 5*time.Minute, "give up on a phase after this long")
	flag.BoolVar(&cfg.inproc, "inproc", false, "run the worker in this process instead of `refundq worker` (for -cpuprofile; RSS is then the whole process's)")
	flag.StringVar(&cfg.cpuProfile, "cpuprofile", "", "write a CPU profile of this process")
	flag.StringVar(&cfg.only, "only", "", "run only phases whose name matches this regexp (for profiling; ratios need every phase)")
	flag.DurationVar(&cfg.taskCheck, "task-check-interval", worker.DefaultTaskCheckInterval,
		"REFUNDQ_TASK_CHECK_INTERVAL of the workers, and the raw latency phase's TaskCheckInterval")
	flag.Float64Var(&cfg.halfRate, "half-rate", 0, "arrival rate of the latency phase (default: half the measured e2e rate)")
	flag.Func("idle-table", "task check intervals to measure an idle worker at, e.g. 5ms,25ms,50ms,100ms (default: "+defaultIdleTable+")",
		func(v string) (err error) { cfg.idleTable, err = parseDurations(v); return err })
	flag.Parse()
	cfg.sizes = defaultSizes(cfg.quick)
	if cfg.idleTable == nil {
		cfg.idleTable, _ = parseDurations(defaultIdleTable)
	}

	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGINT, syscall.SIGTERM)
	defer stop()
	if err := run(ctx, cfg, os.Stdout); err != nil {
		fmt.Fprintln(os.Stderr, "loadbench:", err)
		os.Exit(1)
	}
}

// bench is one run: the Redis, the clients and the scratch directory.
type bench struct {
	cfg      config
	redis    *redisServer
	rdb      *redis.Client // raw asynq and the producer
	obs      *observer     // measuring only
	producer *producer.Producer
	store    *store.Redis // reading results
	tmp      string
}

func run(ctx context.Context, cfg config, stdout io.Writer) (err error) {
	tmp, err := os.MkdirTemp("", "loadbench-")
	if err != nil {
		return err
	}
	defer func() {
		if err == nil {
			_ = os.RemoveAll(tmp)
			return
		}
		fmt.Fprintf(stdout, "kept %s (worker logs) for a look at what failed\n", tmp)
	}()
	if cfg.refundqBin == "" {
		if cfg.refundqBin, err = testenv.BuildRefundq(ctx, tmp); err != nil {
			return err
		}
	}
	rs, err := startRedis(ctx, tmp, cfg.aof)
	if err != nil {
		return err
	}
	defer rs.Stop()
	// Enough connections for every enqueueing goroutine: a pool smaller
	// than the callers would measure the pool, not Redis.
	rdb := redis.NewClient(&redis.Options{Addr: rs.Addr(), PoolSize: 2 * max(cfg.enqueuers, 32)})
	defer rdb.Close()
	b := &bench{cfg: cfg, redis: rs, rdb: rdb, obs: newObserver(rs.Addr()), tmp: tmp,
		producer: producer.NewFromClient(rdb, producer.WithSource("producer")), store: store.New(rdb)}
	defer b.obs.rdb.Close()

	r := newReport(cfg, rs)
	if cfg.cpuProfile != "" {
		stopProfile, err := startProfile(cfg.cpuProfile)
		if err != nil {
			return err
		}
		defer stopProfile()
	}
	if err = b.measure(ctx, r, stdout); err != nil {
		return err
	}
	r.finish()
	r.print(stdout)
	if err := r.write(cfg.out); err != nil {
		return err
	}
	fmt.Fprintf(stdout, "\nwrote %s\n", cfg.out)
	return nil
}

// reset empties Redis between phases, so no phase sees another's keys.
func (b *bench) reset(ctx context.Context) error {
	if err := b.obs.rdb.FlushAll(ctx).Err(); err != nil {
		return fmt.Errorf("flushall: %w", err)
	}
	return nil
}

func startProfile(path string) (func(), error) {
	f, err := os.Create(path)
	if err != nil {
		return nil, err
	}
	if err := pprof.StartCPUProfile(f); err != nil {
		f.Close()
		return nil, err
	}
	return func() { pprof.StopCPUProfile(); f.Close() }, nil
}
