// Command importbench measures `refundq import`: its rate against its
// ceiling (raw asynq Enqueue from 32 goroutines on the same Redis), and its
// memory as files grow.
//
//	go run ./bench/importbench [-rows 100000] [-runs 3] [-rss-rows 1000000,10000000] [-results FILE]
//
// It starts its own redis-server on a free port in a temporary directory.
// The rate: a CSV with 1% bad rows imported through importer.Run (what the
// command runs), checked to queue exactly the good rows, re-run to time a
// repeat, then as many bare tasks enqueued; each measurement -runs times on
// a flushed Redis, the median reported. The memory: the refundq binary,
// built for the run, imports files of each -rss-rows size, all good rows
// and all bad ones, and its peak RSS is read from the kernel; -baseline REV
// does the same with refundq built from git revision REV (up to
// -baseline-max rows), for a before and after. A good file needs Redis
// memory for every refund (about 1.5 KB each): sizes that do not fit in
// the memory available are skipped and said so. Nothing is written outside
// the temporary directory unless -results is given.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"path/filepath"
	"runtime/pprof"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/google/uuid"
	"github.com/hibiken/asynq"
	"github.com/redis/go-redis/v9"

	"github.com/refundq/refundq/internal/importer"
	"github.com/refundq/refundq/internal/tasks"
	"github.com/refundq/refundq/internal/testenv"
	"github.com/refundq/refundq/producer"
)

type settings struct {
	rows, runs, workers int
	concurrency         int
	badEvery            int
	results, cpuprofile string
	aof, cmdstats       bool
	rssRows             []int
	baseline            string
	baselineMax         int
}

func main() {
	var s settings
	flag.IntVar(&s.rows, "rows", 100_000, "rows in the CSV")
	flag.IntVar(&s.runs, "runs", 3, "measurements of each kind; the median is reported")
	flag.IntVar(&s.workers, "goroutines", 32, "raw enqueue goroutines")
	flag.IntVar(&s.concurrency, "concurrency", producer.DefaultBatchConcurrency, "import concurrency (as --import-concurrency)")
	flag.IntVar(&s.badEvery, "bad-every", 100, "every Nth row is invalid (100 = 1%)")
	flag.StringVar(&s.results, "results", "", "also append the figures to this file")
	flag.StringVar(&s.cpuprofile, "cpuprofile", "", "write a CPU profile of the import runs")
	flag.BoolVar(&s.aof, "aof", false, "run Redis with appendonly yes, appendfsync everysec")
	flag.BoolVar(&s.cmdstats, "commandstats", false, "print Redis's per-command cost of the first import")
	rss := flag.String("rss-rows", "1000000,10000000", "file sizes whose import RSS is measured, comma-separated (empty: none)")
	flag.StringVar(&s.baseline, "baseline", "", "also measure the RSS of refundq built from this git revision")
	flag.IntVar(&s.baselineMax, "baseline-max", 1_000_000, "largest file the baseline imports")
	flag.Parse()
	for _, v := range strings.Split(*rss, ",") {
		if n, err := strconv.Atoi(strings.TrimSpace(v)); err == nil && n > 0 {
			s.rssRows = append(s.rssRows, n)
		}
	}
	// On Ctrl-C the run returns and its defers stop its redis-server.
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := run(ctx, s, os.Stdout); err != nil {
		fmt.Fprintln(os.Stderr, "importbench:", err)
		os.Exit(1)
	}
}

