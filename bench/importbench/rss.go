package main

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/refundq/refundq/internal/testenv"
)

// An RSS run imports a generated file with the `refundq import` binary, as
// an operator would, and follows the child's peak resident set, VmHWM in
// /proc/PID/status. (Not getrusage's ru_maxrss: Go starts children with
// vfork, and Linux counts the parent's peak into the child's at exec.)
// Good files are
// keyless rows an operations spreadsheet would have; bad files have no
// valid row at all, of the kinds every version rejects, so the rejects
// file gets a line per row.
type rssRun struct {
	rows       int
	bad        bool
	binary     string // which refundq: "this" or a baseline revision
	maxRSS     int64  // bytes
	elapsed    time.Duration
	redisBytes int64 // used_memory after the run, less before
}

// bytesPerRefund is Redis's memory per queued refund (docs/performance.md:
// about 1.5 KB), with room for the allocator, to check a 10M-row run fits.
const bytesPerRefund = 1700

func runRSS(ctx context.Context, s settings, dir string, rdb redis.UniversalClient, url string, out io.Writer) ([]rssRun, error) {
	bins := map[string]string{}
	bin, err := testenv.BuildRefundq(ctx, dir)
	if err != nil {
		return nil, err
	}
	bins["this"] = bin
	if s.baseline != "" {
		if bins[s.baseline], err = buildRevision(ctx, dir, s.baseline); err != nil {
			return nil, err
		}
	}
	var runs []rssRun
	for _, n := range s.rssRows {
		for _, bad := range []bool{true, false} {
			path, err := writeRSSFile(dir, n, bad)
			if err != nil {
				return nil, err
			}
			for _, name := range []string{s.baseline, "this"} {
				if name == "" || name == s.baseline && n > s.baselineMax {
					continue
				}
				if !bad {
					if need, have := int64(n)*bytesPerRefund, memAvailable(); need > have {
						fmt.Fprintf(out, "  skip %d good rows: Redis needs about %.1f GB, %.1f GB available\n",
							n, float64(need)/1e9, float64(have)/1e9)
						continue
					}
				}
				r, err := measureRSS(ctx, rdb, url, bins[name], path, n, bad)
				if err != nil {
					return nil, fmt.Errorf("%s, %d rows (bad %v): %w", name, n, bad, err)
				}
				r.binary = name
				fmt.Fprint(out, r.line())
				runs = append(runs, r)
			}
			if err := os.Remove(path); err != nil {
				return nil, err
			}
		}
	}
	return runs, nil
}

func (r rssRun) line() string {
	return fmt.Sprintf("  %-8s %9d %-4s rows: peak RSS %6.1f MiB, %7.1fs, %7.0f rows/s, Redis +%.2f GB\n",
		r.binary, r.rows, kind(r.bad), float64(r.maxRSS)/(1<<20), r.elapsed.Seconds(),
		float64(r.rows)/r.elapsed.Seconds(), float64(max(r.redisBytes, 0))/1e9)
}

func kind(bad bool) string {
	if bad {
		return "bad"
	}
	return "good"
}

var summaryLine = regexp.MustCompile(`(?m)^(accepted|rejected)\s+(\d+)$`)

func measureRSS(ctx context.Context, rdb redis.UniversalClient, url, bin, path string, n int, bad bool) (rssRun, error) {
	if err := rdb.FlushAll(ctx).Err(); err != nil {
		return rssRun{}, err
	}
	before := usedMemory(ctx, rdb)
	cmd := exec.CommandContext(ctx, bin, "import", path, "--rejects", path+".rejects.csv")
	cmd.Env = append(os.Environ(), "REFUNDQ_REDIS_URL="+url)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	start := time.Now()
	if err := cmd.Start(); err != nil {
		return rssRun{}, err
	}
	peak := followHWM(cmd.Process.Pid)
	err := cmd.Wait()
	el := time.Since(start)
	if cmd.ProcessState == nil {
		return rssRun{}, err
	}
	got := map[string]int{}
	for _, m := range summaryLine.FindAllStringSubmatch(stdout.String(), -1) {
		got[m[1]], _ = strconv.Atoi(m[2])
	}
	if want := map[bool]string{true: "rejected", false: "accepted"}[bad]; got[want] != n {
		return rssRun{}, fmt.Errorf("%s %d of %d rows (%v)\n%s%s", want, got[want], n, err, stdout.String(), lastLines(stderr.String(), 5))
	}
	r := rssRun{rows: n, bad: bad, elapsed: el, redisBytes: usedMemory(ctx, rdb) - before, maxRSS: <-peak}
	_ = os.Remove(path + ".rejects.csv")
	return r, nil
}

