package main

import (
	"context"
	"fmt"
	"os"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// clockTick is the unit of /proc/<pid>/stat times (USER_HZ, 100 on Linux).
const clockTick = 10 * time.Millisecond

// procCPU is the user+system CPU time a process has used so far.
func procCPU(pid int) (time.Duration, error) {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return 0, err
	}
	// The command name may hold spaces: fields count from after its ')'.
	s := string(b)
	f := strings.Fields(s[strings.LastIndexByte(s, ')')+1:])
	if len(f) < 13 {
		return 0, fmt.Errorf("short /proc/%d/stat", pid)
	}
	utime, _ := strconv.ParseInt(f[11], 10, 64)
	stime, _ := strconv.ParseInt(f[12], 10, 64)
	return time.Duration(utime+stime) * clockTick, nil
}

// selfCPU is the CPU time this process (raw asynq, the producer, the
// simulator, the observer) has used so far.
func selfCPU() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// cost is the CPU one unit of work took: in this process (the client
// side) and in redis-server, in µs.
type cost struct{ client, redis float64 }

// costOf runs f, which does n units of work in this process, and returns
// the CPU per unit it took.
func (b *bench) costOf(ctx context.Context, n int, f func() error) (cost, error) {
	s0, err := b.obs.snapshot(ctx)
	if err != nil {
		return cost{}, err
	}
	self := selfCPU()
	if err := f(); err != nil {
		return cost{}, err
	}
	self = selfCPU() - self
	s1, err := b.obs.snapshot(ctx)
	if err != nil {
		return cost{}, err
	}
	return cost{client: float64(self) / float64(time.Microsecond) / float64(n),
		redis: s0.to(s1).cpuSeconds * 1e6 / float64(n)}, nil
}