func run(ctx context.Context, s settings, out io.Writer) error {
	dir, err := os.MkdirTemp("", "importbench-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(dir)
	var redisOpts []testenv.RedisOption
	if s.aof {
		redisOpts = append(redisOpts, testenv.WithAppendFsync("everysec"))
	}
	srv, err := testenv.Launch(dir, redisOpts...)
	if err != nil {
		return err
	}
	defer srv.Stop()
	opt, err := asynq.ParseRedisURI(srv.URL()) // as the command does
	if err != nil {
		return err
	}
	rdb := opt.MakeRedisClient().(redis.UniversalClient)
	defer rdb.Close()

	csvPath := filepath.Join(dir, "refunds.csv")
	bad, err := writeCSV(csvPath, s.rows, s.badEvery)
	if err != nil {
		return err
	}
	var imports, repeats, raws, aps, ratios []float64
	cpu := &cpuMeter{rdb: rdb}
	for i := range s.runs {
		if err := rdb.FlushAll(ctx).Err(); err != nil {
			return err
		}
		cpu.start(ctx)
		rate, err := measureImport(ctx, rdb, s, csvPath, bad, i == 0)
		if err != nil {
			return err
		}
		cpu.stop(ctx, "import", s.rows)
		if s.cmdstats && i == 0 {
			printCommandStats(ctx, rdb, out)
		}
		imports = append(imports, rate)
		rate, err = measureRepeat(ctx, rdb, s, csvPath)
		if err != nil {
			return err
		}
		repeats = append(repeats, rate)
		if err := rdb.FlushAll(ctx).Err(); err != nil {
			return err
		}
		cpu.start(ctx)
		rate, err = measureRaw(ctx, rdb, s.rows, s.workers)
		if err != nil {
			return err
		}
		cpu.stop(ctx, "raw", s.rows)
		raws = append(raws, rate)
		ratios = append(ratios, imports[i]/rate)
		if c, ok := rdb.(*redis.Client); ok {
			ap, err := c.AutoPipeline()
			if err != nil {
				return err
			}
			if err := rdb.FlushAll(ctx).Err(); err != nil {
				return err
			}
			cpu.start(ctx)
			rate, err = measureRaw(ctx, ap, s.rows, s.workers)
			if err != nil {
				return err
			}
			cpu.stop(ctx, "rawap", s.rows)
			aps = append(aps, rate)
		}
	}
	cpu.print(out)
	if err := report(out, s, figures{median(imports), median(repeats), median(raws), median(aps), median(ratios)}); err != nil {
		return err
	}
	if len(s.rssRows) == 0 {
		return nil
	}
	fmt.Fprintf(out, "import memory (peak RSS of `refundq import FILE`; %.1f GB of memory available):\n", float64(memAvailable())/1e9)
	runs, err := runRSS(ctx, s, dir, rdb, srv.URL(), out)
	if err != nil {
		return err
	}
	return appendResults(s.results, rssText(runs))
}

func rssText(runs []rssRun) string {
	var b strings.Builder
	b.WriteString("import memory " + time.Now().UTC().Format(time.DateOnly) + ":\n")
	for _, r := range runs {
		b.WriteString(r.line())
	}
	return b.String()
}

func appendResults(path, text string) error {
	if path == "" {
		return nil
	}
	f, err := os.OpenFile(path, os.O_CREATE|os.O_APPEND|os.O_WRONLY, 0o644)
	if err != nil {
		return err
	}
	_, err = f.WriteString(text)
	return errors.Join(err, f.Close())
}

// figures are medians over the runs. The ratio is the median of each
// run's import/raw, since the two run back to back and a busy machine
// slows both.
type figures struct {
	imp, repeat, raw, rawAuto, ratio float64
}

func report(out io.Writer, s settings, f figures) error {
	text := fmt.Sprintf("import bench %s: %d rows (1 in %d bad), import concurrency %d, median of %d runs\n"+
		"  import (validate, record, enqueue):   %8.0f rows/s\n"+
		"  import again (all duplicates):        %8.0f rows/s\n"+
		"  raw asynq Enqueue, %d goroutines:     %8.0f tasks/s  (the ceiling)\n"+
		"  same, over go-redis auto-pipelining:  %8.0f tasks/s\n"+
		"  ratio import/raw: %.2f (goal >= 0.70)\n",
		time.Now().UTC().Format(time.DateOnly), s.rows, s.badEvery, s.concurrency, s.runs,
		f.imp, f.repeat, s.workers, f.raw, f.rawAuto, f.ratio)
	fmt.Fprint(out, text)
	return appendResults(s.results, text)
}

func median(xs []float64) float64 {
	xs = slices.Clone(xs)
	slices.Sort(xs)
	return xs[len(xs)/2]
}

// writeCSV writes rows refunds without keys, as an ops spreadsheet would
// have them, every badEvery-th with a zero amount. It returns how many
// rows are bad.
func writeCSV(path string, rows, badEvery int) (int, error) {
	var b strings.Builder
	b.WriteString("order_id,transaction_id,amount,description\n")
	bad := 0
	for i := 1; i <= rows; i++ {
		amount := "10.50"
		if badEvery > 0 && i%badEvery == 0 {
			amount, bad = "0", bad+1
		}
		fmt.Fprintf(&b, "order-%07d,txn-%07d,%s,goodwill refund %d\n", i, i, amount, i)
	}
	return bad, os.WriteFile(path, []byte(b.String()), 0o600)
}

func measureImport(ctx context.Context, rdb redis.UniversalClient, s settings, path string, bad int, profile bool) (float64, error) {
	p := producer.NewFromClient(rdb, producer.WithSource("import"))
	if profile && s.cpuprofile != "" {
		f, err := os.Create(s.cpuprofile)
		if err != nil {
			return 0, err
		}
		defer f.Close()
		if err := pprof.StartCPUProfile(f); err != nil {
			return 0, err
		}
		defer pprof.StopCPUProfile()
	}
	start := time.Now()
	res, err := importer.Run(ctx, p, importer.Options{Path: path, Concurrency: s.concurrency,
		RejectsPath: path + ".rejects.csv"})
	el := time.Since(start)
	if err != nil {
		return 0, err
	}
	if res.Accepted != s.rows-bad || res.Rejected != bad {
		return 0, fmt.Errorf("import accepted %d and rejected %d, want %d and %d", res.Accepted, res.Rejected, s.rows-bad, bad)
	}
	if n, err := pending(rdb); err != nil || n != s.rows-bad {
		return 0, fmt.Errorf("bulk queue holds %d tasks (%v), want %d", n, err, s.rows-bad)
	}
	return float64(s.rows) / el.Seconds(), nil
}

func measureRepeat(ctx context.Context, rdb redis.UniversalClient, s settings, path string) (float64, error) {
	p := producer.NewFromClient(rdb, producer.WithSource("import"))
	start := time.Now()
	res, err := importer.Run(ctx, p, importer.Options{Path: path, Concurrency: s.concurrency})
	el := time.Since(start)
	if err != nil {
		return 0, err
	}
	if res.Accepted != 0 {
		return 0, fmt.Errorf("re-run accepted %d rows, want 0", res.Accepted)
	}
	return float64(s.rows) / el.Seconds(), nil
}

func pending(rdb redis.UniversalClient) (int, error) {
	info, err := asynq.NewInspectorFromRedisClient(rdb).GetQueueInfo(tasks.QueueBulk)
	if err != nil {
		return 0, err
	}
	return info.Pending, nil
}

// measureRaw enqueues n submit tasks, as the import builds them, from
// workers goroutines: the ceiling the import is measured against.
func measureRaw(ctx context.Context, rdb redis.UniversalClient, n, workers int) (float64, error) {
	ids := make([]string, n)
	for i := range ids {
		ids[i] = uuid.NewString()
	}
	client := asynq.NewClientFromRedisClient(rdb)
	var next atomic.Int64
	var wg sync.WaitGroup
	errs := make(chan error, workers)
	start := time.Now()
	for range workers {
		wg.Go(func() {
			for {
				i := next.Add(1) - 1
				if i >= int64(n) {
					return
				}
				t, opts := tasks.Submit(ids[i], "", tasks.QueueBulk)
				if _, err := client.EnqueueContext(ctx, t, opts...); err != nil {
					errs <- err
					return
				}
			}
		})
	}
	wg.Wait()
	el := time.Since(start)
	close(errs)
	if err := <-errs; err != nil {
		return 0, err
	}
	return float64(n) / el.Seconds(), nil
}
