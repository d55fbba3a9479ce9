package main

import (
	"context"
	"errors"
	"fmt"
	"os/exec"
	"path/filepath"
	"strconv"
	"syscall"
	"time"

	"github.com/redis/go-redis/v9"
)

// redisServer is the run's redis-server with the documented production
// durability, appendfsync always. internal/testenv does the same for tests
// but needs a testing.TB; the chaos run is also a plain program.
type redisServer struct {
	rec  *recorder
	bin  string
	dir  string
	port int
	proc *proc
}

func startRedis(rec *recorder, dir string) (*redisServer, error) {
	bin, err := exec.LookPath("redis-server")
	if err != nil {
		return nil, fmt.Errorf("redis-server is not installed (make deps installs it): %w", err)
	}
	port, err := freePort()
	if err != nil {
		return nil, err
	}
	r := &redisServer{rec: rec, bin: bin, dir: filepath.Join(dir, "redis"), port: port}
	if err := mkdir(r.dir); err != nil {
		return nil, err
	}
	return r, r.start()
}

func (r *redisServer) addr() string { return "127.0.0.1:" + strconv.Itoa(r.port) }
func (r *redisServer) url() string  { return "redis://" + r.addr() + "/0" }

func (r *redisServer) start() error {
	args := []string{
		"--port", strconv.Itoa(r.port), "--bind", "127.0.0.1", "--dir", r.dir,
		"--save", "", "--protected-mode", "no", "--daemonize", "no", "--loglevel", "warning",
		"--appendonly", "yes", "--appendfsync", "always",
	}
	p, err := launch(r.rec, "redis-server", filepath.Join(r.dir, "redis.log"), r.bin, args, nil)
	if err != nil {
		return err
	}
	r.proc = p
	return r.waitReady()
}

func (r *redisServer) waitReady() error {
	c := redis.NewClient(&redis.Options{Addr: r.addr(), MaxRetries: -1})
	defer c.Close()
	// Loading a large AOF answers LOADING errors until it is done: only a
	// clean PONG means the data is back.
	return waitUntil(60*time.Second, 20*time.Millisecond, "redis-server to serve "+r.addr(), func() bool {
		ctx, cancel := context.WithTimeout(context.Background(), time.Second)
		defer cancel()
		return c.Ping(ctx).Err() == nil
	})
}

// restart SIGKILLs the server, as a crash would, keeps it down for down,
// then starts it on the same port and directory so it reloads the AOF.
func (r *redisServer) restart(ctx context.Context, down time.Duration) error {
	if err := r.proc.Kill(); err != nil {
		return err
	}
	if len(r.aofFiles()) == 0 {
		return errors.New("redis-server left no append-only files: the restart would prove nothing")
	}
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-time.After(down):
	}
	return r.start()
}

func (r *redisServer) aofFiles() []string {
	m, _ := filepath.Glob(filepath.Join(r.dir, "appendonlydir", "*"))
	return m
}

func (r *redisServer) stop() { _ = r.proc.Signal(syscall.SIGTERM, 10*time.Second) }
