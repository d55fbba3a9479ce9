package main

import (
	"encoding/json"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"
)

// report holds every figure. Top-level JSON values are all numbers; the
// run's circumstances are under "meta".
type report struct {
	RawEnqueue1     float64 `json:"raw_enqueue_1_per_s"`
	RawEnqueue32    float64 `json:"raw_enqueue_32_per_s"`
	RawNoop         float64 `json:"raw_noop_per_s"`
	RawBytesPerTask float64 `json:"raw_bytes_per_task"`
	RawCmdsPerTask  float64 `json:"raw_cmds_per_task"`
	RawCPUUsPerTask float64 `json:"raw_redis_cpu_us_per_task"`
	// CPU per task while the no-op server drains: the asynq server (in
	// this process) and redis-server.
	RawServerCPUUs     float64 `json:"raw_noop_server_cpu_us_per_task"`
	RawRedisDrainCPUUs float64 `json:"raw_noop_redis_cpu_us_per_task"`
	ImportRows         float64 `json:"import_rows_per_s"`
	ImportRatio        float64 `json:"import_ratio"`
	E2E                float64 `json:"e2e_per_s"`
	E2ERatio           float64 `json:"e2e_ratio"`
	E2EPoll            float64 `json:"e2e_poll_per_s"`
	E2EPollRatio       float64 `json:"e2e_poll_ratio"`
	Littles            float64 `json:"littles_law_per_s"`
	LittlesExpected    float64 `json:"littles_law_expected_per_s"`
	LittlesEfficiency  float64 `json:"littles_law_efficiency"`
	HalfLoadRate       float64 `json:"half_load_per_s"`
	AddedP50           float64 `json:"added_p50_ms"`
	AddedP99           float64 `json:"added_p99_ms"`
	AddedMax           float64 `json:"added_max_ms"`
	HalfProviderMs     float64 `json:"half_load_provider_ms"`
	RawLatencyP50      float64 `json:"raw_latency_p50_ms"`
	RawLatencyP99      float64 `json:"raw_latency_p99_ms"`
	// What an idle worker costs: the price of the task check interval.
	IdleWorkerCPU float64 `json:"idle_worker_cpu_pct"`
	IdleRedisCPU  float64 `json:"idle_redis_cpu_pct"`
	IdleRedisCmds float64 `json:"idle_redis_cmds_per_s"`
	// How long a refund that arrives at an idle worker waits for its first
	// send, at the configured task check interval.
	IdleStartP50 float64 `json:"idle_start_p50_ms"`
	IdleStartP99 float64 `json:"idle_start_p99_ms"`
	// The same, at each interval of -idle-table.
	IdleTable         []idleRow `json:"idle_by_task_check_interval"`
	WorkerRSS         float64   `json:"worker_rss_mib"`
	WorkerRSSE2E      float64   `json:"worker_rss_e2e_mib"`
	WorkerRSSLittles  float64   `json:"worker_rss_littles_mib"`
	BytesPerRefund    float64   `json:"redis_bytes_per_refund"`
	BytesRatio        float64   `json:"redis_bytes_ratio"`
	CmdsPerRefund     float64   `json:"redis_cmds_per_refund"`
	CmdsRatio         float64   `json:"redis_cmds_ratio"`
	ScriptsPerRefund  float64   `json:"redis_scripts_per_refund"`
	CPUUsPerRefund    float64   `json:"redis_cpu_us_per_refund"`
	CmdsPerPollRefund float64   `json:"redis_cmds_per_refund_poll"`
	// The per-refund costs against a raw asynq task, as issue 13 states
	// them: Redis CPU (enqueue and processing) and commands against a raw
	// task's; the worker's CPU against the raw no-op asynq server's.
	RedisCPURatio      float64 `json:"redis_cpu_us_per_refund_ratio"`
	WorkerCPUPerRefund float64 `json:"worker_cpu_us_per_refund"`
	WorkerCPURatio     float64 `json:"worker_cpu_us_per_refund_ratio"`
	CmdsPollRatio      float64 `json:"redis_cmds_per_refund_poll_ratio"`
	// CPU per refund while the worker drains the e2e queue: the worker
	// process, this process (the simulator, mostly) and redis-server.
	WorkerCPUUs float64 `json:"e2e_worker_cpu_us_per_refund"`
	BenchCPUUs  float64 `json:"e2e_simulator_cpu_us_per_refund"`
	RedisCPUUs  float64 `json:"e2e_redis_cpu_us_per_refund"`

	Meta meta `json:"meta"`

	RawEnqueue32Cost cost `json:"-"`
	ImportCost       cost `json:"-"`
	// CPU per imported row and per raw enqueue: this process and Redis.
	ImportClientCPUUs     float64 `json:"import_client_cpu_us_per_row"`
	ImportRedisCPUUs      float64 `json:"import_redis_cpu_us_per_row"`
	RawEnqueueClientCPUUs float64 `json:"raw_enqueue_32_client_cpu_us"`
	RawEnqueueRedisCPUUs  float64 `json:"raw_enqueue_32_redis_cpu_us"`

	cmdsTop, rawTop, timeTop, rawTimeTop string
}

