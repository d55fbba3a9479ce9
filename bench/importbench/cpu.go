package main

import (
	"context"
	"fmt"
	"io"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/redis/go-redis/v9"
)

// cpuMeter splits each measurement's CPU time between this process and
// redis-server, in microseconds per row: on a small machine the two share
// the cores, so either side's cost caps the rate.
type cpuMeter struct {
	rdb        redis.UniversalClient
	self0, rd0 time.Duration
	lines      []string
}

func (c *cpuMeter) start(ctx context.Context) {
	c.self0, c.rd0 = selfCPU(), redisCPU(ctx, c.rdb)
}

func (c *cpuMeter) stop(ctx context.Context, what string, rows int) {
	self, rd := selfCPU()-c.self0, redisCPU(ctx, c.rdb)-c.rd0
	per := func(d time.Duration) float64 { return float64(d.Microseconds()) / float64(rows) }
	c.lines = append(c.lines, fmt.Sprintf("  cpu %-6s: go %5.1f µs/row, redis %5.1f µs/row", what, per(self), per(rd)))
}

func (c *cpuMeter) print(w io.Writer) {
	for _, l := range c.lines {
		fmt.Fprintln(w, l)
	}
}

func selfCPU() time.Duration {
	var ru syscall.Rusage
	_ = syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

func redisCPU(ctx context.Context, rdb redis.UniversalClient) time.Duration {
	info, err := rdb.Info(ctx, "cpu").Result()
	if err != nil {
		return 0
	}
	var total float64
	for _, line := range strings.Split(info, "\n") {
		k, v, ok := strings.Cut(strings.TrimSpace(line), ":")
		if ok && (k == "used_cpu_sys" || k == "used_cpu_user") {
			f, _ := strconv.ParseFloat(v, 64)
			total += f
		}
	}
	return time.Duration(total * float64(time.Second))
}

// printCommandStats shows where Redis spent its time, commands run inside
// scripts included, then resets the counters.
func printCommandStats(ctx context.Context, rdb redis.UniversalClient, w io.Writer) {
	info, err := rdb.Info(ctx, "commandstats").Result()
	if err != nil {
		return
	}
	for _, line := range strings.Split(info, "\n") {
		if strings.HasPrefix(line, "cmdstat_") {
			fmt.Fprintln(w, "  "+strings.TrimSpace(line))
		}
	}
	_ = rdb.ConfigResetStat(ctx).Err()
}
