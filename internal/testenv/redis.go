// Package testenv starts real services for tests: a redis-server on a free
// loopback port in a temporary directory, stopped when the test ends.
package testenv

import (
	"context"
	"errors"
	"fmt"
	"net"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
)

// Redis is one redis-server process owned by a test.
type Redis struct {
	t    testing.TB
	dir  string
	port int
	aof  bool
	// conf and extra let the topology helpers (sentinel.go, cluster.go)
	// start sentinels, cluster nodes and TLS servers with the same code.
	conf  string
	extra []string
	cmd   *exec.Cmd
	done  chan struct{}
}

// RedisOption configures StartRedis.
type RedisOption func(*Redis)

// WithAOF turns on appendonly with appendfsync always: the production
// durability setting, for tests that restart Redis.
func WithAOF() RedisOption { return func(r *Redis) { r.aof = true } }

// WithArgs appends redis-server command-line settings, e.g. "--requirepass", "pw".
func WithArgs(args ...string) RedisOption {
	return func(r *Redis) { r.extra = append(r.extra, args...) }
}

// StartRedis starts redis-server and stops it at the end of the test. It
// fails the test when redis-server is not installed: `make test` installs it.
func StartRedis(t testing.TB, opts ...RedisOption) *Redis {
	t.Helper()
	bin, err := exec.LookPath("redis-server")
	if err != nil {
		t.Fatalf("redis-server is not installed (make test installs it): %v", err)
	}
	r := &Redis{t: t, dir: t.TempDir(), port: FreePort(t)}
	for _, o := range opts {
		o(r)
	}
	r.start(bin)
	t.Cleanup(r.Stop)
	return r
}

// Addr is host:port of the server.
func (r *Redis) Addr() string { return "127.0.0.1:" + strconv.Itoa(r.port) }

// URL is a redis:// URL for the server.
func (r *Redis) URL() string { return "redis://" + r.Addr() + "/0" }

// Client returns a go-redis client closed at the end of the test.
func (r *Redis) Client() *redis.Client {
	c := redis.NewClient(&redis.Options{Addr: r.Addr()})
	r.t.Cleanup(func() { _ = c.Close() })
	return c
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
	if r.aof {
		a = append(a, "--appendonly", "yes", "--appendfsync", "always")
	}
	return append(a, r.extra...)
}

func (r *Redis) start(bin string) {
	r.t.Helper()
	r.cmd = exec.Command(bin, r.args()...)
	r.cmd.Stdout, r.cmd.Stderr = nil, nil
	r.cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	if err := r.cmd.Start(); err != nil {
		r.t.Fatalf("start redis-server: %v", err)
	}
	r.done = make(chan struct{})
	go func(c *exec.Cmd, done chan struct{}) { _ = c.Wait(); close(done) }(r.cmd, r.done)
	r.waitReady()
}

func (r *Redis) waitReady() {
	r.t.Helper()
	c := redis.NewClient(&redis.Options{Addr: r.Addr(), MaxRetries: -1})
	defer c.Close()
	deadline := time.Now().Add(20 * time.Second)
	for {
		ctx, cancel := context.WithTimeout(context.Background(), time.Second)
		err := c.Ping(ctx).Err()
		cancel()
		var reply redis.Error
		if err == nil || errors.As(err, &reply) {
			return // an error reply (NOAUTH) still means it is serving
		}
		select {
		case <-r.done:
			r.t.Fatalf("redis-server exited at start (dir %s)", r.dir)
		default:
		}
		if time.Now().After(deadline) {
			r.t.Fatalf("redis-server not ready on %s: %v", r.Addr(), err)
		}
		time.Sleep(20 * time.Millisecond) // polling a process we just started; nothing to wait on
	}
}

// Kill stops the server with SIGKILL, as a crash would: with AOF on, every
// acknowledged write is already on disk.
func (r *Redis) Kill() { r.signal(syscall.SIGKILL) }

// Stop shuts the server down with SIGTERM.
func (r *Redis) Stop() { r.signal(syscall.SIGTERM) }

func (r *Redis) signal(sig syscall.Signal) {
	if r.cmd == nil || r.cmd.Process == nil {
		return
	}
	_ = r.cmd.Process.Signal(sig)
	select {
	case <-r.done:
	case <-time.After(10 * time.Second):
		_ = r.cmd.Process.Kill()
		<-r.done
	}
	r.cmd = nil
}

// Restart kills the server and starts it again on the same port and data
// directory, so it reloads the AOF.
func (r *Redis) Restart() {
	r.t.Helper()
	r.Kill()
	bin, _ := exec.LookPath("redis-server")
	r.start(bin)
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
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatalf("free port: %v", err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port
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