// idleRow is an idle worker at one task check interval.
type idleRow struct {
	Interval  string  `json:"task_check_interval"`
	WorkerCPU float64 `json:"worker_cpu_pct"`
	RedisCPU  float64 `json:"redis_cpu_pct"`
	RedisCmds float64 `json:"redis_cmds_per_s"`
	StartP50  float64 `json:"start_p50_ms"`
	StartP99  float64 `json:"start_p99_ms"`
}

type meta struct {
	Time        string `json:"time"`
	CPUs        int    `json:"cpus"`
	CPUModel    string `json:"cpu_model"`
	Go          string `json:"go"`
	Redis       string `json:"redis"`
	Persistence string `json:"redis_persistence"`
	Worker      string `json:"worker"`
	Concurrency int    `json:"concurrency"`
	LoadBefore  string `json:"load_average_before"`
	LoadAfter   string `json:"load_average_after"`
	Sizes       string `json:"sizes"`
	CmdsTop     string `json:"redis_cmds_per_refund_top"`
}

func newReport(cfg config, rs *redisServer) *report {
	s := cfg.sizes
	return &report{Meta: meta{
		Time: time.Now().UTC().Format(time.RFC3339), CPUs: runtime.NumCPU(), CPUModel: cpuModel(), Go: runtime.Version(),
		Redis: rs.version, Persistence: rs.Persistence(), Concurrency: cfg.concurrency,
		Worker: fmt.Sprintf("refundq worker child process, log level %s, task check interval %s",
			cfg.logLevel, cfg.taskCheck),
		LoadBefore: loadAverage(),
		Sizes: fmt.Sprintf("raw enqueue %d/%d, raw no-op %d, import %d, e2e %d, e2e poll %d, little's law %d, half load %s",
			s.raw1, s.raw32, s.rawProcess, s.imports, s.e2e, s.e2ePoll, s.littles, s.half),
	}}
}

func (r *report) addRawProcess(rate, bytes float64, u usage, n int) {
	r.RawNoop, r.RawBytesPerTask = rate, bytes
	r.RawCmdsPerTask = float64(u.total) / float64(n)
	r.RawCPUUsPerTask = u.cpuSeconds * 1e6 / float64(n)
	r.rawTop = u.top(float64(n), 6)
	r.rawTimeTop = u.topTime(float64(n), 4)
}

func (r *report) addE2E(res e2eResult) {
	if res.n == 0 {
		return
	}
	r.E2E = res.rate
	r.BytesPerRefund = res.queuedBytes
	r.CmdsPerRefund = float64(res.usage.total) / float64(res.n)
	r.ScriptsPerRefund = float64(res.usage.scripts) / float64(res.n)
	r.CPUUsPerRefund = res.usage.cpuSeconds * 1e6 / float64(res.n)
	r.cmdsTop = res.usage.top(float64(res.n), 10)
	r.timeTop = res.usage.topTime(float64(res.n), 6)
	r.Meta.CmdsTop = r.cmdsTop
	r.WorkerRSSE2E = mib(res.peakRSS)
	us := func(d time.Duration) float64 { return float64(d) / float64(time.Microsecond) }
	r.WorkerCPUUs, r.BenchCPUUs, r.RedisCPUUs = us(res.workerCPU), us(res.benchCPU), us(res.redisCPU)
}

func (r *report) addPoll(res e2eResult) {
	if res.n == 0 {
		return
	}
	r.E2EPoll = res.rate
	r.CmdsPerPollRefund = float64(res.usage.total) / float64(res.n)
	r.WorkerRSS = max(r.WorkerRSS, mib(res.peakRSS))
}

