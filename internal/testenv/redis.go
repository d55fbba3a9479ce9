// Package testenv starts real services for tests: a redis-server on a free
// loopback port in a temporary directory, stopped when the test ends. The
// benchmarks and the chaos run, which are plain programs, start theirs with
// Launch.
package testenv

import (
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
)

// Redis is one redis-server process, owned by a test (StartRedis) or by a
// plain program such as a benchmark (Launch).
type Redis struct {
	t    testing.TB // nil for a launched server
	bin  string
	dir  string
	port int
	// fsync is the appendfsync policy; empty means no AOF.
	fsync string
	// logPath receives the server's output; empty discards it.
	logPath string
	// ready bounds the wait for a server that is loading its data.
	ready time.Duration
	// exited, if set, hears of an exit nobody asked for.
	exited func(error)
	// conf and extra let the topology helpers (sentinel.go, cluster.go)
	// start sentinels, cluster nodes and TLS servers with the same code.
	conf     string
	extra    []string
	setupErr error
	proc     *Process
}

// RedisOption configures StartRedis and Launch.
type RedisOption func(*Redis)

// WithAOF turns on appendonly with appendfsync always: the production
// durability setting, for tests that restart Redis.
func WithAOF() RedisOption { return WithAppendFsync("always") }

// WithAppendFsync turns on appendonly with the appendfsync policy given
// (always, everysec or no).
func WithAppendFsync(policy string) RedisOption { return func(r *Redis) { r.fsync = policy } }

// WithArgs appends redis-server command-line settings, e.g. "--requirepass", "pw".
func WithArgs(args ...string) RedisOption {
	return func(r *Redis) { r.extra = append(r.extra, args...) }
}

// WithLogFile appends the server's output to path.
func WithLogFile(path string) RedisOption { return func(r *Redis) { r.logPath = path } }

// WithReadyTimeout bounds how long a start waits for the server to serve
// (default 20s); reloading a large AOF takes longer.
func WithReadyTimeout(d time.Duration) RedisOption { return func(r *Redis) { r.ready = d } }

// WithUnexpectedExit has f called with the Wait result when the server
// exits without Stop, Kill or Restart asking it to.
func WithUnexpectedExit(f func(error)) RedisOption { return func(r *Redis) { r.exited = f } }

// StartRedis starts redis-server and stops it at the end of the test. It
// fails the test when redis-server is not installed: `make test` installs it.
func StartRedis(t testing.TB, opts ...RedisOption) *Redis {
	t.Helper()
	r, err := newRedis(t.TempDir(), FreePort(t), opts)
	if err == nil {
		r.t = t
		err = r.Start()
	}
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(r.Stop)
	return r
}

// Launch starts redis-server in dir, made if missing, for a program that is
// not a test (a benchmark, the chaos run). The caller stops it with Stop.
func Launch(dir string, opts ...RedisOption) (*Redis, error) {
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, fmt.Errorf("redis-server directory: %w", err)
	}
	port, err := PickPort()
	if err != nil {
		return nil, err
	}
	r, err := newRedis(dir, port, opts)
	if err != nil {
		return nil, err
	}
	return r, r.Start()
}

func newRedis(dir string, port int, opts []RedisOption) (*Redis, error) {
	bin, err := exec.LookPath("redis-server")
	if err != nil {
		return nil, fmt.Errorf("redis-server is not installed (make deps installs it): %w", err)
	}
	r := &Redis{bin: bin, dir: dir, port: port, ready: 20 * time.Second}
	for _, o := range opts {
		o(r)
	}
	return r, r.setupErr
}

// Addr is host:port of the server.
func (r *Redis) Addr() string { return "127.0.0.1:" + strconv.Itoa(r.port) }

// URL is a redis:// URL for the server.
func (r *Redis) URL() string { return "redis://" + r.Addr() + "/0" }

// Client returns a go-redis client, closed at the end of the test when a
// test owns the server.
func (r *Redis) Client() *redis.Client {
	c := redis.NewClient(&redis.Options{Addr: r.Addr()})
	if r.t != nil {
		r.t.Cleanup(func() { _ = c.Close() })
	}
	return c
}

// Persistence describes how the server keeps its data, for reports.
func (r *Redis) Persistence() string {
	if r.fsync == "" {
		return "no persistence (no AOF, no RDB)"
	}
	return "AOF with appendfsync " + r.fsync
}

func (r *Redis) args() []string {
	var a []string
	if r.conf != "" {
		a = append(a, r.conf) // redis-server wants the file first
	}
	a = append(a,
		"--port", strconv.Itoa(r.port), "--bind", "127.0.0.1", "--dir", r.dir,
		"--save", "", "--protected-mode", "no", "--daemonize", "no", "--loglevel", "warning",
	)
	if r.fsync != "" {
		a = append(a, "--appendonly", "yes", "--appendfsync", r.fsync)
	}
	return append(a, r.extra...)
}

