package main

import (
	"context"
	"errors"
	"path/filepath"
	"time"

	"github.com/refundq/refundq/internal/testenv"
)

// redisServer is the run's redis-server with the documented production
// durability, appendfsync always.
type redisServer struct{ *testenv.Redis }

func startRedis(rec *recorder, dir string) (*redisServer, error) {
	dir = filepath.Join(dir, "redis")
	if err := mkdir(dir); err != nil {
		return nil, err
	}
	log := filepath.Join(dir, "redis.log")
	r, err := testenv.Launch(dir, testenv.WithAOF(), testenv.WithLogFile(log),
		// Reloading the run's AOF after the restart takes a while.
		testenv.WithReadyTimeout(60*time.Second),
		testenv.WithUnexpectedExit(func(err error) { rec.violate("redis-server exited on its own: %v (log %s)", err, log) }))
	if err != nil {
		return nil, err
	}
	return &redisServer{r}, nil
}

// restart SIGKILLs the server, as a crash would, keeps it down for down,
// then starts it on the same port and directory so it reloads the AOF.
func (r *redisServer) restart(ctx context.Context, down time.Duration) error {
	r.Kill()
	if len(r.AOFFiles()) == 0 {
		return errors.New("redis-server left no append-only files: the restart would prove nothing")
	}
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-time.After(down):
	}
	return r.Start()
}
