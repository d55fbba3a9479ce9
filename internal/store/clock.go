package store

import (
	"context"
	"sync"
	"time"

	"github.com/redis/go-redis/v9"
)

// clockRefresh is how often ServerClock re-measures Redis's clock.
const clockRefresh = 10 * time.Second

// ServerClock returns Redis's clock as seen from this process: local time
// plus an offset to the server's TIME, measured now and every ten seconds.
// Every refundq process that shares a Redis stamps and compares times by
// it, so the settle window and the deadline do not depend on how well the
// hosts' own clocks agree. When Redis cannot be asked, the last offset
// stands (zero at first).
func ServerClock(rdb redis.UniversalClient) func() time.Time { return ServerClockOf(rdb, time.Now) }

// ServerClockOf is ServerClock for a host whose own clock is local, which
// may be wrong by any amount.
func ServerClockOf(rdb redis.UniversalClient, local func() time.Time) func() time.Time {
	c := &serverClock{rdb: rdb, local: local} // measured on first use
	return c.now
}

type serverClock struct {
	rdb      redis.UniversalClient
	local    func() time.Time
	mu       sync.Mutex
	offset   time.Duration
	measured time.Time // by time.Now, for its monotonic reading
}

func (c *serverClock) now() time.Time {
	c.mu.Lock()
	stale := c.measured.IsZero() || time.Since(c.measured) > clockRefresh
	off := c.offset
	c.mu.Unlock()
	if stale {
		off = c.measure()
	}
	return c.local().Add(off)
}

// measure reads TIME and takes the middle of the round trip as the moment
// the server read its clock.
func (c *serverClock) measure() time.Duration {
	ctx, cancel := context.WithTimeout(context.Background(), time.Second)
	defer cancel()
	sent := c.local()
	server, err := c.rdb.Time(ctx).Result()
	back := c.local()
	c.mu.Lock()
	defer c.mu.Unlock()
	c.measured = time.Now()
	if err == nil {
		c.offset = server.Sub(sent.Add(back.Sub(sent) / 2))
	}
	return c.offset
}