// Start starts the server, or starts it again on the same port and data
// directory after Kill or Stop, and waits until it serves.
func (r *Redis) Start() error {
	logPath := r.logPath
	if logPath == "" {
		logPath = os.DevNull
	}
	p, err := StartProcess("redis-server", logPath, r.bin, r.args(), nil, func(_ *Process, err error) {
		if r.exited != nil {
			r.exited(err)
		}
	})
	if err != nil {
		return err
	}
	r.proc = p
	if err := r.waitReady(); err != nil {
		r.Kill()
		return err
	}
	return nil
}

// waitReady waits for the server to answer. An error reply (NOAUTH) still
// means it is serving; LOADING means it is reading its AOF, and only a
// server that has read it all has the data back.
func (r *Redis) waitReady() error {
	c := redis.NewClient(&redis.Options{Addr: r.Addr(), MaxRetries: -1})
	defer c.Close()
	var err error
	var exited bool
	serving := Poll(r.ready, 20*time.Millisecond, func() bool {
		ctx, cancel := context.WithTimeout(context.Background(), time.Second)
		defer cancel()
		err = c.Ping(ctx).Err()
		var reply redis.Error
		if err == nil || errors.As(err, &reply) && !strings.HasPrefix(err.Error(), "LOADING") {
			return true
		}
		select {
		case <-r.proc.done:
			err, exited = fmt.Errorf("exited at start: %w", r.proc.err), true
			return true
		default:
			return false
		}
	})
	if !serving || exited {
		return fmt.Errorf("redis-server on %s (dir %s) not serving: %w", r.Addr(), r.dir, err)
	}
	return nil
}

// Kill stops the server with SIGKILL, as a crash would: with AOF on, every
// acknowledged write is already on disk.
func (r *Redis) Kill() { r.signal(syscall.SIGKILL) }

// Stop shuts the server down with SIGTERM.
func (r *Redis) Stop() { r.signal(syscall.SIGTERM) }

func (r *Redis) signal(sig syscall.Signal) {
	if r.proc == nil {
		return
	}
	_ = r.proc.Signal(sig, 10*time.Second)
	r.proc = nil
}

// Restart kills the server and starts it again on the same port and data
// directory, so it reloads the AOF; it fails the test if it cannot.
func (r *Redis) Restart() {
	r.t.Helper()
	r.Kill()
	if err := r.Start(); err != nil {
		r.t.Fatal(err)
	}
}

// Dir is the server's data directory.
func (r *Redis) Dir() string { return r.dir }

// AOFFiles lists the append-only files on disk, to prove durability tests
// really ran with AOF.
func (r *Redis) AOFFiles() []string {
	m, _ := filepath.Glob(filepath.Join(r.dir, "appendonlydir", "*"))
	return m
}

// FreePort asks the kernel for a free loopback port.
func FreePort(t testing.TB) int {
	t.Helper()
	port, err := PickPort()
	if err != nil {
		t.Fatal(err)
	}
	return port
}

// PickPort asks the kernel for a free loopback port, for a program without
// a testing.TB (FreePort is the same for tests). Another process may
// take it before the child binds it; the child then fails to start, which
// is rare enough not to retry.
func PickPort() (int, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, fmt.Errorf("free port: %w", err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port, nil
}

// Must fails the test on err; a small helper for setup code.
func Must(t testing.TB, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(fmt.Errorf("setup: %w", err))
	}
}

// WaitFor polls cond until it holds, failing the test after timeout. Tests
// synchronize on conditions like this, never on bare sleeps.
func WaitFor(t testing.TB, timeout time.Duration, what string, cond func() bool) {
	t.Helper()
	if !Poll(timeout, 20*time.Millisecond, cond) {
		t.Fatalf("timed out after %s waiting for %s", timeout, what)
	}
}

// Poll calls cond every interval until it holds or timeout has passed, and
// reports whether it held. It is WaitFor for a caller that explains a
// timeout itself, or that is a plain program (bench/).
func Poll(timeout, interval time.Duration, cond func() bool) bool {
	deadline := time.Now().Add(timeout)
	for !cond() {
		if time.Now().After(deadline) {
			return false
		}
		time.Sleep(interval)
	}
	return true
}

// StartReplica starts a redis-server replicating primary and waits until
// it has caught up.
func StartReplica(t testing.TB, primary *Redis, opts ...RedisOption) *Redis {
	t.Helper()
	r := StartRedis(t, append(opts, WithArgs("--replicaof", "127.0.0.1", strconv.Itoa(primary.port)))...)
	c := r.Client()
	WaitFor(t, 20*time.Second, "the replica to sync", func() bool {
		info, err := c.Info(context.Background(), "replication").Result()
		return err == nil && strings.Contains(info, "master_link_status:up")
	})
	return r
}