func (r *report) addLittles(res e2eResult) {
	r.Littles = res.rate
	r.WorkerRSSLittles = mib(res.peakRSS)
}

func (r *report) addHalf(res latencyResult) {
	r.HalfLoadRate = res.rate
	r.AddedP50, r.AddedP99, r.AddedMax, r.HalfProviderMs = res.p50, res.p99, res.max, res.provider
	r.WorkerRSS = max(r.WorkerRSS, mib(res.peakRSS))
}

// ratio is a/b, or 0 when there is no b to compare with.
func ratio(a, b float64) float64 {
	if b == 0 {
		return 0
	}
	return a / b
}

// finish computes the ratios once every phase has run.
func (r *report) finish() {
	r.LittlesExpected = float64(littlesConcurrency) / littlesLatency.Seconds()
	r.ImportClientCPUUs, r.ImportRedisCPUUs = r.ImportCost.client, r.ImportCost.redis
	r.RawEnqueueClientCPUUs, r.RawEnqueueRedisCPUUs = r.RawEnqueue32Cost.client, r.RawEnqueue32Cost.redis
	r.ImportRatio = ratio(r.ImportRows, r.RawEnqueue32)
	r.E2ERatio = ratio(r.E2E, r.RawNoop)
	r.E2EPollRatio = ratio(r.E2EPoll, r.RawNoop)
	r.LittlesEfficiency = ratio(r.Littles, r.LittlesExpected)
	r.BytesRatio = ratio(r.BytesPerRefund, r.RawBytesPerTask)
	r.CmdsRatio = ratio(r.CmdsPerRefund, r.RawCmdsPerTask)
	r.CmdsPollRatio = ratio(r.CmdsPerPollRefund, r.RawCmdsPerTask)
	r.RedisCPURatio = ratio(r.CPUUsPerRefund, r.RawCPUUsPerTask)
	r.WorkerCPUPerRefund = r.WorkerCPUUs
	r.WorkerCPURatio = ratio(r.WorkerCPUUs, r.RawServerCPUUs)
	r.WorkerRSS = max(r.WorkerRSS, r.WorkerRSSE2E, r.WorkerRSSLittles)
	r.Meta.LoadAfter = loadAverage()
}

func mib(b int64) float64 { return float64(b) / (1 << 20) }

// goal is a target from issues 5 and 13: x ≥ v, x ≤ v or x < v.
type goal struct {
	cmp string
	v   float64
}

func atLeast(v float64) *goal { return &goal{"≥", v} }
func atMost(v float64) *goal  { return &goal{"≤", v} }
func below(v float64) *goal   { return &goal{"<", v} }

func (g goal) String() string { return fmt.Sprintf("%s %g", g.cmp, g.v) }

func (g goal) met(x float64) string {
	ok := map[string]bool{"≥": x >= g.v, "≤": x <= g.v, "<": x < g.v}[g.cmp]
	if ok {
		return "met"
	}
	return "MISSED"
}

