package teststack

import (
	"sync"
	"time"
)

// Clock is real time plus an offset that only grows. Shared by a worker,
// an operator and the simulator (fpsim.Config.Now), it lets a test jump
// past a deadline, a settle window or a settlement delay without sleeping;
// records written with real time stay in the past of every reading.
type Clock struct {
	mu  sync.Mutex
	off time.Duration
}

// Now is the real time plus the offset.
func (c *Clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return time.Now().Add(c.off)
}

// Advance moves the clock d further ahead of real time.
func (c *Clock) Advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.off += d
}
