package main

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/refundq/refundq/internal/testenv"
)

// workerProc is a `refundq worker` child process: the production binary
// and wiring, with its own RSS.
type workerProc struct {
	cmd     *exec.Cmd
	done    chan struct{}
	health  string
	logPath string
	log     *os.File
}

// workerOpts is the worker configuration of one phase.
type workerOpts struct {
	concurrency  int
	pollSchedule string
	logLevel     string
	taskCheck    time.Duration
}

func startWorker(ctx context.Context, bin, redisURL, providerURL, logDir string, o workerOpts) (*workerProc, error) {
	port, err := testenv.PickPort()
	if err != nil {
		return nil, err
	}
	addr := "127.0.0.1:" + strconv.Itoa(port)
	logPath := filepath.Join(logDir, fmt.Sprintf("worker-%d.log", time.Now().UnixNano()))
	lf, err := os.Create(logPath)
	if err != nil {
		return nil, err
	}
	cmd := exec.Command(bin, "worker")
	cmd.Env = append(baseEnv(),
		"REFUNDQ_REDIS_URL="+redisURL,
		"REFUNDQ_PROVIDER_URL="+providerURL,
		"REFUNDQ_AUTH_ID="+benchAuthID,
		"REFUNDQ_SECRET="+benchSecret,
		"REFUNDQ_CONCURRENCY="+strconv.Itoa(o.concurrency),
		"REFUNDQ_POLL_SCHEDULE="+o.pollSchedule,
		"REFUNDQ_METRICS_ADDR="+addr,
		"REFUNDQ_LOG_LEVEL="+o.logLevel,
		"REFUNDQ_TASK_CHECK_INTERVAL="+o.taskCheck.String(),
	)
	cmd.Stdout, cmd.Stderr = lf, lf
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	if err := cmd.Start(); err != nil {
		lf.Close()
		return nil, fmt.Errorf("start refundq worker: %w", err)
	}
	w := &workerProc{cmd: cmd, done: make(chan struct{}), health: "http://" + addr + "/healthz", logPath: logPath, log: lf}
	go func() { _ = cmd.Wait(); close(w.done) }()
	if err := w.waitHealthy(ctx); err != nil {
		w.stop()
		return nil, err
	}
	return w, nil
}

// baseEnv is this process's environment without REFUNDQ_ settings, so a
// developer's shell cannot change what is measured.
func baseEnv() []string {
	var out []string
	for _, kv := range os.Environ() {
		if !strings.HasPrefix(kv, "REFUNDQ_") {
			out = append(out, kv)
		}
	}
	return out
}

func (w *workerProc) waitHealthy(ctx context.Context) error {
	deadline := time.Now().Add(30 * time.Second)
	for {
		req, _ := http.NewRequestWithContext(ctx, http.MethodGet, w.health, nil)
		if res, err := http.DefaultClient.Do(req); err == nil {
			res.Body.Close()
			if res.StatusCode == http.StatusOK {
				return nil
			}
		}
		select {
		case <-w.done:
			return fmt.Errorf("refundq worker exited at start; see %s", w.logPath)
		case <-ctx.Done():
			return ctx.Err()
		default:
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("refundq worker not healthy after 30s; see %s", w.logPath)
		}
		time.Sleep(20 * time.Millisecond) // a process we just started: nothing to wait on
	}
}

// exited reports an early exit of the worker, which fails the phase.
func (w *workerProc) exited() error {
	select {
	case <-w.done:
		return fmt.Errorf("refundq worker exited early; see %s", w.logPath)
	default:
		return nil
	}
}

// memory reads the worker's current and peak resident set size in bytes.
func (w *workerProc) memory() (rss, peak int64, err error) { return procMemory(w.cmd.Process.Pid) }

func (w *workerProc) cpu() time.Duration {
	d, _ := procCPU(w.cmd.Process.Pid)
	return d
}

// procMemory reads a process's VmRSS and VmHWM (peak RSS) in bytes.
func procMemory(pid int) (rss, peak int64, err error) {
	f, err := os.Open(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return 0, 0, fmt.Errorf("worker memory: %w", err)
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		k, v, _ := strings.Cut(sc.Text(), ":")
		kb, _ := strconv.ParseInt(strings.TrimSuffix(strings.TrimSpace(v), " kB"), 10, 64)
		switch k {
		case "VmRSS":
			rss = kb * 1024
		case "VmHWM":
			peak = kb * 1024
		}
	}
	if peak == 0 {
		return 0, 0, errors.New("worker memory: no VmHWM in /proc status")
	}
	return rss, peak, sc.Err()
}

// stop asks the worker to shut down gracefully and waits for it.
func (w *workerProc) stop() {
	defer w.log.Close()
	_ = w.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-w.done:
	case <-time.After(60 * time.Second):
		_ = w.cmd.Process.Kill()
		<-w.done
	}
}