func (r *report) print(w io.Writer) {
	fmt.Fprintf(w, "\nrefundq load benchmark — %d CPUs (%s), %s, redis-server %s with %s, %s\n",
		r.Meta.CPUs, r.Meta.CPUModel, r.Meta.Go, r.Meta.Redis, r.Meta.Persistence, r.Meta.Worker)
	fmt.Fprintf(w, "load average before: %s   after: %s\n", r.Meta.LoadBefore, r.Meta.LoadAfter)
	// Before, anything above half the CPUs is someone else's; after, this
	// benchmark's own two busy processes are in the figure too.
	if busy(r.Meta.LoadBefore, float64(r.Meta.CPUs)/2) || busy(r.Meta.LoadAfter, float64(r.Meta.CPUs)+1) {
		fmt.Fprintln(w, "WARNING: other processes were busy on this machine; these figures are noisy, run it again when it is quiet")
	}
	fmt.Fprintln(w)
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintln(tw, "figure\tvalue\traw counterpart\tratio\tgoal\t\t")
	row := func(name, value, raw, ratio string, g *goal, x float64) {
		gs, ms := "", ""
		if g != nil {
			gs, ms = g.String(), g.met(x)
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\t\n", name, value, raw, ratio, gs, ms)
	}
	per := func(v float64, unit string) string { return fmt.Sprintf("%s %s", thousands(v), unit) }
	c := r.Meta.Concurrency
	row("raw asynq Enqueue, 1 goroutine", per(r.RawEnqueue1, "/s"), "", "", nil, 0)
	row("raw asynq Enqueue, 32 goroutines", per(r.RawEnqueue32, "/s"), "", "", nil, 0)
	row(fmt.Sprintf("raw asynq no-op processing, concurrency %d", c), per(r.RawNoop, "tasks/s"), "", "", nil, 0)
	row("import (importer.Run, CSV)", per(r.ImportRows, "rows/s"), "32-goroutine Enqueue", f2(r.ImportRatio), atLeast(0.8), r.ImportRatio)
	row(fmt.Sprintf("e2e, success at once, concurrency %d", c), per(r.E2E, "refunds/s"), "no-op processing", f2(r.E2ERatio), atLeast(0.35), r.E2ERatio)
	row(fmt.Sprintf("e2e, one status poll, concurrency %d", c), per(r.E2EPoll, "refunds/s"), "no-op processing", f2(r.E2EPollRatio), atLeast(0.2), r.E2EPollRatio)
	row("Redis CPU per refund, e2e", fmt.Sprintf("%.0f µs", r.CPUUsPerRefund), fmt.Sprintf("%.0f µs/task", r.RawCPUUsPerTask),
		f2(r.RedisCPURatio), atMost(2), r.RedisCPURatio)
	row("worker CPU per refund, e2e", fmt.Sprintf("%.0f µs", r.WorkerCPUUs), fmt.Sprintf("asynq server %.0f µs/task", r.RawServerCPUUs),
		f2(r.WorkerCPURatio), atMost(3), r.WorkerCPURatio)
	row("200 ms provider, concurrency 200", per(r.Littles, "refunds/s"), "Little's law "+thousands(r.LittlesExpected)+"/s",
		f2(r.LittlesEfficiency), atLeast(0.95), r.LittlesEfficiency)
	row(fmt.Sprintf("added time p50 at %s/s (half load)", thousands(r.HalfLoadRate)), fmt.Sprintf("%.1f ms", r.AddedP50),
		fmt.Sprintf("asynq no-op %.1f ms", r.RawLatencyP50), f2(ratio(r.AddedP50, r.RawLatencyP50)), nil, 0)
	row(fmt.Sprintf("added time p99 at %s/s (half load)", thousands(r.HalfLoadRate)), fmt.Sprintf("%.1f ms", r.AddedP99),
		fmt.Sprintf("asynq no-op %.1f ms", r.RawLatencyP99), f2(ratio(r.AddedP99, r.RawLatencyP99)), below(20), r.AddedP99)
	row("worker RSS, peak of all phases", fmt.Sprintf("%.1f MiB", r.WorkerRSS), "", "", below(64), r.WorkerRSS)
	row("Redis bytes per queued refund", fmt.Sprintf("%.0f B", r.BytesPerRefund), fmt.Sprintf("%.0f B/task", r.RawBytesPerTask),
		f2(r.BytesRatio), below(1536), r.BytesPerRefund)
	row("Redis commands per refund", fmt.Sprintf("%.1f", r.CmdsPerRefund), fmt.Sprintf("%.1f/task", r.RawCmdsPerTask), f2(r.CmdsRatio), atMost(30), r.CmdsPerRefund)
	row("Redis commands per refund, one poll", fmt.Sprintf("%.1f", r.CmdsPerPollRefund), fmt.Sprintf("%.1f/task", r.RawCmdsPerTask), f2(r.CmdsPollRatio), atMost(55), r.CmdsPerPollRefund)
	row("idle worker, CPU", fmt.Sprintf("%.2f%% of a core", r.IdleWorkerCPU), "", "", atMost(1), r.IdleWorkerCPU)
	row("idle worker, Redis commands", fmt.Sprintf("%.0f /s", r.IdleRedisCmds), "", "", atMost(200), r.IdleRedisCmds)
	row("idle fleet, acceptance to first send p99", fmt.Sprintf("%.1f ms", r.IdleStartP99), "", "", atMost(100), r.IdleStartP99)
	_ = tw.Flush()
	if len(r.IdleTable) > 0 {
		fmt.Fprintln(w, "\nidle worker by task check interval:")
		it := tabwriter.NewWriter(w, 0, 0, 2, ' ', tabwriter.AlignRight)
		fmt.Fprintln(it, "interval\tworker CPU\tRedis CPU\tRedis commands/s\tstart p50\tstart p99\t")
		for _, row := range r.IdleTable {
			fmt.Fprintf(it, "%s\t%.2f%%\t%.2f%%\t%.0f\t%.1f ms\t%.1f ms\t\n", row.Interval, row.WorkerCPU, row.RedisCPU, row.RedisCmds, row.StartP50, row.StartP99)
		}
		_ = it.Flush()
	}
	fmt.Fprintf(w, "\nCPU per row imported: client %.0f µs, redis-server %.0f µs; per raw Enqueue from %d goroutines: client %.0f µs, redis-server %.0f µs\n",
		r.ImportCost.client, r.ImportCost.redis, 32, r.RawEnqueue32Cost.client, r.RawEnqueue32Cost.redis)
	fmt.Fprintf(w, "commands per refund (e2e, INFO commandstats, Lua-internal commands included): %s\n", r.cmdsTop)
	fmt.Fprintf(w, "  of which EVAL/EVALSHA round trips: %.1f; Redis CPU per refund: %.0f µs (raw no-op task: %.0f µs)\n",
		r.ScriptsPerRefund, r.CPUUsPerRefund, r.RawCPUUsPerTask)
	fmt.Fprintf(w, "Redis time per refund by command: %s\n", r.timeTop)
	fmt.Fprintf(w, "commands per raw task (enqueue + no-op processing): %s\n", r.rawTop)
	fmt.Fprintf(w, "Redis time per raw task by command: %s\n", r.rawTimeTop)
	fmt.Fprintf(w, "commands per refund with one status poll: %.1f; provider time per refund at half load: %.2f ms (subtracted); worst added: %.1f ms\n",
		r.CmdsPerPollRefund, r.HalfProviderMs, r.AddedMax)
	fmt.Fprintf(w, "worker RSS peaks: e2e %.1f MiB, concurrency 200 %.1f MiB\n", r.WorkerRSSE2E, r.WorkerRSSLittles)
	fmt.Fprintf(w, "CPU per refund while the e2e queue drains: worker %.0f µs, simulator (this process) %.0f µs, redis-server %.0f µs\n",
		r.WorkerCPUUs, r.BenchCPUUs, r.RedisCPUUs)
	fmt.Fprintf(w, "CPU per task while the raw no-op server drains: asynq server %.0f µs, redis-server %.0f µs\n",
		r.RawServerCPUUs, r.RawRedisDrainCPUUs)
	fmt.Fprintf(w, "an idle worker costs %.1f%% of a core itself and %.1f%% of redis-server's (%.0f commands/s)\n",
		r.IdleWorkerCPU, r.IdleRedisCPU, r.IdleRedisCmds)
}

func f2(v float64) string { return fmt.Sprintf("%.2f", v) }

// thousands formats a rate with separators: 12,345.
func thousands(v float64) string {
	s := fmt.Sprintf("%.0f", v)
	var b strings.Builder
	for i, c := range s {
		if i > 0 && (len(s)-i)%3 == 0 {
			b.WriteByte(',')
		}
		b.WriteRune(c)
	}
	return b.String()
}

func (r *report) write(path string) error {
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return err
	}
	b, err := json.MarshalIndent(r, "", "  ")
	if err != nil {
		return err
	}
	return os.WriteFile(path, append(b, '\n'), 0o644)
}

func loadAverage() string {
	b, err := os.ReadFile("/proc/loadavg")
	if err != nil {
		return "unknown"
	}
	f := strings.Fields(string(b))
	if len(f) < 3 {
		return "unknown"
	}
	return strings.Join(f[:3], " ")
}

func cpuModel() string {
	b, err := os.ReadFile("/proc/cpuinfo")
	if err != nil {
		return "unknown"
	}
	for line := range strings.SplitSeq(string(b), "\n") {
		if k, v, ok := strings.Cut(line, ":"); ok && strings.TrimSpace(k) == "model name" {
			return strings.TrimSpace(v)
		}
	}
	return "unknown"
}

// busy reports whether the 1-minute figure of a load average is above
// limit.
func busy(load string, limit float64) bool {
	f := strings.Fields(load)
	if len(f) == 0 {
		return false
	}
	v, err := strconv.ParseFloat(f[0], 64)
	return err == nil && v > limit
}