// followHWM reads the VmHWM of process pid every 20ms until it is gone,
// and then sends the last value: the high-water mark only grows, so the
// last read is the peak but for the child's last milliseconds.
func followHWM(pid int) <-chan int64 {
	out := make(chan int64, 1)
	go func() {
		var peak int64
		for {
			hwm, ok := vmHWM(pid)
			if !ok {
				out <- peak
				return
			}
			peak = max(peak, hwm)
			time.Sleep(20 * time.Millisecond) // sampling another process: nothing to wait on
		}
	}()
	return out
}

// vmHWM is the VmHWM of pid in bytes; false once the process has exited.
func vmHWM(pid int) (int64, bool) {
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/status")
	if err != nil {
		return 0, false
	}
	return kBField(b, "VmHWM:") // a zombie has no memory lines
}

func lastLines(s string, n int) string {
	l := strings.Split(strings.TrimSpace(s), "\n")
	return strings.Join(l[max(0, len(l)-n):], "\n")
}

// badRows are invalid rows of the kinds every version rejects.
var badRows = []string{
	"order-%09d,txn-%09d,0,zero",
	"order-%09d,txn-%09d,ten,a word",
	"order %09d,txn-%09d,1.00,a space",
	"order-%09d,txn-%09d,1.00",
	"order-%09d,txn-%09d,-5,negative",
	"order-%09d,txn-%09d,1e3,exponent",
}

// writeRSSFile writes n rows: distinct keyless refunds, or rows that are
// all invalid (badRows in turn).
func writeRSSFile(dir string, n int, bad bool) (string, error) {
	path := filepath.Join(dir, fmt.Sprintf("rss-%d-%s.csv", n, kind(bad)))
	f, err := os.Create(path)
	if err != nil {
		return "", err
	}
	w := bufio.NewWriterSize(f, 1<<20)
	fmt.Fprintln(w, "order_id,transaction_id,amount,description")
	for i := 1; i <= n; i++ {
		if !bad {
			fmt.Fprintf(w, "order-%09d,txn-%09d,10.50,goodwill refund %d\n", i, i, i)
			continue
		}
		fmt.Fprintf(w, badRows[i%len(badRows)]+"\n", i, i)
	}
	if err := w.Flush(); err != nil {
		f.Close()
		return "", err
	}
	return path, f.Close()
}

// buildRevision builds refundq as it was at rev, from git, without
// touching any worktree.
func buildRevision(ctx context.Context, dir, rev string) (string, error) {
	src := filepath.Join(dir, "src-"+rev)
	if err := os.MkdirAll(src, 0o755); err != nil {
		return "", err
	}
	archive := exec.CommandContext(ctx, "git", "archive", rev)
	untar := exec.CommandContext(ctx, "tar", "-x", "-C", src)
	pipe, err := archive.StdoutPipe()
	if err != nil {
		return "", err
	}
	untar.Stdin = pipe
	if err := untar.Start(); err != nil {
		return "", err
	}
	if err := archive.Run(); err != nil {
		return "", fmt.Errorf("git archive %s: %w", rev, err)
	}
	if err := untar.Wait(); err != nil {
		return "", err
	}
	bin := filepath.Join(dir, "refundq-"+rev)
	build := exec.CommandContext(ctx, "go", "build", "-o", bin, "./cmd/refundq")
	build.Dir = src
	if out, err := build.CombinedOutput(); err != nil {
		return "", fmt.Errorf("build %s: %w\n%s", rev, err, out)
	}
	return bin, nil
}

func usedMemory(ctx context.Context, rdb redis.UniversalClient) int64 {
	info, err := rdb.Info(ctx, "memory").Result()
	if err != nil {
		return 0
	}
	for _, line := range strings.Split(info, "\n") {
		if v, ok := strings.CutPrefix(strings.TrimSpace(line), "used_memory:"); ok {
			n, _ := strconv.ParseInt(v, 10, 64)
			return n
		}
	}
	return 0
}

// memAvailable is MemAvailable from /proc/meminfo, in bytes.
func memAvailable() int64 {
	b, err := os.ReadFile("/proc/meminfo")
	if err != nil {
		return 0
	}
	n, _ := kBField(b, "MemAvailable:")
	return n
}

// kBField reads a "Name:   1234 kB" line of a /proc file, in bytes.
func kBField(b []byte, name string) (int64, bool) {
	for _, line := range strings.Split(string(b), "\n") {
		if v, ok := strings.CutPrefix(line, name); ok {
			kb, _ := strconv.ParseInt(strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(v), "kB")), 10, 64)
			return kb << 10, true
		}
	}
	return 0, false
}
