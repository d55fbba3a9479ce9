package main

import (
	"context"
	"fmt"
	"path/filepath"
	"strings"

	"github.com/refundq/refundq/internal/testenv"
)

// redisServer is the one redis-server every phase of the benchmark runs on,
// started by testenv on a free loopback port in the run's directory.
type redisServer struct {
	*testenv.Redis
	version string
}

// startRedis starts redis-server without persistence, or with AOF and
// appendfsync everysec when aof is set.
func startRedis(ctx context.Context, dir string, aof bool) (*redisServer, error) {
	var opts []testenv.RedisOption
	if aof {
		opts = append(opts, testenv.WithAppendFsync("everysec"))
	}
	r, err := testenv.Launch(filepath.Join(dir, "redis"), opts...)
	if err != nil {
		return nil, err
	}
	c := r.Client()
	defer c.Close()
	info, err := c.Info(ctx, "server").Result()
	if err != nil {
		r.Stop()
		return nil, fmt.Errorf("redis-server version: %w", err)
	}
	return &redisServer{Redis: r, version: infoField(info, "redis_version")}, nil
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
