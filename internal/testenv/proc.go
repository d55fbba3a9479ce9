package testenv

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"sync/atomic"
	"syscall"
	"time"
)

// BuildRefundq builds cmd/refundq into dir with plain `go build`: no -race,
// because the children are the system under test and their speed shapes
// the run. It takes no testing.TB so the chaos run, a plain program, can
// use it too.
func BuildRefundq(ctx context.Context, dir string) (string, error) {
	bin := filepath.Join(dir, "refundq")
	out, err := exec.CommandContext(ctx, "go", "build", "-o", bin, "github.com/refundq/refundq/cmd/refundq").CombinedOutput()
	if err != nil {
		return "", fmt.Errorf("go build refundq: %w\n%s", err, out)
	}
	return bin, nil
}

// Process is a child process of a test or a run: redis-server, the
// simulator or a worker.
type Process struct {
	name     string
	cmd      *exec.Cmd
	done     chan struct{}
	stopping atomic.Bool
	err      error // the Wait result, valid once done is closed
}

// StartProcess starts bin with args and env, appending its output to
// logPath. unexpected, if not nil, is called with the Wait result when the
// process exits before Signal or Kill asked it to: a worker that dies on
// its own is usually the bug the caller is looking for.
func StartProcess(name, logPath, bin string, args, env []string, unexpected func(p *Process, err error)) (*Process, error) {
	log, err := os.OpenFile(logPath, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o600)
	if err != nil {
		return nil, fmt.Errorf("%s: log file: %w", name, err)
	}
	cmd := exec.Command(bin, args...)
	cmd.Env = env
	cmd.Stdout, cmd.Stderr = log, log
	// Pdeathsig takes the children down with the parent if it is killed
	// (a test timeout, ^C twice), so no process outlives a run.
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}
	if err := cmd.Start(); err != nil {
		_ = log.Close()
		return nil, fmt.Errorf("start %s: %w", name, err)
	}
	p := &Process{name: name, cmd: cmd, done: make(chan struct{})}
	go func() {
		p.err = cmd.Wait()
		_ = log.Close()
		close(p.done)
		if !p.stopping.Load() && unexpected != nil {
			unexpected(p, p.err)
		}
	}()
	return p, nil
}

// Name is the name the process was started with.
func (p *Process) Name() string { return p.name }

// Pid is the process id.
func (p *Process) Pid() int { return p.cmd.Process.Pid }

// Signal sends sig and waits up to timeout for the exit, then kills the
// process. The exit is expected from now on.
func (p *Process) Signal(sig syscall.Signal, timeout time.Duration) error {
	p.stopping.Store(true)
	if err := p.cmd.Process.Signal(sig); err != nil && !errors.Is(err, os.ErrProcessDone) {
		return fmt.Errorf("signal %s: %w", p.name, err)
	}
	select {
	case <-p.done:
		return nil
	case <-time.After(timeout):
		_ = p.cmd.Process.Kill()
		<-p.done
		return fmt.Errorf("%s did not exit within %s of %s; killed", p.name, timeout, sig)
	}
}

// Kill is SIGKILL: a crash, with no chance to clean up.
func (p *Process) Kill() error { return p.Signal(syscall.SIGKILL, 10*time.Second) }

// ExitCode is the exit code once the process has exited, -1 for death by
// signal.
func (p *Process) ExitCode() int { return p.cmd.ProcessState.ExitCode() }

// AltProfile is the path of the provider profile that provider-check wrote
// for the simulator's alt dialect.
func AltProfile() string {
	_, file, _, _ := runtime.Caller(0)
	return filepath.Join(filepath.Dir(file), "fpsim-alt.profile.yaml")
}
