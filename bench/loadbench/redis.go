package main

import (
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/redis/go-redis/v9"
)

// redisServer is the one redis-server every phase of the benchmark runs on,
// started on a free loopback port in a temporary directory.
type redisServer struct {
	addr    string
	dir     string
	version string
	// persistence says how it was started, for the report.
	persistence string
	cmd         *exec.Cmd
	done        chan struct{}
}

// startRedis starts redis-server without persistence, or with AOF and
// appendfsync everysec when aof is set.
func startRedis(ctx context.Context, aof bool) (*redisServer, error) {
	bin, err := exec.LookPath("redis-server")
	if err != nil {
		return nil, fmt.Errorf("redis-server is not installed (make deps installs it): %w", err)
	}
	dir, err := os.MkdirTemp("", "loadbench-redis-")
	if err != nil {
		return nil, err
	}
	port, err := freePort()
	if err != nil {
		return nil, err
	}
	r := &redisServer{addr: "127.0.0.1:" + strconv.Itoa(port), dir: dir, persistence: "no persistence (no AOF, no RDB)"}
	args := []string{"--port", strconv.Itoa(port), "--bind", "127.0.0.1", "--dir", dir, "--save", "",
		"--protected-mode", "no", "--daemonize", "no", "--loglevel", "warning"}
	if aof {
		args = append(args, "--appendonly", "yes", "--appendfsync", "everysec")
		r.persistence = "AOF with appendfsync everysec"
	}
	r.cmd = exec.Command(bin, args...)
	r.cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	if err := r.cmd.Start(); err != nil {
		return nil, fmt.Errorf("start redis-server: %w", err)
	}
	r.done = make(chan struct{})
	go func() { _ = r.cmd.Wait(); close(r.done) }()
	if err := r.waitReady(ctx); err != nil {
		r.stop()
		return nil, err
	}
	return r, nil
}

func (r *redisServer) waitReady(ctx context.Context) error {
	c := redis.NewClient(&redis.Options{Addr: r.addr, MaxRetries: -1})
	defer c.Close()
	deadline := time.Now().Add(20 * time.Second)
	for {
		info, err := c.Info(ctx, "server").Result()
		if err == nil {
			r.version = infoField(info, "redis_version")
			return nil
		}
		select {
		case <-r.done:
			return errors.New("redis-server exited at start")
		default:
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("redis-server not ready on %s: %w", r.addr, err)
		}
		time.Sleep(20 * time.Millisecond) // a process we just started: nothing to wait on
	}
}

func (r *redisServer) url() string { return "redis://" + r.addr + "/0" }

func (r *redisServer) stop() {
	if r.cmd == nil || r.cmd.Process == nil {
		return
	}
	_ = r.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-r.done:
	case <-time.After(10 * time.Second):
		_ = r.cmd.Process.Kill()
		<-r.done
	}
	_ = os.RemoveAll(r.dir)
}

func freePort() (int, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, fmt.Errorf("free port: %w", err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port, nil
}

// infoField reads one "key:value" line of an INFO reply.
func infoField(info, key string) string {
	for line := range strings.SplitSeq(info, "\r\n") {
		if v, ok := strings.CutPrefix(line, key+":"); ok {
			return v
		}
	}
	return ""
}
